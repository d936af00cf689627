/**
 * Reload benchmark (prints figures, asserts nothing):
 *  1. edit latency: time from the write of a configuration file to the new
 *     generation being live in-process, and to the first request answered with
 *     it through Apache and `lwt-sidecar serve`, p50/p99 over 50 edits, with the
 *     default debounce (150 ms) included;
 *  2. the reload time of a generated tree with 1,000 virtual hosts, parsed in
 *     the loader thread and on the main thread, and how long each blocks the
 *     main thread's event loop (what a request waiting to be resolved would feel).
 * Run: `npm run bench -- reload` (or node dist/scripts/bench/reload.js [--edits N] [--vhosts N]).
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import { loadSnapshot } from '../../src/commands/common';
import { Reloader, startWatching, type ReloadSuccess } from '../../src/watch';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

const ms = (n: number) => `${n.toFixed(1)} ms`;

function vhost(root: string, i: number, luaPath: string): string {
  const name = `site${String(i).padStart(4, '0')}.test`;
  return `<VirtualHost *:8080>\n  ServerName ${name}\n  ServerAlias www.${name}\n  DocumentRoot "${root}/www/${name}"\n`
    + `  <Directory "${root}/www/${name}">\n    SetHandler lwt-wsapi\n    LuaPath "${luaPath}"\n  </Directory>\n`
    + `  <Location /static>\n    SetHandler none\n  </Location>\n</VirtualHost>\n`;
}

/** A Debian-like tree: apache2.conf, ports.conf, `IncludeOptional sites-enabled/*.conf` with `n` sites. */
function makeTree(n: number): { root: string; configFile: string; site: (i: number) => string } {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-bench-reload-')));
  const conf = path.join(root, 'conf');
  fs.mkdirSync(path.join(conf, 'sites-enabled'), { recursive: true });
  fs.mkdirSync(path.join(root, 'www'), { recursive: true });
  fs.writeFileSync(path.join(conf, 'apache2.conf'),
    `ServerRoot "${conf}"\nServerName main.test\nDocumentRoot "${root}/www"\nInclude ports.conf\nIncludeOptional sites-enabled/*.conf\n`);
  fs.writeFileSync(path.join(conf, 'ports.conf'), 'Listen 8080\n');
  const site = (i: number) => path.join(conf, 'sites-enabled', `site${String(i).padStart(4, '0')}.conf`);
  for (let i = 0; i < n; i++) fs.writeFileSync(site(i), vhost(root, i, `${root}/lib/?.lua`));
  return { root, configFile: path.join(conf, 'apache2.conf'), site };
}

async function editLatency(edits: number): Promise<void> {
  const { root, configFile, site } = makeTree(3);
  const initial = loadSnapshot({ configFile }, 1);
  let live: ReloadSuccess | null = null;
  const w = await startWatching({ loadOptions: { configFile }, initial, onSnapshot() {}, watch: true });
  const times: number[] = [];
  const loads: number[] = [];
  try {
    for (let i = 0; i < edits; i++) {
      const lib = `${root}/lib${i}/?.lua`;
      const wait = new Promise<ReloadSuccess>((resolve) => w.reloader.once('reload', resolve));
      const t0 = performance.now();
      fs.writeFileSync(site(1), vhost(root, 1, lib));
      live = await wait;
      times.push(performance.now() - t0);
      loads.push(live.timings.totalMs);
      if (!live.snapshot.scopes.some((s) => s.luaPath?.includes(`lib${i}/`))) throw new Error(`edit ${i} is not in the new generation`);
    }
  } finally {
    await w.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`edit -> new generation live (debounce 150 ms included), ${edits} edits:`
    + ` p50 ${ms(pct(times, 50))}, p99 ${ms(pct(times, 99))}, max ${ms(Math.max(...times))}`);
  console.log(`  of which the load itself: p50 ${ms(pct(loads, 50))}, p99 ${ms(pct(loads, 99))}`);
}

/** The longest gap between 1 ms ticks while `work` runs: how long a request waiting to be resolved would wait. */
async function worstStall<T>(work: () => Promise<T>): Promise<{ value: T; stallMs: number }> {
  let last = performance.now();
  let worst = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  try {
    const value = await work();
    await new Promise((r) => setTimeout(r, 5));
    return { value, stallMs: worst };
  } finally {
    clearInterval(tick);
  }
}

