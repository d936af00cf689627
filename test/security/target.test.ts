/**
 * The request target, attacked straight at the sidecar (no Apache in front to
 * canonicalise it): every traversal encoding, path parameters, NUL, encoded
 * slashes, absolute-form and asterisk-form targets, CONNECT and OPTIONS. The
 * files outside the lwt-wsapi scopes produce markers (helpers.MARKERS) that
 * must never appear in a response.
 */

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { assertNothingExposed, exchange, get, ROOT, useServedSite } from './helpers';

/** Targets that climb out of the DocumentRoot or into a denied directory, in every encoding. */
const TRAVERSALS: Array<[string, string]> = [
  ['..', '/../outside/secret.ws'],
  ['.. after a script', '/ok.ws/../../outside/secret.ws'],
  ['%2e%2e', '/%2e%2e/outside/secret.ws'],
  ['%2E%2E upper case', '/%2E%2E/%2E%2E/etc/passwd'],
  ['.%2e mixed', '/.%2e/outside/secret.ws'],
  ['%252e double encoding', '/%252e%252e/outside/secret.ws'],
  ['%25%32%65 nested encoding', '/%25%32%65%25%32%65/outside/secret.ws'],
  ['overlong UTF-8 %c0%ae', '/%c0%ae%c0%ae/outside/secret.ws'],
  ['overlong UTF-8 %c0%af slash', '/..%c0%afoutside%c0%afsecret.ws'],
  ['overlong UTF-8 %e0%80%ae', '/%e0%80%ae%e0%80%ae/outside/secret.ws'],
  ['backslashes', '/..\\outside\\secret.ws'],
  ['encoded backslashes %5c', '/..%5coutside%5csecret.ws'],
  ['; path parameter before ..', '/denied;/../denied/x.ws'],
  ['; path parameter on the script', '/denied/x.ws;.txt'],
  ['NUL %00 before an extension', '/plain.lua%00.ws'],
  ['NUL %00 at the end', '/denied/x.ws%00'],
  ['encoded slash %2F', '/denied%2Fx.ws'],
  ['encoded slash with ..', '/ok.ws%2f..%2f..%2foutside%2fsecret.ws'],
  ['doubled slashes', '//denied//x.ws'],
  ['dot segments', '/./denied/./x.ws'],
  ['trailing slash after a denied script', '/denied/x.ws/'],
  ['path info after a denied script', '/denied/x.ws/more'],
  ['.. into a denied directory', '/ok.ws/extra/../../denied/x.ws'],
  ['absolute form with ..', 'http://www.sec.test/../outside/secret.ws'],
  ['absolute form into a denied directory', 'http://www.sec.test/denied/x.ws'],
  ['absolute form without a path', 'http://www.sec.test'],
  ['absolute form naming another virtual host', 'http://other.sec.test/o.ws'],
  ['a plain file', '/secret.txt'],
  ['a .lua file outside every scope', '/plain.lua'],
  ['the configuration through a long climb', '/../../../../../../../../etc/passwd'],
];

describe('security: the request target', function () {
  this.timeout(30_000);
  const served = useServedSite();

  it('serves the harmless script (the probes below are refused for their target, not for a broken site)', async () => {
    const r = await get(served.sidecar.port, '/ok.ws');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'OK');
  });

  for (const [name, target] of TRAVERSALS) {
    it(`refuses ${name} (${target}) and never runs or reads the target`, async () => {
      assertNothingExposed(await get(served.sidecar.port, target), target);
    });
  }

  it('reads `..;` after a script as its PATH_INFO, never as a climb into a denied directory', async () => {
    const r = await get(served.sidecar.port, '/ok.ws/..;/denied/x.ws');
    assert.equal(r.body, 'OK');
    assert.ok(!r.raw.includes('DENIED-RAN'));
  });

  it('answers 400 to `..` above the root, as httpd does', async () => {
    assert.equal((await get(served.sidecar.port, '/../outside/secret.ws')).status, 400);
    assert.equal((await get(served.sidecar.port, '/%2e%2e/outside/secret.ws')).status, 400);
  });

  it('answers 404 to an encoded slash and to NUL, as httpd with AllowEncodedSlashes Off', async () => {
    assert.equal((await get(served.sidecar.port, '/denied%2fx.ws')).status, 404);
    assert.equal((await get(served.sidecar.port, '/ok.ws%00')).status, 404);
  });

  it('refuses a raw NUL byte in the request line', async () => {
    const head = Buffer.concat([Buffer.from('GET /plain.lua'), Buffer.from([0]), Buffer.from('.ws HTTP/1.1\r\nHost: www.sec.test\r\nConnection: close\r\n\r\n')]);
    const r = await exchange(served.sidecar.port, head);
    assertNothingExposed(r, 'raw NUL');
  });

  it('refuses the asterisk-form target of OPTIONS *', async () => {
    const r = await get(served.sidecar.port, '*', [], { method: 'OPTIONS' });
    assertNothingExposed(r, 'OPTIONS *');
  });

  it('never tunnels a CONNECT request', async () => {
    const r = await exchange(served.sidecar.port, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n', { timeoutMs: 3000 });
    assert.ok(!/^HTTP\/1\.1 200/.test(r.raw), r.raw);
    assert.ok(!r.raw.includes('SSH-'), r.raw);
    assert.equal((await get(served.sidecar.port, '/ok.ws')).body, 'OK');
  });

  it('runs a script for OPTIONS as mod_lwt did (the handler does not filter methods), and refuses it under a denied directory', async () => {
    assert.equal((await get(served.sidecar.port, '/ok.ws', [], { method: 'OPTIONS' })).body, 'OK');
    assertNothingExposed(await get(served.sidecar.port, '/denied/x.ws', [], { method: 'OPTIONS' }), 'OPTIONS /denied/x.ws');
  });

  it('ignores the host of an absolute-form target: the Host header picks the virtual host (noted: httpd would use the target\'s host)', async () => {
    // RFC 9112 §3.2.2 says the target's host wins; the sidecar uses Host. Either way the rules of
    // the virtual host chosen apply, so no script outside its scope runs.
    const r = await get(served.sidecar.port, 'http://other.sec.test/o.ws');
    assert.equal(r.status, 404);
  });

  describe('lwt-sidecar request', () => {
    const run = (target: string): { status: number; out: string } => {
      try {
        const out = execFileSync(process.execPath, [path.join(ROOT, 'bin', 'lwt-sidecar'), 'request', '--config', served.site.config, '--host', 'www.sec.test', target], {
          env: { ...process.env, SEC_SITE: served.site.dir }, encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'],
        });
        return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0), out };
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; status?: number };
        const out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
        return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0), out };
      }
    };

    for (const target of ['/../outside/secret.ws', '/%2e%2e/outside/secret.ws', '/%c0%ae%c0%ae/outside/secret.ws', '/denied%2fx.ws',
      '/plain.lua%00.ws', '/denied/x.ws', '/plain.lua', '/linkdir/../denied/x.ws']) {
      it(`never runs or prints the target of ${target}`, () => {
        const { out } = run(target);
        for (const m of ['OUTSIDE-RAN', 'DENIED-RAN', 'PLAIN-LUA-SOURCE-MARKER', 'root:x:0:0']) {
          assert.ok(!out.includes(m), `${target}: output contains ${m}:\n${out}`);
        }
      });
    }

    it('runs the harmless script', () => {
      const { status, out } = run('/ok.ws');
      assert.equal(status, 200, out);
      assert.match(out, /\r?\n\r?\nOK$/);
    });
  });
});
