/**
 * Run one lwt-wsapi request, synchronously, the way mod_lwt's handler did
 * (mod_lwt.md §3 steps 12-19): require the connector, call its run(request)
 * under a traceback handler, commit status and headers, then run the
 * deferred functions and log the request statistics.
 */

import { lua, lauxlib, toLuaString, toJsString } from './fengari';
import { newRequestState, type RequestRecord } from './state';
import { pushRequest } from './httpd-core';
import { closeIo } from './iolib';
import { sandboxStop, setCpuDeadline, setMemoryLimit } from './sandbox';
import { ChunkCache } from './chunk-cache';
import type { StateContext } from './context';
import type { ErrorCode } from '../errors';
import type { LuaJob, ResponseSink, RunResult, RuntimeOptions } from './types';

type LuaState = unknown;

class Failure {
  constructor(readonly code: ErrorCode, readonly message: string) {}
}

/** mod_lwt pushed `debug.traceback(msg, 2)`; non-string errors pass through untouched. */
function traceback(L: LuaState): number {
  if (lua.lua_type(L, 1) !== lua.LUA_TSTRING) return 1;
  lauxlib.luaL_traceback(L, L, lua.lua_tostring(L, 1), 1);
  return 1;
}

function errorText(L: LuaState): string {
  if (lua.lua_gettop(L) === 0) return '(no error object)';
  const stop = sandboxStop(L, -1);
  if (stop) return stop.kind === 'exit' ? `os.exit(${stop.code}) ends only this request` : 'CPU time limit exceeded';
  if (lua.lua_type(L, -1) !== lua.LUA_TSTRING) return '(error object is not a string)';
  return toJsString(lua.lua_tostring(L, -1));
}

/** mod_lwt.md §3, outcomes of step 16. */
function statusText(status: number): string {
  switch (status) {
    case lua.LUA_ERRRUN: return 'Lua runtime error';
    case lua.LUA_ERRMEM: return 'Lua memory allocation error';
    case lua.LUA_ERRERR: return 'Lua error handler error';
    case lua.LUA_ERRGCMM: return 'Lua gc metamethod error';
    default: return 'Unknown Lua error';
  }
}

/** Protected call of the function below `nargs` arguments on the stack, with the traceback handler. */
function pcallTraced(L: LuaState, nargs: number, nresults: number): number {
  const base = lua.lua_gettop(L) - nargs;
  lua.lua_pushcfunction(L, traceback);
  lua.lua_insert(L, base);
  const status = lua.lua_pcall(L, nargs, nresults, base);
  lua.lua_remove(L, base);
  return status;
}

function headerList(rec: RequestRecord): Array<[string, string]> {
  // Apache overlays err_headers_out onto headers_out before sending.
  return [...rec.errHeadersOut.entries, ...rec.headersOut.entries, ['Content-Type', rec.contentType]];
}

function callConnector(L: LuaState, rec: RequestRecord, filename: string): void {
  lua.lua_settop(L, 0);
  if (lua.lua_getglobal(L, toLuaString('require', true)) !== lua.LUA_TFUNCTION) {
    throw new Failure('LWT_LUA_CONNECTOR', "Cannot load WSAPI connector; missing 'require' function");
  }
  lua.lua_pushstring(L, toLuaString('httpd.wsapi', true));
  // mod_lwt threw the loading error away; keep it after mod_lwt's text.
  if (pcallTraced(L, 1, 1) !== lua.LUA_OK) {
    throw new Failure('LWT_LUA_CONNECTOR', `Cannot load WSAPI connector; module loading failed: ${errorText(L)}`);
  }
  if (lua.lua_type(L, -1) !== lua.LUA_TTABLE) {
    throw new Failure('LWT_LUA_CONNECTOR', 'Cannot load WSAPI connector; module loading failed');
  }
  if (lua.lua_getfield(L, -1, toLuaString('run', true)) !== lua.LUA_TFUNCTION) {
    throw new Failure('LWT_LUA_CONNECTOR', "Cannot run WSAPI connector; missing 'run' function");
  }
  pushRequest(L, rec);
  const status = pcallTraced(L, 1, 0);
  if (status !== lua.LUA_OK) {
    const stop = sandboxStop(L, -1);
    const code: ErrorCode = stop ? (stop.kind === 'exit' ? 'LWT_LUA_EXIT' : 'LWT_LUA_CPU')
      : status === lua.LUA_ERRMEM ? 'LWT_LUA_MEMORY' : 'LWT_LUA_RUNTIME';
    throw new Failure(code, `${statusText(status)} running '${filename}': ${errorText(L)}`);
  }
  lua.lua_settop(L, 0);
}

