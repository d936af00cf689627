/**
 * deploy/apache/lwt-sidecar.conf as an operator uses it: real Apache accepts
 * it together with the site (whose Lua directives sit in <IfModule mod_lwt.c>),
 * the sidecar reads the same files, and what Apache then sends the backend is
 * what the sidecar expects (issue 4 §8). The backend here is a recording HTTP
 * server, so the forwarding itself is what is checked.
 */

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, SITE_DIR, stack, startApache, type ApacheProcess, type PreparedApache } from '../helpers/apache';
import { get } from './raw-http';

const run = promisify(execFile);

interface Seen { url: string; headers: http.IncomingHttpHeaders; socket: number }

describe('e2e: the Apache snippet (deploy/apache/lwt-sidecar.conf)', function () {
  this.timeout(30_000);
  let prepared: PreparedApache;
  let apache: ApacheProcess;
  let backend: http.Server;
  const seen: Seen[] = [];
  const sockets = new Map<object, number>();

  before(async () => {
    backend = http.createServer((req, res) => {
      if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size + 1);
      seen.push({ url: req.url ?? '', headers: req.headers, socket: sockets.get(req.socket)! });
      res.setHeader('Content-Type', 'text/plain');
      res.end('backend\n');
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    prepared = await stack.prepareApache({ sidecarUrl: url });
    apache = await startApache(prepared);
  });
  after(async () => {
    await apache?.stop();
    await new Promise((r) => backend?.close(r));
  });

  it('passes `apache2 -t` together with the site, without mod_lwt', async () => {
    const { stderr, stdout } = await run(stack.APACHE_BIN, ['-t', '-f', prepared.configFile], { env: { ...process.env, LWT_SITE: SITE_DIR } });
    assert.match(stdout + stderr, /Syntax OK/);
  });

  it('is read by `lwt-sidecar check` in the same configuration, with every lwt-wsapi scope', async () => {
    const { stdout } = await run(process.execPath, [path.join(ROOT, 'bin', 'lwt-sidecar'), 'check', '--config', prepared.configFile], { env: { ...process.env, LWT_SITE: SITE_DIR } });
    assert.match(stdout, /lwt-sidecar\.conf/);
    assert.match(stdout, /lwt-wsapi scopes \(3\)/);
  });

  it('forwards .ws and .lua URLs with PATH_INFO and query, and the SetHandler prefix', async () => {
    seen.length = 0;
    const targets = ['/hello.ws', '/hello.ws/a%20b?x=%20&y', '/plain.lua', '/tools/info.ws/z', '/app/', '/app/index.ws/p?q', '/Upper.WS', '/x.Lua/y'];
    for (const target of targets) {
      const res = await get(apache.port, target);
      assert.equal(res.body.toString(), 'backend\n', target);
    }
    assert.deepEqual(seen.map((s) => s.url), targets);
  });

  it('leaves everything else to Apache (static files are not forwarded)', async () => {
    seen.length = 0;
    const res = await get(apache.port, '/index.html');
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /lwt-sidecar demo site/);
    assert.equal(seen.length, 0);
  });

  it('keeps the client Host and sets the headers the sidecar trusts, replacing forged ones', async () => {
    seen.length = 0;
    const res = await get(apache.port, '/hello.ws', [['Host', 'www.example.test:8080'], ['X-Forwarded-Proto', 'https'], ['X-Forwarded-Client-Port', '1']]);
    assert.equal(res.status, 200);
    const h = seen[0]!.headers;
    assert.equal(h.host, 'www.example.test:8080');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-client-port'], String(res.localPort));
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-host'], 'www.example.test:8080');
  });

  it('reuses pooled connections to the backend for ProxyPassMatch and ProxyPass URLs', async () => {
    seen.length = 0;
    for (let i = 0; i < 20; i++) await get(apache.port, i % 2 ? '/hello.ws' : '/app/x');
    const connections = new Set(seen.map((s) => s.socket)).size;
    assert.equal(seen.length, 20);
    assert.ok(connections < 20, `20 requests used ${connections} backend connections`);
    assert.ok(seen.every((s) => s.headers.connection?.toLowerCase() !== 'close'), 'Apache asked to close a backend connection');
  });
});
