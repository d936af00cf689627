/**
 * mod_lwt's template engine, `httpd.core.write_template` (mod_lwt.md §9).
 * A template is parsed once into mod_lwt's flat node list (raw text,
 * substitutions, and if/for/set/include nodes joined by jump indices) and
 * rendered by calling back into Lua for each expression. Parsed templates are
 * kept per worker, keyed by file identity and flags and valid while mtime,
 * ctime and size match; expressions travel as lua_dump images and are loaded
 * into a state once, on first use.
 */

import * as fs from 'node:fs';
import { lua, lauxlib, toLuaString, bytesToBinary, binaryToBytes, type LuaState } from './fengari';
import { checkFile, getState } from './iofile';
import { statePath } from './luafile';
import { sandboxStop } from './sandbox';
import type { StateContext } from './context';
import { escapeJs, escapeUri, escapeXml } from './escape';

/** mod_lwt's flag bits (template.c): letters p x u j n e; others are ignored. */
export const F_PARSE = 1;
export const F_XML = 2;
export const F_URI = 4;
export const F_JS = 8;
export const F_NONIL = 256;
export const F_NOERR = 512;
const FLAG_LETTERS: Record<number, number> = { 0x70: F_PARSE, 0x78: F_XML, 0x75: F_URI, 0x6a: F_JS, 0x6e: F_NONIL, 0x65: F_NOERR };
const DEFAULT_FLAGS = toLuaString('px');
const MAX_DEPTH = 8;

export function parseFlags(s: Uint8Array): number {
  let v = 0;
  for (const c of s) v |= FLAG_LETTERS[c] ?? 0;
  return v;
}

/** An expression compiled as `return <expr>`, chunk-named by its own text as luaL_loadbuffer was called. */
interface Expr {
  readonly id: number;
  readonly name: Uint8Array;
  readonly image: Uint8Array;
}

const enum T { Raw, Sub, Jump, If, ForInit, ForNext, Set, Include }

type Node =
  | { t: T.Raw; bytes: Uint8Array }
  | { t: T.Sub; expr: Expr; flags: number }
  | { t: T.Jump; next: number }
  | { t: T.If; expr: Expr; next: number }
  | { t: T.ForInit; expr: Expr }
  | { t: T.ForNext; names: Uint8Array[]; next: number }
  | { t: T.Set; names: Uint8Array[]; expr: Expr }
  | { t: T.Include; expr: Expr; flags: Uint8Array | null };

export interface Template {
  readonly nodes: readonly Node[];
}

/** A message for `Error parsing/rendering template: …`, as a binary string (one char per byte). */
export class TemplateError extends Error {}

type IfBlock = { t: T.If; start: number; last: number; count: number };
type ForBlock = { t: T.ForNext; start: number };

let nextExprId = 1;
const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);

/** unescape_xml: only &quot; &lt; &gt; &amp;, one pass. */
function unescapeXml(s: Uint8Array): Uint8Array {
  if (s.indexOf(38) < 0) return s;
  const text = bytesToBinary(s).replace(/&(quot|lt|gt|amp);/g, (_, e: string) => ({ quot: '"', lt: '<', gt: '>', amp: '&' })[e]!);
  return binaryToBytes(text);
}

function lineAt(buf: Uint8Array, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < buf.length; i++) {
    if (buf[i] === 10) line++;
    else if (buf[i] === 13) {
      line++;
      if (buf[i + 1] === 10) i++;
    }
  }
  return line;
}

/** parse_template and the element processors of template.c, position for position (error lines depend on it). */
class Parser {
  private pos = 0;
  private begin = 0;
  private readonly nodes: Node[] = [];
  private readonly blocks: Array<IfBlock | ForBlock> = [];
  private readonly buf: Uint8Array;

  constructor(private readonly L: LuaState, private readonly filename: string, file: Uint8Array, private readonly flags: number) {
    // mod_lwt parsed a C string: parsing ends at the first NUL.
    const nul = file.indexOf(0);
    this.buf = (flags & F_PARSE) !== 0 && nul >= 0 ? file.subarray(0, nul) : file;
  }

