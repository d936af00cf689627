/**
 * The typed messages between the pool (main thread) and a worker, and the
 * layout of the shared flow-control counters. Errors travel as plain
 * ErrorShape values: classes do not survive postMessage.
 */

import type { ErrorShape } from '../errors';
import type { LogLevel, LuaJob, RunResult, RuntimeOptions } from '../lua/types';

/** What a worker is started with (workerData). */
export interface WorkerInit {
  /** Merged over the runtime's DEFAULT_RUNTIME_OPTIONS inside the worker (the main thread never loads fengari). */
  readonly runtime: PoolRuntimeOptions;
  /** Int32Array over this: see FLOW_* slots. */
  readonly flow: SharedArrayBuffer;
  /** Unacknowledged bytes above which the worker blocks until the main thread catches up. */
  readonly highWaterMarkBytes: number;
  /** A body that reaches this size while the script still runs is streamed, not buffered. */
  readonly bufferLimitBytes: number;
}

export type PoolRuntimeOptions = Partial<RuntimeOptions> & { readonly cpuLimitMs: number };

/** Slots of the Int32Array over WorkerInit.flow. */
export const FLOW_OUTSTANDING = 0;
/** The id of a job whose client went away: its output is dropped, never waited for. */
export const FLOW_ABORTED = 1;
/** 1 while the worker is blocked waiting for acknowledgements (the pool's CPU backstop pauses). */
export const FLOW_WAITING = 2;
/**
 * The id of the job the worker may start next. The pool sends a job ahead
 * while the worker still runs one (no idle round trip between jobs) and can
 * take it back until the worker claims it (compareExchange to 0), so a job
 * never waits behind a slow script when another worker is free.
 */
export const FLOW_NEXT = 3;
export const FLOW_SLOTS = 4;

export type ToWorker =
  | { readonly type: 'job'; readonly job: LuaJob };

export interface OutputHead {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

/**
 * Everything a worker produced since its last message, in one message: the
 * common short response is a single `output` with head, body and done.
 */
export interface OutputMessage {
  readonly type: 'output';
  readonly id: number;
  readonly head?: OutputHead;
  readonly chunks: Uint8Array[];
  /** Total bytes in chunks (counted in FLOW_OUTSTANDING until acknowledged). */
  readonly bytes: number;
  readonly logs: ReadonlyArray<readonly [LogLevel, string]>;
  /** Present on the last message of a job. */
  readonly done?: RunResult;
}

export type FromWorker =
  | { readonly type: 'ready' }
  | OutputMessage
  /** The worker's own code failed (not the script): the job ends with 500. */
  | { readonly type: 'failed'; readonly id: number; readonly error: ErrorShape };
