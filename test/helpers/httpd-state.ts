/**
 * Run Lua code inside a real request state (newRequestState, the sidecar's
 * own libraries) as a chunk receiving `(request, httpd)`, the way mod_lwt
 * handed a script its request record (mod_lwt.md §4), and collect what it
 * returned, wrote to httpd.output and logged.
 */

import * as assert from 'node:assert/strict';
import { lua, lauxlib, toLuaString } from '../../src/lua/fengari';
import { newRequestState, ChunkCache, DEFAULT_RUNTIME_OPTIONS } from '../../src/lua';
import { pushRequest } from '../../src/lua/httpd-core';
import { sandboxStop } from '../../src/lua/sandbox';
import type { LogLevel, LuaJob } from '../../src/lua/types';
import { jobFor } from './oracle';

const cache = new ChunkCache();

export interface InRequestOptions {
  /** The request; default a GET of hello.lua. */
  job?: LuaJob;
  /** The state's working directory; default `/`. */
  cwd?: string;
  /** False runs the chunk before the request exists (`request` is nil). */
  register?: boolean;
}

export interface InRequestRun {
  ok: boolean;
  /** The chunk's results through tostring, as Lua bytes (empty on error). */
  values: Uint8Array[];
  /** The error value through tostring (null when ok). */
  error: Uint8Array | null;
  /** The error was the sandbox's stop sentinel (os.exit, CPU limit). */
  stop: boolean;
  /** What reached httpd.output, as latin1 text. */
  out: string;
  logs: Array<[LogLevel, string]>;
  record: ReturnType<typeof newRequestState>['record'];
}

export function runInRequest(code: string, opts: InRequestOptions = {}): InRequestRun {
  const logs: Array<[LogLevel, string]> = [];
  const job = opts.job ?? jobFor({ script: 'hello.lua' });
  const { L, record } = newRequestState(job, { cwd: opts.cwd ?? '/', log: (l, m) => logs.push([l, m]) }, DEFAULT_RUNTIME_OPTIONS, cache);
  const out: Buffer[] = [];
  record.output = (c) => out.push(Buffer.from(c));
  assert.equal(lauxlib.luaL_loadstring(L, toLuaString(`local request, httpd = ...\n${code}`)), lua.LUA_OK, 'chunk compiles');
  if (opts.register !== false) pushRequest(L, record);
  else lua.lua_pushnil(L);
  lua.lua_getglobal(L, toLuaString('require'));
  lua.lua_pushstring(L, toLuaString('httpd'));
  lua.lua_call(L, 1, 1);
  const ok = lua.lua_pcall(L, 2, lua.LUA_MULTRET, 0) === lua.LUA_OK;
  const stop = !ok && sandboxStop(L, -1) !== null;
  const values: Uint8Array[] = [];
  for (let i = 1; i <= lua.lua_gettop(L); i++) {
    values.push(lauxlib.luaL_tolstring(L, i));
    lua.lua_pop(L, 1);
  }
  return ok
    ? { ok, values, error: null, stop, out: Buffer.concat(out).toString('latin1'), logs, record }
    : { ok, values: [], error: values[0]!, stop, out: Buffer.concat(out).toString('latin1'), logs, record };
}
