/**
 * The reload coordinator: a reload is a transaction. The whole candidate
 * configuration is read and validated off the request path; only a valid one
 * replaces the current snapshot, in one assignment, with generation + 1 (as
 * `apachectl graceful`: requests under way finish on the generation they
 * started with). An invalid one changes nothing: the last good generation keeps
 * serving and the error is kept, positional, for the log and /health.
 */

import { EventEmitter } from 'node:events';
import { SidecarError, formatError, type ErrorShape } from '../errors';
import type { Logger } from '../log';
import type { LoadOptions } from '../apache/types';
import type { Snapshot } from '../scopes/types';
import { describeDiff, diffSnapshots, summarizeDiff, type SnapshotDiff } from './diff';
import { ConfigLoader, yieldTurn, type LoadTimings } from './loader';

export type WatchLog = Pick<Logger, 'info' | 'notice' | 'warn' | 'error'>;

export interface ReloaderInput {
  loadOptions: LoadOptions;
  initial: Snapshot;
  /** Receives every new generation, synchronously, right after the swap. */
  onSnapshot?: (s: Snapshot) => void;
  log?: WatchLog;
  /**
   * Read and parse in a worker thread instead of on the main thread between
   * requests. Off by default: the snapshot build, which must happen on the
   * main thread, dominates; on the 2-core machine we measured, the thread hop
   * gave no consistent gain in the longest event-loop stall (docs/reload.md).
   */
  loadInWorker?: boolean;
  /** How many change lines a reload logs at notice level; the rest go to info. */
  logChangeLines?: number;
}

export type ReloaderOptions = Readonly<Required<ReloaderInput>>;

export interface ReloadSuccess {
  readonly ok: true;
  readonly reason: string;
  readonly generation: number;
  readonly previousGeneration: number;
  readonly snapshot: Snapshot;
  readonly diff: SnapshotDiff;
  readonly timings: LoadTimings;
  readonly at: Date;
}

export interface ReloadFailure {
  readonly ok: false;
  readonly reason: string;
  /** The generation that keeps serving. */
  readonly generation: number;
  readonly error: ErrorShape;
  readonly timings: { readonly totalMs: number };
  readonly at: Date;
}

export type ReloadResult = ReloadSuccess | ReloadFailure;

const NO_LOG: WatchLog = { info() {}, notice() {}, warn() {}, error() {} };
const CLOSED: ErrorShape = Object.freeze({ code: 'LWT_CLOSED', message: 'the reloader is closed' });

export function resolveReloaderOptions(input: ReloaderInput): ReloaderOptions {
  const bad = (m: string) => new SidecarError('LWT_OPTION_INVALID', m);
  if (typeof input.loadOptions?.configFile !== 'string' || input.loadOptions.configFile === '') {
    throw bad('loadOptions.configFile must be the path of the Apache configuration file');
  }
  if (!input.initial || !Number.isInteger(input.initial.generation)) throw bad('initial must be the snapshot serving now');
  if (input.onSnapshot !== undefined && typeof input.onSnapshot !== 'function') throw bad('onSnapshot must be a function');
  const lines = input.logChangeLines ?? 20;
  if (!Number.isInteger(lines) || lines < 0) throw bad('logChangeLines must be a non-negative integer');
  return Object.freeze({
    loadOptions: input.loadOptions,
    initial: input.initial,
    onSnapshot: input.onSnapshot ?? (() => {}),
    log: input.log ?? NO_LOG,
    loadInWorker: input.loadInWorker ?? false,
    logChangeLines: lines,
  });
}

export interface ReloaderEvents {
  reload: [ReloadSuccess];
  error: [ReloadFailure];
}

export class Reloader extends EventEmitter<ReloaderEvents> {
  readonly options: ReloaderOptions;
  private snapshot: Snapshot;
  private error: ErrorShape | null = null;
  private last: ReloadResult | null = null;
  private readonly loader: ConfigLoader;
  private inFlight: Promise<ReloadResult> | null = null;
  private queued: { promise: Promise<ReloadResult>; reasons: string[] } | null = null;
  private closing: Promise<void> | null = null;
  private counts = { reloads: 0, failures: 0 };

  constructor(input: ReloaderInput) {
    super();
    this.options = resolveReloaderOptions(input);
    this.snapshot = this.options.initial;
    this.loader = new ConfigLoader(this.options.loadInWorker);
  }