  parse(): Template {
    const b = this.buf;
    if ((this.flags & F_PARSE) === 0) {
      this.pos = b.length;
      this.raw();
      return { nodes: this.nodes };
    }
    while (this.pos < b.length) {
      const c = b[this.pos];
      if (c === 0x3c /* < */ && ((this.at(1) === 0x6c && this.at(2) === 0x3a) || (this.at(1) === 0x2f && this.at(2) === 0x6c && this.at(3) === 0x3a))) {
        this.raw();
        this.element();
        this.begin = this.pos;
      } else if (c === 0x24 /* $ */ && (this.at(1) === 0x7b || this.at(1) === 0x5b)) {
        this.raw();
        this.sub();
        this.begin = this.pos;
      } else if (c === 0x24 && this.at(1) === 0x24) {
        this.pos++;
        this.raw();
        this.pos++;
        this.begin = this.pos;
      } else {
        this.pos++;
      }
    }
    this.raw();
    if (this.blocks.length > 0) this.fail(`${this.blocks.length} open elements at end of template`);
    return { nodes: this.nodes };
  }

  private at(off: number): number {
    return this.buf[this.pos + off] ?? 0;
  }

  private fail(msg: string): never {
    throw new TemplateError(`${this.filename}, line ${lineAt(this.buf, this.pos)}: ${msg}`);
  }

  private raw(): void {
    if (this.pos !== this.begin) this.nodes.push({ t: T.Raw, bytes: this.buf.subarray(this.begin, this.pos) });
  }

  private skipSpace(): void {
    while (isSpace(this.at(0))) this.pos++;
  }

  private compile(exp: Uint8Array): Expr {
    const L = this.L;
    const chunk = new Uint8Array(7 + exp.length);
    chunk.set(toLuaString('return '), 0);
    chunk.set(exp, 7);
    if (lauxlib.luaL_loadbuffer(L, chunk, chunk.length, exp) !== lua.LUA_OK) {
      const msg = bytesToBinary(lua.lua_tolstring(L, -1) ?? toLuaString('?'));
      lua.lua_pop(L, 1);
      this.fail(msg);
    }
    const parts: Uint8Array[] = [];
    lua.lua_dump(L, (_L: LuaState, b: Uint8Array, size: number) => {
      parts.push(b.slice(0, size));
      return 0;
    }, null, 0);
    lua.lua_pop(L, 1);
    return { id: nextExprId++, name: exp, image: new Uint8Array(Buffer.concat(parts)) };
  }

  private element(): void {
    this.pos++;
    const open = this.at(0) !== 0x2f;
    let close = !open;
    this.pos += open ? 2 : 3;
    this.begin = this.pos;
    // The 2014 code did not stop at '/', so `<l:else/>` was "unknown element 'else/'"; §9 (and later upstream) accept it.
    while (!isSpace(this.at(0)) && this.at(0) !== 0x3e && this.at(0) !== 0x2f && this.at(0) !== 0) this.pos++;
    const element = bytesToBinary(this.buf.subarray(this.begin, this.pos));
    this.skipSpace();
    // apr_table: attribute names are case-insensitive and the last duplicate wins.
    const attrs = new Map<string, Uint8Array>();
    while (this.at(0) !== 0x3e && this.at(0) !== 0x2f && this.at(0) !== 0) {
      this.begin = this.pos;
      while (!isSpace(this.at(0)) && this.at(0) !== 0x3d && this.at(0) !== 0) this.pos++;
      if (this.pos === this.begin) this.fail(`attribute expected following '${element}'`);
      const key = bytesToBinary(unescapeXml(this.buf.subarray(this.begin, this.pos)));
      this.skipSpace();
      if (this.at(0) !== 0x3d) this.fail(`'=' expected following '${key}'`);
      this.pos++;
      this.skipSpace();
      if (this.at(0) !== 0x22) this.fail(`'"' expected following '${key}'`);
      this.pos++;
      this.begin = this.pos;
      while (this.at(0) !== 0x22 && this.at(0) !== 0) this.pos++;
      if (this.at(0) !== 0x22) this.fail(`'"' expected following '${key}'`);
      attrs.set(key.toLowerCase(), unescapeXml(this.buf.subarray(this.begin, this.pos)));
      this.pos++;
      this.skipSpace();
    }
    if (this.at(0) === 0x2f) {
      close = true;
      this.pos++;
    }
    if (this.at(0) !== 0x3e) this.fail(`'>' expected following '${element}'`);
    this.pos++;
    const need = (name: string): Uint8Array => attrs.get(name) ?? this.fail(`missing attribute '${name}'`);
    switch (element) {
      case 'if': return this.ifElement(open, close, need);
      case 'elseif':
      case 'else':
        if (open) this.elseElement(element === 'elseif' ? need : null);
        return;
      case 'for': return this.forElement(open, close, need);
      case 'set':
        if (open) {
          const names = this.names(need('names'));
          this.nodes.push({ t: T.Set, names, expr: this.compile(need('expressions')) });
        }
        return;
      case 'include':
        if (open) this.nodes.push({ t: T.Include, expr: this.compile(need('filename')), flags: attrs.get('flags') ?? null });
        return;
      default:
        this.fail(`unknown element '${element}'`);
    }
  }

