/**
 * The pool of worker threads that run Lua: Lua never runs on the thread that
 * accepts connections. One job per worker at a time; a bounded FIFO queue
 * when all are busy (LWT_QUEUE_FULL beyond it); a worker that dies is
 * replaced and only its job fails.
 *
 * Send-ahead (FLOW_NEXT in messages.ts): with every worker busy, the queue's
 * head is posted to a worker whose job still runs, so no thread round trip
 * separates its jobs; until the worker claims it the pool can take it back.
 * FLOW_OUTSTANDING is balanced per job (release()): the previous job's late
 * acknowledgements never loosen the next job's backpressure.
 *
 * Limits, and how they are measured (docs/limits.md):
 * - CPU: the runtime's count hook stops a script after cpuLimitMs
 *   (RuntimeOptions.cpuLimitMs) of wall time minus the time the worker was
 *   blocked waiting for a slow client. A script can defeat a hook (one long
 *   JS library call), so the pool keeps a wall-clock backstop: time the
 *   worker spends running a job, sampled every TICK_MS and not counted while
 *   it is blocked waiting for the client (FLOW_WAITING), beyond
 *   cpuLimitMs + backstopGraceMs terminates the worker (LWT_LUA_CPU).
 * - Memory: LuaMemoryLimit is checked per request by the runtime's count
 *   hook and its string-building library calls (src/lua/sandbox.ts): the growth of the worker isolate's heap in
 *   use (V8 heap + external memory, which holds fengari's strings) since the
 *   request started, confirmed after a full collection, fails the request
 *   with mod_lwt's memory error and leaves the worker serving. The backstop
 *   is the worker's V8 heap cap, resourceLimits.maxOldGenerationSizeMb =
 *   heapLimitMb (the snapshot's largest LuaMemoryLimit plus a base, see
 *   src/server/options.ts), for what the hook cannot see (one huge
 *   allocation inside a library call): exceeding it kills only that worker
 *   (ERR_WORKER_OUT_OF_MEMORY → the job fails with LWT_LUA_MEMORY).
 */

import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SidecarError, type ErrorShape } from '../errors';
import type { LuaJob } from '../lua/types';
import {
  FLOW_ABORTED, FLOW_NEXT, FLOW_OUTSTANDING, FLOW_SLOTS, FLOW_WAITING,
  type FromWorker, type OutputMessage, type PoolRuntimeOptions, type ToWorker, type WorkerInit,
} from './messages';

export interface PoolOptions {
  readonly workers: number;
  /** Jobs that may wait for a worker; more get LWT_QUEUE_FULL. */
  readonly queueLimit: number;
  readonly runtime: PoolRuntimeOptions;
  /** Wall-clock allowance beyond runtime.cpuLimitMs before the worker is terminated. */
  readonly backstopGraceMs: number;
  readonly heapLimitMb: number;
  readonly highWaterMarkBytes: number;
  readonly bufferLimitBytes: number;
  /** Called for worker-level events an operator should see (death, replacement). */
  readonly onEvent?: (level: 'notice' | 'warn' | 'error', message: string) => void;
}

export const DEFAULT_POOL_OPTIONS = {
  workers: Math.max(1, os.availableParallelism()),
  queueLimit: 256,
  backstopGraceMs: 1000,
  heapLimitMb: 128,
  highWaterMarkBytes: 256 * 1024,
  bufferLimitBytes: 64 * 1024,
} as const;

/** Receives one job's events; exactly one call carries `done` or goes to failed(). */
export interface JobHandler {
  output(msg: OutputMessage): void;
  failed(error: ErrorShape): void;
}

export interface JobHandle {
  /** The main thread wrote this many of the job's bytes: the worker may produce more. */
  ack(bytes: number): void;
  /** The client went away: drop the job's output (or its place in the queue). */
  abort(): void;
}

interface Task {
  readonly job: LuaJob;
  readonly handler: JobHandler;
  settled: boolean;
  aborted: boolean;
  activeMs: number;
  /** Bytes received from the worker and not yet acknowledged (this job's share of FLOW_OUTSTANDING). */
  unacked: number;
  slot: Slot | null;
}

