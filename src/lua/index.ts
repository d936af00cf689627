/** The Lua runtime's public face: one new state per request, run through the WSAPI connector. */

export { runRequest } from './run';
export { newRequestState, DEFAULT_RUNTIME_OPTIONS, mergeLuaPath, type RequestState } from './state';
export { ChunkCache } from './chunk-cache';
export type { LuaJob, ResponseSink, RunResult, RuntimeOptions, LogLevel } from './types';
