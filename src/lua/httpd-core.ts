/**
 * `httpd.core`, the C library of mod_lwt (mod_lwt.md §4, §5.1), in TypeScript:
 * APR-table userdata, the read-only `request` userdata, status/type/headers,
 * the escapers, deferred functions, logging, stat and time.
 */

import { lua, lauxlib, LOADED_TABLE, pushBinary, toLuaString, toJsString, bytesToBinary, binaryToBytes } from './fengari';
import { escapeJs, escapeUri, escapeXml } from './escape';
import type { LogLevel } from './types';
import type { AprTable, RequestRecord } from './state';
import { writeTemplate } from './template';
import { bindState, stateBindings } from './context';

const APR_META = 'httpd.apr_table';
const REQUEST_META = 'httpd.request';

type LuaState = unknown;
type JsFn = (L: LuaState) => number;

let serial = 0;
/** An address-like tag for `tostring`, as `%p` printed one in mod_lwt. */
function fakePointer(): string {
  serial = (serial + 0x28) % 0x7fffffff;
  return `0x${(0x55d0c0de0000 + serial).toString(16)}`;
}

/** C strings: the escapers stop at the first NUL, as mod_lwt's did. */
function cString(L: LuaState, arg: number): Uint8Array {
  const s: Uint8Array = lauxlib.luaL_checkstring(L, arg);
  const nul = s.indexOf(0);
  return nul < 0 ? s : s.subarray(0, nul);
}

function checkString(L: LuaState, arg: number): string {
  return bytesToBinary(lauxlib.luaL_checkstring(L, arg));
}

function toKey(L: LuaState, arg: number): string {
  const t = lua.lua_type(L, arg);
  if (t !== lua.LUA_TSTRING && t !== lua.LUA_TNUMBER) lauxlib.luaL_checkstring(L, arg);
  return bytesToBinary(lua.lua_tolstring(L, arg));
}

/** A binary string (one char per byte: env and header values, see LuaJob) as the same bytes. */
function pushLatin1(L: LuaState, s: string | null | undefined): void {
  if (s === null || s === undefined) lua.lua_pushnil(L);
  else pushBinary(L, s);
}

/** Text (decoded paths, file names) as UTF-8 bytes: what lfs and io turn back into file names. */
function pushText(L: LuaState, s: string | null | undefined): void {
  if (s === null || s === undefined) lua.lua_pushnil(L);
  else lua.lua_pushstring(L, toLuaString(s));
}

/** Push a new userdata wrapper around `t` (mod_lwt: a new wrapper per access, no __eq). */
export function pushAprTable(L: LuaState, t: AprTable): void {
  const ud = lua.lua_newuserdata(L, 0);
  ud.table = t;
  ud.tag = fakePointer();
  lauxlib.luaL_setmetatable(L, toLuaString(APR_META, true));
}

function checkAprTable(L: LuaState, arg: number): AprTable {
  return lauxlib.luaL_checkudata(L, arg, toLuaString(APR_META, true)).table as AprTable;
}

function aprIterator(L: LuaState): number {
  const t = checkAprTable(L, 1);
  let i = 0;
  lua.lua_pushcfunction(L, (L2: LuaState) => {
    const e = t.entries[i++];
    if (e === undefined) {
      lua.lua_pushnil(L2);
      return 1;
    }
    pushLatin1(L2, e[0]);
    pushLatin1(L2, e[1]);
    return 2;
  });
  lua.lua_pushvalue(L, 1);
  return 2;
}

const APR_METHODS: Record<string, JsFn> = {
  __index: (L) => {
    pushLatin1(L, checkAprTable(L, 1).get(toKey(L, 2)));
    return 1;
  },
  __newindex: (L) => {
    const t = checkAprTable(L, 1);
    const key = toKey(L, 2);
    if (lua.lua_isnil(L, 3)) t.unset(key);
    else t.set(key, checkString(L, 3));
    return 0;
  },
  __tostring: (L) => {
    lua.lua_pushstring(L, toLuaString(`APR table (${lauxlib.luaL_checkudata(L, 1, toLuaString(APR_META, true)).tag})`));
    return 1;
  },
  __pairs: aprIterator,
};

function openAprMeta(L: LuaState): void {
  lauxlib.luaL_newmetatable(L, toLuaString(APR_META, true));
  setFuncs(L, APR_METHODS);
  lua.lua_pop(L, 1);
}

function setFuncs(L: LuaState, fns: Record<string, JsFn>): void {
  for (const [name, fn] of Object.entries(fns)) {
    lua.lua_pushcfunction(L, fn);
    lua.lua_setfield(L, -2, toLuaString(name, true));
  }
}

