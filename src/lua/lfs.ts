/**
 * LuaFileSystem 1.8.0 in TypeScript (WSAPI's loader needs `lfs`, a C module
 * fengari cannot load). Results and messages follow lfs.c 1.8.0 as Debian's
 * lua-filesystem builds it for Lua 5.1. One difference by design: chdir and
 * currentdir work on the state's own working directory (StateContext.cwd),
 * never the process's (mod_lwt.md §6.2: WSAPI's lfs.chdir moved the whole
 * Apache worker; here two requests keep their own directories).
 *
 * lock/unlock are advisory no-ops that succeed when the descriptor allows the
 * lock kind: node has no fcntl, and POSIX record locks never conflict within
 * one process anyway, which is what mod_lwt's threads in one worker saw.
 */

import * as fs from 'node:fs';
import { bindState, stateContext, type StateContext } from './context';
import { lua, lauxlib, FILE_HANDLE, PRELOAD_TABLE, toLuaString, toJsString, pushTables, tablesImage, type LuaState, type LuaString, type TablesImage } from './fengari';
import { getState, type IoState } from './iofile';
import { FileStream, statePath } from './luafile';
import { osError, toOsError } from './oserror';

const DIR_META = toLuaString('directory metatable', true);
const LOCK_META = toLuaString('lock metatable', true);
const FILE_T: LuaString = FILE_HANDLE;

/** The functions are shared by every state; each finds its state's working directory through the state. */
function ctxOf(L: LuaState): StateContext {
  return stateContext(L);
}

function text(b: LuaString): string {
  return toJsString(b);
}

/** lfs's pusherror: nil, "[info: ]strerror", errno. */
function pushError(L: LuaState, e: unknown, info: string | null): number {
  const err = toOsError(e);
  lua.lua_pushnil(L);
  lua.lua_pushstring(L, toLuaString(info === null ? err.message : `${info}: ${err.message}`));
  lua.lua_pushinteger(L, err.errno);
  return 3;
}

/** lfs's pushresult: true, or the error triple. */
function pushResult(L: LuaState, op: () => void): number {
  try {
    op();
  } catch (e) {
    return pushError(L, e, null);
  }
  lua.lua_pushboolean(L, true);
  return 1;
}

function modeName(st: fs.Stats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'link';
  if (st.isSocket()) return 'socket';
  if (st.isFIFO()) return 'named pipe';
  if (st.isCharacterDevice()) return 'char device';
  if (st.isBlockDevice()) return 'block device';
  return 'other';
}

function permString(mode: number): string {
  const bits = 'rwxrwxrwx';
  let out = '';
  for (let i = 0; i < 9; i++) out += mode & (0o400 >> i) ? bits[i] : '-';
  return out;
}

/** lfs.c's members[] in its order (pairs order of the result table is not promised, but fill order is kept). */
const MEMBERS: ReadonlyArray<readonly [string, (st: fs.Stats) => number | string]> = [
  ['mode', modeName],
  ['dev', (st) => st.dev],
  ['ino', (st) => st.ino],
  ['nlink', (st) => st.nlink],
  ['uid', (st) => st.uid],
  ['gid', (st) => st.gid],
  ['rdev', (st) => st.rdev],
  ['access', (st) => Math.floor(st.atimeMs / 1000)],
  ['modification', (st) => Math.floor(st.mtimeMs / 1000)],
  ['change', (st) => Math.floor(st.ctimeMs / 1000)],
  ['size', (st) => st.size],
  ['permissions', (st) => permString(st.mode)],
  ['blocks', (st) => st.blocks],
  ['blksize', (st) => st.blksize],
];
const MEMBER_BY_NAME = new Map(MEMBERS.map(([n, f]) => [n, f]));
const MEMBER_KEYS = MEMBERS.map(([n]) => toLuaString(n));
/** mode and permission strings, encoded once (WSAPI stats the script on every request). */
const encoded = new Map<string, LuaString>();

function pushValue(L: LuaState, v: number | string): void {
  if (typeof v === 'number') {
    lua.lua_pushnumber(L, v);
    return;
  }
  let bytes = encoded.get(v);
  if (bytes === undefined) encoded.set(v, (bytes = toLuaString(v)));
  lua.lua_pushstring(L, bytes);
}

