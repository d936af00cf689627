/**
 * Lua's io library for fengari, over node:fs with the state's own working
 * directory (issue 3 item 4): fengari 0.1.5 ships a stub without io.open,
 * io.read, io.lines or file:read/lines/seek/setvbuf. Behaviour and messages
 * follow C Lua 5.1's liolib (the oracle for mod_lwt scripts), with Lua 5.3's
 * additions (formats without '*', "L", io.lines formats, write returning the file).
 * The standard files never reach the sidecar's own stdio (mod_lwt.md §5.4):
 * stdout goes to a caller's sink or the log at debug level, stderr to the error log.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StateContext } from './context';
import { FileStream, statePath, type StreamCallbacks } from './luafile';
import { osError, toOsError } from './oserror';
import {
  addFileMethods,
  auxClose,
  auxLines,
  writeArgs,
  checkFile,
  fileResult,
  flushResult,
  newFile,
  pushFileResultOk,
  readFormats,
  getState,
  setState,
  type IoState,
} from './iofile';
import { lua, lauxlib, FILE_HANDLE, LOADED_TABLE, toLuaString as to_luastring, type LuaState } from './fengari';

export type { StreamCallbacks, BufferMode } from './luafile';
export { closeIo, pushStreamFile, writeStdout } from './iofile';

export interface IoOptions {
  /** Receives io.stdout / io.write bytes; default: the log at debug level, one message per line. */
  stdout?: (bytes: Uint8Array) => void;
  /** What io.stdin / io.read read; default: nothing. */
  stdin?: Uint8Array;
}

const IO_INPUT = to_luastring('_IO_input', true);
const IO_OUTPUT = to_luastring('_IO_output', true);
const IO = to_luastring('io', true);
const STD_NAMES = [to_luastring('stdin', true), to_luastring('stdout', true), to_luastring('stderr', true)] as const;

/** Replace the state's `io` (global and package.loaded) with the full library. */
export function openIo(L: LuaState, ctx: StateContext, opts: IoOptions = {}): void {
  openIoShared(L);
  bindIo(L, ctx, opts);
}

/**
 * The part of openIo that is the same in every state: the FILE* metatable, the
 * `io` table and os.remove/os.rename, with `false` where bindIo puts the
 * state's own standard files (so a state copied from a template keeps the
 * fields in openIo's order).
 */
export function openIoShared(L: LuaState): void {
  setState(L, null);
  addFileMethods(L);

  lua.lua_createtable(L, 0, 16);
  lauxlib.luaL_setfuncs(L, iolib, 0);
  for (const [i, name] of STD_NAMES.entries()) {
    const regKey = i === 0 ? IO_INPUT : i === 1 ? IO_OUTPUT : null;
    if (regKey !== null) {
      lua.lua_pushboolean(L, false);
      lua.lua_setfield(L, lua.LUA_REGISTRYINDEX, regKey);
    }
    lua.lua_pushboolean(L, false);
    lua.lua_setfield(L, -2, name);
  }
  lua.lua_pushvalue(L, -1);
  lua.lua_setglobal(L, IO);
  lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, LOADED_TABLE);
  lua.lua_pushvalue(L, -2);
  lua.lua_setfield(L, -2, IO);
  lua.lua_pop(L, 2);
  openOsFiles(L);
}

/** The per-state part of openIo: the io state and the standard files, into the `io` table openIoShared made. */
export function bindIo(L: LuaState, ctx: StateContext, opts: IoOptions = {}): void {
  const state: IoState = { ctx, open: new Set(), cleanups: [], stdout: null };
  setState(L, state);
  lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, LOADED_TABLE);
  lua.lua_getfield(L, -1, IO);
  const stdin = opts.stdin ?? new Uint8Array(0);
  let stdinDone = false;
  pushStd(L, state, { read: () => (stdinDone ? null : ((stdinDone = true), stdin)) }, IO_INPUT, 0);
  const out = opts.stdout ?? lineLogger(state, 'debug');
  pushStd(L, state, { write: out }, IO_OUTPUT, 1);
  pushStd(L, state, { write: lineLogger(state, 'error') }, null, 2);
  lua.lua_pop(L, 2);
}

