/**
 * Compiled-chunk cache shared by all states of a worker (issue 3 §5): a
 * request pays for creating its state, not for compiling WSAPI and the script
 * again. Entries are the compiled prototypes themselves, shared by every state
 * that loads the file: a load is a new closure with fresh upvalues (as
 * lua_load makes), not an undump. Prototypes keep their debug information, so
 * upvalue names survive (module() and setfenv find `_ENV` by name). Keyed by
 * file identity (dev+ino) and the chunk name compiled into them, valid while
 * mtime, ctime and size match, so an edited file is recompiled on its next load.
 * Least recently used chunks go first beyond maxEntries or the heap budget.
 *
 * installCachedLoaders routes `require`'s Lua searcher, `loadfile` and `dofile`
 * through the cache, resolving relative names against the state's own working
 * directory (StateContext.cwd), never the process's.
 */

import * as fs from 'node:fs';
import { lua, lauxlib, toLuaString, toJsString, protoAt, pushProto, type LuaState, type Proto } from './fengari';
import { bindState, resolveScriptPath, stateBindings, type StateContext } from './context';

interface Entry {
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly size: number;
  readonly proto: Proto;
  /** Estimated heap held by the prototype (HEAP_PER_SOURCE_BYTE × source size). */
  readonly weight: number;
}

export interface ChunkCacheOptions {
  /** Most chunks kept; the least recently used goes first. */
  readonly maxEntries?: number;
  /** Estimated heap the kept prototypes may hold (default 32 MiB): the cache lives inside a worker's capped heap. */
  readonly maxBytes?: number;
}

export interface ChunkCacheStats {
  hits: number;
  misses: number;
  entries: number;
  /** Estimated heap held by the kept prototypes. */
  bytes: number;
}

/**
 * fengari's prototypes (instruction objects, constant TValues) take about 22
 * heap bytes per byte of source (measured on WSAPI 1.6.1 and Debian's
 * /usr/share/lua/5.1): a binary image would be ~1.5, but undumping it cost a
 * third of each request.
 */
const HEAP_PER_SOURCE_BYTE = 24;

/** strerror() texts for the errors a loader meets, as C Lua printed them. */
const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
};

function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return STRERROR[code] ?? (err instanceof Error ? err.message : String(err));
}

/** luaL_loadfilex skips a first line starting with '#' (and a UTF-8 BOM), keeping the line count. */
function sourceText(bytes: Uint8Array): Uint8Array {
  let s = bytes;
  if (s.length >= 3 && s[0] === 0xef && s[1] === 0xbb && s[2] === 0xbf) s = s.subarray(3);
  if (s[0] === 35 /* # */) {
    let i = 0;
    while (i < s.length && s[i] !== 10) i++;
    s = s.subarray(i);
  }
  return s;
}

export class ChunkCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  readonly stats: ChunkCacheStats = { hits: 0, misses: 0, entries: 0, bytes: 0 };

  constructor(options: ChunkCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 2000;
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
  }

  /**
   * lua_load of `filename` (absolute, or relative to the process cwd) with
   * `chunkname` (default `@filename`). Pushes the function and returns
   * LUA_OK, or pushes the message and returns LUA_ERRSYNTAX / LUA_ERRFILE,
   * as luaL_loadfilex does. `known` is a stat of `filename` just taken by the
   * caller (the path search), saving a second one.
   */
  load(L: LuaState, filename: string, chunkname?: string, known?: fs.Stats): number {
    const name = chunkname ?? '@' + filename;
    let st: fs.Stats;
    try {
      st = known ?? fs.statSync(filename);
    } catch (err) {
      return this.fileError(L, 'open', name, err);
    }
    const key = `${st.dev}:${st.ino}:${name}`;
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.mtimeMs === st.mtimeMs && hit.ctimeMs === st.ctimeMs && hit.size === st.size) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.stats.hits++;
      pushProto(L, hit.proto);
      return lua.LUA_OK;
    }
    let bytes: Uint8Array;
    try {
      if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      bytes = fs.readFileSync(filename);
    } catch (err) {
      return this.fileError(L, 'read', name, err);
    }
    this.stats.misses++;
    const status = lauxlib.luaL_loadbufferx(L, sourceText(bytes), 0, toLuaString(name), null);
    if (status !== lua.LUA_OK) return status;
    this.remove(key);
    const weight = bytes.length * HEAP_PER_SOURCE_BYTE;
    this.entries.set(key, { mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, size: st.size, proto: protoAt(L, -1), weight });
    this.stats.bytes += weight;
    // The newest entry stays even when it alone is over the budget: the next request needs it.
    while (this.entries.size > 1 && (this.entries.size > this.maxEntries || this.stats.bytes > this.maxBytes)) {
      this.remove(this.entries.keys().next().value as string);
    }
    this.stats.entries = this.entries.size;
    return status;
  }

  clear(): void {
    this.entries.clear();
    this.stats.entries = 0;
    this.stats.bytes = 0;
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.entries.delete(key);
    this.stats.bytes -= e.weight;
  }

  private fileError(L: LuaState, what: string, chunkname: string, err: unknown): number {
    const shown = chunkname.startsWith('@') || chunkname.startsWith('=') ? chunkname.slice(1) : chunkname;
    lua.lua_pushstring(L, toLuaString(`cannot ${what} ${shown}: ${strerror(err)}`));
    return lua.LUA_ERRFILE;
  }
}

