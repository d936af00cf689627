/**
 * The one place that loads fengari. fengari has no TypeScript types, so its
 * namespaces are `any` here and helpers used everywhere get real signatures.
 * The dependency is patched at install time (scripts/patch-fengari.js,
 * docs/fengari-patch.md) so numbers are Lua 5.1 doubles and compiled
 * prototypes can be shared between states; `assertPatched` refuses to run on
 * an unpatched copy rather than print `5.0` for 10/2. The Proto and table
 * helpers below reach fengari's internals for the per-request cost of a state.
 */

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-var-requires */
const fengari: any = require('fengari');

export const lua: any = fengari.lua;
export const lauxlib: any = fengari.lauxlib;
export const lualib: any = fengari.lualib;
// The same module instances fengari uses internally (no `exports` map in its package.json).
const lobject: any = require('fengari/src/lobject.js');
const lfunc: any = require('fengari/src/lfunc.js');
const ltable: any = require('fengari/src/ltable.js');
const LUA_TLNGSTR = lua.LUA_TSTRING | (1 << 4);

/** A Lua string as fengari stores it: bytes. */
export type LuaString = Uint8Array;
/** An opaque lua_State. */
export type LuaState = any;

/** JS string to Lua bytes (UTF-8). `cache` interns constant strings. */
export const toLuaString: (s: string, cache?: boolean) => LuaString = fengari.to_luastring;
/** Registry keys as interned strings: lua_getfield makes a new Lua string for a key that is not. */
export const LOADED_TABLE: LuaString = toLuaString('_LOADED', true);
export const PRELOAD_TABLE: LuaString = toLuaString('_PRELOAD', true);
export const FILE_HANDLE: LuaString = toLuaString('FILE*', true);
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

/**
 * A compiled function prototype (fengari's Proto): the bytecode, constants and
 * debug information of a chunk and its nested functions, with no reference to
 * the state that compiled it. Nothing mutates it at run time once the patch
 * has removed the closure cache (docs/fengari-patch.md), so one Proto can back
 * closures in any number of states.
 */
export type Proto = { readonly __brand: 'Proto' };

/** The Proto of the Lua function on top of the stack (as lua_load leaves it). */
export function protoAt(L: LuaState, idx: number): Proto {
  const o = L.stack[idx < 0 ? L.top + idx : L.ci.funcOff + idx];
  if (o === undefined || !o.ttisLclosure()) throw new Error('protoAt: not a Lua function');
  return o.value.p as Proto;
}

/**
 * Push a new closure of `p` as lua_load does after undumping: fresh upvalues
 * of this state, the first one (the chunk's `_ENV`) set to its globals.
 */
export function pushProto(L: LuaState, p: Proto): void {
  const proto = p as any;
  const cl = new lobject.LClosure(L, proto.upvalues.length);
  cl.p = proto;
  lfunc.luaF_initupvals(L, cl);
  if (cl.nupvalues >= 1) cl.upvals[0].setfrom(ltable.luaH_getint(L.l_G.l_registry.value, lua.LUA_RIDX_GLOBALS));
  lua.lua_pushnil(L);
  L.stack[L.top - 1].setclLvalue(cl);
}

/**
 * Compile Lua source once (in a scratch state) for pushProto into any state:
 * for code the sidecar itself runs in every state, where undumping a binary
 * image or parsing text per state would cost more than the closure.
 */
export function compileProto(source: string, chunkname: string): Proto {
  const T = lauxlib.luaL_newstate();
  if (lauxlib.luaL_loadbufferx(T, toLuaString(source), 0, toLuaString(chunkname), toLuaString('t', true)) !== lua.LUA_OK) {
    throw new Error(`${chunkname}: ${toJsString(lua.lua_tolstring(T, -1))}`);
  }
  return protoAt(T, -1);
}

