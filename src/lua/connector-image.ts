/**
 * Loaded-connector images. Every request starts the way mod_lwt's did: a new
 * state, then `require "httpd.wsapi"`, which loads `httpd`, `wsapi.common`,
 * `wsapi` and `lfs` before the script's own code runs (mod_lwt.md §3 step 12).
 * That loading is the same in every request when the modules' top-level code
 * only builds tables and functions: it then depends on nothing but the files
 * the path search looked at. A worker loads the connector once per search
 * path in a template state, watching every function call, and keeps an image
 * of the loaded state; a request copies the image (fengari.ts restoreState)
 * instead of running the modules again.
 *
 * The image is used only while it is exactly what loading would give:
 * - the loading called nothing that reads the outside world or the request
 *   (io, os, lfs, debug, httpd.core, print, collectgarbage, loadfile, dofile,
 *   math.random, the C-module searcher; os.time only holds the image to the
 *   second it read), and finished within half a second;
 * - every file the path search looked at is as it was (the same regular file
 *   by device, inode, size, mtime and ctime, or still no regular file): each
 *   request checks them, as its own search would have;
 * - the loaded state holds nothing a copy cannot have (coroutines, userdata
 *   other than the request's standard files, which are filled per state), and
 *   left the places where a request's standard files go as they were.
 * Otherwise the request loads the connector itself, as before.
 */

import { performance } from 'node:perf_hooks';
import type * as fs from 'node:fs';
import {
  lua, lauxlib, toLuaString, captureState, restoreState, fillHole, popUserdata, UncopyableValue,
  LOADED_TABLE, FILE_HANDLE, type HoleSlots, type LuaState, type StateImage,
} from './fengari';
import { bindIo } from './iolib';
import { bindSandbox } from './sandbox';
import { bindCachedLoaders, regularFile, type ChunkCache } from './chunk-cache';
import { bindHttpdCoreHandles } from './httpd-core';
import { pushStreamFile } from './iolib';
import type { StateContext } from './context';

/** What the path search saw at one file: its identity, or null when it was no regular file. */
interface Observation {
  readonly file: string;
  readonly id: string | null;
}

export interface ConnectorImage {
  /** The loaded state, or null when loading cannot be copied (then `why` says why). */
  readonly image: StateImage | null;
  readonly why: string | null;
  readonly observed: readonly Observation[];
  /** Per hole of the image, the BOUND_PATHS entry where a request's state has its value. */
  readonly holePaths: readonly number[];
  /**
   * Date.now() from which the image no longer holds: the end of the second
   * os.time() read, or when a failure that depends on the moment (the time
   * budget) is tried again. Infinity otherwise.
   */
  readonly expires: number;
}

/**
 * The longest a template may spend loading the connector before the image is
 * given up (half the request CPU limit when that is shorter): the request
 * then loads it itself, within the pool's backstop of CPU limit + 1 s.
 */
const LOAD_BUDGET_MS = 500;
/** When loading overran LOAD_BUDGET_MS, how long before a worker tries again. */
const RETRY_SLOW_MS = 60_000;
/** Images kept per worker: one per distinct working directory, package.path and cpath. */
const MAX_IMAGES = 32;

const CONNECTOR = toLuaString('httpd.wsapi', true);
const IO_INPUT = toLuaString('_IO_input', true);
const IO_OUTPUT = toLuaString('_IO_output', true);
const IO = toLuaString('io', true);
const CORE = toLuaString('httpd.core', true);

/**
 * Where a request's own userdata live, as bindIo and bindHttpdCore put them:
 * paths of raw keys from the registry. The same userdata at two places (the
 * default input file and io.stdin) is one hole.
 */
const BOUND_PATHS: ReadonlyArray<readonly Uint8Array[]> = [
  [IO_INPUT], [IO_OUTPUT],
  [LOADED_TABLE, IO, toLuaString('stdin', true)],
  [LOADED_TABLE, IO, toLuaString('stdout', true)],
  [LOADED_TABLE, IO, toLuaString('stderr', true)],
  [LOADED_TABLE, CORE, toLuaString('input', true)],
  [LOADED_TABLE, CORE, toLuaString('output', true)],
];

