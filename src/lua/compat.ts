/**
 * Lua 5.1 compatibility on fengari (Lua 5.3), on by default (mod_lwt.md §8).
 * Written against the C API in JS rather than as a Lua chunk: a state pays
 * only for table writes, not for loading code (see scripts/bench/lua-compat.ts).
 *
 * Environments: 5.1 functions had an environment table; 5.3 functions have an
 * `_ENV` upvalue instead. `module` and `setfenv` give the one function a fresh
 * `_ENV` upvalue (lua_upvaluejoin) rather than overwrite the shared one, so,
 * as in 5.1, other functions of the same file keep theirs (Orbit's htmlify
 * relies on it) and functions the caller creates afterwards see the new one.
 * Both find `_ENV` by name, which is why cached chunks keep debug info.
 */

import { getHeapStatistics } from 'node:v8';
import { lua, lauxlib, LOADED_TABLE, toLuaString, toJsString, compileProto, pushProto, type LuaState, type Proto } from './fengari';

const ENV = toLuaString('_ENV', true);

/** Index of the upvalue named _ENV of the function at `fidx`, or 0. */
function envUpvalue(L: LuaState, fidx: number): number {
  for (let i = 1; ; i++) {
    const name = lua.lua_getupvalue(L, fidx, i);
    if (name === null || name === undefined) return 0;
    lua.lua_pop(L, 1);
    if (name.length === 4 && name[0] === ENV[0] && name[1] === ENV[1] && name[2] === ENV[2] && name[3] === ENV[3]) return i;
  }
}

/**
 * Push the function designated by argument 1 of getfenv/setfenv: a function,
 * or a stack level counted from the caller of getfenv/setfenv (5.1 `getfunc`).
 * Returns false for level 0 (the thread's globals).
 */
function pushFunctionArg(L: LuaState, optional: boolean): boolean {
  if (lua.lua_type(L, 1) === lua.LUA_TFUNCTION) {
    lua.lua_pushvalue(L, 1);
    return true;
  }
  const level = optional ? lauxlib.luaL_optinteger(L, 1, 1) : lauxlib.luaL_checkinteger(L, 1);
  lauxlib.luaL_argcheck(L, level >= 0, 1, toLuaString('level must be non-negative'));
  if (level === 0) return false;
  const ar = new lua.lua_Debug();
  if (lua.lua_getstack(L, level, ar) === 0) lauxlib.luaL_argerror(L, 1, toLuaString('invalid level'));
  lua.lua_getinfo(L, toLuaString('f'), ar);
  if (lua.lua_isnil(L, -1)) lauxlib.luaL_error(L, toLuaString(`no function environment for tail call at level ${level}`));
  return true;
}

function getfenv(L: LuaState): number {
  if (!pushFunctionArg(L, true) || lua.lua_iscfunction(L, -1)) {
    lua.lua_pushglobaltable(L);
    return 1;
  }
  const n = envUpvalue(L, -1);
  if (n === 0) lua.lua_pushglobaltable(L);
  else lua.lua_getupvalue(L, -1, n);
  return 1;
}

let EMPTY_CHUNK: Proto | null = null;

function setfenv(L: LuaState): number {
  lauxlib.luaL_checktype(L, 2, lua.LUA_TTABLE);
  if (!pushFunctionArg(L, false)) {
    return lauxlib.luaL_error(L, toLuaString("'setfenv' cannot change the environment of the thread in the sidecar"));
  }
  const f = lua.lua_gettop(L);
  if (lua.lua_iscfunction(L, f)) return lauxlib.luaL_error(L, toLuaString("'setfenv' cannot change environment of given object"));
  setEnv(L, f, 2);
  lua.lua_pushvalue(L, f);
  return 1;
}

/**
 * Give the Lua function at `fidx` a fresh _ENV upvalue holding the value at
 * `vidx`. Closures created later by that function share the new upvalue;
 * closures created earlier keep the old one, as 5.1 environments behaved.
 */
