/**
 * Per-state context shared by the JS libraries of one Lua state (io, lfs,
 * sandbox, httpd.core). One context per request: the working directory is
 * virtual and belongs to the state, never to the process (mod_lwt.md §6.6:
 * WSAPI's lfs.chdir changed the whole Apache worker's cwd).
 */

import type { LogLevel } from './types';

export interface StateContext {
  /** The state's working directory (absolute). lfs.chdir changes it; io.open/loadfile/dofile resolve against it. */
  cwd: string;
  /** Error-log sink (io.stderr, httpd.err/notice/debug, print at debug level). */
  log(level: LogLevel, message: string): void;
}

/** Resolve a path a script gave against the state's working directory. */
export function resolveScriptPath(ctx: StateContext, p: string): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const path: typeof import('node:path') = require('node:path');
  return path.resolve(ctx.cwd, p);
}