/** The file's stats when it is a regular file, else null. */
export function regularFile(p: string): fs.Stats | null {
  try {
    // Most candidates on a search path do not exist: no exception built for them.
    const st = fs.statSync(p, { throwIfNoEntry: false });
    return st !== undefined && st.isFile() ? st : null;
  } catch {
    return null;
  }
}

/** A package.path split into templates, each split at its `?`s: the same few paths come back on every request. */
const TEMPLATES = new Map<string, ReadonlyArray<readonly string[]>>();
const TEMPLATES_MAX = 64;

function templatesOf(path: string): ReadonlyArray<readonly string[]> {
  let t = TEMPLATES.get(path);
  if (t === undefined) {
    t = path.split(';').filter((s) => s !== '').map((s) => s.split('?'));
    if (TEMPLATES.size >= TEMPLATES_MAX) TEMPLATES.clear();
    TEMPLATES.set(path, t);
  }
  return t;
}

/**
 * package.searchpath over a `;`-separated template list, with relative
 * templates (`./?.lua`) resolved against the state's cwd. Returns the file
 * (with its stats) or the "\n\tno file '...'" list that require reports.
 */
export function searchPath(ctx: StateContext, name: string, path: string): { file: string | null; tried: string; stats?: fs.Stats } {
  const base = name.includes('.') ? name.replace(/\./g, '/') : name;
  const templates = templatesOf(path);
  const candidates: string[] = [];
  for (const parts of templates) {
    const candidate = parts.length === 1 ? parts[0]! : parts.join(base);
    const file = resolveScriptPath(ctx, candidate);
    const stats = regularFile(file);
    if (ctx.observe !== undefined) ctx.observe(file, stats);
    if (stats !== null) return { file: candidate, tried: candidates.map((c) => `\n\tno file '${c}'`).join(''), stats };
    candidates.push(candidate);
  }
  return { file: null, tried: candidates.map((c) => `\n\tno file '${c}'`).join('') };
}

/** package.path as text, decoded once per Lua string (a state's default path is the template's own). */
const fieldText = new WeakMap<Uint8Array, string>();

function packageField(L: LuaState, field: string): string | null {
  lua.lua_getglobal(L, toLuaString('package', true));
  let v: string | null = null;
  if (lua.lua_type(L, -1) === lua.LUA_TTABLE) {
    if (lua.lua_getfield(L, -1, toLuaString(field, true)) === lua.LUA_TSTRING) {
      const bytes: Uint8Array = lua.lua_tolstring(L, -1);
      v = fieldText.get(bytes) ?? null;
      if (v === null) {
        v = toJsString(bytes);
        fieldText.set(bytes, v);
      }
    }
    lua.lua_pop(L, 1);
  }
  lua.lua_pop(L, 1);
  return v;
}