function fileInfo(L: LuaState, statFn: (p: Buffer) => fs.Stats): number {
  const file: LuaString = lauxlib.luaL_checkstring(L, 1);
  let st: fs.Stats;
  try {
    st = statFn(statePath(ctxOf(L), file));
  } catch (e) {
    const err = toOsError(e);
    lua.lua_pushnil(L);
    lua.lua_pushfstring(L, toLuaString("cannot obtain information from file '%s': %s"), file, toLuaString(err.message));
    lua.lua_pushinteger(L, err.errno);
    return 3;
  }
  if (lua.lua_isstring(L, 2)) {
    const member = text(lua.lua_tostring(L, 2));
    const get = MEMBER_BY_NAME.get(member);
    if (get === undefined) return lauxlib.luaL_error(L, toLuaString("invalid attribute name '%s'"), lua.lua_tostring(L, 2));
    pushValue(L, get(st));
    return 1;
  }
  lua.lua_settop(L, 2);
  if (!lua.lua_istable(L, 2)) lua.lua_createtable(L, 0, MEMBERS.length + 1);
  for (let i = 0; i < MEMBERS.length; i++) {
    lua.lua_pushstring(L, MEMBER_KEYS[i]);
    pushValue(L, MEMBERS[i][1](st));
    lua.lua_rawset(L, -3);
  }
  return 1;
}

/** A missing file without the cost of a thrown fs exception (WSAPI probes paths that do not exist). */
function noEntry(): never {
  throw osError('ENOENT');
}

function attributes(L: LuaState): number {
  return fileInfo(L, (p) => fs.statSync(p, { throwIfNoEntry: false }) ?? noEntry());
}

function pushLinkTarget(L: LuaState): boolean {
  const file: LuaString = lauxlib.luaL_checkstring(L, 1);
  lua.lua_pushstring(L, fs.readlinkSync(statePath(ctxOf(L), file), { encoding: 'buffer' }));
  return true;
}

function symlinkattributes(L: LuaState): number {
  if (lua.lua_isstring(L, 2) && text(lua.lua_tostring(L, 2)) === 'target') {
    try {
      pushLinkTarget(L);
      return 1;
    } catch (e) {
      return pushError(L, e, 'could not obtain link target');
    }
  }
  const ret = fileInfo(L, (p) => fs.lstatSync(p, { throwIfNoEntry: false }) ?? noEntry());
  if (ret === 1 && lua.lua_type(L, -1) === lua.LUA_TTABLE) {
    try {
      pushLinkTarget(L);
      lua.lua_setfield(L, -2, toLuaString('target'));
    } catch {
      // Not a link: lfs leaves `target` out.
    }
  }
  return ret;
}

function chdir(L: LuaState): number {
  const p: LuaString = lauxlib.luaL_checkstring(L, 1);
  const ctx = ctxOf(L);
  try {
    // chdir(2) then getcwd(3) yields the physical path: symlinks resolved.
    const real = fs.realpathSync.native(statePath(ctx, p), 'utf8');
    if (!fs.statSync(real).isDirectory()) throw osError('ENOTDIR');
    fs.accessSync(real, fs.constants.X_OK);
    ctx.cwd = real;
  } catch (e) {
    lua.lua_pushnil(L);
    const why = toLuaString(toOsError(e).message);
    lua.lua_pushfstring(L, toLuaString("Unable to change working directory to '%s'\n%s\n"), p, why);
    return 2;
  }
  lua.lua_pushboolean(L, true);
  return 1;
}

function currentdir(L: LuaState): number {
  lua.lua_pushstring(L, toLuaString(ctxOf(L).cwd));
  return 1;
}

interface DirBox {
  entries: Buffer[];
  next: number;
  closed: boolean;
}

function dirIter(L: LuaState): number {
  const d = lauxlib.luaL_checkudata(L, 1, DIR_META) as DirBox;
  lauxlib.luaL_argcheck(L, !d.closed, 1, toLuaString('closed directory'));
  if (d.next < d.entries.length) {
    lua.lua_pushstring(L, d.entries[d.next++]);
    return 1;
  }
  d.closed = true;
  d.entries = [];
  return 0;
}

function dirClose(L: LuaState): number {
  const d = lua.lua_touserdata(L, 1) as DirBox;
  d.closed = true;
  d.entries = [];
  return 0;
}

/** lfs.dir: iterator and directory object (two results under Lua 5.1). readdir's "." and ".." come first; libuv drops them. */
function dir(L: LuaState): number {
  const p: LuaString = lauxlib.luaL_checkstring(L, 1);
  let names: Buffer[];
  try {
    names = fs.readdirSync(statePath(ctxOf(L), p), { encoding: 'buffer' });
  } catch (e) {
    return lauxlib.luaL_error(L, toLuaString('cannot open %s: %s'), p, toLuaString(toOsError(e).message));
  }
  lua.lua_pushcfunction(L, dirIter);
  const d = lua.lua_newuserdata(L, 0) as DirBox;
  d.entries = [Buffer.from('.'), Buffer.from('..'), ...names];
  d.next = 0;
  d.closed = false;
  lauxlib.luaL_setmetatable(L, DIR_META);
  return 2;
}

function mkdir(L: LuaState): number {
  const p: LuaString = lauxlib.luaL_checkstring(L, 1);
  return pushResult(L, () => fs.mkdirSync(statePath(ctxOf(L), p), 0o775));
}

