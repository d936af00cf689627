/**
 * The Lua side of a file handle: the `FILE*` userdata and its methods
 * (read with every 5.1 and 5.3 format, lines, write, seek, setvbuf, flush,
 * close), shared by the io library and by httpd.input/httpd.output, which
 * mod_lwt also made real FILE* handles (mod_lwt.md §5.4).
 *
 * fengari never runs __gc, so a state's open files are tracked: closeIo()
 * closes them when the request ends, and a FinalizationRegistry closes the
 * descriptor of a handle a script dropped before that.
 */

import type { StateContext } from './context';
import { lua, lauxlib, FILE_HANDLE, toLuaString as to_luastring, type LuaState } from './fengari';
import { FileStream, type BufferMode, type StreamCallbacks } from './luafile';
import { toOsError } from './oserror';
import { scanNumber } from './scan-number';

export interface IoState {
  readonly ctx: StateContext;
  /** Handles not yet closed (fengari runs no __gc; closeIo() ends them). */
  readonly open: Set<FileStream>;
  /** End-of-request work: flush the line-buffered log sinks, release lfs.lock_dir locks. */
  readonly cleanups: Array<() => void>;
  /** The state's C stdout (io.stdout as created), where print writes whatever io.output() is. */
  stdout: FileStream | null;
}

interface FileBox {
  stream: FileStream;
  id: number;
}

const STATE_KEY = to_luastring('lwt.io.state', true);
const TOO_MANY = to_luastring('too many arguments', true);
const FILE_T: Uint8Array = FILE_HANDLE;

const finalizer = new FinalizationRegistry<FileStream>((stream) => {
  try {
    stream.close();
  } catch {
    // Nobody is left to report a failed flush of an abandoned handle to.
  }
});
let nextId = 0;

/** Record the io state of L (null: a placeholder, `false`, until the state's own is bound). */
export function setState(L: LuaState, state: IoState | null): void {
  if (state === null) lua.lua_pushboolean(L, false);
  else lua.lua_pushlightuserdata(L, state);
  lua.lua_setfield(L, lua.LUA_REGISTRYINDEX, STATE_KEY);
}

/** The io state of L, or null before openIo. */
export function getState(L: LuaState): IoState | null {
  lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, STATE_KEY);
  const s = lua.lua_touserdata(L, -1) as IoState | null;
  lua.lua_pop(L, 1);
  return s;
}

/** Push a new FILE* userdata over a stream. */
export function newFile(L: LuaState, state: IoState, stream: FileStream): void {
  const box = lua.lua_newuserdata(L, 0) as FileBox;
  box.stream = stream;
  box.id = ++nextId;
  lauxlib.luaL_setmetatable(L, FILE_T);
  state.open.add(stream);
  if (stream.hasFd) finalizer.register(box, stream, stream);
}

/**
 * Push a FILE* handle backed by JS callbacks (httpd.input over the request
 * body, httpd.output to the response sink). Unbuffered unless a mode is
 * given. openIo must have run on this state.
 */
export function pushStreamFile(L: LuaState, cb: StreamCallbacks, mode: BufferMode = 'no'): void {
  const state = getState(L);
  if (state === null) throw new Error('pushStreamFile: openIo has not run on this state');
  newFile(L, state, FileStream.fromCallbacks(cb, mode));
}

/**
 * What C Lua's print does with its text: fputs to stdout, the same stream
 * io.stdout buffers, so print and io.write output interleave as under C.
 * Returns false when openIo has not run on this state.
 */
export function writeStdout(L: LuaState, bytes: Uint8Array): boolean {
  const stdout = getState(L)?.stdout;
  if (stdout === undefined || stdout === null || stdout.closed) return false;
  stdout.write(bytes);
  return true;
}

/** End of request: flush and close every handle the script left open, flush the log sinks. Idempotent. */
export function closeIo(L: LuaState): void {
  const state = getState(L);
  if (state === null) return;
  for (const stream of state.open) {
    finalizer.unregister(stream);
    try {
      if (stream.noClose) stream.flush();
      else stream.close();
    } catch (e) {
      state.ctx.log('error', `closing a Lua file at the end of the request: ${toOsError(e).message}`);
    }
  }
  state.open.clear();
  for (const done of state.cleanups.splice(0)) done();
}

function toBox(L: LuaState): FileBox {
  return lauxlib.luaL_checkudata(L, 1, FILE_T) as FileBox;
}

/** The open stream of the FILE* at idx; Lua's "attempt to use a closed file" otherwise. */
export function checkFile(L: LuaState, idx: number): FileStream {
  const box = lauxlib.luaL_checkudata(L, idx, FILE_T) as FileBox;
  if (box.stream.closed) lauxlib.luaL_error(L, to_luastring('attempt to use a closed file'));
  return box.stream;
}

