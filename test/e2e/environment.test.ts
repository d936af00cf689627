/**
 * The CGI environment a script sees through Apache → mod_proxy → sidecar is
 * the one it saw under mod_lwt (mod_lwt.md §7). Two references: the values
 * computed from the request sent, and the real Apache running the same script
 * through mod_cgi + Debian's wsapi.cgi, whose environment comes from the same
 * ap_add_common_vars/ap_add_cgi_vars calls mod_lwt made.
 */

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { CGI_ORACLE, SITE_DIR, apacheBanner, useApache, useStack } from '../helpers/apache';
import { parseEnvDump as parseDump, rawRequest, requestHead, type RawResponse } from './raw-http';

const WWW = path.join(SITE_DIR, 'www');
const ENV_SCRIPT = path.join(WWW, 'e2e', 'env.ws');


const bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

/** The client's headers: repeated, odd names, empty, raw UTF-8, ones Apache must not export, forwarding headers a client may forge. */
const CLIENT_HEADERS: Array<[string, string]> = [
  ['Host', 'www.example.test:8080'],
  ['User-Agent', 'lwt-e2e/1.0'],
  ['Accept', 'text/plain, */*;q=0.1'],
  ['Accept-Language', 'fr, en;q=0.5'],
  ['Cookie', 'a=1; b=two'],
  ['X-Repeated', 'one'],
  ['X-Custom', '"quoted" ; semi, comma'],
  ['X-Repeated', 'two'],
  ['X_Under_Score', 'dropped by Apache'],
  ['X.Dot.Name', 'dropped by Apache'],
  ['X-Empty', ''],
  ['X-UTF8', bytes('café')],
  ['Authorization', 'Basic dXNlcjpwYXNz'],
  ['Proxy', 'http://httpoxy.example/'],
  ['Via', '1.0 upstream'],
  ['Forwarded', 'for=192.0.2.60'],
  ['X-Forwarded-For', '6.6.6.6'],
  ['X-Real-IP', '7.7.7.7'],
];

function send(port: number, method: string, target: string, body?: string): Promise<RawResponse> {
  const headers = [...CLIENT_HEADERS];
  if (body !== undefined) headers.push(['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Length', String(Buffer.byteLength(body, 'latin1'))]);
  const head = requestHead(method, target, headers);
  return rawRequest(port, Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body ?? '', 'latin1')]));
}