/**
 * The state's request record: httpd.core's functions are shared by every
 * state (copied from a template, not created per request) and find the
 * record through the state.
 */
function recordOf(L: LuaState): RequestRecord {
  const rec = stateBindings(L)?.record;
  if (rec == null) return lauxlib.luaL_error(L, toLuaString('no request record', true)) as never;
  return rec;
}

/** The record, once the request userdata is registered (mod_lwt.md §3 step 15). */
function needRequest(L: LuaState): RequestRecord {
  const rec = recordOf(L);
  if (!rec.registered) lauxlib.luaL_error(L, toLuaString('no request record', true));
  return rec;
}

/** The fields of the `request` userdata (mod_lwt.md §4): each read recomputes. */
function pushRequestField(L: LuaState, rec: RequestRecord, key: string): void {
  const r = rec.job.request;
  switch (key) {
    case 'uri': return pushLatin1(L, r.uri);
    case 'protocol': return pushLatin1(L, r.protocol);
    case 'hostname': return pushText(L, r.hostname);
    case 'path': return pushText(L, r.path);
    case 'path_info': return pushText(L, r.pathInfo);
    case 'args': return pushLatin1(L, r.args);
    case 'method': return pushLatin1(L, r.method);
    case 'status': return lua.lua_pushinteger(L, rec.status);
    case 'env': return pushAprTable(L, rec.env());
    case 'headers_in': return pushAprTable(L, rec.headersIn);
    case 'headers_out': return pushAprTable(L, rec.headersOut);
    case 'err_headers_out': return pushAprTable(L, rec.errHeadersOut);
    case 'filename': return pushText(L, r.filename);
    case 'filedir': return pushText(L, r.filename.slice(0, r.filename.lastIndexOf('/') + 1));
    case 'user': return pushLatin1(L, rec.job.env.REMOTE_USER);
    case 'auth_type': return pushLatin1(L, rec.job.env.AUTH_TYPE);
    case 'local_ip': return pushLatin1(L, r.localIp);
    case 'remote_ip':
    case 'useragent_ip': return pushLatin1(L, r.remoteIp);
    default: return lua.lua_pushnil(L);
  }
}

const REQUEST_METHODS: Record<string, JsFn> = {
  __index: (L) => {
    pushRequestField(L, recordOf(L), toKey(L, 2));
    return 1;
  },
  __tostring: (L) => {
    lua.lua_pushstring(L, toLuaString(`request (${lua.lua_touserdata(L, 1).tag})`));
    return 1;
  },
};

/** Push the `request` userdata and register it: request-bound functions work from now on (mod_lwt.md §3 step 15). */
export function pushRequest(L: LuaState, rec: RequestRecord): void {
  bindState(L).record = rec;
  const ud = lua.lua_newuserdata(L, 0);
  ud.tag = fakePointer();
  if (lauxlib.luaL_newmetatable(L, toLuaString(REQUEST_META, true))) setFuncs(L, REQUEST_METHODS);
  lua.lua_setmetatable(L, -2);
  rec.registered = true;
}

/** An escaper over httpd.core's C-string argument (cut at the first NUL). */
function escaper(fn: (s: string) => string): JsFn {
  return (L) => {
    lua.lua_pushstring(L, binaryToBytes(fn(bytesToBinary(cString(L, 1)))));
    return 1;
  };
}

/** Log lines are text: the bytes are read as UTF-8, as the io library's stderr does. */
function logger(level: LogLevel): JsFn {
  return (L) => {
    recordOf(L).log(level, toJsString(lauxlib.luaL_checkstring(L, 1)));
    return 0;
  };
}

/** httpd.core.time: timegm() of a broken-down UTC time; every field is required. */
function coreTime(L: LuaState): number {
  lauxlib.luaL_checktype(L, 1, lua.LUA_TTABLE);
  const v: number[] = [];
  for (const f of ['year', 'month', 'day', 'hour', 'min', 'sec']) {
    lua.lua_getfield(L, 1, toLuaString(f, true));
    if (!lua.lua_isnumber(L, -1)) lauxlib.luaL_error(L, toLuaString(`field '${f}' missing`));
    v.push(Math.trunc(lua.lua_tonumber(L, -1)));
    lua.lua_pop(L, 1);
  }
  const ms = Date.UTC(v[0]!, v[1]! - 1, v[2]!, v[3]!, v[4]!, v[5]!);
  if (Number.isNaN(ms)) lua.lua_pushnil(L);
  else lua.lua_pushnumber(L, Math.floor(ms / 1000));
  return 1;
}