/*
 * Images of tables: every table reachable from some roots in a template state,
 * flattened once per worker, so that a new state gets its own copy by
 * allocation alone, with no C API calls. Values are shared where nothing in
 * them belongs to a state (numbers, strings, booleans, light JS functions,
 * light userdata); tables, C closures and Lua closures are fresh per state,
 * so a script that changes `string.format` changes only its own. Lua closures
 * share their compiled prototype (fengari.ts Proto) and get fresh upvalue
 * cells, two closures that shared a cell in the template sharing one in the
 * copy. Each table keeps the template's iteration order, metatables included.
 * Full userdata cannot be copied: the few a template holds for a request
 * (its standard files) are "holes", filled per state (fillHoles).
 */

const enum Ref { Value, Table, Closure, Thread, LuaClosure, Hole }

interface ValueShape {
  readonly ref: Ref;
  readonly type: number;
  /** The value itself (Ref.Value) or the index of its table, closure or hole. */
  readonly value: unknown;
}

interface EntryShape extends ValueShape {
  /** The key under which fengari's table Map holds the entry (table_hash of the key), for a Ref.Value key. */
  readonly hash: unknown;
  readonly keyRef: Ref;
  readonly keyType: number;
  readonly key: unknown;
}

export interface TablesImage {
  readonly tables: ReadonlyArray<{ readonly entries: readonly EntryShape[]; readonly meta: number }>;
  readonly closures: ReadonlyArray<{ readonly f: unknown; readonly upvalues: readonly ValueShape[] }>;
  /** Lua closures: the shared prototype and the indices of their upvalue cells. */
  readonly luaClosures: ReadonlyArray<{ readonly p: unknown; readonly cells: readonly number[] }>;
  readonly cells: readonly ValueShape[];
  /** How many holes (full userdata given to the capture) the image has. */
  readonly holes: number;
  /** How many tables, from the first, are the roots (given to buildTables or pushed by pushTables). */
  readonly roots: number;
}

export interface StateImage extends TablesImage {
  /** lua_setmetatable for non-table types (the string metatable): table index or -1, per type tag. */
  readonly typeMetas: readonly number[];
}

/** A value captureTables cannot copy: the image cannot be made. */
export class UncopyableValue extends Error {}

/**
 * The image of `roots` and everything reachable from them in T, a state built
 * only for this: it must hold no threads other than T itself, and no full
 * userdata other than the `holes` (each numbered). `skip` leaves entries out
 * (of the registry: its own slots).
 */
