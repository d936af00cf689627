import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { ErrorShape } from '../../src/errors';
import type { LuaJob } from '../../src/lua/types';
import { DEFAULT_POOL_OPTIONS, type JobHandle, type WorkerPool } from '../../src/workers';
import { FLOW_NEXT, FLOW_OUTSTANDING, FLOW_WAITING } from '../../src/workers/messages';
import { OWN_FIXTURES, job, makePool, runToEnd, slotsOf, until, type Outcome, type SlotView } from './helpers';

const HWM = DEFAULT_POOL_OPTIONS.highWaterMarkBytes;

/** A streamed job whose client acknowledges nothing until told to: its worker blocks at the high-water mark. */
function heldStream(pool: WorkerPool, j: LuaJob) {
  const s = {
    received: 0, unacked: [] as number[], done: false, error: null as ErrorShape | null,
    handle: null as JobHandle | null,
    /** Acknowledge everything from now on, as a draining socket would. */
    drain(): Promise<void> {
      return new Promise((resolve) => {
        const tick = setInterval(() => {
          while (s.unacked.length) s.handle!.ack(s.unacked.shift()!);
          if (s.done || s.error) { clearInterval(tick); resolve(); }
        }, 5);
      });
    },
  };
  s.handle = pool.run(j, {
    output(msg) {
      for (const c of msg.chunks) s.received += c.length;
      if (msg.done) s.done = true;
      else s.unacked.push(msg.bytes);
    },
    failed(error) { s.error = error; },
  });
  return s;
}

/** The worker has claimed the job it was given (FLOW_NEXT no longer holds its id). */
const claimed = (slot: SlotView, j: LuaJob) => slot.task?.job.id === j.id && Atomics.load(slot.flow, FLOW_NEXT) === 0;