/** mod_lwt.md §3.3: error list first, then the normal list, FIFO, length re-read each step. */
function runDeferred(L: LuaState, rec: RequestRecord, log: ResponseSink['log']): void {
  for (const list of [rec.deferredOnError, rec.deferred]) {
    for (let i = 0; i < list.length; i++) {
      lua.lua_settop(L, 0);
      lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, list[i]);
      try {
        const status = pcallTraced(L, 0, 0);
        // "deferreda" (sic): mod_lwt's own message for this case (mod_lwt.md §3.3).
        if (status === lua.LUA_ERRERR) log('error', `Lua error handler error in deferreda function: ${errorText(L)}`);
        else if (status !== lua.LUA_OK) log('error', `${statusText(status)} in deferred function: ${errorText(L)}`);
      } catch (err) {
        log('error', `Lua runtime error in deferred function: ${(err as Error).message}`);
      }
    }
  }
}

function fmt3(n: number): string {
  return n.toFixed(3);
}

/** One request through the WSAPI connector in a new state. Never throws for script faults. */
export function runRequest(job: LuaJob, sink: ResponseSink, opts: RuntimeOptions, cache: ChunkCache): RunResult {
  // A daemonised httpd runs with cwd "/"; WSAPI's loader lfs.chdir()s to the script's directory.
  const ctx: StateContext = { cwd: '/', log: (level, message) => sink.log(level, message) };
  let headSent = false;
  let state: ReturnType<typeof newRequestState> | null = null;
  let failure: Failure | null = null;
  const commit = (rec: RequestRecord) => {
    if (headSent) return;
    headSent = true;
    sink.head(rec.status, headerList(rec));
  };
  try {
    // chunkCache off: every chunk is compiled from source, as mod_lwt did.
    state = newRequestState(job, ctx, opts, opts.chunkCache ? cache : new ChunkCache(), true);
    const rec = state.record;
    rec.output = (chunk) => {
      if (chunk.length === 0) return;
      commit(rec);
      sink.body(chunk);
    };
    // The one place LuaMemoryLimit is applied, for `serve`'s workers and `request` alike.
    setMemoryLimit(state.L, job.memoryLimit);
    setCpuDeadline(state.L, opts.cpuLimitMs);
    callConnector(state.L, rec, job.filename);
  } catch (err) {
    failure = err instanceof Failure ? err
      : new Failure(state ? 'LWT_LUA_RUNTIME' : 'LWT_LUA_STATE', state
        ? `Lua runtime error running '${job.filename}': ${(err as Error).message}`
        : `Cannot create Lua state: ${(err as Error).message}`);
    // The code after mod_lwt's text, as the pool's own failures are logged (src/server/respond.ts).
    sink.log('error', `${failure.message} [${failure.code}]`);
  }
  if (state) {
    const rec = state.record;
    if (failure) rec.deferred.length = 0;
    else commit(rec);
    rec.output = () => undefined; // output after the response has no destination (mod_lwt.md §10.8)
    runDeferred(state.L, rec, sink.log);
    // mod_lwt.md §3 step 20: the pool cleanup closed the state and its files.
    closeIo(state.L);
    if (opts.logStatistics !== false) {
      const s = rec.stat();
      sink.log('info', `Request statistics [filename=${job.filename}] [realtime=${fmt3(s.realtime)} s] `
        + `[cputime=${fmt3(s.cputime)} s] [memory=${fmt3(s.memory / 1048576)} M]`);
    }
  }
  const status = failure ? (headSent ? state!.record.status : 500) : state!.record.status;
  return failure
    ? { ok: false, status, headSent, error: { code: failure.code, message: failure.message } }
    : { ok: true, status, headSent };
}