function setEnv(L: LuaState, fidx: number, vidx: number): void {
  const n = envUpvalue(L, fidx);
  if (n === 0) return;
  // An empty chunk owns exactly one fresh upvalue: join f's _ENV to it, then fill it.
  // Compiled once per worker: module() runs this for every module of every request.
  EMPTY_CHUNK ??= compileProto('', '=setfenv');
  pushProto(L, EMPTY_CHUNK);
  lua.lua_pushvalue(L, vidx);
  lua.lua_setupvalue(L, -2, 1);
  lua.lua_upvaluejoin(L, fidx, n, -1, 1);
  lua.lua_pop(L, 1);
}

/** 5.1 luaL_findtable over the globals: create or reuse nested tables for "a.b.c"; false on a name conflict. */
function findTable(L: LuaState, dotted: string): boolean {
  lua.lua_pushglobaltable(L);
  for (const part of dotted.split('.')) {
    const key = toLuaString(part);
    lua.lua_pushstring(L, key);
    lua.lua_rawget(L, -2);
    if (lua.lua_isnil(L, -1)) {
      lua.lua_pop(L, 1);
      lua.lua_createtable(L, 0, 1);
      lua.lua_pushstring(L, key);
      lua.lua_pushvalue(L, -2);
      lua.lua_settable(L, -4);
    } else if (!lua.lua_istable(L, -1)) {
      lua.lua_pop(L, 2);
      return false;
    }
    lua.lua_remove(L, -2);
  }
  return true;
}

/** Lua 5.1 `module(name, ...)` (loadlib.c ll_module). */
function module(L: LuaState): number {
  const modname = lauxlib.luaL_checkstring(L, 1);
  const name = toJsString(modname);
  const lastarg = lua.lua_gettop(L);
  lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, LOADED_TABLE);
  const loaded = lua.lua_gettop(L);
  lua.lua_getfield(L, loaded, modname);
  if (!lua.lua_istable(L, -1)) {
    lua.lua_pop(L, 1);
    if (!findTable(L, name)) return lauxlib.luaL_error(L, toLuaString(`name conflict for module '${name}'`));
    lua.lua_pushvalue(L, -1);
    lua.lua_setfield(L, loaded, modname);
  }
  const ns = lua.lua_gettop(L);
  lua.lua_getfield(L, ns, toLuaString('_NAME', true));
  const fresh = lua.lua_isnil(L, -1);
  lua.lua_pop(L, 1);
  if (fresh) {
    lua.lua_pushvalue(L, ns);
    lua.lua_setfield(L, ns, toLuaString('_M', true));
    lua.lua_pushvalue(L, 1);
    lua.lua_setfield(L, ns, toLuaString('_NAME', true));
    const dot = name.lastIndexOf('.');
    lua.lua_pushstring(L, toLuaString(dot < 0 ? '' : name.slice(0, dot + 1)));
    lua.lua_setfield(L, ns, toLuaString('_PACKAGE', true));
  }
  const ar = new lua.lua_Debug();
  if (lua.lua_getstack(L, 1, ar) === 0 || (lua.lua_getinfo(L, toLuaString('f'), ar), lua.lua_iscfunction(L, -1))) {
    return lauxlib.luaL_error(L, toLuaString("'module' not called from a Lua function"));
  }
  setEnv(L, lua.lua_gettop(L), ns);
  lua.lua_pop(L, 1);
  // 5.3's require passes the file name after the module name (`module(...)`):
  // only functions are options, as LUA_COMPAT_MODULE's dooptions decided.
  for (let i = 2; i <= lastarg; i++) {
    if (lua.lua_type(L, i) !== lua.LUA_TFUNCTION) continue;
    lua.lua_pushvalue(L, i);
    lua.lua_pushvalue(L, ns);
    lua.lua_call(L, 1, 0);
  }
  return 0;
}

/** package.seeall: the module sees the globals through __index (5.1 ll_seeall). */
function seeall(L: LuaState): number {
  lauxlib.luaL_checktype(L, 1, lua.LUA_TTABLE);
  if (!lua.lua_getmetatable(L, 1)) {
    lua.lua_createtable(L, 0, 1);
    lua.lua_pushvalue(L, -1);
    lua.lua_setmetatable(L, 1);
  }
  lua.lua_pushglobaltable(L);
  lua.lua_setfield(L, -2, toLuaString('__index', true));
  return 0;
}

