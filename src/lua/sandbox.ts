/**
 * What a script may not do to the sidecar (issue 3 §4): fengari as shipped
 * lets `os.exit` end the process, `print` write to its stdout, `os.getenv`
 * read its environment, `os.execute` run commands and `package.loadlib` / the
 * JS searcher run JavaScript from disk.
 *
 * Stopping a request (os.exit, CPU limit) raises a *stop sentinel*: a light
 * userdata holding a `SandboxStop`. The wrapped pcall/xpcall/coroutine.resume
 * re-raise it, so a script cannot catch its own termination; the runner
 * recognises it with `sandboxStop(L, idx)` and ends only that request.
 */

import { performance } from 'node:perf_hooks';
import { lua, lauxlib, toLuaString, toJsString, type LuaState } from './fengari';
import { searchPath } from './chunk-cache';
import type { StateContext } from './context';

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
 * Protected calls re-raise the sentinel. Written in Lua so a yield across the
 * wrapped pcall still works (the 5.3 builtins carry the continuation); the
 * builtins are locals named as the globals so argument errors name `pcall`.
 */
const WRAPPERS = `
local isstop, pcall, xpcall, resume, error = ...
local G, co = _ENV, coroutine
local function pass(ok, ...)
  if not ok and isstop((...)) then error((...), 0) end
  return ok, ...
end
G.pcall = function(f, ...) return pass(pcall(f, ...)) end
G.xpcall = function(f, h, ...)
  if h == nil then return pass(xpcall(f, h, ...)) end
  return pass(xpcall(f, function(e) if isstop(e) then return e end return h(e) end, ...))
end
co.resume = function(c, ...) return pass(resume(c, ...)) end
`;

let wrappersImage: Uint8Array | null = null;

/** The wrappers compiled once per process; each state loads the binary image. */
function loadWrappers(L: LuaState): void {
  if (wrappersImage === null) {
    const T = lauxlib.luaL_newstate();
    if (lauxlib.luaL_loadbufferx(T, toLuaString(WRAPPERS), 0, toLuaString('=sandbox'), null) !== lua.LUA_OK) {
      throw new Error(`sandbox wrappers: ${toJsString(lua.lua_tolstring(T, -1))}`);
    }
    const parts: number[] = [];
    lua.lua_dump(T, (_L: LuaState, b: Uint8Array, size: number) => {
      for (let i = 0; i < size; i++) parts.push(b[i]);
      return 0;
    }, null, 0);
    wrappersImage = Uint8Array.from(parts);
  }
  lauxlib.luaL_loadbufferx(L, wrappersImage, wrappersImage.length, toLuaString('=sandbox'), toLuaString('b', true));
}

const isStop = (L: LuaState): number => {
  lua.lua_pushboolean(L, sandboxStop(L, 1) !== null);
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
  loadWrappers(L);
  lua.lua_pushcfunction(L, isStop);
  for (const [lib, name] of [['_G', 'pcall'], ['_G', 'xpcall'], ['coroutine', 'resume']] as const) {
    if (lib === '_G') lua.lua_getglobal(L, toLuaString(name, true));
    else {
      lua.lua_getglobal(L, toLuaString(lib, true));
      lua.lua_getfield(L, -1, toLuaString(name, true));
      lua.lua_remove(L, -2);
    }
  }
  lua.lua_getglobal(L, toLuaString('error', true));
  lua.lua_call(L, 5, 0);

  lua.lua_pushcfunction(L, makePrint(ctx));
  lua.lua_setglobal(L, toLuaString('print', true));
  setField(L, 'os', 'exit', osExit);
  setField(L, 'os', 'getenv', makeGetenv(env));
  setField(L, 'os', 'execute', disabled('os.execute'));
  setField(L, 'io', 'popen', disabled('io.popen'));
  setField(L, 'debug', 'sethook', refuseSethook);
  setField(L, 'package', 'loadlib', null);

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

/* --- CPU limit ------------------------------------------------------------ */

/** Instructions between deadline checks: ~1% overhead on a tight loop. */
const HOOK_COUNT = 10000;
const deadlines = new WeakMap<object, number>();

const cpuHook = (L: LuaState): void => {
  const deadline = deadlines.get(L.l_G);
  if (deadline !== undefined && performance.now() > deadline) raiseStop(L, new SandboxStop('cpu', 0));
};

/**
 * Stop the state's Lua code `ms` milliseconds from now (count hook plus the
 * stop sentinel, so `while true do pcall(f) end` ends too). Coroutines created
 * afterwards inherit the hook. `ms` <= 0 or Infinity removes the limit.
 *
 * The clock is wall time (performance.now): Node 20 has no per-thread CPU
 * clock and process.cpuUsage() sums every worker thread. A worker runs one
 * request at a time, so wall time over-counts only when the machine is
 * oversubscribed. Work inside one JS library call is not interrupted; the
 * worker's own wall-clock backstop covers that.
 */
export function setCpuDeadline(L: LuaState, ms: number): void {
  if (!(ms > 0) || ms === Infinity) {
    deadlines.delete(L.l_G);
    lua.lua_sethook(L, null, 0, 0);
    return;
  }
  deadlines.set(L.l_G, performance.now() + ms);
  lua.lua_sethook(L, cpuHook, lua.LUA_MASKCOUNT, HOOK_COUNT);
}
