/**
 * One new fengari state per request, opened in mod_lwt's order (mod_lwt.md §3
 * steps 8-10): standard libraries, then the sidecar's replacements for what
 * fengari lacks or must not expose, then `httpd.core`, then package.path/cpath.
 * The libraries are opened once per worker in a template state and copied
 * into each new state; only what belongs to the request is bound per state.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { lua, lauxlib, lualib, toLuaString, captureState, restoreState, type StateImage } from './fengari';
import { openCompat } from './compat';
import { bindSandbox, installSandboxShared } from './sandbox';
import { bindCachedLoaders, installCachedLoadersShared, type ChunkCache } from './chunk-cache';
import { ConnectorImages, fillBoundHoles, type ConnectorImage } from './connector-image';
import { bindIo, openIoShared, pushStreamFile } from './iolib';
import { openLfsShared } from './lfs';
import { bindHttpdCore, openHttpdCoreShared } from './httpd-core';
import { bindState, stateBindings, type StateContext } from './context';
import type { StreamCallbacks } from './luafile';
import type { LogLevel, LuaJob, RuntimeOptions } from './types';

type LuaState = unknown;

/** Lua 5.1's defaults as Debian's lua5.1 reports them: where a mod_lwt site's libraries live. */
export const DEFAULT_RUNTIME_OPTIONS: RuntimeOptions = Object.freeze({
  defaultPath: './?.lua;/usr/local/share/lua/5.1/?.lua;/usr/local/share/lua/5.1/?/init.lua;'
    + '/usr/local/lib/lua/5.1/?.lua;/usr/local/lib/lua/5.1/?/init.lua;'
    + '/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua',
  defaultCPath: './?.so;/usr/local/lib/lua/5.1/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;'
    + '/usr/lib/lua/5.1/?.so;/usr/local/lib/lua/5.1/loadall.so',
  cpuLimitMs: 30_000,
  chunkCache: true,
  logStatistics: false,
});

/** The Lua side shipped with the sidecar (dist/src/lua → lua/, or src/lua → lua/). */
export const LUA_DIR = [path.resolve(__dirname, '..', '..', '..', 'lua'), path.resolve(__dirname, '..', '..', 'lua')]
  .find((d) => fs.existsSync(path.join(d, 'httpd.lua'))) ?? path.resolve(__dirname, '..', '..', 'lua');

/** An APR table: case-insensitive keys, insertion order, duplicates kept (mod_lwt.md §4.1). */
export class AprTable {
  readonly entries: Array<[string, string]> = [];
  /** entries' keys lower-cased, kept in step: WSAPI looks env keys up many times per request. */
  private readonly lower: string[] = [];

  constructor(init?: Iterable<readonly [string, string]>) {
    if (init) for (const [k, v] of init) this.add(k, v);
  }

  get(key: string): string | undefined {
    const i = this.lower.indexOf(key.toLowerCase());
    return i < 0 ? undefined : this.entries[i]![1];
  }

  /** apr_table_set: the first entry keeps its place and name, later duplicates go. */
  set(key: string, value: string): void {
    const k = key.toLowerCase();
    const i = this.lower.indexOf(k);
    if (i < 0) {
      this.add(key, value);
      return;
    }
    this.entries[i]![1] = value;
    this.remove(k, i + 1);
  }

  unset(key: string): void {
    this.remove(key.toLowerCase(), 0);
  }

  add(key: string, value: string): void {
    this.entries.push([key, value]);
    this.lower.push(key.toLowerCase());
  }

  private remove(k: string, from: number): void {
    for (let j = this.lower.length - 1; j >= from; j--) {
      if (this.lower[j] === k) {
        this.entries.splice(j, 1);
        this.lower.splice(j, 1);
      }
    }
  }
}