function captureTables(
  T: LuaState, roots: unknown[], skip: (table: number, hash: unknown) => boolean,
  extra: unknown[] = [], holes: ReadonlyMap<unknown, number> = new Map(),
) {
  const tableIndex = new Map<unknown, number>(roots.map((t, i) => [t, i]));
  const order: unknown[] = [...roots];
  const closureIndex = new Map<unknown, number>();
  const closures: Array<{ f: unknown; upvalues: ValueShape[] }> = [];
  const luaClosureIndex = new Map<unknown, number>();
  const luaClosures: Array<{ p: unknown; cells: number[] }> = [];
  const cellIndex = new Map<unknown, number>();
  const cells: ValueShape[] = [];

  const tableRef = (t: unknown): number => {
    let i = tableIndex.get(t);
    if (i === undefined) {
      i = order.length;
      tableIndex.set(t, i);
      order.push(t);
    }
    return i;
  };
  const cellRef = (tv: any, where: string): number => {
    let i = cellIndex.get(tv);
    if (i === undefined) {
      i = cells.length;
      cellIndex.set(tv, i);
      cells.push({ ref: Ref.Value, type: lua.LUA_TNIL, value: null });
      cells[i] = valueRef(tv, where);
    }
    return i;
  };
  const valueRef = (v: any, where: string): ValueShape => {
    if (v.ttistable()) return { ref: Ref.Table, type: v.type, value: tableRef(v.value) };
    if (v.ttisthread() && v.value === T) return { ref: Ref.Thread, type: v.type, value: null };
    if (v.ttisLclosure()) {
      let i = luaClosureIndex.get(v.value);
      if (i === undefined) {
        i = luaClosures.length;
        luaClosureIndex.set(v.value, i);
        const shape = { p: v.value.p, cells: [] as number[] };
        luaClosures.push(shape);
        shape.cells = v.value.upvals.map((u: unknown) => cellRef(u, `${where} (upvalue)`));
      }
      return { ref: Ref.LuaClosure, type: v.type, value: i };
    }
    if (v.ttisclosure()) {
      let i = closureIndex.get(v.value);
      if (i === undefined) {
        i = closures.length;
        closureIndex.set(v.value, i);
        const shape = { f: v.value.f, upvalues: [] as ValueShape[] };
        closures.push(shape);
        shape.upvalues = v.value.upvalue.map((u: unknown) => valueRef(u, `${where} (upvalue)`));
      }
      return { ref: Ref.Closure, type: v.type, value: i };
    }
    if (v.ttisnil() || v.ttisnumber() || v.ttisstring() || v.ttisboolean() || v.ttislightuserdata() || v.ttislcf()) {
      return { ref: Ref.Value, type: v.type, value: v.value };
    }
    const hole = v.ttisfulluserdata() ? holes.get(v.value) : undefined;
    if (hole !== undefined) return { ref: Ref.Hole, type: v.type, value: hole };
    throw new UncopyableValue(`a state-bound value (type ${v.type}) at ${where}`);
  };

  const extraRefs = extra.map((t) => (t == null ? -1 : tableRef(t)));
  const tables: Array<{ entries: EntryShape[]; meta: number }> = [];
  for (let i = 0; i < order.length; i++) {
    const t: any = order[i];
    const entries: EntryShape[] = [];
    for (const [hash, e] of t.strong as Map<unknown, { key: any; value: any }>) {
      if (skip(i, hash)) continue;
      const k = valueRef(e.key, `a key of table ${i}`);
      if (k.ref === Ref.Thread || k.ref === Ref.Hole) throw new UncopyableValue(`a state-bound key (type ${k.type}) in table ${i}`);
      const v = valueRef(e.value, `table ${i}`);
      entries.push({ hash, keyRef: k.ref, keyType: k.type, key: k.value, ref: v.ref, type: v.type, value: v.value });
    }
    tables.push({ entries, meta: t.metatable === null ? -1 : tableRef(t.metatable) });
  }
  return { image: { tables, closures, luaClosures, cells, holes: holes.size, roots: roots.length }, extraRefs };
}

/** The cells of a copied state where its holes go: fill them with fillHoles. */
export type HoleSlots = ReadonlyArray<ReadonlyArray<{ setfrom(v: unknown): void }>>;

