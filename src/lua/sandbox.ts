/**
 * What a script may not do to the sidecar (issue 3 §4): fengari as shipped
 * lets `os.exit` end the process, `print` write to its stdout, `os.getenv`
 * read its environment, `os.execute` run commands and `package.loadlib` / the
 * JS searcher run JavaScript from disk.
 *
 * Stopping a request (os.exit, CPU limit) raises a *stop sentinel*: a light
 * userdata holding a `SandboxStop`. The wrapped pcall/xpcall/coroutine.resume
 * re-raise it, so a script cannot catch its own termination; the runner
 * recognises it with `sandboxStop(L, idx)` and ends only that request. The
 * per-request memory limit raises a real LUA_ERRMEM instead (mod_lwt's
 * message and status), re-raised the same way. Limits: see the end of this
 * file and docs/limits.md.
 */

import { performance } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { lua, lauxlib, toLuaString, toJsString, type LuaState } from './fengari';
import { searchPath } from './chunk-cache';
import type { StateContext } from './context';

// fengari's own ldo module, for luaD_throw with LUA_ERRMEM (lua_error can only raise LUA_ERRRUN).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const ldo: { luaD_throw(L: LuaState, status: number): never } = require('fengari/src/ldo.js');

export class SandboxStop {
  constructor(
    readonly kind: 'exit' | 'cpu',
    /** os.exit's status (0 for `os.exit()` / `os.exit(true)`); 0 for cpu. */
    readonly code: number,
  ) {}
}

/** The stop sentinel at `idx` (e.g. the error value lua_pcall left), or null. */
export function sandboxStop(L: LuaState, idx: number): SandboxStop | null {
  if (lua.lua_type(L, idx) !== lua.LUA_TLIGHTUSERDATA) return null;
  const v: unknown = lua.lua_touserdata(L, idx);
  return v instanceof SandboxStop ? v : null;
}

/** Same test on a value already taken off the stack (e.g. a JS exception's payload). */
export function isExitSentinel(v: unknown): v is SandboxStop {
  return v instanceof SandboxStop;
}

function raiseStop(L: LuaState, stop: SandboxStop): never {
  lua.lua_pushlightuserdata(L, stop);
  lua.lua_error(L);
  throw new Error('lua_error returned');
}

/*
 * Protected calls re-raise the sentinel, and any error once the state ran out
 * of memory. They are JS functions, as the builtins are, so no Lua upvalue
 * (debug.getupvalue) leads to an unwrapped pcall; pcall and xpcall follow
 * fengari's luaB_pcall/luaB_xpcall, continuation included, so a yield across
 * them still works.
 */

/** Re-raise the error value on top if it ends the request; otherwise return. */
function reraiseIfStop(L: LuaState): void {
  if (memoryExceeded(L)) raiseMemoryError(L);
  if (sandboxStop(L, -1) !== null) {
    lua.lua_pushvalue(L, -1);
    lua.lua_error(L);
  }
}

function finishPcall(L: LuaState, status: number, extra: number): number {
  if (status !== lua.LUA_OK && status !== lua.LUA_YIELD) {
    reraiseIfStop(L);
    lua.lua_pushboolean(L, 0);
    lua.lua_pushvalue(L, -2);
    return 2;
  }
  return lua.lua_gettop(L) - extra;
}

const sandboxPcall = (L: LuaState): number => {
  lauxlib.luaL_checkany(L, 1);
  lua.lua_pushboolean(L, 1);
  lua.lua_insert(L, 1);
  return finishPcall(L, lua.lua_pcallk(L, lua.lua_gettop(L) - 2, lua.LUA_MULTRET, 0, 0, finishPcall), 0);
};

/** xpcall's message handler, kept from seeing (and replacing) what ends the request. */
const guardedHandler = (L: LuaState): number => {
  if (memoryExceeded(L) || sandboxStop(L, 1) !== null) return 1;
  lua.lua_pushvalue(L, lua.lua_upvalueindex(1));
  lua.lua_insert(L, 1);
  lua.lua_call(L, lua.lua_gettop(L) - 1, 1);
  return 1;
};

const sandboxXpcall = (L: LuaState): number => {
  const n = lua.lua_gettop(L);
  lauxlib.luaL_checktype(L, 2, lua.LUA_TFUNCTION);
  lua.lua_pushvalue(L, 2);
  lua.lua_pushcclosure(L, guardedHandler, 1);
  lua.lua_replace(L, 2);
  lua.lua_pushboolean(L, 1);
  lua.lua_pushvalue(L, 1);
  lua.lua_rotate(L, 3, 2);
  return finishPcall(L, lua.lua_pcallk(L, n - 2, lua.LUA_MULTRET, 2, 2, finishPcall), 2);
};