/** The cache and context of L's state: a state is always bound before its loaders run. */
function loaderBindings(L: LuaState): { cache: ChunkCache; ctx: StateContext } {
  const b = stateBindings(L);
  if (b == null || b.cache == null || b.ctx == null) throw new Error('no chunk cache bound to this Lua state');
  return { cache: b.cache, ctx: b.ctx };
}

function loadAt(L: LuaState, file: string, known?: fs.Stats): number {
  const { cache, ctx } = loaderBindings(L);
  return cache.load(L, resolveScriptPath(ctx, file), '@' + file, known);
}

/*
 * require's Lua searcher, loadfile and dofile are shared by every state (a
 * new state copies them from the template, and a module that keeps them in
 * upvalues keeps working in a copied state) and find the state's chunk cache
 * and working directory through the state.
 */

const searcherLua = (L: LuaState): number => {
  const name = toJsString(lauxlib.luaL_checkstring(L, 1));
  const path = packageField(L, 'path');
  if (path === null) return lauxlib.luaL_error(L, toLuaString("'package.path' must be a string"));
  const found = searchPath(loaderBindings(L).ctx, name, path);
  if (found.file === null) {
    lua.lua_pushstring(L, toLuaString(found.tried));
    return 1;
  }
  if (loadAt(L, found.file, found.stats) !== lua.LUA_OK) {
    const msg = toJsString(lua.lua_tolstring(L, -1));
    return lauxlib.luaL_error(L, toLuaString(`error loading module '${name}' from file '${found.file}':\n\t${msg}`));
  }
  lua.lua_pushstring(L, toLuaString(found.file));
  return 2;
};

const loadfile = (L: LuaState): number => {
  const file = lauxlib.luaL_optstring(L, 1, null);
  if (file === null) return lauxlib.luaL_error(L, toLuaString('loadfile from stdin is not available in the sidecar'));
  const envIdx = lua.lua_isnone(L, 3) ? 0 : 3;
  if (loadAt(L, toJsString(file)) !== lua.LUA_OK) {
    lua.lua_pushnil(L);
    lua.lua_insert(L, -2);
    return 2;
  }
  if (envIdx !== 0) {
    lua.lua_pushvalue(L, envIdx);
    if (!lua.lua_setupvalue(L, -2, 1)) lua.lua_pop(L, 1);
  }
  return 1;
};

const dofile = (L: LuaState): number => {
  const file = lauxlib.luaL_optstring(L, 1, null);
  if (file === null) return lauxlib.luaL_error(L, toLuaString('dofile from stdin is not available in the sidecar'));
  lua.lua_settop(L, 1);
  if (loadAt(L, toJsString(file)) !== lua.LUA_OK) return lua.lua_error(L);
  lua.lua_callk(L, 0, lua.LUA_MULTRET, 0, (L2: LuaState) => lua.lua_gettop(L2) - 1);
  return lua.lua_gettop(L) - 1;
};

/** require's Lua-file searcher, loadfile and dofile through the state's chunk cache and cwd (bindCachedLoaders). */
export function installCachedLoadersShared(L: LuaState): void {
  lua.lua_pushcfunction(L, loadfile);
  lua.lua_setglobal(L, toLuaString('loadfile', true));
  lua.lua_pushcfunction(L, dofile);
  lua.lua_setglobal(L, toLuaString('dofile', true));
  lua.lua_getglobal(L, toLuaString('package', true));
  lua.lua_getfield(L, -1, toLuaString('searchers', true));
  lua.lua_pushcfunction(L, searcherLua);
  lua.lua_rawseti(L, -2, 2);
  lua.lua_pop(L, 2);
}

/** The chunk cache and working directory the state's loaders use. */
export function bindCachedLoaders(L: LuaState, cache: ChunkCache, ctx: StateContext): void {
  const b = bindState(L);
  b.cache = cache;
  b.ctx = ctx;
}

/** Install require's Lua-file searcher, loadfile and dofile, all through `cache` and `ctx.cwd`. */
export function installCachedLoaders(L: LuaState, cache: ChunkCache, ctx: StateContext): void {
  installCachedLoadersShared(L);
  bindCachedLoaders(L, cache, ctx);
}
