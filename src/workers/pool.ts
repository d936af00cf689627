/**
 * The pool of worker threads that run Lua: Lua never runs on the thread that
 * accepts connections. One job per worker at a time; a bounded FIFO queue
 * when all are busy (LWT_QUEUE_FULL beyond it); a worker that dies is
 * replaced and only its job fails.
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
  FLOW_ABORTED, FLOW_OUTSTANDING, FLOW_SLOTS, FLOW_WAITING,
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
  slot: Slot | null;
}

interface Slot {
  readonly worker: Worker;
  readonly flow: Int32Array;
  readonly heapLimitMb: number;
  task: Task | null;
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
    const task: Task = { job, handler, settled: false, aborted: false, activeMs: 0, slot: null };
    const idle = this.idleSlot();
    if (idle) this.start(idle, task);
    else if (this.queue.length < this.opts.queueLimit) this.queue.push(task);
    else throw new SidecarError('LWT_QUEUE_FULL', `all ${this.slots.size} workers are busy and ${this.queue.length} requests are queued`);
    return {
      ack: (bytes) => this.ack(task, bytes),
      abort: () => {
        task.aborted = true;
        const slot = task.slot;
        if (!slot) {
          const i = this.queue.indexOf(task);
          if (i >= 0) this.queue.splice(i, 1);
          this.settle(task);
          this.checkDrained();
          return;
        }
        if (slot.task === task) {
          Atomics.store(slot.flow, FLOW_ABORTED, task.job.id);
          Atomics.notify(slot.flow, FLOW_OUTSTANDING);
        }
      },
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
    for (const slot of this.slots) if (slot.task) this.fail(slot.task, err);
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
      task: null, ready: false, lastTick: 0, retiring: false, error: null,
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
    if (task && !task.settled) {
      const oom = (slot.error as NodeJS.ErrnoException | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.fail(task, oom
        ? { code: 'LWT_LUA_MEMORY', message: `the request exceeded the worker heap limit (${slot.heapLimitMb} MB)` }
        : { code: 'LWT_WORKER_DIED', message: `the worker exited (code ${code})${slot.error ? `: ${slot.error.message}` : ''}` });
    }
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

  private ack(task: Task, bytes: number): void {
    const slot = task.slot;
    // After `done` the worker no longer waits, and FLOW_OUTSTANDING belongs to its next job.
    if (!slot || slot.task !== task || task.settled) return;
    Atomics.sub(slot.flow, FLOW_OUTSTANDING, bytes);
    Atomics.notify(slot.flow, FLOW_OUTSTANDING);
  }

  private idleSlot(): Slot | null {
    for (const s of this.slots) if (!s.task && !s.retiring) return s;
    return null;
  }

  private start(slot: Slot, task: Task): void {
    slot.task = task;
    task.slot = slot;
    slot.lastTick = Date.now();
    Atomics.store(slot.flow, FLOW_OUTSTANDING, 0);
    Atomics.store(slot.flow, FLOW_ABORTED, 0);
    Atomics.store(slot.flow, FLOW_WAITING, 0);
    const msg: ToWorker = { type: 'job', job: task.job };
    slot.worker.postMessage(msg);
  }

  private release(slot: Slot): void {
    slot.task = null;
    if (slot.heapLimitMb !== this.heapLimitMb) this.retire(slot);
    this.pump();
  }

  private retire(slot: Slot): void {
    slot.retiring = true;
    void slot.worker.terminate();
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.idleSlot();
      if (!slot) break;
      this.start(slot, this.queue.shift()!);
    }
    this.checkDrained();
  }

  private checkDrained(): void {
    if (!this.drained || this.queue.length > 0) return;
    for (const s of this.slots) if (s.task) return;
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
      if (Atomics.load(slot.flow, FLOW_WAITING) === 0) task.activeMs += now - slot.lastTick;
      slot.lastTick = now;
      if (task.activeMs > limit && !slot.retiring) {
        this.fail(task, { code: 'LWT_LUA_CPU', message: `the script ran longer than ${this.opts.runtime.cpuLimitMs} ms; its worker was stopped` });
        slot.task = null;
        this.retire(slot);
        this.checkDrained();
      }
    }
  }
}