/** coroutine.resume around the builtin, held here: false plus a stop is re-raised in the resumer. */
function sandboxResume(resume: (L: LuaState) => number) {
  return (L: LuaState): number => {
    const n = resume(L);
    if (n === 2 && !lua.lua_toboolean(L, -2)) reraiseIfStop(L);
    return n;
  };
}

const GC_OPTIONS = ['stop', 'restart', 'collect', 'count', 'step', 'setpause', 'setstepmul', 'isrunning'];
const GC_OPTION_STRINGS = GC_OPTIONS.map((o) => toLuaString(o, true));

/**
 * fengari's collectgarbage raises "lua_gc not implemented"; mod_lwt scripts
 * call it. V8 owns the memory, so the options answer as Lua 5.1 did without
 * acting: "count" is this thread's heap in use in KiB (what LuaMemoryLimit
 * measures the growth of), "step" reports a finished cycle, "setpause" and
 * "setstepmul" return 5.1's defaults, the others 0.
 */
const collectGarbage = (L: LuaState): number => {
  const option = GC_OPTIONS[lauxlib.luaL_checkoption(L, 1, toLuaString('collect', true), GC_OPTION_STRINGS)];
  lauxlib.luaL_optinteger(L, 2, 0);
  switch (option) {
    case 'count': lua.lua_pushnumber(L, heapInUse() / 1024); break;
    case 'step': case 'isrunning': lua.lua_pushboolean(L, 1); break;
    case 'setpause': case 'setstepmul': lua.lua_pushinteger(L, 200); break;
    default: lua.lua_pushinteger(L, 0);
  }
  return 1;
};

const osExit = (L: LuaState): number => {
  let code = 0;
  if (lua.lua_isboolean(L, 1)) code = lua.lua_toboolean(L, 1) ? 0 : 1;
  else code = lauxlib.luaL_optinteger(L, 1, 0);
  return raiseStop(L, new SandboxStop('exit', code));
};

function disabled(what: string) {
  return (L: LuaState): number => {
    lua.lua_pushnil(L);
    lua.lua_pushstring(L, toLuaString(`${what} is disabled in the sidecar`));
    return 2;
  };
}

const refuseSethook = (L: LuaState): number =>
  lauxlib.luaL_error(L, toLuaString('debug.sethook is not available in the sidecar'));

/** print as 5.1 wrote it (global tostring, tabs), sent to the log: a daemonised Apache's stdout went nowhere. */
function makePrint(ctx: StateContext) {
  return (L: LuaState): number => {
    const n = lua.lua_gettop(L);
    lua.lua_getglobal(L, toLuaString('tostring', true));
    const parts: string[] = [];
    for (let i = 1; i <= n; i++) {
      lua.lua_pushvalue(L, -1);
      lua.lua_pushvalue(L, i);
      lua.lua_call(L, 1, 1);
      const s = lua.lua_tolstring(L, -1);
      if (s === null || s === undefined) return lauxlib.luaL_error(L, toLuaString("'tostring' must return a string to 'print'"));
      parts.push(toJsString(s));
      lua.lua_pop(L, 1);
    }
    ctx.log('debug', parts.join('\t'));
    return 0;
  };
}

function makeGetenv(env: Readonly<Record<string, string>>) {
  return (L: LuaState): number => {
    const name = toJsString(lauxlib.luaL_checkstring(L, 1));
    const v = Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined;
    if (v === undefined) lua.lua_pushnil(L);
    else lua.lua_pushstring(L, toLuaString(v));
    return 1;
  };
}

/**
 * Replaces fengari's JS searchers: a module found only as a shared object on
 * package.cpath (also by its root name, as 5.1's all-in-one loader looked)
 * fails naming the file, instead of "module not found".
 */