interface Slot {
  readonly worker: Worker;
  readonly flow: Int32Array;
  readonly heapLimitMb: number;
  task: Task | null;
  /** Sent ahead while `task` runs; the worker has claimed it once FLOW_NEXT no longer holds its id. */
  next: Task | null;
  ready: boolean;
  lastTick: number;
  /** Set when the pool ends the worker on purpose; the task has been settled already. */
  retiring: boolean;
  error: Error | null;
}

const WORKER_FILE = path.join(__dirname, 'worker-main.js');
const TICK_MS = 100;

export class WorkerPool {
  private readonly opts: PoolOptions;
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private heapLimitMb: number;
  private readonly timer: NodeJS.Timeout;
  private closing: Promise<void> | null = null;
  private destroyed = false;
  private drained: (() => void) | null = null;

  constructor(opts: PoolOptions) {
    this.opts = opts;
    this.heapLimitMb = opts.heapLimitMb;
    for (let i = 0; i < opts.workers; i++) this.spawn();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Run a job, or throw LWT_QUEUE_FULL / LWT_CLOSED at once. */
  run(job: LuaJob, handler: JobHandler): JobHandle {
    if (this.closing) throw new SidecarError('LWT_CLOSED', 'the worker pool is closing');
    const task: Task = { job, handler, settled: false, aborted: false, activeMs: 0, unacked: 0, slot: null };
    if (!this.idleSlot()) {
      // A job sent ahead still waits for its worker: it counts against queueLimit.
      let waiting = this.queue.length;
      for (const s of this.slots) if (s.next) waiting++;
      if (waiting >= this.opts.queueLimit) {
        throw new SidecarError('LWT_QUEUE_FULL', `all ${this.slots.size} workers are busy and ${waiting} requests are queued`);
      }
    }
    // Through the queue, so that a job sent ahead is always the oldest waiting one.
    this.queue.push(task);
    this.pump();
    return {
      ack: (bytes) => this.ack(task, bytes),
      abort: () => this.abort(task),
    };
  }

  /** Workers started later use this heap cap; idle workers with another cap are replaced now, busy ones after their job. */
  setHeapLimitMb(mb: number): void {
    if (mb === this.heapLimitMb) return;
    this.heapLimitMb = mb;
    for (const slot of [...this.slots]) if (!slot.task) this.retire(slot);
  }

  stats(): { workers: number; busy: number; queued: number; heapLimitMb: number } {
    let busy = 0;
    for (const s of this.slots) if (s.task) busy++;
    return { workers: this.slots.size, busy, queued: this.queue.length, heapLimitMb: this.heapLimitMb };
  }

  /** Stop taking jobs, finish running and queued ones, then end the workers. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.drained = resolve;
      this.checkDrained();
    }).then(() => this.terminateAll());
    return this.closing;
  }

  /** End every worker now; running and queued jobs fail with LWT_CLOSED. */
  destroy(): Promise<void> {
    this.destroyed = true;
    this.closing ??= Promise.resolve();
    const err: ErrorShape = { code: 'LWT_CLOSED', message: 'the worker pool was destroyed' };
    for (const task of this.queue.splice(0)) this.fail(task, err);
    for (const slot of this.slots) {
      if (slot.task) this.fail(slot.task, err);
      if (slot.next) this.fail(slot.next, err);
    }
    // A close() that was waiting for these jobs ends with the destroy.
    const drained = this.drained;
    this.drained = null;
    return this.terminateAll().then(() => drained?.());
  }

  private async terminateAll(): Promise<void> {
    clearInterval(this.timer);
    const all = [...this.slots];
    for (const s of all) s.retiring = true;
    await Promise.all(all.map((s) => s.worker.terminate()));
    this.slots.clear();
  }

  private spawn(): void {
    const flow = new SharedArrayBuffer(FLOW_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    const init: WorkerInit = {
      runtime: this.opts.runtime,
      flow,
      highWaterMarkBytes: this.opts.highWaterMarkBytes,
      bufferLimitBytes: this.opts.bufferLimitBytes,
    };
    const worker = new Worker(WORKER_FILE, {
      workerData: init,
      resourceLimits: { maxOldGenerationSizeMb: this.heapLimitMb },
      // Lua's print/io.write must never reach the server's own stdout (fengari-notes).
      stdout: true,
      stderr: true,
    });
    const slot: Slot = {
      worker, flow: new Int32Array(flow), heapLimitMb: this.heapLimitMb,
      task: null, next: null, ready: false, lastTick: 0, retiring: false, error: null,
    };
    worker.stdout.resume();
    worker.stderr.resume();
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg));
    worker.on('error', (err) => { slot.error = err; });
    worker.on('exit', (code) => this.onExit(slot, code));
    this.slots.add(slot);
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (msg.type === 'ready') {
      slot.ready = true;
      return;
    }
    const task = slot.task;
    if (!task || task.job.id !== msg.id) return;
    if (msg.type === 'output') task.unacked += msg.bytes;
    if (msg.type === 'failed') {
      this.fail(task, msg.error);
      this.release(slot);
      return;
    }
    if (msg.done) {
      this.settle(task);
      if (!task.aborted) task.handler.output(msg);
      this.release(slot);
      return;
    }
    if (!task.aborted) task.handler.output(msg);
    else this.ack(task, msg.bytes);
  }

