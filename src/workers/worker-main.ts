/**
 * A pool worker: one compiled-chunk cache, jobs run one at a time with the
 * synchronous runRequest of src/lua. Output is batched: a short response
 * leaves in one message with its `done`; a long or slow one is streamed, and
 * the worker blocks (Atomics.wait) while more than highWaterMarkBytes are
 * unacknowledged, so a large yielded body is never held whole in memory.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { toShape, isSidecarError, type ErrorShape } from '../errors';
import { ChunkCache, DEFAULT_RUNTIME_OPTIONS, runRequest } from '../lua';
import { excludeFromCpuTime } from '../lua/sandbox';
import type { LogLevel, LuaJob, ResponseSink, RunResult, RuntimeOptions } from '../lua/types';
import {
  FLOW_ABORTED, FLOW_NEXT, FLOW_OUTSTANDING, FLOW_WAITING,
  type FromWorker, type OutputHead, type ToWorker, type WorkerInit,
} from './messages';

/** Streamed output leaves in batches of at least this many bytes. */
const STREAM_BATCH_BYTES = 16 * 1024;

const init = workerData as WorkerInit;
const port = parentPort;
if (!port) throw new Error('worker-main must run in a worker thread');
const flow = new Int32Array(init.flow);
const cache = new ChunkCache();
const runtime: RuntimeOptions = Object.freeze({ ...DEFAULT_RUNTIME_OPTIONS, ...init.runtime });

class JobOutput implements ResponseSink {
  private pendingHead: OutputHead | undefined;
  private chunks: Uint8Array[] = [];
  private bytes = 0;
  private logs: Array<readonly [LogLevel, string]> = [];
  private streaming = false;

  constructor(private readonly id: number) {}

  head(status: number, headers: ReadonlyArray<readonly [string, string]>): void {
    this.pendingHead = { status, headers: headers.map(([n, v]) => [n, v] as const) };
  }

  body(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.aborted()) return;
    // Own copy: the runtime may reuse its buffer, and ours is transferred.
    this.chunks.push(chunk.slice());
    this.bytes += chunk.length;
    // Like Apache's output filters, small writes are held: the response is sent whole with a
    // Content-Length unless it outgrows the buffer, and then streamed in batches.
    const limit = this.streaming ? STREAM_BATCH_BYTES : init.bufferLimitBytes;
    if (this.bytes >= limit) {
      this.flush(undefined);
      this.waitForRoom();
    }
  }

  log(level: LogLevel, message: string): void {
    this.logs.push([level, message]);
  }

  flush(done: RunResult | undefined): void {
    // One buffer per message: a script's many small yields cross the thread boundary as one object.
    if (this.chunks.length > 1) this.chunks = [joinChunks(this.chunks, this.bytes)];
    const msg: FromWorker = {
      type: 'output',
      id: this.id,
      ...(this.pendingHead ? { head: this.pendingHead } : {}),
      chunks: this.chunks,
      bytes: this.bytes,
      logs: this.logs,
      ...(done ? { done } : {}),
    };
    if (this.bytes > 0) Atomics.add(flow, FLOW_OUTSTANDING, this.bytes);
    port!.postMessage(msg, this.chunks.map((c) => c.buffer as ArrayBuffer));
    this.pendingHead = undefined;
    this.chunks = [];
    this.bytes = 0;
    this.logs = [];
    this.streaming = true;
  }

  private aborted(): boolean {
    return Atomics.load(flow, FLOW_ABORTED) === this.id;
  }

  /** Backpressure: block until the main thread has written enough to the socket. */
  private waitForRoom(): void {
    let since = 0;
    for (;;) {
      const outstanding = Atomics.load(flow, FLOW_OUTSTANDING);
      if (outstanding <= init.highWaterMarkBytes || this.aborted()) break;
      if (since === 0) since = performance.now();
      Atomics.store(flow, FLOW_WAITING, 1);
      Atomics.wait(flow, FLOW_OUTSTANDING, outstanding, 1000);
    }
    Atomics.store(flow, FLOW_WAITING, 0);
    // A slow client is not the script's CPU time: the runtime's deadline moves on by the wait.
    if (since !== 0) excludeFromCpuTime(performance.now() - since);
  }
}

function joinChunks(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function runJob(job: LuaJob): void {
  // Claim the job: the pool may have sent it ahead and taken it back since (FLOW_NEXT).
  // FLOW_OUTSTANDING is not reset: the pool removes the previous job's unacknowledged bytes itself.
  if (Atomics.compareExchange(flow, FLOW_NEXT, job.id, 0) !== job.id) return;
  const out = new JobOutput(job.id);
  let result: RunResult;
  // runRequest applies job.memoryLimit to the request's state itself (docs/limits.md).
  try {
    result = runRequest(job, out, runtime, cache);
  } catch (err) {
    const error: ErrorShape = isSidecarError(err)
      ? toShape(err)
      : { code: 'LWT_LUA_RUNTIME', message: err instanceof Error ? err.message : String(err) };
    const msg: FromWorker = { type: 'failed', id: job.id, error };
    port!.postMessage(msg);
    return;
  }
  out.flush(result);
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'job') runJob(msg.job);
});
const ready: FromWorker = { type: 'ready' };
port.postMessage(ready);