/** New tables and closures in L for `image`; the roots are `given` when given (filled, not replaced). */
function buildTables(L: LuaState, image: TablesImage, given: unknown[] | null): { made: any[]; holes: HoleSlots } {
  const TValue = lobject.TValue;
  const made: any[] = new Array(image.tables.length);
  for (let i = 0; i < made.length; i++) made[i] = given !== null && i < given.length ? given[i] : ltable.luaH_new(L);
  const cls: any[] = new Array(image.closures.length);
  for (let i = 0; i < cls.length; i++) cls[i] = new lobject.CClosure(L, image.closures[i]!.f, image.closures[i]!.upvalues.length);
  const cells: any[] = new Array(image.cells.length);
  for (let i = 0; i < cells.length; i++) cells[i] = new TValue(lua.LUA_TNIL, null);
  const lcls: any[] = new Array(image.luaClosures.length);
  for (let i = 0; i < lcls.length; i++) {
    const shape = image.luaClosures[i]!;
    const cl = new lobject.LClosure(L, shape.cells.length);
    cl.p = shape.p;
    for (let u = 0; u < shape.cells.length; u++) cl.upvals[u] = cells[shape.cells[u]!];
    lcls[i] = cl;
  }
  const holes: Array<Array<{ setfrom(v: unknown): void }>> = [];
  for (let i = 0; i < image.holes; i++) holes.push([]);

  const valueOf = (ref: Ref, value: unknown): unknown =>
    ref === Ref.Value ? value : ref === Ref.Table ? made[value as number] : ref === Ref.Closure ? cls[value as number]
      : ref === Ref.LuaClosure ? lcls[value as number] : ref === Ref.Thread ? L : null;
  // A hole reads `false` until filled, as a template's unbound standard files do.
  const valueCell = (shape: ValueShape): any => {
    if (shape.ref !== Ref.Hole) return new TValue(shape.type, valueOf(shape.ref, shape.value));
    const tv = new TValue(lua.LUA_TBOOLEAN, false);
    holes[shape.value as number]!.push(tv);
    return tv;
  };

  for (let i = 0; i < cls.length; i++) {
    const ups = image.closures[i]!.upvalues;
    for (let u = 0; u < ups.length; u++) cls[i].upvalue[u] = valueCell(ups[u]!);
  }
  for (let i = 0; i < cells.length; i++) {
    const shape = image.cells[i]!;
    if (shape.ref === Ref.Hole) {
      holes[shape.value as number]!.push(cells[i]);
    } else {
      cells[i].type = shape.type;
      cells[i].value = valueOf(shape.ref, shape.value);
    }
  }
  for (let i = 0; i < made.length; i++) {
    const t = made[i];
    const { entries, meta } = image.tables[i]!;
    const strong: Map<unknown, unknown> = t.strong;
    // ltable.js `add`, for keys the table does not hold yet: entries in a doubly linked list in insertion order.
    let prev = t.l;
    for (let j = 0; j < entries.length; j++) {
      const e = entries[j]!;
      // A table or function key is its own hash (ltable.js table_hash): the state's copy.
      const key = e.keyRef === Ref.Value ? e.key : valueOf(e.keyRef, e.key);
      const entry = {
        key: new TValue(e.keyType, key),
        value: e.ref === Ref.Value ? new TValue(e.type, e.value) : valueCell(e),
        p: prev,
        n: undefined,
      };
      if (prev) prev.n = entry;
      else t.f = entry;
      strong.set(e.keyRef === Ref.Value ? e.hash : key, entry);
      prev = entry;
    }
    t.l = prev;
    // Metamethods may now be present: drop the "absent" cache.
    t.flags = 0;
    if (meta >= 0) t.metatable = made[meta];
  }
  return { made, holes };
}

/** The image of the `n` tables on top of T's stack (and all they reach), for pushTables. */
export function tablesImage(T: LuaState, n: number): TablesImage {
  const roots: unknown[] = [];
  for (let i = n; i >= 1; i--) {
    const v = T.stack[T.top - i];
    if (!v.ttistable()) throw new Error('tablesImage: not a table');
    roots.push(v.value);
  }
  return captureTables(T, roots, () => false).image;
}

/** Push new copies of the image's root tables, in the order they were on the template's stack. */
export function pushTables(L: LuaState, image: TablesImage): void {
  const { made } = buildTables(L, image, null);
  for (let i = 0; i < image.roots; i++) {
    lua.lua_pushnil(L);
    L.stack[L.top - 1].sethvalue(made[i]);
  }
}

/**
 * The image of a whole template state: its registry, globals and per-type
 * metatables. `holes` are full userdata the copy gets from elsewhere, each
 * numbered (restoreState hands back where each one goes).
 */