function makeCSearcher(ctx: StateContext) {
  return (L: LuaState): number => {
    const name = toJsString(lauxlib.luaL_checkstring(L, 1));
    lua.lua_getglobal(L, toLuaString('package', true));
    lua.lua_getfield(L, -1, toLuaString('cpath', true));
    const cpath = lua.lua_type(L, -1) === lua.LUA_TSTRING ? toJsString(lua.lua_tolstring(L, -1)) : '';
    lua.lua_pop(L, 2);
    const root = name.includes('.') ? name.slice(0, name.indexOf('.')) : null;
    let tried = '';
    for (const candidate of root === null ? [name] : [name, root]) {
      const found = searchPath(ctx, candidate, cpath);
      if (found.file !== null) {
        return lauxlib.luaL_error(L, toLuaString(
          `error loading module '${name}' from file '${found.file}':\n\t` +
          'C modules cannot be loaded in the sidecar (no JavaScript equivalent is installed)'));
      }
      tried += found.tried;
    }
    lua.lua_pushstring(L, toLuaString(tried));
    return 1;
  };
}

function setField(L: LuaState, table: string, field: string, f: ((L: LuaState) => number) | null): void {
  lua.lua_getglobal(L, toLuaString(table, true));
  if (lua.lua_type(L, -1) === lua.LUA_TTABLE) {
    if (f === null) lua.lua_pushnil(L);
    else lua.lua_pushcfunction(L, f);
    lua.lua_setfield(L, -2, toLuaString(field, true));
  }
  lua.lua_pop(L, 1);
}

/**
 * Install the sandbox in a state whose standard libraries (and io library,
 * whose popen this replaces) are open. `env` is what os.getenv sees: the
 * request's CGI environment, never the sidecar's.
 */
export function installSandbox(L: LuaState, ctx: StateContext, env: Readonly<Record<string, string>> = {}): void {
  lua.lua_pushcfunction(L, sandboxPcall);
  lua.lua_setglobal(L, toLuaString('pcall', true));
  lua.lua_pushcfunction(L, sandboxXpcall);
  lua.lua_setglobal(L, toLuaString('xpcall', true));
  lua.lua_getglobal(L, toLuaString('coroutine', true));
  lua.lua_getfield(L, -1, toLuaString('resume', true));
  const resume: unknown = lua.lua_tocfunction(L, -1);
  lua.lua_pop(L, 1);
  if (typeof resume === 'function') {
    lua.lua_pushcfunction(L, sandboxResume(resume as (L: LuaState) => number));
    lua.lua_setfield(L, -2, toLuaString('resume', true));
  }
  lua.lua_pop(L, 1);

  lua.lua_pushcfunction(L, collectGarbage);
  lua.lua_setglobal(L, toLuaString('collectgarbage', true));
  lua.lua_pushcfunction(L, makePrint(ctx));
  lua.lua_setglobal(L, toLuaString('print', true));
  setField(L, 'os', 'exit', osExit);
  setField(L, 'os', 'getenv', makeGetenv(env));
  setField(L, 'os', 'execute', disabled('os.execute'));
  setField(L, 'io', 'popen', disabled('io.popen'));
  setField(L, 'debug', 'sethook', refuseSethook);
  setField(L, 'package', 'loadlib', null);
  meterAllocations(L);

  lua.lua_getglobal(L, toLuaString('package', true));
  lua.lua_pushnil(L);
  lua.lua_setfield(L, -2, toLuaString('jspath', true));
  lua.lua_getfield(L, -1, toLuaString('searchers', true));
  lua.lua_pushcfunction(L, makeCSearcher(ctx));
  lua.lua_rawseti(L, -2, 3);
  lua.lua_pushnil(L);
  lua.lua_rawseti(L, -2, 4);
  lua.lua_pop(L, 2);
}

/* --- CPU and memory limits ------------------------------------------------ */

/** Instructions between checks: ~1% overhead on a tight loop. */
const HOOK_COUNT = 10000;
/**
 * Heap is read at most this often. v8.getHeapStatistics() costs ~0.7 µs here
 * (process.memoryUsage() ~31 µs, it also reads RSS); a hook tick is 0.3 ms
 * (arithmetic) to 30 ms (string building), so the reading happens every
 * tick on allocating code and every ~7 ticks on a tight loop: < 0.05%.
 */
const MEMORY_CHECK_MS = 2;
/** After a confirming collection that took t ms, the next waits CONFIRM_SPACING × t. */
const CONFIRM_SPACING = 9;

interface Limits {
  /** On the request clock (requestClock); Infinity for none. */
  deadline: number;
  /** Bytes of heap growth allowed; Infinity for none. */
  memoryLimit: number;
  /** heapInUse() when the limit was set. */
  baseline: number;
  nextMemoryCheck: number;
  /** No confirming collection before this time (performance.now). */
  nextConfirm: number;
  memoryExceeded: boolean;
}

