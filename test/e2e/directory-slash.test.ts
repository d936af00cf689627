/**
 * A directory URL without its trailing slash, through Apache: under mod_lwt,
 * mod_dir answered `301` with the slash added (DirectorySlash On); behind the
 * sidecar the URL is forwarded, so the sidecar must give the same answer.
 * The reference is Apache's own answer for the same directory served
 * directly under a second alias.
 */

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useStack } from '../helpers/apache';
import { get, rawRequest, requestHead, type RawResponse } from './raw-http';

// One directory, two URLs: /app/slash-e2e is forwarded by the snippet's `ProxyPass /app/`, /plain-slash-e2e is Apache's.
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-slash-'));
for (const d of ['sub', 'a b~é', 'off']) fs.mkdirSync(path.join(DIR, d));
fs.chmodSync(DIR, 0o755);

const PROXIED = '/app/slash-e2e';
const DIRECT = '/plain-slash-e2e';

describe('e2e: a directory without its trailing slash gets mod_dir\'s redirect through the sidecar', function () {
  this.timeout(30_000);
  const stack = useStack({
    sidecarArgs: ['--workers', '1', '--log-level', 'debug'],
    apache: {
      extra: [
        `Alias ${PROXIED} ${DIR}`,
        `Alias ${DIRECT} ${DIR}`,
        `<Directory ${DIR}>`, '    Require all granted', '</Directory>',
        `<Directory ${DIR}/off>`, '    DirectorySlash Off', '</Directory>',
        '<IfModule mod_lwt.c>', `    <Directory ${DIR}>`, '        SetHandler lwt-wsapi', '    </Directory>', '</IfModule>',
      ],
    },
  });
  const port = () => stack.apache.port;
  after(() => fs.rmSync(DIR, { recursive: true, force: true }));

  /** Apache's answer for the same directory, with its URL prefix read as the proxied one. */
  function asProxied(res: RawResponse): { status: number; reason: string; location: string | undefined; type: string | undefined; body: string } {
    const swap = (s: string) => s.split(DIRECT + '/').join(PROXIED + '/');
    return { status: res.status, reason: res.reason, location: res.header('location') && swap(res.header('location')!), type: res.header('content-type'), body: swap(res.body.toString('latin1')) };
  }
  function plain(res: RawResponse) {
    return { status: res.status, reason: res.reason, location: res.header('location'), type: res.header('content-type'), body: res.body.toString('latin1') };
  }

  const cases: Array<[string, string, Array<[string, string]>]> = [
    ['a directory with a query string', '/sub?x=1&y=%3Cb%3E', []],
    ['an empty query string', '/sub?', []],
    ['a name Apache re-escapes', '/a%20b%7E%C3%A9?x', []],
    ['the client\'s Host in capitals, without port', '/sub?x=1', [['Host', 'LOCALHOST']]],
    ['the client\'s Host with another port', '/sub', [['Host', 'www.example.test:8443']]],
  ];
  for (const [what, rest, headers] of cases) {
    it(`answers as Apache does for ${what} (${rest})`, async () => {
      const sidecar = await get(port(), PROXIED + rest, headers);
      const apache = await get(port(), DIRECT + rest, headers);
      assert.equal(apache.status, 301, 'Apache itself redirects');
      assert.deepEqual(plain(sidecar), asProxied(apache));
      assert.equal(Number(sidecar.header('content-length')), sidecar.body.length);
    });
  }

  it('really went through the sidecar for the proxied URL', async () => {
    const res = await get(port(), `${PROXIED}/sub?x=1`);
    assert.equal(res.header('location'), `http://127.0.0.1:${port()}${PROXIED}/sub/?x=1`);
    // Apache never answers a URL it forwards: the sidecar's log names the redirect.
    await stack.sidecar.waitForOutput(/301: directory without a trailing slash: mod_dir redirects/);
  });

  it('answers HEAD with the redirect and no body', async () => {
    const res = await rawRequest(port(), requestHead('HEAD', `${PROXIED}/sub`, [['Host', `127.0.0.1:${port()}`], ['Connection', 'close']]), { head: true });
    assert.equal(res.status, 301);
    assert.equal(res.header('location'), `http://127.0.0.1:${port()}${PROXIED}/sub/`);
    assert.equal(res.body.length, 0);
  });

  it('does not redirect under DirectorySlash Off', async () => {
    const res = await get(port(), `${PROXIED}/off?x=1`);
    assert.equal(res.status, 404);
    assert.equal(res.header('location'), undefined);
    const apache = await get(port(), `${DIRECT}/off?x=1`);
    assert.notEqual(apache.status, 301);
  });
});