export function captureState(T: LuaState, holes?: ReadonlyMap<unknown, number>): StateImage {
  const registry = T.l_G.l_registry.value;
  const globals = ltable.luaH_getint(registry, lua.LUA_RIDX_GLOBALS).value;
  // A new state's registry already holds its main thread and globals.
  const skip = (table: number, hash: unknown) => table === 0 && (hash === lua.LUA_RIDX_MAINTHREAD || hash === lua.LUA_RIDX_GLOBALS);
  const { image, extraRefs } = captureTables(T, [registry, globals], skip, Array.from(T.l_G.mt as unknown[]), holes);
  return { ...image, typeMetas: extraRefs };
}

/** Give L, fresh from luaL_newstate, its own copy of everything in `image`; returns where the image's holes go. */
export function restoreState(L: LuaState, image: StateImage): HoleSlots {
  const registry = L.l_G.l_registry.value;
  const { made, holes } = buildTables(L, image, [registry, ltable.luaH_getint(registry, lua.LUA_RIDX_GLOBALS).value]);
  const mt = L.l_G.mt;
  for (let i = 0; i < image.typeMetas.length; i++) if (image.typeMetas[i]! >= 0) mt[i] = made[image.typeMetas[i]!];
  return holes;
}

/** Put the value on top of L's stack (and pop it) into every slot of one hole. */
export function fillHole(L: LuaState, slots: ReadonlyArray<{ setfrom(v: unknown): void }>): void {
  const v = L.stack[L.top - 1];
  for (let i = 0; i < slots.length; i++) slots[i]!.setfrom(v);
  lua.lua_pop(L, 1);
}

/** The full userdata on top of L's stack (popped), or null when it is something else. */
export function popUserdata(L: LuaState): unknown {
  const v = L.stack[L.top - 1];
  const u = v.ttisfulluserdata() ? v.value : null;
  lua.lua_pop(L, 1);
  return u;
}

/** Throws when node_modules/fengari was installed without the postinstall patch. */
export function assertPatched(): void {
  const L = lauxlib.luaL_newstate();
  lua.lua_pushnumber(L, 5);
  const s = toJsString(lua.lua_tolstring(L, -1));
  lua.lua_pushinteger(L, 1);
  const isInt = lua.lua_isinteger(L, -1);
  // Two closures of one prototype with the same (no) upvalues: Lua 5.3's cache makes them one object.
  lauxlib.luaL_loadstring(L, toLuaString('local t = {} for i = 1, 2 do t[i] = function() end end return t[1] ~= t[2]'));
  lua.lua_call(L, 0, 1);
  const freshClosures = lua.lua_toboolean(L, -1);
  // Unpadded hex string keys made these two one string.
  lauxlib.luaL_loadstring(L, toLuaString('return "\\1\\35" ~= "\\18\\3"'));
  lua.lua_call(L, 0, 1);
  const distinctKeys = lua.lua_toboolean(L, -1);
  if (s !== '5' || isInt || !freshClosures || !distinctKeys) {
    throw new Error('fengari is not patched (Lua 5.1 numbers, no closure cache, byte string keys): run `node scripts/patch-fengari.js` (npm postinstall)');
  }
}

// Checked once, when the runtime first loads: a wrong install stops the sidecar at startup, not mid-request.
assertPatched();

/** Read a Lua string argument/value at `idx` as a JS string (UTF-8, lossy), or null. */
export function luaToString(L: LuaState, idx: number): string | null {
  const s = lua.lua_tolstring(L, idx);
  return s === null || s === undefined ? null : toJsString(s);
}

const lstring: any = require('fengari/src/lstring.js');

/**
 * Push a binary JS string (one char per byte) as those bytes, building the
 * Lua string in place: lua_pushstring would copy the bytes a second time.
 */
export function pushBinary(L: LuaState, s: string): void {
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  L.stack[L.top++] = new lobject.TValue(LUA_TLNGSTR, lstring.luaS_bless(L, bytes));
}

/** Push a JS string as UTF-8 bytes. */
export function pushString(L: LuaState, s: string): void {
  lua.lua_pushstring(L, toLuaString(s));
}
