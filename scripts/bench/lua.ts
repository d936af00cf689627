/**
 * Benchmark (not a test): the per-request cost of the seed example through
 * the full WSAPI path, single thread, measured three ways in one run:
 *   1. the sidecar with chunkCache off: every chunk compiled from source
 *      (through a fresh ChunkCache per request);
 *   2. the sidecar with one shared ChunkCache (what a worker does);
 *   3. C lua5.1 doing what mod_lwt does per request: a new state with the
 *      standard libraries (rings.new(), which calls lua_newstate+luaL_openlibs),
 *      WSAPI and the script loaded from source, the app run through
 *      wsapi.common.run with mod_lwt's connector logic, the state closed.
 * Prints median and p99 per request and the ratio to C Lua, then requests/s
 * with one worker per core: bare worker threads running the loop, and the
 * server's WorkerPool (jobs posted from the main thread, output acknowledged).
 * Run: node dist/scripts/bench/lua.js [iterations]
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { runRequest, ChunkCache, DEFAULT_RUNTIME_OPTIONS } from '../../src/lua';
import { WorkerPool, DEFAULT_POOL_OPTIONS, type JobHandle } from '../../src/workers';
import type { LuaJob, ResponseSink } from '../../src/lua/types';

const ITERATIONS = Number(process.argv[2] ?? 2000);
const ROOT = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'lua', 'scripts');
const SCRIPT = path.join(ROOT, 'hello.lua');

const ENV: Record<string, string> = {
  GATEWAY_INTERFACE: 'CGI/1.1',
  SERVER_PROTOCOL: 'HTTP/1.1',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  REMOTE_ADDR: '127.0.0.1',
  DOCUMENT_ROOT: ROOT,
  REQUEST_METHOD: 'GET',
  QUERY_STRING: '',
  REQUEST_URI: '/hello.lua/bench',
  SCRIPT_NAME: '/hello.lua',
  SCRIPT_FILENAME: SCRIPT,
  PATH_INFO: '/bench',
  PATH_TRANSLATED: path.join(ROOT, 'bench'),
};

const EXPECTED = '<html><body><p>Hello Wsapi!</p><p>PATH_INFO: /bench</p><p>SCRIPT_NAME: /hello.lua</p></body></html>';

const JOB: LuaJob = {
  id: 1,
  filename: SCRIPT,
  env: ENV,
  luaPath: null,
  luaCPath: null,
  memoryLimit: 64 * 1024 * 1024,
  request: {
    uri: ENV.REQUEST_URI!, protocol: 'HTTP/1.1', hostname: 'localhost', path: '/hello.lua/bench', pathInfo: '/bench',
    args: null, method: 'GET', filename: SCRIPT, localIp: '127.0.0.1', remoteIp: '127.0.0.1', headersIn: [['Host', 'localhost']],
  },
  body: new Uint8Array(0),
};

interface Figures { median: number; p99: number; mean: number }

function figures(samplesMs: number[]): Figures {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function sidecar(iterations: number, chunkCache: boolean): Figures {
  const cache = new ChunkCache();
  const opts = { ...DEFAULT_RUNTIME_OPTIONS, chunkCache };
  let body = '';
  const sink: ResponseSink = {
    head: () => undefined,
    body: (c) => { body += Buffer.from(c).toString('latin1'); },
    log: (level, m) => { if (level === 'error') throw new Error(m); },
  };
  const samples: number[] = [];
  const warmup = Math.min(200, Math.ceil(iterations / 5));
  for (let i = 0; i < warmup + iterations; i++) {
    body = '';
    const t0 = performance.now();
    runRequest(JOB, sink, opts, cache);
    const dt = performance.now() - t0;
    if (body !== EXPECTED) throw new Error(`unexpected body: ${body}`);
    if (i >= warmup) samples.push(dt);
  }
  return figures(samples);
}

/** The C Lua 5.1 loop: one rings state per request; prints one wall-clock sample (ms) per line. */
function cLuaScript(iterations: number): string {
  const env = Object.entries(ENV).map(([k, v]) => `[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join(', ');
  const request = `
    local ENV = { ${env} }
    local common = require "wsapi.common"
    local wsapi = require "wsapi"
    local out = {}
    local function pipe_write(self, ...)
      for i = 1, select("#", ...) do out[#out + 1] = tostring((select(i, ...))) end
    end
    local function loader(wsapi_env)
      local path, file, modname = common.find_module(wsapi_env, nil, "lwt.wsapi")
      wsapi.app_path = path
      local app = common.load_wsapi(path, file, modname, "lua")
      wsapi_env.APP_PATH = path
      return app(wsapi_env)
    end
    common.run(loader, { input = { read = function () end }, output = { write = pipe_write },
      error = { write = function () end }, env = function (k) return ENV[k] end })
    return table.concat(out)
  `;
  return `
    local rings = require "rings"
    local socket = require "socket.core"
    local code = ${JSON.stringify(request)}
    local expected = ${JSON.stringify(EXPECTED)}
    local warmup = ${Math.min(200, Math.ceil(iterations / 5))}
    for i = 1, warmup + ${iterations} do
      local t0 = socket.gettime()
      local S = rings.new()
      local ok, res = S:dostring(code)
      S:close()
      local dt = (socket.gettime() - t0) * 1000
      if not ok or not res:find(expected, 1, true) then error("C Lua run failed: " .. tostring(res)) end
      if i > warmup then io.write(string.format("%.6f\\n", dt)) end
    end
  `;
}

function cLua(iterations: number): Figures {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-bench-'));
  try {
    const file = path.join(dir, 'loop.lua');
    fs.writeFileSync(file, cLuaScript(iterations));
    const r = spawnSync('lua5.1', [file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`lua5.1 failed: ${r.stderr}`);
    return figures(r.stdout.trim().split('\n').map(Number));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** One worker's share of the throughput run: requests completed in `ms`. */
function throughputWorker(ms: number): number {
  const sink: ResponseSink = { head: () => undefined, body: () => undefined, log: () => undefined };
  const cache = new ChunkCache();
  for (let i = 0; i < 200; i++) runRequest(JOB, sink, DEFAULT_RUNTIME_OPTIONS, cache);
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    runRequest(JOB, sink, DEFAULT_RUNTIME_OPTIONS, cache);
    n++;
  }
  return n;
}

/** Requests/s with one worker thread per core, each with its own chunk cache (as the worker pool runs them). */
async function throughput(ms: number): Promise<{ workers: number; perSecond: number }> {
  const workers = os.availableParallelism();
  const counts = await Promise.all(Array.from({ length: workers }, () => new Promise<number>((resolve, reject) => {
    const w = new Worker(__filename, { workerData: { ms } });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  return { workers, perSecond: counts.reduce((a, b) => a + b, 0) / (ms / 1000) };
}

/**
 * Requests/s through the WorkerPool, one worker per core, with `inFlight`
 * jobs outstanding per worker so a worker never waits for the main thread.
 */
async function poolThroughput(ms: number, inFlightPerWorker = 2): Promise<{ workers: number; perSecond: number; failed: number }> {
  const workers = os.availableParallelism();
  const pool = new WorkerPool({
    ...DEFAULT_POOL_OPTIONS,
    workers,
    runtime: { cpuLimitMs: DEFAULT_RUNTIME_OPTIONS.cpuLimitMs, logStatistics: false },
  });
  let nextId = 1;
  let completed = 0;
  let failed = 0;
  let measuring = false;
  let stopAt = Infinity;
  let inFlight = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  const submit = (): void => {
    if (performance.now() >= stopAt) {
      if (inFlight === 0) finish();
      return;
    }
    inFlight++;
    let handle: JobHandle | null = null;
    const end = (ok: boolean): void => {
      inFlight--;
      if (measuring) {
        if (ok) completed++;
        else failed++;
      }
      submit();
    };
    handle = pool.run({ ...JOB, id: nextId++ }, {
      output: (msg) => {
        if (msg.bytes > 0) handle?.ack(msg.bytes);
        if (msg.done) end(msg.done.ok);
      },
      failed: () => end(false),
    });
  };
  // Warm up every worker's chunk cache and JIT before counting.
  const warmEnd = performance.now() + 1500;
  stopAt = warmEnd;
  for (let i = 0; i < workers * inFlightPerWorker; i++) submit();
  await finished;
  const finished2 = new Promise<void>((resolve) => { finish = resolve; });
  measuring = true;
  const t0 = performance.now();
  stopAt = t0 + ms;
  for (let i = 0; i < workers * inFlightPerWorker; i++) submit();
  await finished2;
  const elapsed = performance.now() - t0;
  await pool.close();
  return { workers, perSecond: completed / (elapsed / 1000), failed };
}

function row(name: string, f: Figures): string {
  return `${name.padEnd(44)} median ${f.median.toFixed(3).padStart(7)} ms   p99 ${f.p99.toFixed(3).padStart(7)} ms   mean ${f.mean.toFixed(3).padStart(7)} ms`;
}

async function main(): Promise<void> {
  console.log(`seed example through wsapi.common.run, one new Lua state per request, ${ITERATIONS} requests, single thread`);
  const fromSource = sidecar(Math.max(50, Math.floor(ITERATIONS / 5)), false);
  const cached = sidecar(ITERATIONS, true);
  const c = cLua(ITERATIONS);
  console.log(row('sidecar, chunkCache off (compile every chunk)', fromSource));
  console.log(row('sidecar, shared chunk cache', cached));
  console.log(row('C lua5.1 (rings.new state, WSAPI from source)', c));
  console.log(`ratio cached sidecar / C lua5.1 (median): ${(cached.median / c.median).toFixed(2)}`
    + `  -> ${cached.median <= c.median ? 'target met' : 'target NOT met'} (target <= 1.00)`);
  console.log(`ratio uncached sidecar / C lua5.1 (median): ${(fromSource.median / c.median).toFixed(2)}`);
  const t = await throughput(3000);
  console.log(`throughput, cached, ${t.workers} worker threads (one per core): ${t.perSecond.toFixed(0)} requests/s`);
  const p = await poolThroughput(3000);
  console.log(`throughput, cached, WorkerPool with ${p.workers} workers (one per core): ${p.perSecond.toFixed(0)} requests/s`
    + (p.failed > 0 ? ` (${p.failed} failed)` : ''));
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  parentPort!.postMessage(throughputWorker((workerData as { ms: number }).ms));
}