/** What mod_lwt kept in request_rec and the Lua registry for one request. */
export class RequestRecord {
  status = 200;
  /** mod_lwt sets text/html before the state exists (mod_lwt.md §2). */
  contentType = 'text/html';
  abort = false;
  registered = false;
  readonly headersIn: AprTable;
  readonly headersOut = new AprTable();
  readonly errHeadersOut = new AprTable();
  /** Registry references of httpd.defer functions (mod_lwt.md §3.3). */
  readonly deferred: number[] = [];
  readonly deferredOnError: number[] = [];
  /** Where response body bytes go; run.ts points it at the sink. */
  output: (chunk: Uint8Array) => void = () => undefined;
  private envTable: AprTable | null = null;
  private readonly startWall = performance.now();
  // process.cpuUsage() costs a getrusage per call: read it only when asked for.
  private readonly startCpu: NodeJS.CpuUsage | null;

  constructor(readonly job: LuaJob, readonly log: (level: LogLevel, message: string) => void, measureCpu = true) {
    this.headersIn = new AprTable(job.request.headersIn);
    this.startCpu = measureCpu ? process.cpuUsage() : null;
  }

  /** request.env: the CGI environment, built on first access as mod_lwt did (mod_lwt.md §7). */
  env(): AprTable {
    this.envTable ??= new AprTable(Object.entries(this.job.env));
    return this.envTable;
  }

  /**
   * realtime/cputime in seconds since the record was made (cputime is the
   * process's, all threads: Node 20 has no per-thread clock; 0 when not
   * measured); memory: fengari has no allocator hook, so 0.
   */
  stat(): { realtime: number; cputime: number; memory: number } {
    const cpu = this.startCpu ? process.cpuUsage(this.startCpu) : { user: 0, system: 0 };
    return {
      realtime: (performance.now() - this.startWall) / 1000,
      cputime: (cpu.user + cpu.system) / 1e6,
      memory: 0,
    };
  }
}

export interface RequestState {
  readonly L: LuaState;
  readonly record: RequestRecord;
  readonly ctx: StateContext;
}

/** mod_lwt.md §1.3: a leading `+` appends to the default; otherwise the value replaces it. */
export function mergeLuaPath(configured: string | null, dflt: string): string {
  if (configured === null) return dflt;
  if (configured.startsWith('+')) return `${dflt};${configured.slice(1)}`;
  return configured;
}

/** package.path/cpath bytes by value: a worker sees few distinct paths, and lua_pushstring copies them. */
const pathBytes = new Map<string, Uint8Array>();

function setPackageField(L: LuaState, field: string, value: string): void {
  let bytes = pathBytes.get(value);
  if (bytes === undefined) {
    if (pathBytes.size >= 64) pathBytes.clear();
    bytes = toLuaString(value);
    pathBytes.set(value, bytes);
  }
  lua.lua_getglobal(L, toLuaString('package', true));
  lua.lua_pushstring(L, bytes);
  lua.lua_setfield(L, -2, toLuaString(field, true));
  lua.lua_pop(L, 1);
}

const SHIPPED: ReadonlyArray<readonly [name: Uint8Array, loader: (L: LuaState) => number]> = [
  ['httpd', 'httpd.lua'], ['httpd.wsapi', path.join('httpd', 'wsapi.lua')],
].map(([name, file]) => {
  const filename = path.join(LUA_DIR, file);
  const modname = toLuaString(name, true);
  // Shared by every state: the state's chunk cache is found through the state.
  const loader = (L: LuaState): number => {
    const cache = stateBindings(L)?.cache;
    if (cache == null) return lauxlib.luaL_error(L, toLuaString('no chunk cache bound to this state', true));
    if (cache.load(L, filename) !== lua.LUA_OK) return lua.lua_error(L);
    lua.lua_pushstring(L, modname);
    lua.lua_call(L, 1, 1);
    return 1;
  };
  return [modname, loader] as const;
});

/**
 * package.preload entries for the sidecar's own `httpd` and `httpd.wsapi`:
 * preload is searched first, so copies of mod_lwt's files on a migrated
 * server's Lua path never shadow them.
 */
