import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { ErrorShape } from '../../src/errors';
import { DEFAULT_POOL_OPTIONS, type WorkerPool } from '../../src/workers';
import { APP, job, makePool, runToEnd, slotsOf } from './helpers';

describe('workers/pool: Lua in worker threads', function () {
  this.timeout(30_000);
  let pool: WorkerPool | null = null;
  afterEach(async () => {
    await pool?.destroy();
    pool = null;
  });

  it('runs the seed example in a worker and returns its status, headers and body', async () => {
    pool = makePool({});
    const r = await runToEnd(pool, job('hello.lua'));
    assert.equal(r.status, 200);
    assert.equal(r.ok, true);
    assert.match(r.body.toString(), /<p>Hello Wsapi!<\/p><p>PATH_INFO: \/<\/p><p>SCRIPT_NAME: \/app\/hello.lua<\/p>/);
  });

  it('lets a fast request finish while a slow script occupies another worker', async () => {
    pool = makePool({});
    const order: string[] = [];
    const slow = runToEnd(pool, job('slow.lua')).then((r) => { order.push('slow'); return r; });
    const fast = await runToEnd(pool, job('hello.lua'));
    order.push('fast');
    assert.equal(fast.status, 200);
    const s = await slow;
    assert.equal(s.body.toString(), 'slow done');
    assert.deepEqual(order, ['fast', 'slow']);
  });

  it('stops `while true do pcall(function() end) end` and serves the next request', async () => {
    pool = makePool({ workers: 1, runtime: { cpuLimitMs: 300 }, backstopGraceMs: 500 });
    const r = await runToEnd(pool, job('spin.lua'));
    // Either the runtime's hook ended it (a C-level 500) or the backstop stopped the worker.
    assert.ok(r.ok === false || r.error?.code === 'LWT_LUA_CPU', JSON.stringify(r));
    const next = await runToEnd(pool, job('hello.lua'));
    assert.equal(next.status, 200);
    assert.equal(next.ok, true);
  });

  it('terminates a worker stuck in one long library call (the wall-clock backstop) and replaces it', async () => {
    pool = makePool({ workers: 1, runtime: { cpuLimitMs: 300 }, backstopGraceMs: 300 });
    const r = await runToEnd(pool, job('backtrack.lua'));
    assert.equal(r.error?.code, 'LWT_LUA_CPU');
    const next = await runToEnd(pool, job('hello.lua'));
    assert.equal(next.status, 200);
  });

  it('fails only the request that allocates without bound, and replaces its worker', async () => {
    pool = makePool({ workers: 2, heapLimitMb: 96, runtime: { cpuLimitMs: 20_000 } });
    const alloc = runToEnd(pool, job('alloc.lua'));
    const meanwhile = await runToEnd(pool, job('hello.lua'));
    assert.equal(meanwhile.status, 200);
    const r = await alloc;
    assert.ok(r.ok === false || r.error?.code === 'LWT_LUA_MEMORY', JSON.stringify(r.error ?? r.ok));
    for (let i = 0; i < 3; i++) assert.equal((await runToEnd(pool, job('hello.lua'))).status, 200);
    assert.equal(pool.stats().workers, 2);
  });

  it('fails a request that keeps large strings past its LuaMemoryLimit, alone, and the same worker serves the next', async () => {
    // A heap cap far above the limit and a long CPU limit: only the per-request check can stop it.
    pool = makePool({ workers: 1, heapLimitMb: 1024, runtime: { cpuLimitMs: 15_000 } });
    const threadId = () => slotsOf(pool!)[0]!.worker.threadId;
    const before = threadId();
    const r = await runToEnd(pool, job('strings.lua', 16 * 1024 * 1024));
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, 'LWT_LUA_MEMORY', JSON.stringify(r.error));
    assert.equal(r.error?.message, `Lua memory allocation error running '${path.join(APP, 'strings.lua')}': not enough memory`);
    // The log line may carry the error code after mod_lwt's text.
    assert.ok(r.logs.some((l) => l.startsWith(r.error!.message)), r.logs.join('\n'));
    const next = await runToEnd(pool, job('hello.lua', 16 * 1024 * 1024));
    assert.equal(next.status, 200);
    assert.equal(next.ok, true);
    assert.equal(threadId(), before);
  });

  it('replaces a worker that is killed, failing only its request', async () => {
    pool = makePool({ workers: 1 });
    const running = runToEnd(pool, job('slow.lua'));
    await new Promise((r) => setTimeout(r, 200));
    await slotsOf(pool)[0]!.worker.terminate();
    const r = await running;
    assert.equal(r.error?.code, 'LWT_WORKER_DIED');
    const next = await runToEnd(pool, job('hello.lua'));
    assert.equal(next.status, 200);
  });

  it('queues up to queueLimit jobs when every worker is busy and refuses more with LWT_QUEUE_FULL', async () => {
    pool = makePool({ workers: 1, queueLimit: 1 });
    const first = runToEnd(pool, job('slow.lua'));
    const queued = runToEnd(pool, job('hello.lua'));
    assert.throws(() => pool!.run(job('hello.lua'), { output() {}, failed() {} }), (e: ErrorShape) => e.code === 'LWT_QUEUE_FULL');
    assert.equal((await first).status, 200);
    assert.equal((await queued).status, 200);
  });

  it('streams a 1 MiB body under backpressure: the worker waits for acknowledgements', async () => {
    pool = makePool({ workers: 1 });
    const received: Buffer[] = [];
    const unacked: number[] = [];
    let done = false;
    const handle = pool.run(job('stream.lua'), {
      output(msg) {
        for (const c of msg.chunks) received.push(Buffer.from(c));
        if (msg.done) done = true;
        else unacked.push(msg.bytes);
      },
      failed(e) { throw new Error(e.message); },
    });
    // Without acknowledgements the worker stops after the high-water mark.
    await new Promise((r) => setTimeout(r, 500));
    const held = received.reduce((n, b) => n + b.length, 0);
    assert.equal(done, false);
    assert.ok(held > 0 && held < 1024 * 1024, `held ${held}`);
    assert.ok(held <= DEFAULT_POOL_OPTIONS.highWaterMarkBytes + 64 * 1024, `held ${held}`);
    assert.equal(pool.stats().busy, 1);
    // Acknowledge as a draining socket would; the rest follows.
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        while (unacked.length) handle.ack(unacked.shift()!);
        if (done) { clearInterval(tick); resolve(); }
      }, 5);
    });
    const body = Buffer.concat(received);
    assert.equal(body.length, 1024 * 1024);
    for (let i = 1; i <= 64; i++) assert.equal(body[(i - 1) * 16384], 65 + (i % 26));
  });

  it('does not count time blocked on a slow client against the CPU limit (runtime deadline and backstop)', async () => {
    pool = makePool({ workers: 1, runtime: { cpuLimitMs: 300 }, backstopGraceMs: 200 });
    const received: Buffer[] = [];
    const unacked: number[] = [];
    let outcome: { ok: boolean; error?: ErrorShape } | null = null;
    const handle = pool.run(job('bulk.lua'), {
      output(msg) {
        for (const c of msg.chunks) received.push(Buffer.from(c));
        if (msg.done) outcome = { ok: msg.done.ok, ...(msg.done.error ? { error: msg.done.error } : {}) };
        else unacked.push(msg.bytes);
      },
      failed(error) { outcome = { ok: false, error }; },
    });
    // The client takes three times the CPU limit plus grace to drain the first batches.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(outcome, null);
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        while (unacked.length) handle.ack(unacked.shift()!);
        if (outcome) { clearInterval(tick); resolve(); }
      }, 5);
    });
    assert.deepEqual(outcome, { ok: true });
    assert.equal(Buffer.concat(received).length, 1024 * 1024);
  });

  it('restarts idle workers with a new heap cap when the largest LuaMemoryLimit changes', async () => {
    pool = makePool({ workers: 2, heapLimitMb: 128 });
    assert.equal((await runToEnd(pool, job('hello.lua'))).status, 200);
    const before = new Set(slotsOf(pool));
    pool.setHeapLimitMb(200);
    assert.equal(pool.stats().heapLimitMb, 200);
    assert.equal((await runToEnd(pool, job('hello.lua'))).status, 200);
    const slotsNow = () => slotsOf(pool!);
    for (let i = 0; i < 100 && slotsNow().some((s) => before.has(s)); i++) await new Promise((r) => setTimeout(r, 50));
    const after = slotsNow();
    assert.equal(after.length, 2);
    assert.ok(after.every((s) => !before.has(s) && s.heapLimitMb === 200));
  });

  it('close() finishes running jobs, refuses new ones and returns the same promise', async () => {
    pool = makePool({ workers: 1 });
    const running = runToEnd(pool, job('hello.lua'));
    const c1 = pool.close();
    assert.equal(pool.close(), c1);
    assert.throws(() => pool!.run(job('hello.lua'), { output() {}, failed() {} }), (e: ErrorShape) => e.code === 'LWT_CLOSED');
    assert.equal((await running).status, 200);
    await c1;
    assert.equal(pool.stats().workers, 0);
  });
});