describe('workers/pool: a job sent ahead to a busy worker', function () {
  this.timeout(30_000);
  let pool: WorkerPool | null = null;
  afterEach(async () => {
    await pool?.destroy();
    pool = null;
  });

  /** Both workers ready and blocked on a client that acknowledges nothing. */
  async function twoBlockedWorkers() {
    pool = makePool({ workers: 2 });
    const p = pool;
    await until('both workers are ready', () => slotsOf(p).every((s) => s.ready));
    const [w0, w1] = slotsOf(p);
    const j0 = job('stream.lua');
    const j1 = job('stream.lua');
    const s0 = heldStream(p, j0);
    const s1 = heldStream(p, j1);
    await until('both streams are blocked', () => claimed(w0!, j0) && claimed(w1!, j1)
      && Atomics.load(w0!.flow, FLOW_WAITING) === 1 && Atomics.load(w1!.flow, FLOW_WAITING) === 1);
    return { p, w0: w0!, w1: w1!, s0, s1 };
  }

  it('is taken back and run by the other worker when that one frees up first', async () => {
    const { p, w0, w1, s0, s1 } = await twoBlockedWorkers();
    const ahead = job('hello.lua');
    let r: Outcome | null = null;
    void runToEnd(p, ahead).then((o) => { r = o; });
    assert.equal(w0.next?.job.id, ahead.id);
    // The second worker's client drains; the first worker stays blocked: the job must not wait for it.
    await s1.drain();
    await until('the job sent ahead is served', () => r !== null, 10_000);
    assert.equal(r!.status, 200);
    assert.equal(s0.done, false);
    assert.equal(w0.next, null);
    await s0.drain();
    assert.equal(s0.received, 1024 * 1024);
  });

  it('is served by another worker when its worker dies; only the running job fails', async () => {
    const { p, w0, s0, s1 } = await twoBlockedWorkers();
    const ahead = job('hello.lua');
    const result = runToEnd(p, ahead);
    assert.equal(w0.next?.job.id, ahead.id);
    await w0.worker.terminate();
    const r = await result;
    assert.equal(r.status, 200);
    assert.equal(r.ok, true);
    await until('the running job has failed', () => s0.error !== null);
    assert.equal(s0.error?.code, 'LWT_WORKER_DIED');
    await s1.drain();
    assert.equal(s1.received, 1024 * 1024);
    assert.equal(p.stats().workers, 2);
  });

  it('is dropped when its client goes away before the worker starts it, and the worker serves the next job', async () => {
    pool = makePool({ workers: 1 });
    const p = pool;
    await until('the worker is ready', () => slotsOf(p)[0]!.ready);
    const w = slotsOf(p)[0]!;
    const first = job('stream.lua');
    const s = heldStream(p, first);
    await until('the stream is blocked', () => claimed(w, first) && Atomics.load(w.flow, FLOW_WAITING) === 1);
    const ahead = job('hello.lua');
    const calls: string[] = [];
    const handle = p.run(ahead, { output: () => calls.push('output'), failed: (e) => calls.push(e.code) });
    assert.equal(w.next?.job.id, ahead.id);
    handle.abort();
    assert.equal(w.next, null);
    assert.equal(Atomics.load(w.flow, FLOW_NEXT), 0, 'the worker can no longer claim it');
    await s.drain();
    const next = await runToEnd(p, job('hello.lua'));
    assert.equal(next.status, 200);
    assert.deepEqual(calls, []);
    await p.close();
  });

  it('is run by another worker when the CPU backstop stops the script it waited behind', async () => {
    pool = makePool({ workers: 1, runtime: { cpuLimitMs: 300 }, backstopGraceMs: 300 });
    const p = pool;
    await until('the worker is ready', () => slotsOf(p)[0]!.ready);
    const w = slotsOf(p)[0]!;
    const stuck = job('backtrack.lua');
    const r = runToEnd(p, stuck);
    await until('the long library call runs', () => claimed(w, stuck));
    const ahead = job('hello.lua');
    const next = runToEnd(p, ahead);
    assert.equal(w.next?.job.id, ahead.id);
    assert.equal((await r).error?.code, 'LWT_LUA_CPU');
    const n = await next;
    assert.equal(n.status, 200);
    assert.equal(n.ok, true);
    assert.notEqual(slotsOf(p)[0]!.worker.threadId, w.worker.threadId);
  });

  it('does not let late acknowledgements of the previous job loosen its backpressure', async () => {
    pool = makePool({ workers: 1 });
    const p = pool;
    await until('the worker is ready', () => slotsOf(p)[0]!.ready);
    const w = slotsOf(p)[0]!;
    // Streamed but below the high-water mark: it ends without a single acknowledgement.
    const first = job(path.join(OWN_FIXTURES, 'short-stream.lua'));
    const s = heldStream(p, first);
    await until('the first job has streamed 128 KiB', () => s.received >= 128 * 1024);
    const second = job('stream.lua');
    const s2 = heldStream(p, second);
    assert.equal(w.next?.job.id, second.id);
    // Hold this thread until the worker has moved on to the second job, then acknowledge what
    // the first sent so far: these acks land after the claim and before its `done` is read.
    const end = Date.now() + 10_000;
    while (Atomics.load(w.flow, FLOW_NEXT) === second.id && Date.now() < end) { /* the first job runs */ }
    assert.equal(Atomics.load(w.flow, FLOW_NEXT), 0);
    while (s.unacked.length) s.handle!.ack(s.unacked.shift()!);
    await s.drain();
    assert.equal(s.received, 192 * 1024);
    // Blocked, with everything it sent read here: the counter holds the second job's bytes alone.
    await until('the second job is blocked with all its output read', () => w.task?.job.id === second.id
      && Atomics.load(w.flow, FLOW_WAITING) === 1 && s2.received === Atomics.load(w.flow, FLOW_OUTSTANDING));
    assert.equal(s2.done, false);
    assert.ok(s2.received > HWM && s2.received <= HWM + 64 * 1024, `held ${s2.received}`);
    await s2.drain();
    assert.equal(s2.received, 1024 * 1024);
  });
});