/** luaL_fileresult for a failure: nil, "[name: ]strerror", errno. */
export function fileResult(L: LuaState, e: unknown, name: Uint8Array | null): number {
  const err = toOsError(e);
  lua.lua_pushnil(L);
  if (name === null) lua.lua_pushstring(L, to_luastring(err.message));
  else lua.lua_pushfstring(L, to_luastring('%s: %s'), name, to_luastring(err.message));
  lua.lua_pushinteger(L, err.errno);
  return 3;
}

export function pushFileResultOk(L: LuaState): number {
  lua.lua_pushboolean(L, true);
  return 1;
}

/** fflush(3) as f:flush and io.flush report it: true, or nil, msg, errno. */
export function flushResult(L: LuaState, stream: FileStream): number {
  try {
    stream.flush();
  } catch (e) {
    return fileResult(L, e, null);
  }
  return pushFileResultOk(L);
}

/** g_read: formats from stack index `first` on; the file's results, or nil, msg, errno on an I/O error. */
export function readFormats(L: LuaState, s: FileStream, first: number): number {
  let nargs = lua.lua_gettop(L) - 1;
  let failure: unknown = null;
  let n = first;
  let success = true;
  try {
    if (nargs === 0) {
      success = pushBytes(L, s.readLine(false));
      n = first + 1;
    } else {
      lauxlib.luaL_checkstack(L, nargs + 20, TOO_MANY);
      for (; nargs-- > 0 && success; n++) {
        if (lua.lua_type(L, n) === lua.LUA_TNUMBER) {
          const count = Math.trunc(lua.lua_tonumber(L, n));
          success = count <= 0 ? pushEofTest(L, s) : pushBytes(L, s.readChars(count));
          continue;
        }
        // Lua 5.1 wants '*' and says "invalid option" without it; 5.3's bare letters are accepted too.
        const p: Uint8Array | null = lua.lua_type(L, n) === lua.LUA_TSTRING ? lua.lua_tostring(L, n) : null;
        const star = p !== null && p[0] === 42; /* '*' */
        const f = p === null ? -1 : star ? p[1] : p[0];
        switch (f) {
          case 110 /* n */: {
            const num = scanNumber(s);
            if (num === null) lua.lua_pushnil(L);
            else lua.lua_pushnumber(L, num);
            success = num !== null;
            break;
          }
          case 108 /* l */:
            success = pushBytes(L, s.readLine(false));
            break;
          case 76 /* L */:
            success = pushBytes(L, s.readLine(true));
            break;
          case 97 /* a */:
            lua.lua_pushstring(L, s.readAll());
            break;
          default:
            return lauxlib.luaL_argerror(L, n, to_luastring(star ? 'invalid format' : 'invalid option'));
        }
      }
    }
  } catch (e) {
    if (!isOsError(e)) throw e;
    failure = e;
  }
  if (failure !== null) return fileResult(L, failure, null);
  if (!success) {
    lua.lua_pop(L, 1);
    lua.lua_pushnil(L);
  }
  return n - first;
}

/** Only errors from fs or stream callbacks become `nil, msg, errno`; Lua errors keep propagating. */
function isOsError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string';
}

function pushBytes(L: LuaState, b: Uint8Array | null): boolean {
  if (b === null) {
    lua.lua_pushnil(L);
    return false;
  }
  lua.lua_pushstring(L, b);
  return true;
}

function pushEofTest(L: LuaState, s: FileStream): boolean {
  if (s.atEof()) {
    lua.lua_pushnil(L);
    return false;
  }
  lua.lua_pushliteral(L, '');
  return true;
}

/** Close the FILE* at index 1 (already checked open); standard files refuse, as io_noclose does. */
export function auxClose(L: LuaState): number {
  const box = toBox(L);
  if (box.stream.noClose) {
    lua.lua_pushnil(L);
    lua.lua_pushliteral(L, 'cannot close standard file');
    return 2;
  }
  finalizer.unregister(box.stream);
  getState(L)?.open.delete(box.stream);
  try {
    box.stream.close();
  } catch (e) {
    return fileResult(L, e, null);
  }
  return pushFileResultOk(L);
}

const MAXARGLINE = 250;

/** file:lines / io.lines iterator: upvalues file, format count, close-at-EOF, formats (Lua 5.3 aux_lines). */
export function auxLines(L: LuaState, toClose: boolean): number {
  const n = lua.lua_gettop(L) - 1;
  lauxlib.luaL_argcheck(L, n <= MAXARGLINE, MAXARGLINE + 2, TOO_MANY);
  lua.lua_pushvalue(L, 1);
  lua.lua_pushinteger(L, n);
  lua.lua_pushboolean(L, toClose);
  lua.lua_rotate(L, 2, 3);
  lua.lua_pushcclosure(L, readLineIter, 3 + n);
  return 1;
}