  private ifElement(open: boolean, close: boolean, need: (n: string) => Uint8Array): void {
    if (open) {
      this.blocks.push({ t: T.If, start: this.nodes.length, last: this.nodes.length, count: 0 });
      this.nodes.push({ t: T.If, expr: this.compile(need('cond')), next: -1 });
    }
    if (close) {
      const block = this.blocks.pop();
      if (block === undefined || block.t !== T.If) this.fail("no 'if' to close");
      if (block.last !== -1) (this.nodes[block.last] as { next: number }).next = this.nodes.length;
      // Each elseif/else starts with a jump past the whole block, right before its condition.
      let n = block.start;
      for (let k = 0; k < block.count; k++) {
        n = (this.nodes[n] as { next: number }).next;
        (this.nodes[n - 1] as { next: number }).next = this.nodes.length;
      }
    }
  }

  /** elseif (need given) or else (need null). */
  private elseElement(need: ((n: string) => Uint8Array) | null): void {
    const block = this.blocks[this.blocks.length - 1];
    if (block === undefined || block.t !== T.If || block.last === -1) this.fail("no 'if' to continue");
    this.nodes.push({ t: T.Jump, next: -1 });
    block.count++;
    (this.nodes[block.last] as { next: number }).next = this.nodes.length;
    if (need === null) {
      block.last = -1;
      return;
    }
    block.last = this.nodes.length;
    this.nodes.push({ t: T.If, expr: this.compile(need('cond')), next: -1 });
  }

  private forElement(open: boolean, close: boolean, need: (n: string) => Uint8Array): void {
    if (open) {
      this.nodes.push({ t: T.ForInit, expr: this.compile(need('in')) });
      this.blocks.push({ t: T.ForNext, start: this.nodes.length });
      this.nodes.push({ t: T.ForNext, names: this.names(need('names')), next: -1 });
    }
    if (close) {
      const block = this.blocks.pop();
      if (block === undefined || block.t !== T.ForNext) this.fail("no 'for' to close");
      this.nodes.push({ t: T.Jump, next: block.start });
      (this.nodes[block.start] as { next: number }).next = this.nodes.length;
    }
  }

  /** apr_strtok over ", \t"; names are not checked, lua_setglobal takes any string. */
  private names(value: Uint8Array): Uint8Array[] {
    const names = bytesToBinary(value).split(/[, \t]+/).filter((s) => s !== '').map(binaryToBytes);
    if (names.length === 0) this.fail("empty 'names'");
    return names;
  }

