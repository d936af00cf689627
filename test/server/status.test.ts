import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorPage, statusLine } from '../../src/server/status';

const MODULES = '/usr/lib/apache2/modules';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function get(agent: http.Agent, port: number, p: string, method = 'GET'): Promise<{ status: number; reason: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.request({ host: '127.0.0.1', port, path: p, agent, method }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, reason: res.statusMessage!, body }));
    }).on('error', reject).end();
  });
}

/**
 * Apache itself is the truth for status lines and error documents: a mod_lua
 * handler sets r->status (as mod_lwt's set_status did) or returns an error
 * status (as mod_lwt's handler did for C-level failures).
 */
describe('server/status: Apache 2.4\'s status lines and error documents, asked of apache2', function () {
  this.timeout(60_000);
  let dir: string;
  let port: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-status-'));
    port = await freePort();
    fs.writeFileSync(path.join(dir, 'status.lua'), [
      'function handle(r)',
      '  r.status = tonumber(r.uri:match("/status/(%d+)"))',
      '  r.content_type = "text/plain"',
      '  r:puts("x")',
      '  return apache2.OK',
      'end',
      'function fail(r)',
      '  return tonumber(r.uri:match("/fail/(%d+)"))',
      'end',
    ].join('\n'));
    fs.writeFileSync(path.join(dir, 'httpd.conf'), [
      `ServerRoot ${dir}`,
      `Listen 127.0.0.1:${port}`,
      `LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so`,
      `LoadModule authz_core_module ${MODULES}/mod_authz_core.so`,
      `LoadModule lua_module ${MODULES}/mod_lua.so`,
      `PidFile ${dir}/httpd.pid`,
      `ErrorLog ${dir}/error.log`,
      'ServerName localhost',
      'ServerAdmin webmaster@localhost',
      `DocumentRoot ${dir}`,
      'ServerSignature On',
      `LuaMapHandler ^/status/(\\d+)$ ${dir}/status.lua handle`,
      `LuaMapHandler ^/fail/(\\d+)$ ${dir}/status.lua fail`,
    ].join('\n') + '\n');
    const r = spawnSync('apache2', ['-f', path.join(dir, 'httpd.conf'), '-k', 'start'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (let i = 0; i < 100 && !fs.existsSync(path.join(dir, 'httpd.pid')); i++) await new Promise((res) => setTimeout(res, 50));
  });

  after(() => {
    agent.destroy();
    spawnSync('apache2', ['-f', path.join(dir, 'httpd.conf'), '-k', 'stop']);
    for (let i = 0; i < 100 && fs.existsSync(path.join(dir, 'httpd.pid')); i++) spawnSync('sleep', ['0.05']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('puts the same status and reason phrase on the wire as Apache for every code 200..599', async () => {
    const mismatches: string[] = [];
    for (let code = 200; code <= 599; code++) {
      const got = await get(agent, port, `/status/${code}`);
      const want = statusLine(code);
      if (got.status !== want.status || got.reason !== want.reason) {
        mismatches.push(`${code}: apache ${got.status} ${got.reason}, sidecar ${want.status} ${want.reason}`);
      }
    }
    assert.deepEqual(mismatches, []);
  });

  for (const [code, method] of [[400, 'GET'], [403, 'GET'], [404, 'GET'], [413, 'POST'], [500, 'GET'], [503, 'GET']] as const) {
    it(`writes Apache's ${code} error document byte for byte (${method})`, async () => {
      const got = await get(agent, port, `/fail/${code}`, method);
      assert.equal(got.status, code);
      const page = errorPage(code, method, {
        mode: 'on', software: 'Apache/2.4.71 (Debian)', serverName: '127.0.0.1', serverPort: String(port), serverAdmin: 'webmaster@localhost',
      });
      // The banner is the installed Apache's; compare everything else exactly.
      const banner = /<address>(Apache\/[^ ]+ \([^)]*\))/.exec(got.body)?.[1] ?? 'Apache/2.4.71 (Debian)';
      assert.equal(got.body, page.replace('Apache/2.4.71 (Debian)', banner));
    });
  }
});
