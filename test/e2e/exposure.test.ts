/**
 * Nothing Apache protected is exposed once it forwards to the sidecar: a
 * proxied URL skips Apache's <Directory> checks, so the sidecar enforces them
 * (issue 4 §3), never runs or shows a file outside the lwt-wsapi scopes, and
 * refuses traversal — asked through Apache and straight at the sidecar.
 */

import { strict as assert } from 'node:assert';
import { useStack } from '../helpers/apache';
import { rawRequest, requestHead } from './raw-http';

/** Text that appears only inside files that must never be served or run. */
const MARKERS = [
  'SECRET', // www/private/secret.ws, its output
  'must never run', // www/private/secret.ws, its source
  'this source must not be served', // www/plain.lua
  'Not reachable by URL', // www/app/lib/greeting.lua
  'function M.hello',
  'root:x:0:0', // /etc/passwd
  'LoadModule', // apache2.conf
];

function assertNothingExposed(status: number, body: string, what: string): void {
  assert.ok([400, 403, 404].includes(status), `${what}: status ${status}`);
  for (const m of MARKERS) assert.ok(!body.includes(m), `${what}: body contains ${JSON.stringify(m)}`);
}

const TRAVERSALS = [
  '/e2e/../../../../etc/passwd',
  '/hello.ws/../../../../../etc/passwd',
  '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  '/e2e/%2e%2e/%2e%2e/apache2.conf',
  '/app/%2e%2e/private/secret.ws',
  '/app/..%2f..%2f..%2fetc/passwd',
  '/private%2fsecret.ws',
  '/app/lib%2fgreeting.lua',
  '/hello.ws/..%2f..%2fprivate%2fsecret.ws',
  '/private/secret.ws%00.txt',
  '/plain.lua%00.ws',
  '/app/lib/greeting.lua%00',
  '/%2e/private/%2e/secret.ws',
  '//private//secret.ws',
  '/./private/./secret.ws',
  '/e2e/..;/private/secret.ws',
  '/private/secret.ws/',
  '/private/secret.ws/more/path',
  '/PRIVATE/../private/secret.ws',
  '/%252e%252e/private/secret.ws',
  '/app/lib/../lib/greeting.lua',
  '/..\\..\\etc\\passwd.ws',
];

function send(port: number, target: string, host = '127.0.0.1') {
  return rawRequest(port, requestHead('GET', target, [['Host', host], ['Connection', 'close']]));
}

describe('e2e: what must not be exposed', function () {
  this.timeout(30_000);
  const stack = useStack({ sidecarArgs: ['--workers', '2'] });

  for (const [name, port] of [['through Apache', () => stack.apache.port], ['straight to the sidecar', () => stack.sidecar.port]] as const) {
    describe(name, () => {
      it('refuses a script under a denied <Directory> with 403 or 404 and never runs it', async () => {
        const res = await send(port(), '/private/secret.ws');
        assertNothingExposed(res.status, res.body.toString('latin1'), '/private/secret.ws');
      });

      it('refuses a Lua module under a denied directory inside a SetHandler scope', async () => {
        const res = await send(port(), '/app/lib/greeting.lua');
        assertNothingExposed(res.status, res.body.toString('latin1'), '/app/lib/greeting.lua');
      });

      it('answers a .lua file outside every lwt-wsapi scope with 404, never its source', async () => {
        const res = await send(port(), '/plain.lua');
        assert.equal(res.status, 404);
        assertNothingExposed(res.status, res.body.toString('latin1'), '/plain.lua');
      });

      it('answers a .lua file of another virtual host\'s scope with 404 in this one', async () => {
        const res = await send(port(), '/status.lua');
        assert.equal(res.status, 404);
      });

      for (const target of TRAVERSALS) {
        it(`never serves a file for ${JSON.stringify(target)}`, async () => {
          const res = await send(port(), target);
          assertNothingExposed(res.status, res.body.toString('latin1'), target);
        });
      }

      it('never serves a file for a raw NUL byte in the path', async () => {
        const head = Buffer.concat([Buffer.from('GET /private/secret.ws'), Buffer.from([0]), Buffer.from('.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')]);
        const res = await rawRequest(port(), head).catch((err: Error) => ({ status: 400, body: Buffer.from(String(err.message)) }));
        assertNothingExposed(res.status, res.body.toString('latin1'), 'raw NUL');
      });
    });
  }

  // mocha runs a suite's own tests before its nested suites: this one needs its own, placed last.
  describe('the error log', () => {
    it('names the client and the file a denial protected', async () => {
      await stack.sidecar.waitForOutput(/client 127\.0\.0\.1.*403.*denied.*private\/secret\.ws/);
    });
  });
});
