/**
 * Define/UnDefine state and ${VAR} expansion, as server/core.c: set_define,
 * unset_define and ap_resolve_env. Expansion runs over the argument text
 * before it is split into words, so a value with spaces yields several words.
 */

import { confError, type Diagnostic } from '../errors';
import type { Directive } from './types';

export class Variables {
  /** Names for <IfDefine>: `-D` parameters and every Define, in order. */
  private readonly defineList: string[];
  private readonly defineSet: Set<string>;
  /** Values of two-argument Defines. */
  private readonly values = new Map<string, string>();
  private readonly warned = new Set<string>();

  constructor(
    defines: readonly string[],
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly warnings: Diagnostic[],
  ) {
    this.defineList = [];
    this.defineSet = new Set();
    for (const d of defines) this.addDefine(d);
  }

  get defines(): ReadonlySet<string> {
    return this.defineSet;
  }

  definesInOrder(): string[] {
    return [...this.defineList];
  }

  private addDefine(name: string): void {
    if (!this.defineSet.has(name)) {
      this.defineSet.add(name);
      this.defineList.push(name);
    }
  }

  /** `Define name [value]`. */
  define(node: Directive, args: readonly string[]): void {
    if (args.length < 1 || args.length > 2) {
      throw confError('LWT_CONF_ARGS', 'Define takes one or two arguments', node.file, node.line);
    }
    const name = args[0]!;
    if (name.includes(':')) throw confError('LWT_CONF_VARIABLE', "Variable name must not contain ':'", node.file, node.line);
    this.addDefine(name);
    if (args.length === 2) this.values.set(name, args[1]!);
  }

  /** `UnDefine name`: removes both the parameter and the value. */
  undefine(node: Directive, args: readonly string[]): void {
    if (args.length !== 1) throw confError('LWT_CONF_ARGS', 'UnDefine takes one argument', node.file, node.line);
    const name = args[0]!;
    if (name.includes(':')) throw confError('LWT_CONF_VARIABLE', "Variable name must not contain ':'", node.file, node.line);
    if (this.defineSet.delete(name)) this.defineList.splice(this.defineList.indexOf(name), 1);
    this.values.delete(name);
  }

  /**
   * ap_resolve_env: each `${name}` (up to the first `}` after it) becomes the
   * Define value, else the environment value; an unknown one stays as written
   * and is reported once per name. Names with ':' are left alone silently
   * (httpd reserves them, e.g. for mod_macro-like syntaxes).
   */
  expand(text: string, file: string, line: number): string {
    let s = text.indexOf('$');
    if (s === -1) return text;
    let out = text.slice(0, s);
    while (s !== -1) {
      const e = text.charCodeAt(s + 1) === 0x7b /* { */ ? text.indexOf('}', s) : -1;
      let next: number;
      if (e === -1) {
        out += '$';
        next = s + 1;
      } else {
        const name = text.slice(s + 2, e);
        const value = this.values.get(name) ?? this.env[name];
        if (value !== undefined) out += value;
        else {
          out += text.slice(s, e + 1);
          if (!name.includes(':') && !this.warned.has(name)) {
            this.warned.add(name);
            this.warnings.push({ message: `Config variable \${${name}} is not defined`, file, line });
          }
        }
        next = e + 1;
      }
      s = text.indexOf('$', next);
      out += text.slice(next, s === -1 ? text.length : s);
    }
    return out;
  }
}