  private sub(): void {
    this.pos++;
    let flags = this.flags;
    if (this.at(0) === 0x5b) {
      this.pos++;
      this.begin = this.pos;
      while (this.at(0) !== 0x5d && this.at(0) !== 0) this.pos++;
      if (this.at(0) !== 0x5d) this.fail("']' expected");
      flags = parseFlags(this.buf.subarray(this.begin, this.pos));
      this.pos++;
    }
    if (this.at(0) !== 0x7b) this.fail("'{' expected");
    let braces = 1;
    let quot = 0; // 1 inside "…", 2 inside '…'
    this.pos++;
    this.begin = this.pos;
    while (this.at(0) !== 0 && braces > 0) {
      const c = this.at(0);
      if (c === 0x7b && quot === 0) braces++;
      else if (c === 0x7d && quot === 0) braces--;
      else if (c === 0x22 && quot !== 2) quot = quot === 0 ? 1 : 0;
      else if (c === 0x27 && quot !== 1) quot = quot === 0 ? 2 : 0;
      else if (c === 0x5c && ((quot === 1 && this.at(1) === 0x22) || (quot === 2 && this.at(1) === 0x27))) this.pos++;
      this.pos++;
    }
    if (braces > 0) this.fail("'}' expected");
    const exp = unescapeXml(this.buf.subarray(this.begin, this.pos - 1));
    this.nodes.push({ t: T.Sub, expr: this.compile(exp), flags });
  }
}

const MAX_CACHED = 500;
const cache = new Map<string, { mtimeMs: number; ctimeMs: number; size: number; template: Template }>();
export const templateCacheStats = { hits: 0, misses: 0 };

export function clearTemplateCache(): void {
  cache.clear();
}

/** lwt_template_parse: read `name` (relative to the state's cwd) and parse it with `flags`. Throws TemplateError. */
export function loadTemplate(L: LuaState, ctx: StateContext, name: Uint8Array, flags: number): Template {
  // A C string: the name ends at a NUL.
  const nul = name.indexOf(0);
  const shown = bytesToBinary(nul >= 0 ? name.subarray(0, nul) : name);
  let file: Buffer;
  let st: fs.Stats;
  try {
    file = statePath(ctx, name);
    st = fs.statSync(file);
  } catch {
    throw new TemplateError(`file '${shown}' does not exist`);
  }
  const key = `${st.dev}:${st.ino}:${flags}`;
  const hit = cache.get(key);
  if (hit !== undefined && hit.mtimeMs === st.mtimeMs && hit.ctimeMs === st.ctimeMs && hit.size === st.size) {
    templateCacheStats.hits++;
    cache.delete(key);
    cache.set(key, hit);
    return hit.template;
  }
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    throw new TemplateError(`file '${shown}' cannot be opened`);
  }
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(fd);
  } catch {
    throw new TemplateError(`file '${shown}' cannot be read`);
  } finally {
    fs.closeSync(fd);
  }
  templateCacheStats.misses++;
  const template = new Parser(L, shown, bytes, flags).parse();
  cache.set(key, { mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, size: st.size, template });
  if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value as string);
  return template;
}

// ---- rendering ----------------------------------------------------------

/** lwt_util_escape_uri, ap_escape_html, lwt_util_escape_js (httpd.core's escapers, mod_lwt.md §5.1), in that order. */
function escape(s: Uint8Array, flags: number): Uint8Array {
  const text = bytesToBinary(s);
  let out = text;
  if ((flags & F_URI) !== 0) out = escapeUri(out);
  if ((flags & F_XML) !== 0) out = escapeXml(out);
  if ((flags & F_JS) !== 0) out = escapeJs(out);
  return out === text ? s : binaryToBytes(out);
}

/** Output in order with Lua's own writes: what is pending goes out before every call into Lua. */
class Output {
  private pending: Uint8Array[] = [];
  constructor(private readonly sink: (b: Uint8Array) => void) {}
  write(b: Uint8Array): void {
    if (b.length > 0) this.pending.push(b);
  }
  flush(): void {
    if (this.pending.length === 0) return;
    const b = this.pending.length === 1 ? this.pending[0]! : new Uint8Array(Buffer.concat(this.pending));
    this.pending = [];
    this.sink(b);
  }
}

const FNS_KEY = toLuaString('lwt.template.functions');
const BINARY = toLuaString('b');