function preloadShipped(L: LuaState): void {
  lua.lua_getglobal(L, toLuaString('package', true));
  lua.lua_getfield(L, -1, toLuaString('preload', true));
  for (const [name, loader] of SHIPPED) {
    lua.lua_pushcfunction(L, loader);
    lua.lua_setfield(L, -2, name);
  }
  lua.lua_pop(L, 2);
}

/**
 * fengari's os.date skips the `!` of a strftime format but still formats in
 * local time (loslib.js); C Lua formats `!...` in UTC. httpd.date and WSAPI's
 * cookie expiry dates use it. Shift the time by the zone offset instead.
 */
const osDateUtc = (L: LuaState): number => {
  const nargs = lua.lua_gettop(L);
  const fmt: Uint8Array | null = lua.lua_type(L, 1) === lua.LUA_TSTRING ? lua.lua_tolstring(L, 1) : null;
  lua.lua_pushvalue(L, lua.lua_upvalueindex(1));
  if (fmt !== null && fmt[0] === 0x21 && !(fmt[1] === 0x2a && fmt[2] === 0x74)) {
    const t = lua.lua_isnoneornil(L, 2) ? Math.floor(Date.now() / 1000) : lauxlib.luaL_checknumber(L, 2);
    lua.lua_pushstring(L, fmt.subarray(1));
    lua.lua_pushnumber(L, t + new Date(t * 1000).getTimezoneOffset() * 60);
    lua.lua_call(L, 2, 1);
  } else {
    for (let i = 1; i <= nargs; i++) lua.lua_pushvalue(L, i);
    lua.lua_call(L, nargs, 1);
  }
  return 1;
};

function fixOsDateUtc(L: LuaState): void {
  lua.lua_getglobal(L, toLuaString('os', true));
  lua.lua_getfield(L, -1, toLuaString('date', true));
  lua.lua_pushcclosure(L, osDateUtc, 1);
  lua.lua_setfield(L, -2, toLuaString('date', true));
  lua.lua_pop(L, 1);
}

/**
 * httpd.input over the request body. mod_lwt.md §5.4: with no body to read
 * (ap_should_client_block false) the first read fails with EBADFD.
 */
function bodyReader(job: LuaJob): StreamCallbacks {
  let pos = 0;
  const hasBody = job.body.length > 0 || job.env.CONTENT_LENGTH !== undefined || job.env.HTTP_TRANSFER_ENCODING !== undefined;
  return {
    read: (maxBytes) => {
      if (!hasBody) throw Object.assign(new Error('File descriptor in bad state'), { code: 'EBADFD' });
      if (pos >= job.body.length) return null;
      const chunk = job.body.subarray(pos, pos + maxBytes);
      pos += chunk.length;
      return chunk;
    },
  };
}

/**
 * luaL_openlibs without fengari's two extras: its `io` stub (openIo installs
 * the full library) and its `fengari` version table (no Lua 5.1 global).
 */
const STANDARD_LIBS: ReadonlyArray<readonly [string, string]> = [
  ['_G', 'luaopen_base'], ['package', 'luaopen_package'], ['coroutine', 'luaopen_coroutine'],
  ['table', 'luaopen_table'], ['os', 'luaopen_os'], ['string', 'luaopen_string'],
  ['math', 'luaopen_math'], ['utf8', 'luaopen_utf8'], ['debug', 'luaopen_debug'],
];

function openStandardLibs(L: LuaState): void {
  for (const [name, open] of STANDARD_LIBS) {
    lauxlib.luaL_requiref(L, toLuaString(name, true), lualib[open], 1);
    lua.lua_pop(L, 1);
  }
}

/**
 * Everything a new state has before the request is bound to it, in the order
 * newRequestState used to open it state by state: built once per worker in a
 * template state and copied into each new state (restoreState), which costs
 * allocations only. Every table and closure is the state's own; the library
 * functions are shared JS functions that find the request's context, record,
 * io state and chunk cache through the state (the bind* functions).
 */