describe('e2e: the CGI environment through Apache and the sidecar', function () {
  this.timeout(30_000);
  // Read when the file loads; a missing apache2 then fails in useStack's `before`, with its message.
  const banner = (() => { try { return apacheBanner(); } catch { return 'apache2 missing'; } })();
  // SERVER_SOFTWARE cannot be learnt from a proxied request; the operator passes Apache's banner.
  const stack = useStack({ sidecarArgs: ['--workers', '2', '--server-software', banner] });
  const oracle = useApache(CGI_ORACLE);

  const target = '/e2e/env.ws/a%20b/c%C3%A9?x=1&y=%41+b&z';
  let viaSidecar: RawResponse;
  let viaCgi: RawResponse;
  let env: Map<string, string>;
  let ref: Map<string, string>;
  before(async () => {
    viaSidecar = await send(stack.apache.port, 'GET', target);
    viaCgi = await send(oracle.apache.port, 'GET', target);
    env = parseDump(viaSidecar);
    ref = parseDump(viaCgi);
  });

  it('gives the values mod_lwt computed from the request line and Host header', () => {
    const expected: Record<string, string> = {
      SCRIPT_NAME: '/e2e/env.ws',
      PATH_INFO: bytes('/a b/cé'),
      // WSAPI overwrites PATH_TRANSLATED with the script's file name (§7 worked example).
      PATH_TRANSLATED: ENV_SCRIPT,
      SCRIPT_FILENAME: ENV_SCRIPT,
      QUERY_STRING: 'x=1&y=%41+b&z',
      REQUEST_URI: target,
      REQUEST_METHOD: 'GET',
      REQUEST_SCHEME: 'http',
      DOCUMENT_ROOT: WWW,
      CONTEXT_PREFIX: '',
      CONTEXT_DOCUMENT_ROOT: WWW,
      SERVER_NAME: 'www.example.test',
      SERVER_PORT: '8080',
      SERVER_ADDR: '127.0.0.1',
      SERVER_ADMIN: 'admin@example.test',
      SERVER_PROTOCOL: 'HTTP/1.1',
      SERVER_SOFTWARE: banner,
      SERVER_SIGNATURE: '',
      GATEWAY_INTERFACE: 'CGI/1.1',
      REMOTE_ADDR: '127.0.0.1',
      REMOTE_PORT: String(viaSidecar.localPort),
      HTTPS: '',
      CONTENT_TYPE: '',
      CONTENT_LENGTH: '',
      PATH: process.env.PATH ?? '',
      HTTP_HOST: 'www.example.test:8080',
      HTTP_USER_AGENT: 'lwt-e2e/1.0',
      HTTP_ACCEPT: 'text/plain, */*;q=0.1',
      HTTP_ACCEPT_LANGUAGE: 'fr, en;q=0.5',
      HTTP_COOKIE: 'a=1; b=two',
      HTTP_X_REPEATED: 'one, two',
      HTTP_X_CUSTOM: '"quoted" ; semi, comma',
      HTTP_X_UNDER_SCORE: '',
      HTTP_X_DOT_NAME: '',
      HTTP_X_EMPTY: '',
      HTTP_X_UTF8: bytes('café'),
      HTTP_AUTHORIZATION: '',
      HTTP_PROXY: '',
      HTTP_VIA: '1.0 upstream',
      HTTP_FORWARDED: 'for=192.0.2.60',
      // The client's own X-Forwarded-For stays; the entry Apache appended does not.
      HTTP_X_FORWARDED_FOR: '6.6.6.6',
      HTTP_X_FORWARDED_HOST: '',
      HTTP_X_FORWARDED_SERVER: '',
      HTTP_X_FORWARDED_PROTO: '',
      HTTP_X_FORWARDED_CLIENT_PORT: '',
      HTTP_X_REAL_IP: '7.7.7.7',
      HTTP_CONNECTION: '',
      LWT_DEMO: '',
      BODY: '',
    };
    for (const [key, value] of Object.entries(expected)) {
      assert.equal(env.get(key), value, `${key}`);
    }
  });

  it('matches, key by key, what real Apache gives the same script through mod_cgi', () => {
    assert.equal(ref.get('REMOTE_PORT'), String(viaCgi.localPort));
    const differences: string[] = [];
    for (const [key, value] of ref) {
      // Each server saw its own client connection.
      if (key === 'REMOTE_PORT') continue;
      if (env.get(key) !== value) differences.push(`${key}: sidecar ${JSON.stringify(env.get(key))}, Apache ${JSON.stringify(value)}`);
    }
    assert.deepEqual(differences, []);
    assert.equal(env.size, ref.size);
  });

  it('passes a POST body with its CONTENT_TYPE and CONTENT_LENGTH, as Apache does', async () => {
    const body = 'name=caf%C3%A9&blob=' + 'x'.repeat(3000);
    const a = parseDump(await send(stack.apache.port, 'POST', '/e2e/env.ws', body));
    const b = parseDump(await send(oracle.apache.port, 'POST', '/e2e/env.ws', body));
    assert.equal(a.get('BODY'), body);
    assert.equal(a.get('CONTENT_LENGTH'), String(body.length));
    assert.equal(a.get('CONTENT_TYPE'), 'application/x-www-form-urlencoded');
    assert.equal(a.get('REQUEST_METHOD'), 'POST');
    for (const key of ['BODY', 'CONTENT_LENGTH', 'CONTENT_TYPE', 'REQUEST_METHOD', 'PATH_INFO', 'SCRIPT_NAME', 'QUERY_STRING', 'REQUEST_URI']) {
      assert.equal(a.get(key), b.get(key), key);
    }
  });

  it('adds SetEnv of the <Directory> scope and reports a SetHandler scope like mod_cgi', async () => {
    const t = '/app/env.ws/x?q=1';
    const a = parseDump(await send(stack.apache.port, 'GET', t));
    assert.equal(a.get('LWT_DEMO'), 'app');
    assert.equal(a.get('SCRIPT_NAME'), '/app/env.ws');
    assert.equal(a.get('PATH_INFO'), '/x');
    assert.equal(a.get('SCRIPT_FILENAME'), path.join(WWW, 'app', 'env.ws'));
  });

  it('shows the raw REQUEST_URI the client sent, as mod_lwt did, from the snippet\'s X-Forwarded-Request-Line', async () => {
    const a = parseDump(await send(stack.apache.port, 'GET', '/e2e/env.ws/%7Ex/a%2Bb?q=%7E'));
    const b = parseDump(await send(oracle.apache.port, 'GET', '/e2e/env.ws/%7Ex/a%2Bb?q=%7E'));
    assert.equal(b.get('REQUEST_URI'), '/e2e/env.ws/%7Ex/a%2Bb?q=%7E');
    assert.equal(a.get('REQUEST_URI'), '/e2e/env.ws/%7Ex/a%2Bb?q=%7E');
    for (const key of ['PATH_INFO', 'QUERY_STRING', 'SCRIPT_NAME']) assert.equal(a.get(key), b.get(key), key);
  });

  it('does not let a client choose the scheme: X-Forwarded-Proto is Apache\'s', async () => {
    const head = requestHead('GET', '/e2e/env.ws', [
      ['Host', 'www.example.test'], ['X-Forwarded-Proto', 'https'], ['X_Forwarded_Proto', 'https'], ['X-Forwarded-Client-Port', '1'],
    ]);
    const res = await rawRequest(stack.apache.port, head);
    const a = parseDump(res);
    assert.equal(a.get('REQUEST_SCHEME'), 'http');
    assert.equal(a.get('HTTPS'), '');
    assert.equal(a.get('SERVER_PORT'), '80');
    assert.equal(a.get('REMOTE_PORT'), String(res.localPort));
  });
});