const limits = new WeakMap<object, Limits>();
/** Time this thread spent blocked outside Lua (waiting for a slow client); not CPU time. */
let blockedMs = 0;
/** The LuaMemoryLimit of the request this thread is about to run (see useRequestMemoryLimit). */
let requestMemoryLimit: number | null = null;
let forceGc: (() => void) | null = null;
/** This thread's heap in use between requests (the runtime and its caches), as last collected; -1 before the first request. */
let liveFloor = -1;
/** Uncollected garbage a request may start with before the baseline is taken after a collection (or the limit, if larger). */
const GARBAGE_ALLOWANCE = 32 * 1024 * 1024;

/** Wall time minus the time spent blocked on backpressure. */
function requestClock(): number {
  return performance.now() - blockedMs;
}

/** The worker isolate's heap in use: JS heap plus external memory (the ArrayBuffers of fengari's strings). */
function heapInUse(): number {
  const h = v8.getHeapStatistics();
  return h.used_heap_size + h.external_memory;
}

/**
 * Heap in use after full collections. V8 updates external_memory only when a
 * collection has finished sweeping array buffers, hence two. Needs `gc`, which
 * V8 gives only to contexts created after --expose-gc is set.
 */
function liveHeap(): number {
  if (forceGc === null) {
    v8.setFlagsFromString('--expose-gc');
    forceGc = vm.runInNewContext('gc') as () => void;
  }
  forceGc();
  forceGc();
  return heapInUse();
}

/** Like lua_error, but with status LUA_ERRMEM and the message "not enough memory" (mod_lwt's allocator refusing). */
function raiseMemoryError(L: LuaState): never {
  ldo.luaD_throw(L, lua.LUA_ERRMEM);
  throw new Error('luaD_throw returned');
}

function memoryExceeded(L: LuaState): boolean {
  return limits.get(L.l_G)?.memoryExceeded === true;
}

/** Fail the request if its heap growth, confirmed after a collection, is over the limit. */
function checkMemory(L: LuaState, lim: Limits): void {
  // Cheap reading first; a collection confirms, so garbage never fails a request.
  if (heapInUse() - lim.baseline <= lim.memoryLimit) return;
  // A script that makes garbage fast under a small limit would otherwise collect
  // all the time: spend at most a tenth of its time in these collections.
  const started = performance.now();
  if (started < lim.nextConfirm) return;
  const live = liveHeap();
  lim.nextConfirm = performance.now() + CONFIRM_SPACING * (performance.now() - started);
  liveFloor = Math.min(liveFloor, live);
  if (live - lim.baseline > lim.memoryLimit) {
    lim.memoryExceeded = true;
    raiseMemoryError(L);
  }
}

const limitHook = (L: LuaState): void => {
  const lim = limits.get(L.l_G);
  if (lim === undefined) return;
  if (lim.memoryExceeded) raiseMemoryError(L);
  const now = performance.now();
  if (now - blockedMs > lim.deadline) raiseStop(L, new SandboxStop('cpu', 0));
  if (lim.memoryLimit !== Infinity && now >= lim.nextMemoryCheck) {
    checkMemory(L, lim);
    lim.nextMemoryCheck = performance.now() + MEMORY_CHECK_MS;
  }
};

/**
 * Library functions that can build a large string in one call. A loop of a
 * few of them (`t[#t+1] = string.rep("x", 2^20)`) allocates gigabytes
 * between two hook ticks, so these check the limits themselves once every
 * METERED_BYTES of strings they returned: no cost for ordinary calls.
 */
const METERED: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['string', ['rep', 'format', 'gsub', 'char', 'upper', 'lower', 'reverse', 'sub']],
  ['table', ['concat']],
];
const METERED_BYTES = 1024 * 1024;
let producedBytes = 0;

function metered(f: (L: LuaState) => number) {
  return (L: LuaState): number => {
    const n = f(L);
    for (let i = 1; i <= n; i++) if (lua.lua_type(L, -i) === lua.LUA_TSTRING) producedBytes += lua.lua_rawlen(L, -i);
    if (producedBytes >= METERED_BYTES) {
      producedBytes = 0;
      const lim = limits.get(L.l_G);
      if (lim !== undefined) {
        if (lim.memoryExceeded) raiseMemoryError(L);
        if (requestClock() > lim.deadline) raiseStop(L, new SandboxStop('cpu', 0));
        if (lim.memoryLimit !== Infinity) checkMemory(L, lim);
      }
    }
    return n;
  };
}

