/**
 * Worker-thread side of ConfigLoader: reads the whole include closure and
 * parses it (file I/O and the lexer, the part that grows with the tree and
 * waits on the disk) away from the main thread, which keeps resolving and
 * dispatching requests meanwhile. The LoadedConfig travels back by structured
 * clone; it is plain data by contract (src/apache/types.ts). The snapshot is
 * built once, on the main thread: it carries a private model that a clone would
 * lose, and cloning it costs as much as building it (measured: both ~30 ms for
 * 1,000 virtual hosts).
 */

import { parentPort, workerData } from 'node:worker_threads';
import { isSidecarError, toShape, type ErrorShape } from '../errors';
import { loadConfig } from '../apache';
import type { LoadOptions, LoadedConfig } from '../apache/types';

export interface LoadRequest {
  readonly id: number;
  readonly options: LoadOptions;
}

export type LoadReply =
  | { readonly id: number; readonly ok: true; readonly config: LoadedConfig; readonly readMs: number }
  | { readonly id: number; readonly ok: false; readonly error: ErrorShape };

/** Errors that are not ours are bugs: keep their first line, never a stack, for the operator. */
export function errorShapeOf(err: unknown): ErrorShape {
  if (isSidecarError(err)) return toShape(err);
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { code: 'LWT_RELOAD_FAILED', message: `internal error while loading the configuration: ${msg}` };
}

/** The work itself, also used in-process when no worker thread is wanted. */
export function readConfig(options: LoadOptions): { config: LoadedConfig; readMs: number } {
  const t0 = performance.now();
  const config = loadConfig(options);
  return { config, readMs: performance.now() - t0 };
}

/** workerData marker: this module is also imported on the main thread, which may itself be a worker. */
export const LOADER_ROLE = 'lwt-config-loader';

if (parentPort && (workerData as { role?: string } | null)?.role === LOADER_ROLE) {
  const port = parentPort;
  port.on('message', (req: LoadRequest) => {
    let reply: LoadReply;
    try {
      reply = { id: req.id, ok: true, ...readConfig(req.options) };
    } catch (err) {
      reply = { id: req.id, ok: false, error: errorShapeOf(err) };
    }
    port.postMessage(reply);
  });
}