/** mod_lwt's error function (lwt_util_traceback): debug.traceback(msg, 2); other values pass unchanged. */
function traceback(L: LuaState): number {
  if (!lua.lua_isstring(L, 1)) return 1;
  lauxlib.luaL_traceback(L, L, lua.lua_tolstring(L, 1), 1);
  return 1;
}

/** render_template of template.c: one call per write_template, includes parsed once per call. */
class Renderer {
  private depth = 0;
  private readonly includes = new Map<string, Template>();

  /** `errf` and `fns` are absolute stack indices of the error function and the state's compiled-expression table. */
  constructor(private readonly L: LuaState, private readonly ctx: StateContext, private readonly out: Output,
    private readonly errf: number, private readonly fns: number) {}

  render(t: Template): void {
    const L = this.L;
    if (++this.depth > MAX_DEPTH) throw new TemplateError(`template depth exceeds ${MAX_DEPTH}`);
    const nodes = t.nodes;
    let i = 0;
    while (i < nodes.length) {
      const n = nodes[i]!;
      switch (n.t) {
        case T.Raw:
          this.out.write(n.bytes);
          i++;
          break;
        case T.Jump:
          i = n.next;
          break;
        case T.If:
          this.evaluate(n.expr, 1);
          i = lua.lua_toboolean(L, -1) ? i + 1 : n.next;
          lua.lua_pop(L, 1);
          break;
        case T.ForInit:
          lauxlib.luaL_checkstack(L, 3, null);
          this.evaluate(n.expr, 3);
          i++;
          break;
        case T.ForNext: {
          // The stack holds the iterator triple f, s, var (Lua's generic for).
          const cnt = n.names.length;
          lauxlib.luaL_checkstack(L, 4 + cnt, null);
          lua.lua_pushvalue(L, -3);
          lua.lua_pushvalue(L, -3);
          lua.lua_pushvalue(L, -3);
          this.call(2, cnt, false);
          if (lua.lua_isnil(L, -cnt)) {
            lua.lua_pop(L, 3 + cnt);
            i = n.next;
          } else {
            lua.lua_pushvalue(L, -cnt);
            lua.lua_replace(L, -cnt - 2);
            for (let k = cnt - 1; k >= 0; k--) lua.lua_setglobal(L, n.names[k]);
            i++;
          }
          break;
        }
        case T.Set:
          lauxlib.luaL_checkstack(L, n.names.length, null);
          this.evaluate(n.expr, n.names.length);
          for (let k = n.names.length - 1; k >= 0; k--) lua.lua_setglobal(L, n.names[k]);
          i++;
          break;
        case T.Include:
          this.include(n.expr, n.flags);
          i++;
          break;
        case T.Sub:
          this.sub(n.expr, n.flags);
          i++;
          break;
      }
    }
    this.depth--;
  }

  private include(expr: Expr, flags: Uint8Array | null): void {
    const L = this.L;
    this.evaluate(expr, 1);
    const name = this.valueText(false);
    lua.lua_pop(L, 1);
    const key = bytesToBinary(name);
    let t = this.includes.get(key);
    if (t === undefined) {
      t = loadTemplate(L, this.ctx, name, parseFlags(flags ?? DEFAULT_FLAGS));
      this.includes.set(key, t);
    }
    this.render(t);
  }

  private sub(expr: Expr, flags: number): void {
    const L = this.L;
    this.pushFunction(expr);
    let s: Uint8Array;
    if (this.call(0, 1, (flags & F_NOERR) !== 0)) s = this.valueText((flags & F_NONIL) !== 0);
    else s = new Uint8Array(0);
    lua.lua_pop(L, 1);
    // Substitutions were C strings: output ends at a NUL.
    const nul = s.indexOf(0);
    if (nul >= 0) s = s.subarray(0, nul);
    this.out.write((flags & (F_URI | F_XML | F_JS)) !== 0 ? escape(s, flags) : s);
  }

  /** The value on top as mod_lwt printed it: strings and numbers as they are, nil as "" or "(nil)", others "(type)". */
  private valueText(nilEmpty: boolean): Uint8Array {
    const L = this.L;
    if (lua.lua_isstring(L, -1)) return lua.lua_tolstring(L, -1);
    if (nilEmpty && lua.lua_isnil(L, -1)) return new Uint8Array(0);
    return toLuaString(`(${bytesToBinary(lauxlib.luaL_typename(L, -1))})`);
  }

