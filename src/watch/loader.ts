/**
 * Loads a candidate configuration for the reloader. Reading and parsing a large
 * tree is synchronous (tens of milliseconds for 1,000 virtual hosts, more on a
 * cold disk), so by default it runs in one long-lived worker thread; the main
 * thread then builds the Snapshot, which is also the semantic validation.
 * Either way the main thread never runs any of it between a request's resolve
 * and its dispatch: it happens in its own turn of the event loop, and requests
 * already under way hold their own snapshot.
 */

import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SidecarError, type ErrorShape } from '../errors';
import { buildSnapshot } from '../scopes';
import type { LoadOptions } from '../apache/types';
import type { Snapshot } from '../scopes/types';
import { LOADER_ROLE, errorShapeOf, readConfig, type LoadReply, type LoadRequest } from './load-worker';

export interface LoadTimings {
  /** Reading and parsing the include closure (in the worker when one is used). */
  readonly readMs: number;
  /** Building (and so validating) the snapshot, on the main thread. */
  readonly buildMs: number;
  /** Wall time from the start of the load to the snapshot being ready. */
  readonly totalMs: number;
}

export type LoadOutcome =
  | { readonly ok: true; readonly snapshot: Snapshot; readonly timings: LoadTimings }
  | { readonly ok: false; readonly error: ErrorShape; readonly timings: Pick<LoadTimings, 'totalMs'> };

export function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class ConfigLoader {
  private readonly inWorker: boolean;
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: LoadReply) => void>();
  private closing: Promise<void> | null = null;

  constructor(inWorker: boolean) {
    this.inWorker = inWorker;
  }

  async load(options: LoadOptions, generation: number): Promise<LoadOutcome> {
    if (this.closing) throw new SidecarError('LWT_CLOSED', 'the configuration loader is closed');
    const t0 = performance.now();
    const reply = this.inWorker ? await this.viaWorker(options) : await this.inline(options);
    if (!reply.ok) return { ok: false, error: reply.error, timings: { totalMs: performance.now() - t0 } };
    // Reading and building each run in their own turn of the event loop, so the
    // longest stall a waiting request sees is the longer of the two, not their sum.
    await yieldTurn();
    const t1 = performance.now();
    try {
      const snapshot = buildSnapshot(reply.config, generation);
      const t2 = performance.now();
      return { ok: true, snapshot, timings: { readMs: reply.readMs, buildMs: t2 - t1, totalMs: t2 - t0 } };
    } catch (err) {
      return { ok: false, error: errorShapeOf(err), timings: { totalMs: performance.now() - t0 } };
    }
  }

  private async inline(options: LoadOptions): Promise<LoadReply> {
    await yieldTurn();
    try {
      return { id: 0, ok: true, ...readConfig(options) };
    } catch (err) {
      return { id: 0, ok: false, error: errorShapeOf(err) };
    }
  }

  private viaWorker(options: LoadOptions): Promise<LoadReply> {
    const worker = this.worker ?? this.spawn();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.ref();
      worker.postMessage({ id, options } satisfies LoadRequest);
    });
  }

  private spawn(): Worker {
    const worker = new Worker(path.join(__dirname, 'load-worker.js'), { workerData: { role: LOADER_ROLE } });
    // An idle loader must not keep the process alive; pending loads ref it back.
    worker.unref();
    worker.on('message', (reply: LoadReply) => {
      const done = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      done?.(reply);
    });
    const fail = (message: string) => {
      if (this.worker === worker) this.worker = null;
      for (const [id, done] of this.waiting) done({ id, ok: false, error: { code: 'LWT_RELOAD_FAILED', message } });
      this.waiting.clear();
    };
    worker.on('error', (err) => fail(`the configuration loader thread failed: ${err.message}`));
    worker.on('exit', (code) => fail(`the configuration loader thread exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  /** Idempotent; loads still waiting settle as failures. */
  close(): Promise<void> {
    if (!this.closing) {
      const w = this.worker;
      this.worker = null;
      this.closing = w ? w.terminate().then(() => undefined) : Promise.resolve();
    }
    return this.closing;
  }
}