function meterAllocations(L: LuaState): void {
  for (const [lib, names] of METERED) {
    lua.lua_getglobal(L, toLuaString(lib, true));
    if (lua.lua_type(L, -1) === lua.LUA_TTABLE) {
      for (const name of names) {
        lua.lua_getfield(L, -1, toLuaString(name, true));
        const f: unknown = lua.lua_tocfunction(L, -1);
        // A C closure's upvalues would not follow its function into the wrapper.
        const hasUpvalue = lua.lua_getupvalue(L, -1, 1) !== null;
        lua.lua_pop(L, hasUpvalue ? 2 : 1);
        if (typeof f !== 'function' || hasUpvalue) continue;
        lua.lua_pushcfunction(L, metered(f as (L: LuaState) => number));
        lua.lua_setfield(L, -2, toLuaString(name, true));
      }
    }
    lua.lua_pop(L, 1);
  }
}

function limitsOf(L: LuaState): Limits {
  let lim = limits.get(L.l_G);
  if (lim === undefined) {
    lim = { deadline: Infinity, memoryLimit: Infinity, baseline: 0, nextMemoryCheck: 0, nextConfirm: 0, memoryExceeded: false };
    limits.set(L.l_G, lim);
  }
  return lim;
}

function applyHook(L: LuaState, lim: Limits): void {
  if (lim.deadline === Infinity && lim.memoryLimit === Infinity) lua.lua_sethook(L, null, 0, 0);
  else lua.lua_sethook(L, limitHook, lua.LUA_MASKCOUNT, HOOK_COUNT);
}

/**
 * Stop the state's Lua code after `ms` milliseconds of running (count hook
 * plus the stop sentinel, so `while true do pcall(f) end` ends too).
 * Coroutines created afterwards inherit the hook. `ms` <= 0 or Infinity
 * removes the limit. Also applies the thread's request memory limit, if one
 * is set (useRequestMemoryLimit).
 *
 * The clock is wall time (performance.now) minus the time the thread spent
 * blocked waiting for a slow client (excludeFromCpuTime): Node 20 has no
 * per-thread CPU clock and process.cpuUsage() sums every worker thread. A
 * worker runs one request at a time, so the clock over-counts only when the
 * machine is oversubscribed. Work inside one JS library call is not
 * interrupted; the worker's own wall-clock backstop covers that.
 */
export function setCpuDeadline(L: LuaState, ms: number): void {
  const lim = limitsOf(L);
  lim.deadline = !(ms > 0) || ms === Infinity ? Infinity : requestClock() + ms;
  if (requestMemoryLimit !== null && lim.memoryLimit === Infinity) setLimit(lim, requestMemoryLimit);
  applyHook(L, lim);
}

function setLimit(lim: Limits, bytes: number): void {
  lim.memoryLimit = bytes;
  lim.nextMemoryCheck = 0;
  // Garbage earlier requests left, not yet collected, would count in this request's
  // favour: past max(limit, 32 MiB) of it, collect first (rare: after a request that
  // dropped that much; a collection on every request would cost milliseconds each).
  let baseline = heapInUse();
  if (liveFloor < 0) liveFloor = baseline;
  else if (baseline - liveFloor > Math.max(bytes, GARBAGE_ALLOWANCE)) {
    baseline = liveHeap();
    liveFloor = baseline;
  }
  lim.baseline = baseline;
}

/**
 * LuaMemoryLimit for this state, measured from now: the growth of the
 * thread's heap in use (V8 heap + external memory, after a full collection
 * confirms it) since this call. Exceeding it raises a Lua memory error
 * (LUA_ERRMEM, "not enough memory") that pcall, xpcall and coroutine.resume
 * re-raise, and every later hook tick raises again. See docs/limits.md.
 */
export function setMemoryLimit(L: LuaState, bytes: number): void {
  const lim = limitsOf(L);
  setLimit(lim, bytes);
  applyHook(L, lim);
}

/**
 * The LuaMemoryLimit of the request this thread runs next (null after it):
 * setCpuDeadline applies it to the request's state, so a pool worker sets it
 * around runRequest. Meaningful only where one request runs per thread.
 */
export function useRequestMemoryLimit(bytes: number | null): void {
  requestMemoryLimit = bytes;
}

/** The thread was blocked outside Lua for `ms` (backpressure): that time is not CPU time. */
export function excludeFromCpuTime(ms: number): void {
  if (ms > 0) blockedMs += ms;
}
