/**
 * The same request through Debian's wsapi.cgi under C lua5.1 and through the
 * sidecar's runtime must give the same status, headers and body bytes.
 */

import * as assert from 'node:assert/strict';
import { runOracle, runSidecar, type CgiRequest } from '../helpers/oracle';

function same(req: CgiRequest): void {
  const expected = runOracle(req);
  const actual = runSidecar(req);
  assert.equal(actual.result.ok, true, `sidecar failed: ${JSON.stringify(actual.logs)}`);
  assert.deepEqual(
    { status: actual.status, headers: actual.headers, body: actual.body },
    { status: expected.status, headers: expected.headers, body: expected.body },
  );
}

const FORM_BODY = 'name=J%C3%B6rg+X&tags=a&tags=b&empty=';
const COOKIES = { Cookie: 'session=s1; theme="dark"; x=1' };

describe('Lua 5.1 through wsapi.cgi is the oracle', () => {
  describe('the seed example (module(...) with a coroutine body)', () => {
    it('renders without PATH_INFO (WSAPI makes it "/")', () => same({ script: 'hello.lua' }));
    it('renders PATH_INFO and SCRIPT_NAME', () => same({ script: 'hello.lua', pathInfo: '/a/b c', query: 'x=1' }));
  });

  it('shows the same CGI environment and WSAPI env fields', () => same({
    script: 'env.lua',
    method: 'POST',
    pathInfo: '/extra/é',
    query: 'q=1',
    body: 'a=1',
    headers: { Accept: 'text/plain', 'User-Agent': 'oracle/1', 'X-Test': 'yés', ...COOKIES },
    env: { REMOTE_USER: 'alice', AUTH_TYPE: 'Basic' },
  }));

  describe("Orbit 2.2.1's hello app", () => {
    it('serves the index', () => same({ script: 'orbit/hello.lua', pathInfo: '/' }));
    it('serves /say/Name', () => same({ script: 'orbit/hello.lua', pathInfo: '/say/Lua', query: 'greeting=Hi+' }));
    it('answers an unknown route', () => same({ script: 'orbit/hello.lua', pathInfo: '/no/such/route' }));
  });

  it('formats numbers as Lua 5.1 doubles', () => same({ script: 'numbers.lua' }));
  it('runs module/seeall, setfenv/getfenv, loadstring, unpack and the 5.1 library aliases', () => same({ script: 'compat.lua' }));
  it('reads a fixture file with io.open, read formats, seek and lines, relative to the script', () => same({ script: 'data/iofile.lua' }));
  it('lists a directory with lfs.dir and lfs.attributes', () => same({ script: 'data/lfsdir.lua' }));

  describe('wsapi.request', () => {
    it('parses an urlencoded POST form, the query string and cookies', () => same({
      script: 'form.lua', method: 'POST', query: 'a=1&b=2&b=3', body: FORM_BODY, headers: COOKIES,
    }));
    it('parses a multipart POST form', () => {
      const boundary = 'XyZ';
      const body = [
        `--${boundary}`, 'Content-Disposition: form-data; name="name"', '', 'multi',
        `--${boundary}`, 'Content-Disposition: form-data; name="up"; filename="f.txt"', 'Content-Type: text/plain', '', 'file body',
        `--${boundary}--`, '',
      ].join('\r\n');
      same({ script: 'form.lua', method: 'POST', body, contentType: `multipart/form-data; boundary=${boundary}` });
    });
  });

  describe('wsapi.response', () => {
    it('sets, deletes and repeats headers and cookies', () => same({ script: 'response.lua', pathInfo: '/cookies' }));
    it('redirects', () => same({ script: 'response.lua', pathInfo: '/redirect' }));
    it('sends another status and content type', () => same({ script: 'response.lua', pathInfo: '/created' }));
    it('passes a string status through', () => same({ script: 'response.lua', pathInfo: '/string-status' }));
  });

  it('answers error({404, msg}) with the same 404 page', () => same({ script: 'bad/notfound.lua', pathInfo: '/gone' }));

  it('answers a runtime error with a 500 WSAPI error page in both', () => {
    const req = { script: 'bad/runtime.lua' };
    const expected = runOracle(req);
    const actual = runSidecar(req);
    assert.equal(actual.status, expected.status);
    assert.equal(actual.status, 500);
    assert.match(expected.body, /WSAPI Error in Application/);
    assert.match(actual.body, /WSAPI Error in Application/);
    assert.match(actual.body, /runtime\.lua:5: attempt to index a nil value/);
  });
});