function tableGetn(L: LuaState): number {
  lauxlib.luaL_checktype(L, 1, lua.LUA_TTABLE);
  lua.lua_pushnumber(L, lauxlib.luaL_len(L, 1));
  return 1;
}

function tableMaxn(L: LuaState): number {
  lauxlib.luaL_checktype(L, 1, lua.LUA_TTABLE);
  let max = 0;
  lua.lua_pushnil(L);
  while (lua.lua_next(L, 1)) {
    lua.lua_pop(L, 1);
    if (lua.lua_type(L, -1) === lua.LUA_TNUMBER) {
      const v = lua.lua_tonumber(L, -1);
      if (v > max) max = v;
    }
  }
  lua.lua_pushnumber(L, max);
  return 1;
}

function tableSetn(L: LuaState): number {
  return lauxlib.luaL_error(L, toLuaString("'setn' is obsolete"));
}

/** 5.1 table.foreach / foreachi: stop at the first non-nil result and return it. */
function tableForeach(L: LuaState): number {
  lauxlib.luaL_checktype(L, 1, lua.LUA_TTABLE);
  lauxlib.luaL_checktype(L, 2, lua.LUA_TFUNCTION);
  lua.lua_pushnil(L);
  while (lua.lua_next(L, 1)) {
    lua.lua_pushvalue(L, 2);
    lua.lua_pushvalue(L, -3);
    lua.lua_pushvalue(L, -3);
    lua.lua_call(L, 2, 1);
    if (!lua.lua_isnil(L, -1)) return 1;
    lua.lua_pop(L, 2);
  }
  return 0;
}

function tableForeachi(L: LuaState): number {
  lauxlib.luaL_checktype(L, 1, lua.LUA_TTABLE);
  lauxlib.luaL_checktype(L, 2, lua.LUA_TFUNCTION);
  const n = lauxlib.luaL_len(L, 1);
  for (let i = 1; i <= n; i++) {
    lua.lua_pushvalue(L, 2);
    lua.lua_pushnumber(L, i);
    lua.lua_rawgeti(L, 1, i);
    lua.lua_call(L, 2, 1);
    if (!lua.lua_isnil(L, -1)) return 1;
    lua.lua_pop(L, 1);
  }
  return 0;
}

function num1(f: (x: number) => number) {
  return (L: LuaState): number => {
    lua.lua_pushnumber(L, f(lauxlib.luaL_checknumber(L, 1)));
    return 1;
  };
}

function pow(L: LuaState): number {
  lua.lua_pushnumber(L, Math.pow(lauxlib.luaL_checknumber(L, 1), lauxlib.luaL_checknumber(L, 2)));
  return 1;
}

function atan2(L: LuaState): number {
  lua.lua_pushnumber(L, Math.atan2(lauxlib.luaL_checknumber(L, 1), lauxlib.luaL_checknumber(L, 2)));
  return 1;
}

/** C ldexp/frexp: exact scaling by powers of two, also across the subnormal range. */
function ldexpNum(m: number, e: number): number {
  let r = m;
  let k = Math.trunc(e);
  while (k > 1023) { r *= 2 ** 1023; k -= 1023; }
  while (k < -1022) { r *= 2 ** -1022; k += 1022; }
  return r * 2 ** k;
}

function ldexp(L: LuaState): number {
  lua.lua_pushnumber(L, ldexpNum(lauxlib.luaL_checknumber(L, 1), lauxlib.luaL_checknumber(L, 2)));
  return 1;
}

function frexp(L: LuaState): number {
  const x = lauxlib.luaL_checknumber(L, 1);
  if (x === 0 || !Number.isFinite(x)) {
    lua.lua_pushnumber(L, x);
    lua.lua_pushnumber(L, 0);
    return 2;
  }
  let e = Math.max(-1073, Math.floor(Math.log2(Math.abs(x))) + 1);
  let m = ldexpNum(x, -e);
  while (Math.abs(m) < 0.5) { m *= 2; e--; }
  while (Math.abs(m) >= 1) { m /= 2; e++; }
  lua.lua_pushnumber(L, m);
  lua.lua_pushnumber(L, e);
  return 2;
}

