/**
 * mod_lwt's template parser (template.c's parse_template, mod_lwt.md §9): a
 * template becomes a flat node list (raw text, substitutions, and
 * if/for/set/include nodes joined by jump indices). Expressions are compiled
 * here and travel as lua_dump images, so a parsed template can be shared by
 * every state of the worker.
 */

import { lua, lauxlib, toLuaString, bytesToBinary, binaryToBytes, type LuaState } from '../fengari';

/** mod_lwt's flag bits (template.c): letters p x u j n e; others are ignored. */
export const F_PARSE = 1;
export const F_XML = 2;
export const F_URI = 4;
export const F_JS = 8;
export const F_NONIL = 256;
export const F_NOERR = 512;
const FLAG_LETTERS: Record<number, number> = { 0x70: F_PARSE, 0x78: F_XML, 0x75: F_URI, 0x6a: F_JS, 0x6e: F_NONIL, 0x65: F_NOERR };
export const DEFAULT_FLAGS = toLuaString('px');

export function parseFlags(s: Uint8Array): number {
  let v = 0;
  for (const c of s) v |= FLAG_LETTERS[c] ?? 0;
  return v;
}

/** An expression compiled as `return <expr>`, chunk-named by its own text as luaL_loadbuffer was called. */
export interface Expr {
  readonly id: number;
  readonly name: Uint8Array;
  readonly image: Uint8Array;
}

export const enum T { Raw, Sub, Jump, If, ForInit, ForNext, Set, Include }

export type Node =
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

/** Parse `file` (named `filename` in messages) with `flags`; expressions are compiled on `L`. Throws TemplateError. */
export function parseTemplate(L: LuaState, filename: string, file: Uint8Array, flags: number): Template {
  return new Parser(L, filename, file, flags).parse();
}
