/**
 * Read a shell file of `export NAME=value` lines, as Debian's apache2ctl
 * sources /etc/apache2/envvars before starting httpd. Only a small, safe part
 * of POSIX sh is evaluated: assignments (with `$NAME`, `${NAME}`,
 * `${NAME:-word}`, `${NAME#pat}`, `${NAME##pat}`, `${NAME%pat}`, `${NAME%%pat}`
 * and quotes), `export`, `unset`, and `if/elif/else/fi` over `[ ... ]` tests of
 * strings. Anything else (commands, `$(...)`, sourcing other files) is skipped
 * with a warning; an `if` whose test cannot be decided skips all its branches.
 * Nothing is ever executed.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { SidecarError, type Diagnostic } from '../errors';
import { globToRegExp } from './fnmatch';

class Unsupported extends Error {}

interface Word {
  value: string;
  /** `NAME=` written unquoted at the start of the word. */
  assign?: string;
  /** Why the word (and the rest of its statement) could not be read. */
  unsupported?: string;
}

interface Var {
  value: string;
  exported: boolean;
}

class Shell {
  private pos = 0;
  private line = 1;

  constructor(private readonly src: string, readonly vars: Map<string, Var>) {}

  get atEnd(): boolean {
    return this.pos >= this.src.length;
  }

  /**
   * One simple command and the line it starts on. A construct the reader does
   * not evaluate ends the statement with a word that says why.
   */
  statement(): { words: Word[]; line: number } {
    const words: Word[] = [];
    let start = -1;
    for (;;) {
      this.skipBlanks();
      if (this.atEnd) break;
      const c = this.src[this.pos]!;
      if (c === '\n' || c === ';') {
        if (c === '\n') this.line++;
        this.pos++;
        if (words.length > 0) break;
        continue;
      }
      if (c === '#') {
        while (!this.atEnd && this.src[this.pos] !== '\n') this.pos++;
        continue;
      }
      if (start === -1) start = this.line;
      try {
        words.push(this.word());
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
        // Skip to the end of the statement: nothing after it can be trusted.
        while (!this.atEnd && this.src[this.pos] !== '\n' && this.src[this.pos] !== ';') this.pos++;
        words.push({ value: '', unsupported: e.message });
      }
    }
    return { words, line: start === -1 ? this.line : start };
  }

  private skipBlanks(): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c === ' ' || c === '\t') this.pos++;
      else if (c === '\\' && this.src[this.pos + 1] === '\n') {
        this.pos += 2;
        this.line++;
      } else return;
    }
  }

  private word(): Word {
    let value = '';
    let assign: string | undefined;
    let quotedYet = false;
    for (;;) {
      if (this.atEnd) break;
      const c = this.src[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === ';') break;
      if ('|&<>()`'.includes(c)) throw new Unsupported(`shell operator '${c}'`);
      if (c === '=' && assign === undefined && !quotedYet && /^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) {
        assign = value;
        value = '';
        this.pos++;
        continue;
      }
      this.pos++;
      if (c === "'") {
        quotedYet = true;
        const end = this.src.indexOf("'", this.pos);
        if (end === -1) throw new Unsupported('unterminated quote');
        value += this.src.slice(this.pos, end);
        this.line += this.src.slice(this.pos, end).split('\n').length - 1;
        this.pos = end + 1;
      } else if (c === '"') {
        quotedYet = true;
        value += this.doubleQuoted();
      } else if (c === '\\') {
        const n = this.src[this.pos++];
        if (n === '\n') this.line++;
        else if (n !== undefined) value += n;
      } else if (c === '$') {
        value += this.dollar();
      } else {
        value += c;
      }
    }
    return assign === undefined ? { value } : { value, assign };
  }

  private doubleQuoted(): string {
    let v = '';
    for (;;) {
      if (this.atEnd) throw new Unsupported('unterminated quote');
      const c = this.src[this.pos++]!;
      if (c === '"') return v;
      if (c === '`') throw new Unsupported('command substitution');
      if (c === '\n') this.line++;
      if (c === '\\' && '$`"\\\n'.includes(this.src[this.pos] ?? '')) {
        const n = this.src[this.pos++]!;
        if (n !== '\n') v += n;
        else this.line++;
      } else if (c === '$') v += this.dollar();
      else v += c;
    }
  }

  private get(name: string): string | undefined {
    return this.vars.get(name)?.value;
  }

  /** After a '$': a parameter expansion. */
  private dollar(): string {
    const c = this.src[this.pos];
    if (c === '(') throw new Unsupported('command substitution');
    if (c === '{') {
      const end = this.src.indexOf('}', this.pos);
      if (end === -1) throw new Unsupported('unterminated ${');
      const body = this.src.slice(this.pos + 1, end);
      this.pos = end + 1;
      return this.braced(body);
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos, this.pos + 256));
    if (m === null) return '$';
    this.pos += m[0].length;
    return this.get(m[0]) ?? '';
  }

  private braced(body: string): string {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=+?])(.*)|(##?|%%?)(.*))?$/s.exec(body);
    if (m === null) throw new Unsupported(`\${${body}}`);
    const value = this.get(m[1]!);
    if (m[2] !== undefined) {
      const unsetOrEmpty = m[2].startsWith(':') ? value === undefined || value === '' : value === undefined;
      const op = m[2].slice(-1);
      if (op === '-') return unsetOrEmpty ? m[3]! : value!;
      if (op === '+') return unsetOrEmpty ? '' : m[3]!;
      throw new Unsupported(`\${${body}}`);
    }
    const v = value ?? '';
    if (m[4] === undefined) return v;
    const re = globToRegExp(m[5]!);
    const lengths = [...Array(v.length + 1).keys()];
    // `#`/`%` remove the shortest match, `##`/`%%` the longest.
    if (m[4].length === 2) lengths.reverse();
    for (const n of lengths) {
      if (m[4][0] === '#' && re.test(v.slice(0, n))) return v.slice(n);
      if (m[4][0] === '%' && re.test(v.slice(v.length - n))) return v.slice(0, v.length - n);
    }
    return v;
  }
}