const CORE_FUNCTIONS: Record<string, JsFn> = {
  pairs: aprIterator,
  set_abort: (L) => {
    needRequest(L).abort = lua.lua_toboolean(L, 1);
    return 0;
  },
  set_status: (L) => {
    const n = Math.trunc(lauxlib.luaL_checknumber(L, 1));
    const rec = needRequest(L);
    if (!(n >= 100 && n <= 599)) lauxlib.luaL_error(L, toLuaString(`invalid status (expected [100,599], got ${n})`));
    rec.status = n;
    return 0;
  },
  set_content_type: (L) => {
    const s = checkString(L, 1);
    needRequest(L).contentType = s;
    return 0;
  },
  add_header: (L) => {
    const name = checkString(L, 1);
    const value = checkString(L, 2);
    const rec = needRequest(L);
    (lua.lua_toboolean(L, 3) ? rec.errHeadersOut : rec.headersOut).add(name, value);
    return 0;
  },
  escape_uri: escaper(escapeUri),
  escape_xml: escaper(escapeXml),
  escape_js: escaper(escapeJs),
  defer: (L) => {
    lauxlib.luaL_checktype(L, 1, lua.LUA_TFUNCTION);
    const rec = recordOf(L);
    const onError = lua.lua_toboolean(L, 2);
    lua.lua_pushvalue(L, 1);
    (onError ? rec.deferredOnError : rec.deferred).push(lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX));
    return 0;
  },
  debug: logger('debug'),
  notice: logger('notice'),
  err: logger('error'),
  stat: (L) => {
    const s = needRequest(L).stat();
    lua.lua_createtable(L, 0, 3);
    lua.lua_pushnumber(L, s.realtime);
    lua.lua_setfield(L, -2, toLuaString('realtime', true));
    lua.lua_pushnumber(L, s.cputime);
    lua.lua_setfield(L, -2, toLuaString('cputime', true));
    lua.lua_pushinteger(L, s.memory);
    lua.lua_setfield(L, -2, toLuaString('memory', true));
    return 1;
  },
  time: coreTime,
  write_template: (L) => writeTemplate(recordOf(L))(L),
};

const CORE = toLuaString('httpd.core', true);
const INPUT = toLuaString('input', true);
const OUTPUT = toLuaString('output', true);

export interface CoreHandles {
  input: (L: LuaState) => void;
  output: (L: LuaState) => void;
}

/**
 * Open `httpd.core` as mod_lwt's Lua 5.1 build registered it: in
 * package.loaded["httpd.core"] and as the field `core` of a global `httpd`.
 */
export function openHttpdCore(L: LuaState, rec: RequestRecord, handles: CoreHandles): void {
  openHttpdCoreShared(L);
  bindHttpdCore(L, rec, handles);
}

/** httpd.core without the request: the same in every state (`input`/`output` are `false` until bound). */
export function openHttpdCoreShared(L: LuaState): void {
  openAprMeta(L);
  lua.lua_createtable(L, 0, 20);
  setFuncs(L, CORE_FUNCTIONS);
  lua.lua_pushboolean(L, false);
  lua.lua_setfield(L, -2, INPUT);
  lua.lua_pushboolean(L, false);
  lua.lua_setfield(L, -2, OUTPUT);

  lauxlib.luaL_getsubtable(L, lua.LUA_REGISTRYINDEX, LOADED_TABLE);
  lua.lua_pushvalue(L, -2);
  lua.lua_setfield(L, -2, CORE);
  lua.lua_pop(L, 1);
  lua.lua_createtable(L, 0, 32);
  lua.lua_pushvalue(L, -2);
  lua.lua_setfield(L, -2, toLuaString('core', true));
  lua.lua_setglobal(L, toLuaString('httpd', true));
  lua.lua_pop(L, 1);
}

/** The request's record and its httpd.input/httpd.output handles, into the httpd.core openHttpdCoreShared made. */
export function bindHttpdCore(L: LuaState, rec: RequestRecord, handles: CoreHandles): void {
  bindState(L).record = rec;
  bindHttpdCoreHandles(L, handles);
}

/** httpd.core's `input` and `output` alone, as bindHttpdCore sets them. */
export function bindHttpdCoreHandles(L: LuaState, handles: CoreHandles): void {
  lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, LOADED_TABLE);
  lua.lua_getfield(L, -1, CORE);
  handles.input(L);
  lua.lua_setfield(L, -2, INPUT);
  handles.output(L);
  lua.lua_setfield(L, -2, OUTPUT);
  lua.lua_pop(L, 2);
}
