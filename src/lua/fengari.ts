/**
 * The one place that loads fengari. fengari has no TypeScript types, so its
 * namespaces are `any` here and helpers used everywhere get real signatures.
 * The dependency is patched at install time (scripts/patch-fengari.js,
 * docs/fengari-patch.md) so numbers are Lua 5.1 doubles; `assertPatched`
 * refuses to run on an unpatched copy rather than print `5.0` for 10/2.
 */

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-var-requires */
const fengari: any = require('fengari');

export const lua: any = fengari.lua;
export const lauxlib: any = fengari.lauxlib;
export const lualib: any = fengari.lualib;

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

/** Throws when node_modules/fengari was installed without the postinstall patch. */
export function assertPatched(): void {
  const L = lauxlib.luaL_newstate();
  lua.lua_pushnumber(L, 5);
  const s = toJsString(lua.lua_tolstring(L, -1));
  lua.lua_pushinteger(L, 1);
  const isInt = lua.lua_isinteger(L, -1);
  if (s !== '5' || isInt) {
    throw new Error('fengari is not patched for Lua 5.1 numbers: run `node scripts/patch-fengari.js` (npm postinstall)');
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
