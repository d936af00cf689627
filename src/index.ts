/**
 * lwt-sidecar as a library: the one place that names the public pieces, in the
 * order data flows through them. `serve` (src/commands/serve.ts) wires the same
 * pieces for the command line.
 *
 *   Apache text ──loadConfig──▶ LoadedConfig ──buildSnapshot──▶ Snapshot
 *   request ──resolve(Snapshot)──▶ Resolution ──buildCgiEnv──▶ LuaJob
 *   LuaJob ──WorkerPool / runRequest──▶ response
 *   file edits ──startWatching──▶ new Snapshot ──Sidecar.setSnapshot
 */

export { SidecarError, ErrorCodes, formatError, type ErrorCode, type ErrorShape, type Diagnostic } from './errors';
export { loadConfig, parseText } from './apache';
export type { Directive, LoadOptions, LoadedConfig, WatchSet } from './apache/types';
export { buildSnapshot, resolve, checkAccess, describeSnapshot, describeResolution } from './scopes';
export { decideAccess, type AccessDecision, type AccessVerdict } from './scopes/access';
export type { Snapshot, Resolution, ResolveRequest, VHost, Scope, AccessRule } from './scopes/types';
export { runRequest, ChunkCache, DEFAULT_RUNTIME_OPTIONS } from './lua';
export type { LuaJob, ResponseSink, RunResult, RuntimeOptions } from './lua/types';
export { WorkerPool } from './workers';
export { createSidecar, buildCgiEnv, type Sidecar, type SidecarOptions } from './server';
export { startWatching, Reloader } from './watch';
export { createLogger } from './log';
export { main } from './cli';