const GEN_WS = `return function(env)
  return 200, { ["Content-Type"] = "text/plain" }, coroutine.wrap(function() coroutine.yield(package.path) end)
end
`;

function get(url: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/**
 * Through the real stack (deploy/stack.js: Apache → `lwt-sidecar serve`): from
 * the write of a file to the first response whose package.path shows the edit.
 * The client polls back to back, so the figure includes up to one round trip.
 */
async function serverLatency(edits: number): Promise<void> {
  const stack = require(path.resolve(__dirname, '../../../deploy/stack.js'));
  const site = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-bench-site-')));
  fs.cpSync(path.join(stack.ROOT, 'fixtures/httpd-conf/site'), site, { recursive: true });
  fs.chmodSync(site, 0o755);
  fs.writeFileSync(path.join(site, 'www/app/gen.ws'), GEN_WS);
  const conf = path.join(site, 'sites/10-www.conf');
  const original = fs.readFileSync(conf, 'utf8');
  const edit = (n: number) => original.replace('LuaPath "+lib/?.lua"', `LuaPath "+lib/?.lua;/gen/${n}/?.lua"`);
  const sidecar = await stack.startSidecar({ config: path.join(site, 'apache2.conf'), env: { LWT_SITE: site }, args: ['--workers', '2'] });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let apache: { url: string; stop(): Promise<unknown> } | null = null;
  try {
    apache = await stack.startApache({ siteConf: path.join(site, 'apache2.conf'), sidecarUrl: sidecar.url });
    const url = `${apache!.url}/app/gen.ws`;
    await get(url, agent);
    const times: number[] = [];
    for (let n = 1; n <= edits; n++) {
      const t0 = performance.now();
      fs.writeFileSync(conf, edit(n));
      while (!(await get(url, agent)).includes(`/gen/${n}/`)) {
        if (performance.now() - t0 > 10_000) throw new Error(`edit ${n} was not served within 10 s`);
      }
      times.push(performance.now() - t0);
    }
    console.log(`edit -> first request served with it, through Apache and \`serve\`, ${edits} edits:`
      + ` p50 ${ms(pct(times, 50))}, p99 ${ms(pct(times, 99))}, max ${ms(Math.max(...times))}`);
  } finally {
    agent.destroy();
    await Promise.all([apache?.stop(), sidecar.stop()]);
    fs.rmSync(site, { recursive: true, force: true });
  }
}

async function bigTree(n: number, rounds: number): Promise<void> {
  const { root, configFile } = makeTree(n);
  try {
    const t0 = performance.now();
    const initial = loadSnapshot({ configFile }, 1);
    console.log(`${n} virtual hosts: first load ${ms(performance.now() - t0)} (cold), ${initial.vhosts.length} vhosts, ${initial.scopes.length} scopes`);
    for (const inWorker of [true, false]) {
      const r = new Reloader({ loadOptions: { configFile }, initial, loadInWorker: inWorker });
      const total: number[] = [];
      const read: number[] = [];
      const build: number[] = [];
      const stalls: number[] = [];
      try {
        for (let i = 0; i < rounds; i++) {
          const { value: res, stallMs } = await worstStall(() => r.reload('bench'));
          if (!res.ok) throw new Error(`reload failed: ${res.error.message}`);
          total.push(res.timings.totalMs);
          read.push(res.timings.readMs);
          build.push(res.timings.buildMs);
          stalls.push(stallMs);
        }
      } finally {
        await r.close();
      }
      console.log(`  reload, parsing ${inWorker ? 'in the loader thread' : 'on the main thread  '}: total p50 ${ms(pct(total, 50))}, p99 ${ms(pct(total, 99))}`
        + ` (read+parse p50 ${ms(pct(read, 50))}, snapshot build p50 ${ms(pct(build, 50))});`
        + ` longest event-loop stall p50 ${ms(pct(stalls, 50))}, max ${ms(Math.max(...stalls))}`);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await editLatency(arg('edits', 50));
  await serverLatency(arg('edits', 50));
  await bigTree(arg('vhosts', 1000), arg('rounds', 10));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
