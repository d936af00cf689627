/**
 * mod_lwt's template renderer (template.c's render_template) and
 * `httpd.core.write_template` (mod_lwt.md §9): walks a parsed node list,
 * calling back into Lua for each expression; compiled expressions are loaded
 * into a state once, on first use, and kept in its registry.
 */

import { lua, lauxlib, toLuaString, bytesToBinary, binaryToBytes, type LuaState } from '../fengari';
import { checkFile, getState } from '../iofile';
import { sandboxStop } from '../sandbox';
import type { StateContext } from '../context';
import { escapeJs, escapeUri, escapeXml } from '../escape';
import { DEFAULT_FLAGS, F_JS, F_NOERR, F_NONIL, F_URI, F_XML, T, TemplateError, parseFlags, type Expr, type Template } from './parse';
import { loadTemplate } from './load';

const MAX_DEPTH = 8;

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