  /** The generation serving now. */
  current(): Snapshot {
    return this.snapshot;
  }

  /** Why the files on disk do not load, while they do not; null once a reload succeeds. */
  get lastError(): ErrorShape | null {
    return this.error;
  }

  get lastResult(): ReloadResult | null {
    return this.last;
  }

  get stats(): { readonly reloads: number; readonly failures: number } {
    return { ...this.counts };
  }

  /**
   * Read the configuration again. Reloads never overlap: a request made while one
   * runs joins the single next one, which starts when it ends, so a burst of
   * SIGHUPs costs at most two loads and the last one sees the final files.
   */
  reload(reason: string): Promise<ReloadResult> {
    if (this.closing) return Promise.reject(new SidecarError(CLOSED.code, CLOSED.message));
    if (!this.inFlight) return this.start([reason]);
    if (this.queued) {
      this.queued.reasons.push(reason);
      return this.queued.promise;
    }
    const reasons = [reason];
    const promise = this.inFlight.then(() => {
      this.queued = null;
      return this.start(reasons);
    });
    this.queued = { promise, reasons };
    return promise;
  }

  private start(reasons: string[]): Promise<ReloadResult> {
    const p = this.run([...new Set(reasons)].join(', ')).finally(() => {
      if (this.inFlight === p) this.inFlight = null;
    });
    this.inFlight = p;
    return p;
  }

  private async run(reason: string): Promise<ReloadResult> {
    const before = this.snapshot;
    const outcome = this.closing
      ? { ok: false as const, error: CLOSED, timings: { totalMs: 0 } }
      : await this.loader.load(this.options.loadOptions, before.generation + 1);
    const at = new Date();
    if (!outcome.ok || this.closing) {
      const error = outcome.ok ? CLOSED : outcome.error;
      if (error.code !== CLOSED.code) {
        this.error = error;
        this.counts.failures++;
        this.options.log.error(`reload (${reason}) failed; generation ${before.generation} keeps serving: ${formatError(error)}`);
      }
      const failure: ReloadFailure = { ok: false, reason, generation: before.generation, error, timings: outcome.timings, at };
      this.last = failure;
      if (error.code !== CLOSED.code && this.listenerCount('error') > 0) this.emit('error', failure);
      return failure;
    }
    // The swap: one assignment, then the server is told in the same turn.
    this.snapshot = outcome.snapshot;
    this.error = null;
    this.counts.reloads++;
    try {
      this.options.onSnapshot(outcome.snapshot);
    } catch (err) {
      this.options.log.error(`reload: handing generation ${outcome.snapshot.generation} to the server failed: ${(err as Error).message}`);
    }
    // The swap is done; what changed is for the log, in a later turn.
    await yieldTurn();
    const diff = diffSnapshots(before, outcome.snapshot);
    const success: ReloadSuccess = {
      ok: true, reason, generation: outcome.snapshot.generation, previousGeneration: before.generation,
      snapshot: outcome.snapshot, diff, timings: outcome.timings, at,
    };
    this.last = success;
    this.logSuccess(success, before);
    this.emit('reload', success);
    return success;
  }

  private logSuccess(r: ReloadSuccess, before: Snapshot): void {
    const { log, logChangeLines } = this.options;
    log.notice(`reload (${r.reason}): generation ${r.generation} live in ${r.timings.totalMs.toFixed(1)} ms; ${summarizeDiff(r.diff)}`);
    describeDiff(r.diff).forEach((line, i) => {
      if (i < logChangeLines) log.notice(`reload: ${line}`);
      else log.info(`reload: ${line}`);
    });
    const known = new Set(before.warnings.map((w) => formatError(w)));
    for (const w of r.snapshot.warnings) if (!known.has(formatError(w))) log.warn(`reload: ${formatError(w)}`);
  }

  /** Idempotent: waits for a reload under way, then stops the loader thread. */
  close(): Promise<void> {
    if (!this.closing) {
      const pending = [this.inFlight, this.queued?.promise].filter((p): p is Promise<ReloadResult> => p !== null && p !== undefined);
      this.closing = Promise.allSettled(pending).then(() => this.loader.close());
    }
    return this.closing;
  }
}