/**
 * os.remove and os.rename name files too: fengari's act on the process's
 * directory and word errors as libuv does, so they get the state's directory
 * and C Lua 5.1's results here (nil, "name: strerror", errno).
 */
function openOsFiles(L: LuaState): void {
  if (lua.lua_getglobal(L, to_luastring('os', true)) !== lua.LUA_TTABLE) {
    lua.lua_pop(L, 1);
    return;
  }
  lauxlib.luaL_setfuncs(L, oslib, 0);
  lua.lua_pop(L, 1);
}

const oslib: Record<string, (L: LuaState) => number> = {
  // C remove(3): unlink, and rmdir when the name is a directory.
  remove: (L) => {
    const name: Uint8Array = lauxlib.luaL_checkstring(L, 1);
    try {
      const file = statePath(upState(L).ctx, name);
      try {
        fs.unlinkSync(file);
      } catch (e) {
        if ((e as { code?: string }).code !== 'EISDIR') throw e;
        fs.rmdirSync(file);
      }
    } catch (e) {
      return fileResult(L, e, name);
    }
    return pushFileResultOk(L);
  },
  rename: (L) => {
    const from: Uint8Array = lauxlib.luaL_checkstring(L, 1);
    const to: Uint8Array = lauxlib.luaL_checkstring(L, 2);
    try {
      const ctx = upState(L).ctx;
      fs.renameSync(statePath(ctx, from), statePath(ctx, to));
    } catch (e) {
      return fileResult(L, e, from);
    }
    return pushFileResultOk(L);
  },
};

function pushStd(L: LuaState, state: IoState, cb: StreamCallbacks, regKey: Uint8Array | null, which: number): void {
  const stream = FileStream.fromCallbacks(cb);
  stream.noClose = true;
  if (which === 1) state.stdout = stream;
  newFile(L, state, stream);
  if (regKey !== null) {
    lua.lua_pushvalue(L, -1);
    lua.lua_setfield(L, lua.LUA_REGISTRYINDEX, regKey);
  }
  lua.lua_setfield(L, -2, STD_NAMES[which]);
}

const NO_BYTES = Buffer.alloc(0);

/** Under Apache a worker's stdout/stderr were not the response; the error log took stderr line by line. */
function lineLogger(state: IoState, level: 'debug' | 'error'): (bytes: Uint8Array) => void {
  // Bytes are kept until a newline so a UTF-8 sequence split across writes stays whole.
  let partial = NO_BYTES;
  state.cleanups.push(() => {
    if (partial.length > 0) state.ctx.log(level, partial.toString('utf8'));
    partial = NO_BYTES;
  });
  return (bytes) => {
    let data = Buffer.concat([partial, bytes]);
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10)) {
      state.ctx.log(level, data.subarray(0, nl).toString('utf8'));
      data = data.subarray(nl + 1);
    }
    partial = Buffer.from(data);
  };
}

/** The io state of L: the functions are shared by every state and find theirs through its registry. */
function upState(L: LuaState): IoState {
  const state = getState(L);
  if (state === null) throw new Error('the io library is not bound to this Lua state');
  return state;
}

/** fopen(3)'s mode rules as glibc applies them: r/w/a first, then '+' and glibc's 'x' (O_EXCL) among the next characters, others ignored. */
function openStream(ctx: StateContext, name: Uint8Array, mode: string): FileStream {
  const kind = mode[0];
  if (kind !== 'r' && kind !== 'w' && kind !== 'a') throw osError('EINVAL');
  const rest = mode.slice(1, 7);
  const plus = rest.includes('+');
  const excl = kind !== 'r' && rest.includes('x') ? 'x' : '';
  const fd = fs.openSync(statePath(ctx, name), `${kind}${excl}${plus ? '+' : ''}`, 0o666);
  return FileStream.fromFd({
    fd,
    readable: kind === 'r' || plus,
    writable: kind !== 'r' || plus,
    append: kind === 'a',
  });
}

/** Open for io.input/io.output/io.lines; failing is C Lua's fileerror, an argument error "name: strerror". */
function openOrArgError(L: LuaState, name: Uint8Array, mode: string): FileStream {
  try {
    return openStream(upState(L).ctx, name, mode);
  } catch (e) {
    const msg = Buffer.concat([name, Buffer.from(`: ${toOsError(e).message}`)]);
    return lauxlib.luaL_argerror(L, 1, msg) as never;
  }
}

