/**
 * A bare fengari state with the sidecar's io and lfs libraries, and the same
 * script run under Debian's lua5.1 (with its C lfs.so) as the oracle: the io
 * and lfs tests compare the two outputs byte for byte.
 */

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { lua, lauxlib, lualib, toLuaString, type LuaState } from '../../src/lua/fengari';
import type { StateContext } from '../../src/lua/context';
import { openIo, closeIo } from '../../src/lua/iolib';
import { openLfs } from '../../src/lua/lfs';

/** fixtures/lua/io: sample files the io and lfs scripts read. */
export const IO_FIXTURES = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'lua', 'io');

/** print as C Lua's: tostring of each argument, tabs, newline, to io.stdout. */
export const PRINT = `print = function(...)
  local t = {}
  for i = 1, select('#', ...) do t[i] = tostring((select(i, ...))) end
  io.stdout:write(table.concat(t, '\\t'), '\\n')
end\n`;

export interface IoState {
  L: LuaState;
  ctx: StateContext;
  /** io.stdout as latin1 text, and `ERROR: …` lines from execLua. */
  out: string;
  logs: Array<[string, string]>;
}

export interface IoStateOptions {
  /** Where io.stdout goes; default appended to `out`. */
  stdout?: (b: Uint8Array) => void;
  stdin?: Uint8Array;
}

export function newIoState(cwd: string, opts: IoStateOptions = {}): IoState {
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  const st: IoState = { L, out: '', logs: [], ctx: { cwd, log: (level, msg) => st.logs.push([level, msg]) } };
  openIo(L, st.ctx, { stdout: opts.stdout ?? ((b) => (st.out += Buffer.from(b).toString('latin1'))), stdin: opts.stdin });
  openLfs(L, st.ctx);
  return st;
}

/** Run `code` as `lua -e` would (chunk name `=(command line)`); an error is appended to `out` as the C interpreter prints it. */
export function execLua(st: IoState, code: string): void {
  const src = toLuaString(code);
  const status = lauxlib.luaL_loadbuffer(st.L, src, src.length, toLuaString('=(command line)')) || lua.lua_pcall(st.L, 0, 0, 0);
  if (status !== 0) {
    st.out += `ERROR: ${Buffer.from(lua.lua_tolstring(st.L, -1)).toString('latin1')}\n`;
    lua.lua_pop(st.L, 1);
  }
}

/** The script under fengari with these libraries, as one chunk (so error positions match the C run); its stdout as latin1 text. */
export function viaFengari(code: string, cwd: string): string {
  const st = newIoState(cwd);
  execLua(st, code);
  closeIo(st.L);
  return st.out;
}

/** The same script under C Lua 5.1 (Debian's lua5.1 + lua-filesystem). */
export function viaC(code: string, cwd: string): string {
  const r = spawnSync('lua5.1', ['-e', code], { cwd, encoding: 'latin1' });
  return r.stdout + (r.status === 0 ? '' : `ERROR: ${r.stderr}`);
}