  private onExit(slot: Slot, code: number): void {
    this.slots.delete(slot);
    const task = slot.task;
    slot.task = null;
    const oom = (slot.error as NodeJS.ErrnoException | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
    const died: ErrorShape = oom
      ? { code: 'LWT_LUA_MEMORY', message: `the request exceeded the worker heap limit (${slot.heapLimitMb} MB)` }
      : { code: 'LWT_WORKER_DIED', message: `the worker exited (code ${code})${slot.error ? `: ${slot.error.message}` : ''}` };
    if (task) this.fail(task, died);
    // The job sent ahead waits for another worker, unless it had started on this one.
    const next = slot.next;
    if (next && this.takeBack(slot, next)) this.queue.unshift(next);
    else if (next) this.fail(next, died);
    slot.next = null;
    if (this.destroyed || (this.closing && !task && this.queue.length === 0)) return;
    if (!slot.retiring) {
      this.opts.onEvent?.('warn', `worker ${slot.worker.threadId} exited${slot.error ? ` (${slot.error.message})` : ` with code ${code}`}; starting a replacement`);
    }
    if (!slot.ready && !slot.retiring) {
      // Died before it could start (the runtime does not load): retry in a second
      // without spinning, and fail the waiting jobs rather than hold them.
      const error: ErrorShape = { code: 'LWT_WORKER_DIED', message: `a worker failed to start${slot.error ? `: ${slot.error.message}` : ''}` };
      for (const t of this.queue.splice(0)) this.fail(t, error);
      this.checkDrained();
      setTimeout(() => { if (!this.destroyed) { this.spawn(); this.pump(); } }, 1000).unref();
      return;
    }
    this.spawn();
    this.pump();
  }

  private abort(task: Task): void {
    task.aborted = true;
    const slot = task.slot;
    if (!slot) {
      const i = this.queue.indexOf(task);
      if (i >= 0) this.queue.splice(i, 1);
      this.settle(task);
      this.checkDrained();
      return;
    }
    if (this.takeBack(slot, task)) {
      this.settle(task);
      if (slot.task === task) this.release(slot);
      else this.pump();
      return;
    }
    // A worker that has claimed the job sent ahead is done with `task`: the flag must stay the next job's.
    if (slot.task === task && this.claimed(slot)) return;
    if (slot.task === task || slot.next === task) {
      Atomics.store(slot.flow, FLOW_ABORTED, task.job.id);
      Atomics.notify(slot.flow, FLOW_OUTSTANDING);
    }
  }

  private ack(task: Task, bytes: number): void {
    const slot = task.slot;
    // After `done` the job's unacknowledged bytes were released at once (release()).
    if (!slot || slot.task !== task || task.settled) return;
    const n = Math.min(bytes, task.unacked);
    task.unacked -= n;
    Atomics.sub(slot.flow, FLOW_OUTSTANDING, n);
    Atomics.notify(slot.flow, FLOW_OUTSTANDING);
  }

  /** Take back a job posted to `slot` that its worker has not claimed; it then belongs to no slot. */
  private takeBack(slot: Slot, task: Task): boolean {
    if (task.settled || (slot.task !== task && slot.next !== task)) return false;
    if (Atomics.compareExchange(slot.flow, FLOW_NEXT, task.job.id, 0) !== task.job.id) return false;
    if (slot.next === task) slot.next = null;
    task.slot = null;
    return true;
  }

  /** The worker has finished `task` and started the job sent ahead (its `done` is on the way). */
  private claimed(slot: Slot): boolean {
    return slot.next !== null && Atomics.load(slot.flow, FLOW_NEXT) !== slot.next.job.id;
  }

  private idleSlot(): Slot | null {
    for (const s of this.slots) if (!s.task && !s.retiring) return s;
    return null;
  }

  /** A busy worker that can take one job ahead: it has claimed its own (FLOW_NEXT holds one id) and keeps its heap cap. */
  private aheadSlot(): Slot | null {
    for (const s of this.slots) {
      if (s.task && !s.next && s.ready && !s.retiring && s.heapLimitMb === this.heapLimitMb
        && Atomics.load(s.flow, FLOW_NEXT) === 0) return s;
    }
    return null;
  }

  private start(slot: Slot, task: Task): void {
    task.slot = slot;
    if (slot.task) {
      slot.next = task;
    } else {
      slot.task = task;
      slot.lastTick = Date.now();
    }
    Atomics.store(slot.flow, FLOW_NEXT, task.job.id);
    const msg: ToWorker = { type: 'job', job: task.job };
    slot.worker.postMessage(msg);
  }

  private release(slot: Slot): void {
    const ended = slot.task;
    // What the client never acknowledged of the ended job no longer holds the worker back.
    if (ended && ended.unacked > 0) {
      Atomics.sub(slot.flow, FLOW_OUTSTANDING, ended.unacked);
      ended.unacked = 0;
      Atomics.notify(slot.flow, FLOW_OUTSTANDING);
    }
    // The job sent ahead is this worker's next (claimed, or about to be).
    slot.task = slot.next;
    slot.next = null;
    if (!slot.task && slot.heapLimitMb !== this.heapLimitMb) this.retire(slot);
    this.pump();
  }

  private retire(slot: Slot): void {
    slot.retiring = true;
    void slot.worker.terminate();
  }

  private pump(): void {
    // An idle worker first takes the oldest waiting job: one sent ahead behind a running script.
    for (let idle = this.idleSlot(); idle; idle = this.idleSlot()) {
      const task = (idle.ready ? this.takeBackAhead() : null) ?? this.queue.shift();
      if (!task) break;
      this.start(idle, task);
    }
    for (let s = this.aheadSlot(); s && this.queue.length > 0; s = this.aheadSlot()) this.start(s, this.queue.shift()!);
    this.checkDrained();
  }

  private takeBackAhead(): Task | null {
    for (const s of this.slots) {
      const next = s.next;
      if (next && this.takeBack(s, next)) return next;
    }
    return null;
  }

  private checkDrained(): void {
    if (!this.drained || this.queue.length > 0) return;
    for (const s of this.slots) if (s.task || s.next) return;
    const done = this.drained;
    this.drained = null;
    done();
  }

  private settle(task: Task): void {
    task.settled = true;
  }

  private fail(task: Task, error: ErrorShape): void {
    if (task.settled) return;
    task.settled = true;
    if (!task.aborted) task.handler.failed(error);
  }

  /** The CPU backstop: count a job's running time, except while it waits for the client. */
  private tick(): void {
    const now = Date.now();
    const limit = this.opts.runtime.cpuLimitMs + this.opts.backstopGraceMs;
    for (const slot of this.slots) {
      const task = slot.task;
      if (!task) continue;
      // Once the worker has claimed the job sent ahead, the time is that job's.
      const running = this.claimed(slot) ? slot.next! : task;
      if (Atomics.load(slot.flow, FLOW_WAITING) === 0) running.activeMs += now - slot.lastTick;
      slot.lastTick = now;
      if (running !== task || task.activeMs <= limit || slot.retiring) continue;
      // Take the job sent ahead back first; if the worker claimed it meanwhile, `task` ended in time.
      const next = slot.next;
      if (next && !this.takeBack(slot, next)) continue;
      this.fail(task, { code: 'LWT_LUA_CPU', message: `the script ran longer than ${this.opts.runtime.cpuLimitMs} ms; its worker was stopped` });
      slot.task = null;
      this.retire(slot);
      if (next) this.queue.unshift(next);
      this.pump();
    }
  }
}