function rmdir(L: LuaState): number {
  const p: LuaString = lauxlib.luaL_checkstring(L, 1);
  return pushResult(L, () => fs.rmdirSync(statePath(ctxOf(L), p)));
}

/** lfs.touch: no times means now; a missing mtime takes atime (lfs.c file_utime). */
function touch(L: LuaState): number {
  const p: LuaString = lauxlib.luaL_checkstring(L, 1);
  let atime: number | Date = new Date();
  let mtime: number | Date = atime;
  if (lua.lua_gettop(L) !== 1) {
    atime = Math.trunc(lauxlib.luaL_optnumber(L, 2, 0));
    mtime = Math.trunc(lauxlib.luaL_optnumber(L, 3, atime));
  }
  return pushResult(L, () => fs.utimesSync(statePath(ctxOf(L), p), atime, mtime));
}

function link(L: LuaState): number {
  const oldPath: LuaString = lauxlib.luaL_checkstring(L, 1);
  const newPath: LuaString = lauxlib.luaL_checkstring(L, 2);
  const ctx = ctxOf(L);
  // A symlink stores its target verbatim; only the new name is resolved.
  if (lua.lua_toboolean(L, 3)) return pushResult(L, () => fs.symlinkSync(Buffer.from(oldPath), statePath(ctx, newPath)));
  return pushResult(L, () => fs.linkSync(statePath(ctx, oldPath), statePath(ctx, newPath)));
}

/** check_file: an open FILE*, else "<fn>: closed file". */
function checkFileArg(L: LuaState, fn: string): FileStream {
  const box = lauxlib.luaL_checkudata(L, 1, FILE_T) as { stream: FileStream };
  if (box.stream.closed) lauxlib.luaL_error(L, toLuaString(`${fn}: closed file`));
  return box.stream;
}

/** fcntl(F_SETLK) needs a descriptor opened for the lock's kind, else EBADF. */
function lockCommon(L: LuaState, stream: FileStream, mode: LuaString, fn: string): number {
  const kind = String.fromCharCode(mode[0] ?? 0);
  if (kind !== 'r' && kind !== 'w' && kind !== 'u') return lauxlib.luaL_error(L, toLuaString(`${fn}: invalid mode`));
  const ok = stream.hasFd && (kind === 'u' || (kind === 'r' ? stream.canRead : stream.canWrite));
  if (ok) {
    lua.lua_pushboolean(L, true);
    return 1;
  }
  lua.lua_pushnil(L);
  lua.lua_pushstring(L, toLuaString(toOsError(osError('EBADF')).message));
  return 2;
}

function lock(L: LuaState): number {
  const stream = checkFileArg(L, 'lock');
  const mode: LuaString = lauxlib.luaL_checkstring(L, 2);
  lauxlib.luaL_optinteger(L, 3, 0);
  lauxlib.luaL_optinteger(L, 4, 0);
  return lockCommon(L, stream, mode, 'lock');
}

function unlock(L: LuaState): number {
  const stream = checkFileArg(L, 'unlock');
  lauxlib.luaL_optinteger(L, 2, 0);
  lauxlib.luaL_optinteger(L, 3, 0);
  return lockCommon(L, stream, toLuaString('u'), 'unlock');
}

interface LockBox {
  file: string | null;
}

function unlockDir(L: LuaState): number {
  const lk = lauxlib.luaL_checkudata(L, 1, LOCK_META) as LockBox;
  releaseDirLock(lk);
  return 0;
}

function releaseDirLock(lk: LockBox): void {
  if (lk.file === null) return;
  try {
    fs.unlinkSync(lk.file);
  } catch {
    // Already gone: nothing to release.
  }
  lk.file = null;
}

/** lfs.lock_dir: a symlink `<dir>/lockfile.lfs` -> "lock"; released by :free() or at the end of the request (fengari runs no __gc). */
function lockDir(L: LuaState): number {
  const p: LuaString = lauxlib.luaL_checkstring(L, 1);
  const file = `${statePath(ctxOf(L), p)}/lockfile.lfs`;
  try {
    fs.symlinkSync('lock', file);
  } catch (e) {
    lua.lua_pushnil(L);
    lua.lua_pushstring(L, toLuaString(toOsError(e).message));
    return 2;
  }
  const lk = lua.lua_newuserdata(L, 0) as LockBox;
  lk.file = file;
  lauxlib.luaL_setmetatable(L, LOCK_META);
  const io: IoState | null = getState(L);
  io?.cleanups.push(() => releaseDirLock(lk));
  return 1;
}

const MODES = [toLuaString('binary'), toLuaString('text')];

function setmode(L: LuaState): number {
  checkFileArg(L, 'setmode');
  lauxlib.luaL_checkoption(L, 2, null, MODES);
  lua.lua_pushboolean(L, true);
  lua.lua_pushliteral(L, 'binary');
  return 2;
}

