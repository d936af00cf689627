/**
 * Hot reload through the real thing: Debian's Apache proxying to
 * `node bin/lwt-sidecar serve --admin …` on a temp copy of the fixture site.
 * The script gen.ws answers `LWT_GEN|package.path`: SetEnv and LuaPath come
 * from the same <Directory>, so a request served by one generation shows the
 * same number in both, and a mixture of two generations would not.
 */

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { removeTree, saveByRename, tempDir, waitUntil, waitUntilAsync } from './helpers';

// deploy/stack.js is the one launcher of Apache + sidecar shared by the e2e tests and benchmarks.
const stack = require(path.resolve(__dirname, '../../../deploy/stack.js'));

interface Proc { url: string; pid: number; output(): string; stop(signal?: string): Promise<unknown> }

const GEN_WS = `return function(env)
  local body = tostring(env.LWT_GEN) .. "|" .. package.path
  return 200, { ["Content-Type"] = "text/plain" }, coroutine.wrap(function() coroutine.yield(body) end)
end
`;

const APP_DIR_LINE = 'LuaPath "+lib/?.lua"';

function get(url: string, agent?: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function post(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function health(admin: string): Promise<{ generation: number; status: string; lastReloadError: { text: string } | null }> {
  return (await fetch(`${admin}/health`)).json() as never;
}

/** `LWT_GEN|path` → the generation named by each ('' where none). */
function generations(body: string): { env: string; lua: string | undefined } {
  const [env, luaPath] = body.split('|');
  return { env: env ?? '', lua: /\/gen\/(\d+)\/\?\.lua/.exec(luaPath ?? '')?.[1] ?? '' };
}

describe('watch: hot reload of a running sidecar behind Apache', function () {
  this.timeout(120_000);
  let site: string;
  let wwwConf: string;
  let original: string;
  let sidecar: Proc | null = null;
  let apache: Proc | null = null;
  let admin: string;

  async function start(args: string[]): Promise<void> {
    const adminPort = await stack.freePort();
    admin = `http://127.0.0.1:${adminPort}`;
    sidecar = await stack.startSidecar({
      config: path.join(site, 'apache2.conf'), env: { LWT_SITE: site },
      args: ['--admin', `127.0.0.1:${adminPort}`, '--workers', '2', ...args],
    });
    apache = await stack.startApache({ siteConf: path.join(site, 'apache2.conf'), sidecarUrl: sidecar!.url });
    await waitUntil(() => (sidecar!.output().includes('admin endpoint on') ? true : undefined), 'the admin endpoint');
  }

  /** The app <Directory> of generation `n`: its own SetEnv and LuaPath. */
  function appConf(n: number): string {
    return original.replace(APP_DIR_LINE, `LuaPath "+lib/?.lua;/gen/${n}/?.lua"\n            SetEnv LWT_GEN ${n}`);
  }

  beforeEach(() => {
    site = tempDir('lwt-reload-site-');
    fs.cpSync(path.resolve(__dirname, '../../../fixtures/httpd-conf/site'), site, { recursive: true });
    // Apache's children run as www-data when the tests run as root.
    fs.chmodSync(site, 0o755);
    fs.writeFileSync(path.join(site, 'www/app/gen.ws'), GEN_WS);
    wwwConf = path.join(site, 'sites/10-www.conf');
    original = fs.readFileSync(wwwConf, 'utf8');
    assert.ok(original.includes(APP_DIR_LINE), 'the fixture still has the app LuaPath this test edits');
    fs.writeFileSync(wwwConf, appConf(1));
  });

  afterEach(async () => {
    await Promise.all([apache?.stop(), sidecar?.stop()]);
    apache = null;
    sidecar = null;
    removeTree(site);
  });

  it("the next request's package.path shows an edited LuaPath; a broken edit keeps the old one answering", async () => {
    await start([]);
    const url = `${apache!.url}/app/gen.ws`;
    assert.deepEqual(generations((await get(url)).body), { env: '1', lua: '1' });

    saveByRename(wwwConf, appConf(2));
    await waitUntilAsync(async () => ((await health(admin)).generation === 2 ? true : undefined), 'generation 2');
    assert.deepEqual(generations((await get(url)).body), { env: '2', lua: '2' });

    fs.writeFileSync(wwwConf, appConf(3).replace('</Directory>', '</Direktory>'));
    const h = await waitUntilAsync(async () => {
      const x = await health(admin);
      return x.status === 'degraded' ? x : undefined;
    }, 'the degraded health');
    assert.equal(h.generation, 2);
    assert.match(h.lastReloadError!.text, new RegExp(`^${wwwConf.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+: `));
    assert.ok(sidecar!.output().includes(h.lastReloadError!.text), 'the log has the same file:line: message');
    assert.deepEqual(generations((await get(url)).body), { env: '2', lua: '2' }, 'the last good generation answers');

    fs.writeFileSync(wwwConf, appConf(3));
    await waitUntilAsync(async () => ((await health(admin)).status === 'ok' ? true : undefined), 'the recovery');
    assert.deepEqual(generations((await get(url)).body), { env: '3', lua: '3' });
  });

  it('an edited script or Lua module is used by the next request, with no reload', async () => {
    await start([]);
    const url = `${apache!.url}/app/index.ws`;
    const before = await get(url);
    assert.equal(before.status, 200);
    const lib = path.join(site, 'www/app/lib/greeting.lua');
    fs.writeFileSync(lib, fs.readFileSync(lib, 'utf8').replace(/return M\s*$/, 'M.hello = function() return "edited module" end\nreturn M\n'));
    assert.equal((await get(url)).body, 'edited module');
    fs.writeFileSync(path.join(site, 'www/app/gen.ws'), GEN_WS.replace('tostring(env.LWT_GEN)', '"edited script"'));
    assert.match((await get(`${apache!.url}/app/gen.ws`)).body, /^edited script\|/);
    const h = await health(admin);
    assert.equal(h.generation, 1, 'scripts and modules are not configuration');
  });

  it('under load (8 busy connections through Apache), 50 reloads fail no request and mix no generations', async () => {
    await start(['--no-watch']);
    const url = `${apache!.url}/app/gen.ws`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const seen = new Map<string, number>();
    const bad: string[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          const r = await get(url, agent);
          const g = generations(r.body);
          if (r.status !== 200 || g.env !== g.lua) bad.push(`${r.status} ${r.body.slice(0, 200)}`);
          else seen.set(g.env, (seen.get(g.env) ?? 0) + 1);
        } catch (err) {
          bad.push(String(err));
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    try {
      for (let n = 2; n <= 51; n++) {
        fs.writeFileSync(wwwConf, appConf(n));
        if (n % 2 === 0) {
          const r = await post(`${admin}/reload`);
          assert.equal(r.body.ok, true, JSON.stringify(r.body));
        } else {
          // SIGHUP, as `apachectl graceful`, with --no-watch: the only other way in.
          process.kill(sidecar!.pid, 'SIGHUP');
          await waitUntilAsync(async () => ((await health(admin)).generation === n ? true : undefined), `generation ${n} after SIGHUP`);
        }
        // Let some requests run on this generation before the next edit.
        const before = [...seen.values()].reduce((a, b) => a + b, 0);
        await waitUntil(() => ([...seen.values()].reduce((a, b) => a + b, 0) >= before + 4 ? true : undefined), `requests on generation ${n}`);
      }
    } finally {
      stop = true;
      await Promise.all(clients);
      agent.destroy();
    }
    const errors = sidecar!.output().split('\n').filter((l) => /\[(error|warn)\]/.test(l));
    assert.deepEqual(bad, [], `sidecar log:\n${errors.join('\n')}\napache error log:\n${(apache as unknown as { errorLog(): string }).errorLog()}`);
    assert.equal((await health(admin)).generation, 51);
    assert.ok(seen.size >= 40, `requests saw ${seen.size} generations: ${[...seen.keys()].join(' ')}`);
  });
});