/** Heap in use, in KiB: fengari has no Lua allocator, so the worker isolate's heap stands in for it. */
function gcinfo(L: LuaState): number {
  lua.lua_pushnumber(L, Math.floor(getHeapStatistics().used_heap_size / 1024));
  return 1;
}

/** 5.1 newproxy([bool | proxy]): an empty userdata, optionally with a (shared) metatable. */
function newproxy(L: LuaState): number {
  lua.lua_settop(L, 1);
  lua.lua_newuserdata(L, 0);
  if (lua.lua_toboolean(L, 1) === false) return 1;
  if (lua.lua_isboolean(L, 1)) {
    lua.lua_createtable(L, 0, 0);
  } else {
    const ok = lua.lua_type(L, 1) === lua.LUA_TUSERDATA && lua.lua_getmetatable(L, 1);
    lauxlib.luaL_argcheck(L, ok, 1, toLuaString('boolean or proxy expected'));
  }
  lua.lua_setmetatable(L, 2);
  return 1;
}

type Fn = (L: LuaState) => number;
const GLOBALS: Array<[string, Fn]> = [['module', module], ['setfenv', setfenv], ['getfenv', getfenv], ['gcinfo', gcinfo], ['newproxy', newproxy]];
const DEBUG: Array<[string, Fn]> = [['getfenv', getfenv], ['setfenv', setfenv]];
const TABLE: Array<[string, Fn]> = [['getn', tableGetn], ['maxn', tableMaxn], ['setn', tableSetn], ['foreach', tableForeach], ['foreachi', tableForeachi]];
const MATH: Array<[string, Fn]> = [
  ['pow', pow], ['log10', num1(Math.log10)], ['ldexp', ldexp], ['frexp', frexp], ['cosh', num1(Math.cosh)],
  ['sinh', num1(Math.sinh)], ['tanh', num1(Math.tanh)], ['atan2', atan2],
];
/** [library, new name, existing name]: 5.1 names of functions 5.3 still has. */
const ALIASES: Array<[string | null, string, string, string]> = [
  [null, 'unpack', 'table', 'unpack'],
  [null, 'loadstring', '_G', 'load'],
  ['math', 'mod', 'math', 'fmod'],
  ['string', 'gfind', 'string', 'gmatch'],
  ['package', 'loaders', 'package', 'searchers'],
];

function setFuncs(L: LuaState, lib: string | null, funcs: Array<[string, Fn]>): void {
  if (lib === null) lua.lua_pushglobaltable(L);
  else lua.lua_getglobal(L, toLuaString(lib, true));
  for (const [name, f] of funcs) {
    lua.lua_pushcfunction(L, f);
    lua.lua_setfield(L, -2, toLuaString(name, true));
  }
  lua.lua_pop(L, 1);
}

/** Install the 5.1 names into a state whose standard libraries are open. */
export function openCompat(L: LuaState): void {
  setFuncs(L, null, GLOBALS);
  setFuncs(L, 'table', TABLE);
  setFuncs(L, 'math', MATH);
  setFuncs(L, 'debug', DEBUG);
  for (const [lib, name, fromLib, fromName] of ALIASES) {
    if (lib === null) lua.lua_pushglobaltable(L);
    else lua.lua_getglobal(L, toLuaString(lib, true));
    if (fromLib === '_G') lua.lua_pushglobaltable(L);
    else lua.lua_getglobal(L, toLuaString(fromLib, true));
    lua.lua_getfield(L, -1, toLuaString(fromName, true));
    lua.lua_setfield(L, -3, toLuaString(name, true));
    lua.lua_pop(L, 2);
  }
  lua.lua_getglobal(L, toLuaString('package', true));
  lua.lua_pushcfunction(L, seeall);
  lua.lua_setfield(L, -2, toLuaString('seeall', true));
  lua.lua_pop(L, 1);
}
