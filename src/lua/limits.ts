/**
 * Per-request CPU and memory limits for a Lua state (docs/limits.md): a count
 * hook checks the CPU deadline and the heap growth since the request began;
 * large results of string/table library calls are metered too, since one
 * call can allocate far more than a hook interval.
 */

import { performance } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { lua, lauxlib, toLuaString, type LuaState } from './fengari';
import { SandboxStop, raiseStop } from './stop';

// fengari's own ldo module, for luaD_throw with LUA_ERRMEM (lua_error can only raise LUA_ERRRUN).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const ldo: { luaD_throw(L: LuaState, status: number): never } = require('fengari/src/ldo.js');

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
let forceGc: (() => void) | null = null;
/**
 * This thread's settled heap between requests (the runtime and its caches),
 * as last collected; -1 before the first request.
 */
let liveFloor = -1;
/** Old garbage a request may start with before the baseline is taken after a collection (or the limit, if larger). */
const GARBAGE_ALLOWANCE = 32 * 1024 * 1024;
const YOUNG_SPACES = new Set(['new_space', 'new_large_object_space']);

/** Wall time minus the time spent blocked on backpressure. */
function requestClock(): number {
  return performance.now() - blockedMs;
}

/** The worker isolate's heap in use: JS heap plus external memory (the ArrayBuffers of fengari's strings). */
export function heapInUse(): number {
  const h = v8.getHeapStatistics();
  return h.used_heap_size + h.external_memory;
}

/**
 * heapInUse() outside V8's young generation: what survived the scavenges.
 * Garbage a request leaves behind dies young and does not show here; only
 * data that lived long enough to be promoted does (a long request's tables).
 */
function settledHeap(): number {
  let young = 0;
  for (const space of v8.getHeapSpaceStatistics()) if (YOUNG_SPACES.has(space.space_name)) young += space.space_used_size;
  return heapInUse() - young;
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
export function raiseMemoryError(L: LuaState): never {
  ldo.luaD_throw(L, lua.LUA_ERRMEM);
  throw new Error('luaD_throw returned');
}

export function memoryExceeded(L: LuaState): boolean {
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

export function meterAllocations(L: LuaState): void {
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
 * removes the limit. LuaMemoryLimit is set apart (setMemoryLimit; runRequest
 * applies the job's).
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
  applyHook(L, lim);
}

function setLimit(lim: Limits, bytes: number): void {
  lim.memoryLimit = bytes;
  lim.nextMemoryCheck = 0;
  // Garbage earlier requests left, not yet collected, would count in this request's
  // favour if V8 collected it during the request. Young garbage (every request's
  // state) is bounded by the young generation; old garbage is what a request that
  // held a lot of data drops: past max(limit, 32 MiB) of it, collect first. Only
  // then: a full collection costs milliseconds and makes V8 discard optimised code.
  let baseline = heapInUse();
  const settled = settledHeap();
  if (liveFloor < 0) liveFloor = settled;
  else if (settled - liveFloor > Math.max(bytes, GARBAGE_ALLOWANCE)) {
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

/** The thread was blocked outside Lua for `ms` (backpressure): that time is not CPU time. */
export function excludeFromCpuTime(ms: number): void {
  if (ms > 0) blockedMs += ms;
}
