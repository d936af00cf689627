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
 * message and status), re-raised the same way. Limits: src/lua/limits.ts
 * and docs/limits.md.
 */

import { lua, lauxlib, toLuaString, toJsString, type LuaState } from './fengari';
import { searchPath } from './chunk-cache';
import { bindState, stateBindings, stateContext, type StateContext } from './context';
import { SandboxStop, raiseStop, sandboxStop } from './stop';
import { heapInUse, memoryExceeded, meterAllocations, raiseMemoryError } from './limits';

export { SandboxStop, sandboxStop, isExitSentinel } from './stop';
export { setCpuDeadline, setMemoryLimit, excludeFromCpuTime } from './limits';

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

/** coroutine.resume around the builtin, held here: false plus a stop is re-raised in the resumer. One wrapper per builtin. */
const resumeWrappers = new WeakMap<(L: LuaState) => number, (L: LuaState) => number>();
function sandboxResume(resume: (L: LuaState) => number): (L: LuaState) => number {
  let wrapper = resumeWrappers.get(resume);
  if (wrapper === undefined) {
    wrapper = (L: LuaState): number => {
      const n = resume(L);
      if (n === 2 && !lua.lua_toboolean(L, -2)) reraiseIfStop(L);
      return n;
    };
    resumeWrappers.set(resume, wrapper);
  }
  return wrapper;
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
  const message = toLuaString(`${what} is disabled in the sidecar`, true);
  return (L: LuaState): number => {
    lua.lua_pushnil(L);
    lua.lua_pushstring(L, message);
    return 2;
  };
}
const osExecute = disabled('os.execute');
const ioPopen = disabled('io.popen');

const refuseSethook = (L: LuaState): number =>
  lauxlib.luaL_error(L, toLuaString('debug.sethook is not available in the sidecar'));

/*
 * print, os.getenv and the C searcher are shared by every state and find the
 * request's context and environment through the state (context.ts bindings).
 */

/** print as 5.1 wrote it (global tostring, tabs), sent to the log: a daemonised Apache's stdout went nowhere. */
const print = (L: LuaState): number => {
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
  stateContext(L).log('debug', parts.join('\t'));
  return 0;
};

const getenv = (L: LuaState): number => {
  const name = toJsString(lauxlib.luaL_checkstring(L, 1));
  const env = stateBindings(L)?.env ?? {};
  const v = Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined;
  if (v === undefined) lua.lua_pushnil(L);
  else lua.lua_pushstring(L, toLuaString(v));
  return 1;
};

/**
 * Replaces fengari's JS searchers: a module found only as a shared object on
 * package.cpath (also by its root name, as 5.1's all-in-one loader looked)
 * fails naming the file, instead of "module not found".
 */
const cSearcher = (L: LuaState): number => {
  const ctx = stateContext(L);
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
      const why = 'C modules cannot be loaded in the sidecar (no JavaScript equivalent is installed)';
      // A warning, not an error: a script may probe an optional module with pcall(require, ...).
      ctx.log('warn', `error loading module '${name}' from file '${found.file}': ${why} [LWT_LUA_C_MODULE]`);
      return lauxlib.luaL_error(L, toLuaString(`error loading module '${name}' from file '${found.file}':\n\t${why}`));
    }
    tried += found.tried;
  }
  lua.lua_pushstring(L, toLuaString(tried));
  return 1;
};

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
  installSandboxShared(L);
  bindSandbox(L, ctx, env);
}

/** What print, os.getenv and the C searcher of this state use. */
export function bindSandbox(L: LuaState, ctx: StateContext, env: Readonly<Record<string, string>>): void {
  const b = bindState(L);
  b.ctx = ctx;
  b.env = env;
}

/** installSandbox without binding a context: the same in every state. */
export function installSandboxShared(L: LuaState): void {
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
  lua.lua_pushcfunction(L, print);
  lua.lua_setglobal(L, toLuaString('print', true));
  setField(L, 'os', 'exit', osExit);
  setField(L, 'os', 'getenv', getenv);
  setField(L, 'os', 'execute', osExecute);
  setField(L, 'io', 'popen', ioPopen);
  setField(L, 'debug', 'sethook', refuseSethook);
  setField(L, 'package', 'loadlib', null);
  meterAllocations(L);

  lua.lua_getglobal(L, toLuaString('package', true));
  lua.lua_pushnil(L);
  lua.lua_setfield(L, -2, toLuaString('jspath', true));
  lua.lua_getfield(L, -1, toLuaString('searchers', true));
  lua.lua_pushcfunction(L, cSearcher);
  lua.lua_rawseti(L, -2, 3);
  lua.lua_pushnil(L);
  lua.lua_rawseti(L, -2, 4);
  lua.lua_pop(L, 2);
}