function io_open(L: LuaState): number {
  const state = upState(L);
  const name: Uint8Array = lauxlib.luaL_checkstring(L, 1);
  const mode = Buffer.from(lauxlib.luaL_optstring(L, 2, to_luastring('r'))).toString('latin1');
  let stream: FileStream;
  try {
    stream = openStream(state.ctx, name, mode);
  } catch (e) {
    return fileResult(L, e, name);
  }
  newFile(L, state, stream);
  return 1;
}

function getIoFile(L: LuaState, key: Uint8Array): FileStream {
  lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, key);
  const box = lua.lua_touserdata(L, -1) as { stream: FileStream };
  if (box.stream.closed) {
    lauxlib.luaL_error(L, to_luastring('standard %s file is closed'), key.subarray(4));
  }
  return box.stream;
}

function g_iofile(L: LuaState, key: Uint8Array, mode: string): number {
  if (!lua.lua_isnoneornil(L, 1)) {
    const name: Uint8Array | null = lua.lua_tostring(L, 1);
    if (name !== null) {
      newFile(L, upState(L), openOrArgError(L, name, mode));
    } else {
      checkFile(L, 1);
      lua.lua_pushvalue(L, 1);
    }
    lua.lua_setfield(L, lua.LUA_REGISTRYINDEX, key);
  }
  lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, key);
  return 1;
}

function io_lines(L: LuaState): number {
  if (lua.lua_isnoneornil(L, 1)) {
    if (lua.lua_gettop(L) === 0) lua.lua_pushnil(L);
    lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, IO_INPUT);
    lua.lua_replace(L, 1);
    checkFile(L, 1);
    return auxLines(L, false);
  }
  const name: Uint8Array = lauxlib.luaL_checkstring(L, 1);
  newFile(L, upState(L), openOrArgError(L, name, 'r'));
  lua.lua_replace(L, 1);
  return auxLines(L, true);
}

function io_read(L: LuaState): number {
  return readFormats(L, getIoFile(L, IO_INPUT), 1);
}

function io_write(L: LuaState): number {
  return writeArgs(L, getIoFile(L, IO_OUTPUT), 1);
}

function io_close(L: LuaState): number {
  if (lua.lua_isnone(L, 1)) lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, IO_OUTPUT);
  checkFile(L, 1);
  return auxClose(L);
}

function io_flush(L: LuaState): number {
  return flushResult(L, getIoFile(L, IO_OUTPUT));
}

function io_type(L: LuaState): number {
  lauxlib.luaL_checkany(L, 1);
  const box = lauxlib.luaL_testudata(L, 1, FILE_HANDLE) as { stream: FileStream } | null;
  if (box === null) lua.lua_pushnil(L);
  else lua.lua_pushliteral(L, box.stream.closed ? 'closed file' : 'file');
  return 1;
}

/** tmpfile(3): an anonymous read-write file, unlinked at once. */
function io_tmpfile(L: LuaState): number {
  const state = upState(L);
  let stream: FileStream;
  try {
    const name = path.join(os.tmpdir(), `lua_${process.pid}_${Math.random().toString(36).slice(2)}`);
    const fd = fs.openSync(name, 'wx+', 0o600);
    fs.unlinkSync(name);
    stream = FileStream.fromFd({ fd, readable: true, writable: true, append: false });
  } catch (e) {
    return fileResult(L, e, null);
  }
  newFile(L, state, stream);
  return 1;
}

function io_popen(L: LuaState): number {
  lauxlib.luaL_checkstring(L, 1);
  lua.lua_pushnil(L);
  lua.lua_pushliteral(L, "'popen' not supported: the sidecar runs no shell commands");
  lua.lua_pushinteger(L, 38);
  return 3;
}

const iolib: Record<string, (L: LuaState) => number> = {
  close: io_close,
  flush: io_flush,
  input: (L) => g_iofile(L, IO_INPUT, 'r'),
  lines: io_lines,
  open: io_open,
  output: (L) => g_iofile(L, IO_OUTPUT, 'w'),
  popen: io_popen,
  read: io_read,
  tmpfile: io_tmpfile,
  type: io_type,
  write: io_write,
};
