/**
 * The one place that loads fengari. fengari has no TypeScript types, so its
 * namespaces are `any` here and helpers used everywhere get real signatures.
 * The dependency is patched at install time (scripts/patch-fengari.js,
 * docs/fengari-patch.md) so numbers are Lua 5.1 doubles and compiled
 * prototypes can be shared between states; `assertPatched` refuses to run on
 * an unpatched copy rather than print `5.0` for 10/2. The Proto and table
 * helpers below reach fengari's internals for the per-request cost of a state.
 */

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-var-requires */
const fengari: any = require('fengari');

export const lua: any = fengari.lua;
export const lauxlib: any = fengari.lauxlib;
export const lualib: any = fengari.lualib;
// The same module instances fengari uses internally (no `exports` map in its package.json).
const lobject: any = require('fengari/src/lobject.js');
const lfunc: any = require('fengari/src/lfunc.js');
const ltable: any = require('fengari/src/ltable.js');

/** A Lua string as fengari stores it: bytes. */
export type LuaString = Uint8Array;
/** An opaque lua_State. */
export type LuaState = any;

/** JS string to Lua bytes (UTF-8). `cache` interns constant strings. */
export const toLuaString: (s: string, cache?: boolean) => LuaString = fengari.to_luastring;
/** Lua bytes to JS string; invalid UTF-8 throws unless `lossy`. */
export function toJsString(s: LuaString, lossy = true): string {
  return lossy ? Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString('utf8') : fengari.to_jsstring(s);
}
/** Lua bytes to a Latin-1 JS string (one char per byte; lossless both ways). */
export function bytesToBinary(s: LuaString): string {
  return Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString('latin1');
}
export function binaryToBytes(s: string): LuaString {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

/**
 * A compiled function prototype (fengari's Proto): the bytecode, constants and
 * debug information of a chunk and its nested functions, with no reference to
 * the state that compiled it. Nothing mutates it at run time once the patch
 * has removed the closure cache (docs/fengari-patch.md), so one Proto can back
 * closures in any number of states.
 */
export type Proto = { readonly __brand: 'Proto' };

/** The Proto of the Lua function on top of the stack (as lua_load leaves it). */
export function protoAt(L: LuaState, idx: number): Proto {
  const o = L.stack[idx < 0 ? L.top + idx : L.ci.funcOff + idx];
  if (o === undefined || !o.ttisLclosure()) throw new Error('protoAt: not a Lua function');
  return o.value.p as Proto;
}

/**
 * Push a new closure of `p` as lua_load does after undumping: fresh upvalues
 * of this state, the first one (the chunk's `_ENV`) set to its globals.
 */
export function pushProto(L: LuaState, p: Proto): void {
  const proto = p as any;
  const cl = new lobject.LClosure(L, proto.upvalues.length);
  cl.p = proto;
  lfunc.luaF_initupvals(L, cl);
  if (cl.nupvalues >= 1) cl.upvals[0].setfrom(ltable.luaH_getint(L.l_G.l_registry.value, lua.LUA_RIDX_GLOBALS));
  lua.lua_pushnil(L);
  L.stack[L.top - 1].setclLvalue(cl);
}

/**
 * Compile Lua source once (in a scratch state) for pushProto into any state:
 * for code the sidecar itself runs in every state, where undumping a binary
 * image or parsing text per state would cost more than the closure.
 */
export function compileProto(source: string, chunkname: string): Proto {
  const T = lauxlib.luaL_newstate();
  if (lauxlib.luaL_loadbufferx(T, toLuaString(source), 0, toLuaString(chunkname), toLuaString('t', true)) !== lua.LUA_OK) {
    throw new Error(`${chunkname}: ${toJsString(lua.lua_tolstring(T, -1))}`);
  }
  return protoAt(T, -1);
}

/**
 * The raw entries of a table whose values are all numbers, strings, booleans
 * or JS functions without upvalues (a standard library table): nothing in it
 * belongs to a state, so it can fill a new table in any state.
 */
export type TableImage = ReadonlyArray<readonly [key: unknown, value: unknown]>;

const IMAGE_VALUE_TYPES = new Set<number>([lua.LUA_TNUMBER, lua.LUA_TSTRING, lua.LUA_TBOOLEAN]);

/** The image of the table at `idx`, in its iteration order, or null when a value is state-bound. */
export function tableImage(L: LuaState, idx: number): TableImage | null {
  const t = lua.lua_absindex(L, idx);
  const entries: Array<readonly [unknown, unknown]> = [];
  lua.lua_pushnil(L);
  while (lua.lua_next(L, t) !== 0) {
    const k = L.stack[L.top - 2];
    const v = L.stack[L.top - 1];
    // A light JS function (LUA_TLCF) has no upvalues: the same JS function serves every state.
    if (lua.lua_type(L, -2) !== lua.LUA_TSTRING || !(IMAGE_VALUE_TYPES.has(lua.lua_type(L, -1)) || v.ttislcf())) {
      lua.lua_pop(L, 2);
      return null;
    }
    entries.push([new lobject.TValue(k.type, k.value), new lobject.TValue(v.type, v.value)]);
    lua.lua_pop(L, 1);
  }
  return entries;
}

/** Push a new table holding `image`'s entries, in the same order. */
export function pushTableImage(L: LuaState, image: TableImage): void {
  const t = ltable.luaH_new(L);
  for (const [k, v] of image) ltable.luaH_setfrom(L, t, k, v);
  lua.lua_pushnil(L);
  L.stack[L.top - 1].sethvalue(t);
}

/** Throws when node_modules/fengari was installed without the postinstall patch. */
export function assertPatched(): void {
  const L = lauxlib.luaL_newstate();
  lua.lua_pushnumber(L, 5);
  const s = toJsString(lua.lua_tolstring(L, -1));
  lua.lua_pushinteger(L, 1);
  const isInt = lua.lua_isinteger(L, -1);
  // Two closures of one prototype with the same (no) upvalues: Lua 5.3's cache makes them one object.
  lauxlib.luaL_loadstring(L, toLuaString('local t = {} for i = 1, 2 do t[i] = function() end end return t[1] ~= t[2]'));
  lua.lua_call(L, 0, 1);
  const freshClosures = lua.lua_toboolean(L, -1);
  // Unpadded hex string keys made these two one string.
  lauxlib.luaL_loadstring(L, toLuaString('return "\\1\\35" ~= "\\18\\3"'));
  lua.lua_call(L, 0, 1);
  const distinctKeys = lua.lua_toboolean(L, -1);
  if (s !== '5' || isInt || !freshClosures || !distinctKeys) {
    throw new Error('fengari is not patched (Lua 5.1 numbers, no closure cache, byte string keys): run `node scripts/patch-fengari.js` (npm postinstall)');
  }
}

// Checked once, when the runtime first loads: a wrong install stops the sidecar at startup, not mid-request.
assertPatched();

/** Read a Lua string argument/value at `idx` as a JS string (UTF-8, lossy), or null. */
export function luaToString(L: LuaState, idx: number): string | null {
  const s = lua.lua_tolstring(L, idx);
  return s === null || s === undefined ? null : toJsString(s);
}

/** Push a JS string as UTF-8 bytes. */
export function pushString(L: LuaState, s: string): void {
  lua.lua_pushstring(L, toLuaString(s));
}