function readLineIter(L: LuaState): number {
  const box = lua.lua_touserdata(L, lua.lua_upvalueindex(1)) as FileBox;
  const n: number = lua.lua_tointeger(L, lua.lua_upvalueindex(2));
  if (box.stream.closed) return lauxlib.luaL_error(L, to_luastring('file is already closed'));
  lua.lua_settop(L, 1);
  if (n > 0) lauxlib.luaL_checkstack(L, n, TOO_MANY);
  for (let i = 1; i <= n; i++) lua.lua_pushvalue(L, lua.lua_upvalueindex(3 + i));
  const got = readFormats(L, box.stream, 2);
  if (lua.lua_toboolean(L, -got)) return got;
  if (got > 1) return lauxlib.luaL_error(L, to_luastring('%s'), lua.lua_tostring(L, -got + 1));
  if (lua.lua_toboolean(L, lua.lua_upvalueindex(3))) {
    lua.lua_settop(L, 0);
    lua.lua_pushvalue(L, lua.lua_upvalueindex(1));
    auxClose(L);
  }
  return 0;
}

function f_write(L: LuaState): number {
  const stream = checkFile(L, 1);
  lua.lua_pushvalue(L, 1);
  return writeArgs(L, stream, 2);
}

/** g_write: strings and numbers (numbers as tostring gives them); returns the file on top of the stack. */
export function writeArgs(L: LuaState, stream: FileStream, first: number): number {
  const top = lua.lua_gettop(L);
  let failure: unknown = null;
  for (let arg = first; arg < top; arg++) {
    const s: Uint8Array = lauxlib.luaL_checklstring(L, arg);
    if (failure !== null) continue;
    try {
      stream.write(s);
    } catch (e) {
      if (!isOsError(e)) throw e;
      failure = e;
    }
  }
  return failure === null ? 1 : fileResult(L, failure, null);
}

const SEEK_MODES = ['set', 'cur', 'end'] as const;
const SEEK_NAMES = SEEK_MODES.map((m) => to_luastring(m));
const VBUF_MODES: BufferMode[] = ['no', 'full', 'line'];
const VBUF_NAMES = VBUF_MODES.map((m) => to_luastring(m));
const CUR = to_luastring('cur');

function f_seek(L: LuaState): number {
  const stream = checkFile(L, 1);
  const whence = SEEK_MODES[lauxlib.luaL_checkoption(L, 2, CUR, SEEK_NAMES) as number];
  const offset = Math.trunc(lauxlib.luaL_optnumber(L, 3, 0));
  let pos: number;
  try {
    pos = stream.seek(whence, offset);
  } catch (e) {
    return fileResult(L, e, null);
  }
  lua.lua_pushnumber(L, pos);
  return 1;
}

function f_setvbuf(L: LuaState): number {
  const stream = checkFile(L, 1);
  const mode = VBUF_MODES[lauxlib.luaL_checkoption(L, 2, null, VBUF_NAMES) as number];
  const size = Math.trunc(lauxlib.luaL_optnumber(L, 3, 8192));
  try {
    stream.setvbuf(mode, size);
  } catch (e) {
    return fileResult(L, e, null);
  }
  return pushFileResultOk(L);
}

function f_flush(L: LuaState): number {
  return flushResult(L, checkFile(L, 1));
}

function f_gc(L: LuaState): number {
  const box = toBox(L);
  if (!box.stream.closed && !box.stream.noClose) auxClose(L);
  return 0;
}

function f_tostring(L: LuaState): number {
  const box = toBox(L);
  if (box.stream.closed) lua.lua_pushliteral(L, 'file (closed)');
  else lua.lua_pushliteral(L, `file (0x${(0x55a0c0de0000 + box.id * 0x230).toString(16)})`);
  return 1;
}

const flib: Record<string, (L: LuaState) => number> = {
  close: (L) => {
    checkFile(L, 1);
    return auxClose(L);
  },
  flush: f_flush,
  lines: (L) => {
    checkFile(L, 1);
    return auxLines(L, false);
  },
  read: (L) => readFormats(L, checkFile(L, 1), 2),
  seek: f_seek,
  setvbuf: f_setvbuf,
  write: f_write,
  __gc: f_gc,
  __tostring: f_tostring,
};

/** (Re)build the FILE* metatable: fengari's openlibs made one with its stub methods. */
export function addFileMethods(L: LuaState): void {
  lauxlib.luaL_newmetatable(L, FILE_T);
  lua.lua_pushvalue(L, -1);
  lua.lua_setfield(L, -2, to_luastring('__index'));
  lauxlib.luaL_setfuncs(L, flib, 0);
  lua.lua_pop(L, 1);
}