let templateImage: StateImage | null = null;

/** The libraries of a request state, opened function by function, with nothing of a request bound: the template's content. */
export function openSharedLibraries(L: LuaState): void {
  openStandardLibs(L);
  openCompat(L);
  openIoShared(L);
  openLfsShared(L);
  installSandboxShared(L);
  installCachedLoadersShared(L);
  fixOsDateUtc(L);
  openHttpdCoreShared(L);
  setPackageField(L, 'path', DEFAULT_RUNTIME_OPTIONS.defaultPath);
  setPackageField(L, 'cpath', DEFAULT_RUNTIME_OPTIONS.defaultCPath);
  preloadShipped(L);
}

function stateTemplate(): StateImage {
  if (templateImage !== null) return templateImage;
  const T = lauxlib.luaL_newstate();
  openSharedLibraries(T);
  templateImage = captureState(T);
  return templateImage;
}

/** The state every request starts from, with its package.path and cpath: what a connector image is loaded in. */
function prepareState(T: LuaState, luaPath: string, luaCPath: string): void {
  restoreState(T, stateTemplate());
  // The template holds the default path and cpath already.
  if (luaPath !== DEFAULT_RUNTIME_OPTIONS.defaultPath) setPackageField(T, 'path', luaPath);
  if (luaCPath !== DEFAULT_RUNTIME_OPTIONS.defaultCPath) setPackageField(T, 'cpath', luaCPath);
}

/** This worker's loaded-connector images (connector-image.ts). */
const connectorImages = new ConnectorImages(prepareState);

/** This worker's loaded-connector image for the job's paths and the state's directory, built or rebuilt as needed. */
export function connectorImageFor(job: LuaJob, ctx: StateContext, opts: RuntimeOptions, cache: ChunkCache): ConnectorImage {
  const luaPath = mergeLuaPath(job.luaPath, opts.defaultPath);
  return connectorImages.get(ctx, luaPath, mergeLuaPath(job.luaCPath, opts.defaultCPath), cache, opts.cpuLimitMs);
}

/**
 * A fresh state for `job`: nothing survives between requests (mod_lwt.md §0).
 * With `withConnector` (and the chunk cache on), the state may come with
 * `require "httpd.wsapi"` already done, copied from this worker's image of
 * that loading when the image is exactly what loading would give
 * (connector-image.ts); the caller requires the connector either way.
 */
export function newRequestState(job: LuaJob, ctx: StateContext, opts: RuntimeOptions, cache: ChunkCache, withConnector = false): RequestState {
  const luaPath = mergeLuaPath(job.luaPath, opts.defaultPath);
  const luaCPath = mergeLuaPath(job.luaCPath, opts.defaultCPath);
  const connector = withConnector && opts.chunkCache ? connectorImages.get(ctx, luaPath, luaCPath, cache, opts.cpuLimitMs) : null;
  const L = lauxlib.luaL_newstate();
  let slots = null;
  if (connector !== null && connector.image !== null) slots = restoreState(L, connector.image);
  else prepareState(L, luaPath, luaCPath);
  // The per-request parts, in mod_lwt's order (mod_lwt.md §3 steps 8-10).
  bindIo(L, ctx, {});
  // os.getenv sees the request's CGI environment, as a CGI process would.
  bindSandbox(L, ctx, job.env);
  bindCachedLoaders(L, cache, ctx);

  const record = new RequestRecord(job, ctx.log, opts.logStatistics !== false);
  bindHttpdCore(L, record, {
    input: (L2) => pushStreamFile(L2, bodyReader(job)),
    output: (L2) => pushStreamFile(L2, { write: (bytes) => record.output(bytes) }),
  });
  if (slots !== null) fillBoundHoles(L, connector!, slots);
  return { L, record, ctx };
}