/** A `[ ... ]` or `test ...` over strings; undefined when it cannot be decided. */
function test(args: readonly string[]): boolean | undefined {
  if (args[0] === '!') {
    const r = test(args.slice(1));
    return r === undefined ? undefined : !r;
  }
  if (args.length === 1) return args[0] !== '';
  if (args.length === 2 && args[0] === '-n') return args[1] !== '';
  if (args.length === 2 && args[0] === '-z') return args[1] === '';
  if (args.length === 3 && (args[1] === '=' || args[1] === '==')) return args[0] === args[2];
  if (args.length === 3 && args[1] === '!=') return args[0] !== args[2];
  return undefined;
}

function condition(words: readonly Word[]): boolean | undefined {
  if (words.some((x) => x.unsupported !== undefined)) return undefined;
  const w = words.map((x) => x.value);
  if (w[0] === '[' && w[w.length - 1] === ']') return test(w.slice(1, -1));
  if (w[0] === 'test') return test(w.slice(1));
  return undefined;
}

interface IfFrame {
  active: boolean;
  /** A branch was taken, or the test could not be decided: no later branch runs. */
  done: boolean;
  dead: boolean;
}

/**
 * Evaluate `file` over `base` and return the resulting environment (the
 * exported variables). APACHE_CONFDIR defaults to the file's directory, as
 * apache2ctl sets it before sourcing envvars.
 */
export function readEnvvars(file: string, base: Readonly<Record<string, string | undefined>>, warnings: Diagnostic[]): Record<string, string> {
  let src: string;
  try {
    src = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new SidecarError('LWT_CONF_ENVVARS', `Could not read envvars file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`, { file }, e);
  }
  const vars = new Map<string, Var>();
  for (const [k, v] of Object.entries(base)) if (v !== undefined) vars.set(k, { value: v, exported: true });
  if (!vars.has('APACHE_CONFDIR')) vars.set('APACHE_CONFDIR', { value: path.dirname(file), exported: true });
  const sh = new Shell(src, vars);
  const ifs: IfFrame[] = [];
  const active = (): boolean => ifs.every((f) => f.active);
  const warn = (message: string, line: number): void => {
    warnings.push({ message: `envvars: ${message}`, file, line });
  };

  while (!sh.atEnd) {
    const st = sh.statement();
    let words = st.words;
    if (words.length === 0) continue;
    const head = words[0]!.assign === undefined ? words[0]!.value : '';
    if (head === 'then' || head === 'do' || (head === 'else' && words.length > 1)) {
      if (head === 'else') ifElse(ifs);
      words = words.slice(1);
      if (words.length === 0) continue;
    }
    const kw = words[0]!.assign === undefined ? words[0]!.value : '';
    if (kw === 'if' || kw === 'elif') {
      const cond = condition(words.slice(1));
      let frame: IfFrame | undefined;
      if (kw === 'if') {
        const dead = !active();
        frame = { active: false, done: dead, dead };
        ifs.push(frame);
      } else {
        frame = ifs[ifs.length - 1];
        if (frame === undefined) continue;
        frame.active = false;
      }
      if (frame.done) continue;
      if (cond === undefined) {
        warn(`cannot evaluate "${words.slice(1).map((w) => w.value).join(' ')}"; every branch of this if is skipped`, st.line);
      }
      frame.active = cond === true;
      frame.done = cond !== false;
      continue;
    }
    if (kw === 'else') {
      ifElse(ifs);
      continue;
    }
    if (kw === 'fi') {
      ifs.pop();
      continue;
    }
    if (!active()) continue;
    run(words, vars, (m) => warn(m, st.line));
  }
  const env: Record<string, string> = {};
  for (const [k, v] of vars) if (v.exported) env[k] = v.value;
  return env;
}

function ifElse(ifs: IfFrame[]): void {
  const f = ifs[ifs.length - 1];
  if (f === undefined) return;
  f.active = !f.dead && !f.done;
  f.done = true;
}

function run(words: readonly Word[], vars: Map<string, Var>, warn: (m: string) => void): void {
  const bad = words.find((w) => w.unsupported !== undefined);
  if (bad !== undefined) {
    warn(`skipped a line the sidecar does not evaluate (${bad.unsupported})`);
    return;
  }
  const first = words[0]!;
  if (first.assign !== undefined) {
    // `A=1 B=2`: plain assignments; with a command after them they only affect that command.
    if (words.every((w) => w.assign !== undefined)) {
      for (const w of words) vars.set(w.assign!, { value: w.value, exported: vars.get(w.assign!)?.exported ?? false });
    } else warn(`skipped the command "${words.map((w) => w.value).join(' ')}"`);
    return;
  }
  switch (first.value) {
    case 'export':
      for (const w of words.slice(1)) {
        if (w.assign !== undefined) vars.set(w.assign, { value: w.value, exported: true });
        else {
          const v = vars.get(w.value);
          vars.set(w.value, { value: v?.value ?? '', exported: true });
          if (v === undefined) vars.delete(w.value);
        }
      }
      return;
    case 'unset':
      for (const w of words.slice(1)) vars.delete(w.value);
      return;
    case ':':
    case 'true':
      return;
    default:
      warn(`skipped the command "${words.map((w) => w.value).join(' ')}"`);
  }
}