  private pushFunction(expr: Expr): void {
    const L = this.L;
    if (lua.lua_rawgeti(L, this.fns, expr.id) === lua.LUA_TFUNCTION) return;
    lua.lua_pop(L, 1);
    if (lauxlib.luaL_loadbufferx(L, expr.image, expr.image.length, expr.name, BINARY) !== lua.LUA_OK) lua.lua_error(L);
    lua.lua_pushvalue(L, -1);
    lua.lua_rawseti(L, this.fns, expr.id);
  }

  private evaluate(expr: Expr, nret: number): void {
    this.pushFunction(expr);
    this.call(0, nret, false);
  }

  /**
   * lua_pcall under the error function. False only for a runtime error that
   * `suppress` (the `e` flag) swallows; its error value is left on the stack.
   * The sandbox's stop sentinel (os.exit, CPU limit) is never swallowed.
   */
  private call(nargs: number, nret: number, suppress: boolean): boolean {
    const L = this.L;
    this.out.flush();
    const status = lua.lua_pcall(L, nargs, nret, this.errf);
    if (status === lua.LUA_OK) return true;
    if (sandboxStop(L, -1) !== null) lua.lua_error(L);
    if (suppress && status === lua.LUA_ERRRUN) return false;
    const msg = lua.lua_isstring(L, -1) ? bytesToBinary(lua.lua_tolstring(L, -1)) : '(NULL)';
    throw new TemplateError(`Lua runtime error: ${msg}`);
  }
}

function raise(L: LuaState, message: string): never {
  lua.lua_pushstring(L, binaryToBytes(message));
  return lua.lua_error(L) as never;
}

/**
 * `httpd.core.write_template(filename [, flags [, file]])`: render to the
 * FILE* `file`, or return the output as a string when `file` is nil (the Lua
 * wrapper maps false/nil to httpd.output and true to nil).
 */
export function writeTemplate(rec: { readonly registered: boolean }): (L: LuaState) => number {
  return (L: LuaState) => {
    const name: Uint8Array = lauxlib.luaL_checklstring(L, 1);
    const flagText: Uint8Array | null = lauxlib.luaL_optlstring(L, 2, null);
    const toString = lua.lua_isnoneornil(L, 3);
    if (!rec.registered) raise(L, 'no request record');
    const stream = toString ? null : checkFile(L, 3);
    const ctx: StateContext = getState(L)?.ctx ?? { cwd: '/', log: () => undefined };
    const chunks: Uint8Array[] = [];
    const out = new Output(stream === null ? (b) => chunks.push(b) : (b) => {
      // fputs/fwrite results were never checked.
      if (!stream.closed) {
        try {
          stream.write(b);
        } catch (e) {
          if (typeof (e as { code?: unknown }).code !== 'string') throw e;
        }
      }
    });
    lua.lua_settop(L, 3);
    lua.lua_pushcfunction(L, traceback);
    if (lua.lua_getfield(L, lua.LUA_REGISTRYINDEX, FNS_KEY) !== lua.LUA_TTABLE) {
      lua.lua_pop(L, 1);
      lua.lua_newtable(L);
      lua.lua_pushvalue(L, -1);
      lua.lua_setfield(L, lua.LUA_REGISTRYINDEX, FNS_KEY);
    }
    let template: Template;
    let error: string | null = null;
    try {
      template = loadTemplate(L, ctx, name, parseFlags(flagText ?? DEFAULT_FLAGS));
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      return raise(L, `Error parsing template: ${e.message}`);
    }
    try {
      new Renderer(L, ctx, out, 4, 5).render(template);
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      error = e.message;
    }
    out.flush();
    if (error !== null) return raise(L, `Error rendering template: ${error}`);
    if (stream !== null) return 0;
    lua.lua_pushstring(L, new Uint8Array(Buffer.concat(chunks)));
    return 1;
  };
}