/** Push the value at `path` (raw reads from the registry; nil past a non-table); false when a table on the way has a metatable. */
function pushAt(L: LuaState, path: readonly Uint8Array[]): boolean {
  let plain = true;
  lua.lua_pushvalue(L, lua.LUA_REGISTRYINDEX);
  for (const key of path) {
    if (lua.lua_type(L, -1) !== lua.LUA_TTABLE) {
      lua.lua_pop(L, 1);
      lua.lua_pushnil(L);
      return false;
    }
    if (lua.lua_getmetatable(L, -1)) {
      lua.lua_pop(L, 1);
      plain = false;
    }
    lua.lua_pushstring(L, key);
    lua.lua_rawget(L, -2);
    lua.lua_remove(L, -2);
  }
  return plain;
}

function identity(st: fs.Stats | null): string | null {
  return st === null ? null : `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** The JS function behind a function value (light or closure), or null for a Lua function. */
function jsFunctionAt(L: LuaState, idx: number): unknown {
  const v = L.stack[idx < 0 ? L.top + idx : L.ci.funcOff + idx];
  if (v.ttislcf()) return v.value;
  if (v.ttisCclosure()) return v.value.f;
  return null;
}

/** The libraries whose functions all depend on their arguments and the state alone (less two of math's). */
const PURE_LIBRARIES = ['string', 'table', 'math', 'utf8', 'coroutine'];
const IMPURE_IN_PURE_LIBRARIES = new Set(['math.random', 'math.randomseed']);
/** Base functions that depend on their arguments and the state alone. */
const PURE_GLOBALS = [
  'assert', 'error', 'getmetatable', 'setmetatable', 'ipairs', 'pairs', 'next', 'select', 'type', 'tonumber',
  'tostring', 'rawequal', 'rawget', 'rawset', 'rawlen', 'pcall', 'xpcall', 'unpack', 'load', 'loadstring',
  'require', 'module', 'getfenv', 'setfenv', 'newproxy',
];

interface FunctionKinds {
  /** The JS functions a module's top-level code may call: all others read or change the world. */
  readonly pure: Set<unknown>;
  /** Names for messages: `lib.name` for the functions of every global table, `name` for global functions. */
  readonly names: Map<unknown, string>;
}

/**
 * Which library functions a loading may call (an allowlist: anything else,
 * such as io, os, lfs, debug, httpd.core, print or collectgarbage, makes the
 * loading the request's own). `require` and the Lua searcher are pure here
 * because every file the search looks at is observed; package.preload's
 * openers are the sidecar's own modules.
 */
function functionKinds(T: LuaState): FunctionKinds {
  const pure = new Set<unknown>();
  const names = new Map<unknown, string>();
  const eachFunction = (visit: (f: unknown, key: string) => void) => {
    lua.lua_pushnil(T);
    while (lua.lua_next(T, -2)) {
      const f = lua.lua_type(T, -1) === lua.LUA_TFUNCTION ? jsFunctionAt(T, -1) : null;
      if (f !== null && lua.lua_type(T, -2) === lua.LUA_TSTRING) visit(f, lua.lua_tojsstring(T, -2));
      lua.lua_pop(T, 1);
    }
  };
  lua.lua_pushglobaltable(T);
  eachFunction((f, key) => names.set(f, key));
  lua.lua_pushnil(T);
  while (lua.lua_next(T, -2)) {
    if (lua.lua_type(T, -1) === lua.LUA_TTABLE && lua.lua_type(T, -2) === lua.LUA_TSTRING) {
      const lib = lua.lua_tojsstring(T, -2);
      eachFunction((f, key) => {
        if (!names.has(f)) names.set(f, `${lib}.${key}`);
        if (PURE_LIBRARIES.includes(lib) && !IMPURE_IN_PURE_LIBRARIES.has(`${lib}.${key}`)) pure.add(f);
      });
    }
    lua.lua_pop(T, 1);
  }
  for (const name of PURE_GLOBALS) {
    lua.lua_getfield(T, -1, toLuaString(name));
    const f = lua.lua_type(T, -1) === lua.LUA_TFUNCTION ? jsFunctionAt(T, -1) : null;
    if (f !== null) pure.add(f);
    lua.lua_pop(T, 1);
  }
  lua.lua_pop(T, 1);
  pushAt(T, [LOADED_TABLE, CORE]);
  eachFunction((f, key) => names.set(f, `httpd.core.${key}`));
  lua.lua_pop(T, 1);

  lua.lua_getglobal(T, toLuaString('package', true));
  lua.lua_getfield(T, -1, toLuaString('seeall', true));
  pure.add(jsFunctionAt(T, -1));
  lua.lua_pop(T, 1);
  lua.lua_getfield(T, -1, toLuaString('preload', true));
  eachFunction((f) => pure.add(f));
  lua.lua_pop(T, 1);
  lua.lua_getfield(T, -1, toLuaString('searchers', true));
  for (const i of [1, 2]) {
    lua.lua_rawgeti(T, -1, i);
    pure.add(jsFunctionAt(T, -1));
    lua.lua_pop(T, 1);
  }
  // The C-module searcher logs a warning per request when it finds a library.
  lua.lua_rawgeti(T, -1, 3);
  names.set(jsFunctionAt(T, -1), 'the C-module searcher');
  lua.lua_pop(T, 3);
  // The iterators and wrappers pure functions return are JS functions too.
  const returned = 'local a = ipairs({}) return a, string.gmatch("", ""), coroutine.wrap(function () end), utf8.codes("")';
  lauxlib.luaL_loadstring(T, toLuaString(returned));
  lua.lua_call(T, 0, 4);
  for (let i = 1; i <= 4; i++) pure.add(jsFunctionAt(T, -i));
  lua.lua_pop(T, 4);
  pure.delete(null);
  return { pure, names };
}

/** A template state as a request's starts (`prepare`), bound to `ctx` with stand-ins for the request's own files. */
function templateState(prepare: (T: LuaState) => void, ctx: StateContext, cache: ChunkCache): LuaState {
  const T = lauxlib.luaL_newstate();
  prepare(T);
  bindIo(T, ctx, {});
  bindSandbox(T, ctx, {});
  bindCachedLoaders(T, cache, ctx);
  bindHttpdCoreHandles(T, {
    input: (L) => pushStreamFile(L, { read: () => null }),
    output: (L) => pushStreamFile(L, { write: () => undefined }),
  });
  return T;
}

/** The same in every state (shared JS functions): taken once, from a template of its own. */
let kinds: FunctionKinds | null = null;

/**
 * Load the connector in a template state made by `prepare`, and keep the
 * loaded state's image when it can stand for every request's own loading.
 */
export function buildConnectorImage(prepare: (T: LuaState) => void, cwd: string, cache: ChunkCache, cpuLimitMs = Infinity): ConnectorImage {
  const budget = cpuLimitMs > 0 ? Math.min(LOAD_BUDGET_MS, cpuLimitMs / 2) : LOAD_BUDGET_MS;
  const observed: Observation[] = [];
  const ctx: StateContext = {
    cwd,
    log: () => undefined,
    observe: (file, st) => observed.push({ file, id: identity(st) }),
  };
  kinds ??= functionKinds(templateState(prepare, { cwd, log: () => undefined }, cache));
  const { pure, names } = kinds;
  const T = templateState(prepare, ctx, cache);
  const before = BOUND_PATHS.map((p) => (pushAt(T, p), popUserdata(T)));
  // os.time() changes once a second: loading that reads it gives the same state all through that second.
  const second = Math.floor(Date.now() / 1000);
  let readsClock = false;
  const fail = (why: string, expires = Infinity): ConnectorImage => ({ image: null, why, observed, holePaths: [], expires });

  let why = null as string | null;
  const deadline = performance.now() + budget;
  lua.lua_sethook(T, (L: LuaState, ar: { event: number }) => {
    if (ar.event === lua.LUA_HOOKCOUNT) {
      if (performance.now() <= deadline) return;
      why ??= `loading took over ${budget} ms`;
    } else {
      lua.lua_getinfo(L, toLuaString('f', true), ar);
      const f = jsFunctionAt(L, -1);
      lua.lua_pop(L, 1);
      if (f === null || pure.has(f)) return;
      const name = names.get(f) ?? 'a library function';
      if (name === 'os.time') {
        readsClock = true;
        return;
      }
      why ??= `loading calls ${name}`;
    }
    lauxlib.luaL_error(L, toLuaString(why));
  }, lua.LUA_MASKCALL | lua.LUA_MASKCOUNT, 10_000);
  lua.lua_getglobal(T, toLuaString('require', true));
  lua.lua_pushstring(T, CONNECTOR);
  const status = lua.lua_pcall(T, 1, 0, 0);
  lua.lua_sethook(T, null, 0, 0);
  // A module may catch the hook's error with pcall and go on: `why` stays set.
  // A slow machine may be slow for a while: try again in a minute, not on every request.
  if (why !== null) return fail(why, why.startsWith('loading took') ? Date.now() + RETRY_SLOW_MS : Infinity);
  if (status !== lua.LUA_OK) return fail('loading fails');
  if (readsClock && Math.floor(Date.now() / 1000) !== second) return fail('loading read the clock across a second', 0);

  const holes = new Map<unknown, number>();
  const holePaths: number[] = [];
  for (let i = 0; i < BOUND_PATHS.length; i++) {
    const plain = pushAt(T, BOUND_PATHS[i]!);
    const u = popUserdata(T);
    if (!plain || u === null || u !== before[i]) return fail('loading replaces a standard file or its table');
    if (!holes.has(u)) {
      holes.set(u, holes.size);
      holePaths.push(i);
    }
  }
  try {
    return { image: captureState(T, holes), why: null, observed, holePaths, expires: readsClock ? (second + 1) * 1000 : Infinity };
  } catch (err) {
    if (err instanceof UncopyableValue) return fail(`the loaded state holds ${err.message}`);
    throw err;
  }
}

/** Whether the image has not expired and every file its path search looked at is as it was. */
export function stillValid(img: ConnectorImage): boolean {
  if (Date.now() >= img.expires) return false;
  for (const o of img.observed) if (identity(regularFile(o.file)) !== o.id) return false;
  return true;
}

/** After the request's own files are bound: copy them into the holes the image left. */
export function fillBoundHoles(L: LuaState, img: ConnectorImage, slots: HoleSlots): void {
  for (let k = 0; k < img.holePaths.length; k++) {
    pushAt(L, BOUND_PATHS[img.holePaths[k]!]!);
    fillHole(L, slots[k]!);
  }
}

/** A worker's images, by working directory, package.path and cpath. */
export class ConnectorImages {
  private readonly images = new Map<string, ConnectorImage>();

  constructor(private readonly prepare: (T: LuaState, luaPath: string, luaCPath: string) => void) {}

  /** The image for a request's directory and paths, rebuilt when it expired or a file its search looked at changed; a build that cannot be used is logged (debug) to the request's log. */
  get(ctx: StateContext, luaPath: string, luaCPath: string, cache: ChunkCache, cpuLimitMs: number): ConnectorImage {
    const cwd = ctx.cwd;
    const key = `${cwd}\0${luaPath}\0${luaCPath}`;
    let img = this.images.get(key);
    if (img === undefined || !stillValid(img)) {
      img = buildConnectorImage((T) => this.prepare(T, luaPath, luaCPath), cwd, cache, cpuLimitMs);
      if (img.why !== null) ctx.log('debug', `The WSAPI connector is loaded by each request for package.path '${luaPath}': ${img.why}`);
      if (this.images.size >= MAX_IMAGES) this.images.delete(this.images.keys().next().value as string);
      this.images.set(key, img);
    }
    return img;
  }
}