const fslib: Record<string, (L: LuaState) => number> = {
  attributes,
  chdir,
  currentdir,
  dir,
  link,
  lock,
  mkdir,
  rmdir,
  symlinkattributes,
  setmode,
  touch,
  unlock,
  lock_dir: lockDir,
};

function createMetas(L: LuaState): void {
  lauxlib.luaL_newmetatable(L, DIR_META);
  lua.lua_createtable(L, 0, 2);
  lua.lua_pushcfunction(L, dirIter);
  lua.lua_setfield(L, -2, toLuaString('next', true));
  lua.lua_pushcfunction(L, dirClose);
  lua.lua_setfield(L, -2, toLuaString('close', true));
  lua.lua_setfield(L, -2, toLuaString('__index', true));
  lua.lua_pushcfunction(L, dirClose);
  lua.lua_setfield(L, -2, toLuaString('__gc', true));
  lua.lua_pushcfunction(L, dirClose);
  lua.lua_setfield(L, -2, toLuaString('__close', true));
  lua.lua_pop(L, 1);

  lauxlib.luaL_newmetatable(L, LOCK_META);
  lua.lua_createtable(L, 0, 1);
  lua.lua_pushcfunction(L, unlockDir);
  lua.lua_setfield(L, -2, toLuaString('free', true));
  lua.lua_setfield(L, -2, toLuaString('__index', true));
  lua.lua_pushcfunction(L, unlockDir);
  lua.lua_setfield(L, -2, toLuaString('__gc', true));
  lua.lua_pop(L, 1);
}

const COPYRIGHT = toLuaString('Copyright (C) 2003-2017 Kepler Project', true);
const DESCRIPTION = toLuaString(
  'LuaFileSystem is a Lua library developed to complement the set of functions related to file systems offered by the standard Lua distribution',
  true,
);
const VERSION = toLuaString('LuaFileSystem 1.8.0', true);
const LFS = toLuaString('lfs', true);

/** luaopen_lfs function by function: the module table, also stored in the global `lfs` as lfs.c does. */
function openLfsTables(L: LuaState): number {
  createMetas(L);
  lua.lua_createtable(L, 0, 16);
  lauxlib.luaL_setfuncs(L, fslib, 0);
  lua.lua_pushvalue(L, -1);
  lua.lua_setglobal(L, LFS);
  lua.lua_pushstring(L, COPYRIGHT);
  lua.lua_setfield(L, -2, toLuaString('_COPYRIGHT', true));
  lua.lua_pushstring(L, DESCRIPTION);
  lua.lua_setfield(L, -2, toLuaString('_DESCRIPTION', true));
  lua.lua_pushstring(L, VERSION);
  lua.lua_setfield(L, -2, toLuaString('_VERSION', true));
  return 1;
}

/** The module table and the two metatables as openLfsTables makes them, once per worker (WSAPI requires lfs on every request). */
let lfsImage: TablesImage | null = null;

function lfsTablesImage(): TablesImage {
  if (lfsImage !== null) return lfsImage;
  const T = lauxlib.luaL_newstate();
  openLfsTables(T);
  lua.lua_getfield(T, lua.LUA_REGISTRYINDEX, DIR_META);
  lua.lua_getfield(T, lua.LUA_REGISTRYINDEX, LOCK_META);
  lfsImage = tablesImage(T, 3);
  return lfsImage;
}

/** luaopen_lfs: copies of the template's tables; a second open in one state keeps the existing metatables, as luaL_newmetatable does. */
function luaopenLfs(L: LuaState): number {
  const hasMetas = lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, DIR_META) !== lua.LUA_TNIL
    || lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, LOCK_META) !== lua.LUA_TNIL;
  lua.lua_settop(L, 0);
  if (hasMetas) return openLfsTables(L);
  pushTables(L, lfsTablesImage());
  lua.lua_pushvalue(L, -2);
  lua.lua_setfield(L, lua.LUA_REGISTRYINDEX, DIR_META);
  lua.lua_setfield(L, lua.LUA_REGISTRYINDEX, LOCK_META);
  lua.lua_pop(L, 1);
  lua.lua_pushvalue(L, -1);
  lua.lua_setglobal(L, LFS);
  return 1;
}

/** Register `lfs` in package.preload: `require "lfs"` builds it (and the global) on first use, as the C module did. */
export function openLfs(L: LuaState, ctx: StateContext): void {
  openLfsShared(L);
  bindState(L).ctx = ctx;
}

/** openLfs without binding the state's context (the same in every state). */
export function openLfsShared(L: LuaState): void {
  lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, PRELOAD_TABLE);
  lua.lua_pushcfunction(L, luaopenLfs);
  lua.lua_setfield(L, -2, LFS);
  lua.lua_pop(L, 1);
}
