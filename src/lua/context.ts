/**
 * Per-state context shared by the JS libraries of one Lua state (io, lfs,
 * sandbox, httpd.core). One context per request: the working directory is
 * virtual and belongs to the state, never to the process (mod_lwt.md §6.6:
 * WSAPI's lfs.chdir changed the whole Apache worker's cwd).
 */

import type * as fs from 'node:fs';
import * as path from 'node:path';
import type { LogLevel } from './types';
import type { RequestRecord } from './state';
import type { ChunkCache } from './chunk-cache';
import type { LuaState } from './fengari';

export interface StateContext {
  /** The state's working directory (absolute). lfs.chdir changes it; io.open/loadfile/dofile resolve against it. */
  cwd: string;
  /** Error-log sink (io.stderr, httpd.err/notice/debug, print at debug level). */
  log(level: LogLevel, message: string): void;
  /**
   * Told of every file a path search looks at (the resolved name, and its
   * stats when it is a regular file): how a loaded-connector image knows what
   * it depends on (connector-image.ts).
   */
  observe?: (file: string, stats: fs.Stats | null) => void;
}

/** Resolve a path a script gave against the state's working directory. */
export function resolveScriptPath(ctx: StateContext, p: string): string {
  // Absolute and already normal (no `.`, `..` or empty segment, no trailing slash): path.resolve would return it as is.
  if (p.charCodeAt(0) === 47 && !p.includes('/.') && !p.includes('//') && (p.length === 1 || !p.endsWith('/'))) return p;
  return path.resolve(ctx.cwd, p);
}

/**
 * What the library functions of one state need from the request. The
 * functions themselves are shared by every state (so a new state copies
 * them instead of creating closures) and find this record through the state.
 */
export interface StateBindings {
  ctx: StateContext | null;
  /** What os.getenv sees: the request's CGI environment. */
  env: Readonly<Record<string, string>>;
  record: RequestRecord | null;
  cache: ChunkCache | null;
}

const NO_ENV: Readonly<Record<string, string>> = Object.freeze({});
// Keyed by fengari's global_State, shared by the state's coroutines.
const bindings = new WeakMap<object, StateBindings>();

/** The bindings of L's state, created empty on first use. */
export function bindState(L: LuaState): StateBindings {
  let b = bindings.get(L.l_G);
  if (b === undefined) {
    b = { ctx: null, env: NO_ENV, record: null, cache: null };
    bindings.set(L.l_G, b);
  }
  return b;
}

/** The context bound to L's state; a state is always bound before its functions run. */
export function stateContext(L: LuaState): StateContext {
  const ctx = bindings.get(L.l_G)?.ctx;
  if (ctx == null) throw new Error('no StateContext bound to this Lua state');
  return ctx;
}

/** The bindings of L's state, or undefined when nothing was bound. */
export function stateBindings(L: LuaState): StateBindings | undefined {
  return bindings.get(L.l_G);
}
