/**
 * loadConfig: read a configuration tree the way httpd's ap_build_config does.
 * Files are parsed to raw trees (parser.ts), then walked in order while the
 * EXEC_ON_READ directives take effect exactly where they stand: ServerRoot,
 * LoadModule, Define/UnDefine, Include/IncludeOptional and the load-time
 * conditional sections. What a later line sees is what httpd would see.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { confError, SidecarError, type Diagnostic } from '../errors';
import type { Directive, LoadedConfig, LoadOptions } from './types';
import { CONDITIONAL_SECTIONS, evaluateCondition, type ConditionContext } from './conditions';
import { readEnvvars } from './envvars';
import { expandInclude, type GlobWatch, type StatCache } from './includes';
import { splitWords } from './lexer';
import { initialModules, namesOfLoadModule } from './modules';
import { parseText } from './parser';
import { Variables } from './variables';

/** httpd's AP_MAX_INCLUDE_DEPTH: past it, httpd calls the configuration recursive. */
const MAX_INCLUDE_DEPTH = 128;

/** The httpd version <IfVersion> compares against by default (Debian's apache2 here). */
export const DEFAULT_HTTPD_VERSION = '2.4.71';

export interface LoadOptionsEx extends LoadOptions {
  /** Version for <IfVersion>, `major.minor.patch`; default DEFAULT_HTTPD_VERSION. */
  httpdVersion?: string;
}

/** Parsed raw trees by absolute path; reused when the file's text is unchanged (hot reload). */
const rawCache = new Map<string, { text: string; tree: readonly Directive[]; load: number }>();
let loadCount = 0;

/** Forget every parsed file (benchmarks measure cold parses with it). */
export function clearParseCache(): void {
  rawCache.clear();
}

function parseFileCached(file: string, text: string): readonly Directive[] {
  const hit = rawCache.get(file);
  if (hit !== undefined && hit.text === text) {
    hit.load = loadCount;
    return hit.tree;
  }
  const tree = parseText(text, file);
  rawCache.set(file, { text, tree, load: loadCount });
  return tree;
}

/** Keep what the last few loads read, so files removed from a tree do not stay in memory. */
function pruneParseCache(): void {
  for (const [file, entry] of rawCache) if (entry.load < loadCount - 4) rawCache.delete(file);
}

/** Errors that already carry their include chain. */
const chained = new WeakSet<object>();

interface Frame {
  file: string;
  line: number;
}

class Loader {
  serverRoot: string;
  readonly files: string[] = [];
  readonly globs: GlobWatch[] = [];
  readonly warnings: Diagnostic[] = [];
  readonly modules: Set<string>;
  readonly vars: Variables;
  readonly cond: ConditionContext;
  /** The Include directives that led to the file being read. */
  private readonly stack: Frame[] = [];
  /** One load reads a file once even when many vhosts include it. */
  private readonly texts = new Map<string, string>();
  private readonly stats: StatCache = new Map();

  constructor(opts: LoadOptionsEx, configFile: string, env: Readonly<Record<string, string | undefined>>) {
    this.serverRoot = opts.serverRoot !== undefined ? path.resolve(opts.serverRoot) : path.dirname(configFile);
    this.modules = initialModules(opts.modules);
    this.vars = new Variables(opts.defines ?? [], env, this.warnings);
    const self = this;
    const version = opts.httpdVersion ?? DEFAULT_HTTPD_VERSION;
    this.cond = {
      get defines() { return self.vars.defines; },
      get modules() { return self.modules; },
      get serverRoot() { return self.serverRoot; },
      httpdVersion: version,
    };
  }

  readFile(file: string): readonly Directive[] {
    let text = this.texts.get(file);
    if (text === undefined) {
      text = this.readText(file);
      this.texts.set(file, text);
    }
    this.files.push(file);
    return parseFileCached(file, text);
  }

  private readText(file: string): string {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code ?? 'EIO';
      const code = errno === 'ENOENT' ? 'LWT_CONF_INCLUDE_MISSING' : 'LWT_CONF_INCLUDE_UNREADABLE';
      const site = this.stack[this.stack.length - 1];
      const msg = `Could not open configuration file ${file}: ${errno}`;
      throw site !== undefined ? confError(code, msg, site.file, site.line, e) : new SidecarError(code, msg, { file }, e);
    }
  }

  walk(nodes: readonly Directive[], out: Directive[]): void {
    for (const node of nodes) {
      let args = node.args;
      let rawArgs = node.rawArgs;
      if (rawArgs.includes('$')) {
        rawArgs = this.vars.expand(rawArgs, node.file, node.line);
        args = splitWords(rawArgs);
      }
      if (node.children === undefined) {
        switch (node.key) {
          case 'define':
            this.vars.define(node, args);
            continue;
          case 'undefine':
            this.vars.undefine(node, args);
            continue;
          case 'include':
          case 'includeoptional':
            this.include(node, args, out);
            continue;
          case 'serverroot':
            this.setServerRoot(node, args);
            break;
          case 'loadmodule':
            if (args.length === 2) for (const n of namesOfLoadModule(args[0]!, args[1]!)) this.modules.add(n);
            break;
          default:
            break;
        }
        out.push(args === node.args ? node : freezeNode(node, args, rawArgs, undefined));
        continue;
      }
      if (CONDITIONAL_SECTIONS.has(node.key)) {
        // A true condition splices its body in place; a false one drops it unread.
        if (evaluateCondition(node, args, this.cond)) this.walk(node.children, out);
        continue;
      }
      const kids: Directive[] = [];
      this.walk(node.children, kids);
      out.push(freezeNode(node, args, rawArgs, kids));
    }
  }

  private setServerRoot(node: Directive, args: readonly string[]): void {
    if (args.length !== 1) throw confError('LWT_CONF_ARGS', 'ServerRoot takes one argument', node.file, node.line);
    // set_server_root: relative to the working directory, and it must exist.
    const dir = path.resolve(args[0]!);
    let ok = false;
    try {
      ok = fs.statSync(dir).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) throw confError('LWT_CONF_SERVER_ROOT', `ServerRoot must be a valid directory (${dir})`, node.file, node.line);
    this.serverRoot = dir;
  }

  private include(node: Directive, args: readonly string[], out: Directive[]): void {
    if (args.length !== 1) throw confError('LWT_CONF_ARGS', `${node.name} takes one argument`, node.file, node.line);
    if (this.stack.length >= MAX_INCLUDE_DEPTH) throw this.loopError();
    const target = path.resolve(this.serverRoot, args[0]!);
    const site = { file: node.file, line: node.line, optional: node.key === 'includeoptional' };
    const targets = expandInclude(target, site, this.globs, this.stats);
    this.stack.push({ file: node.file, line: node.line });
    try {
      for (const t of targets) this.walk(this.readFile(t), out);
    } catch (e) {
      throw this.withChain(e);
    } finally {
      this.stack.pop();
    }
  }

  /** Say how an included file was reached, innermost Include first (caddy's import chain). */
  private withChain(e: unknown): unknown {
    if (!(e instanceof SidecarError) || chained.has(e) || e.code === 'LWT_CONF_INCLUDE_LOOP') return e;
    chained.add(e);
    const chain = this.stack.map((f) => `${f.file}:${f.line}`).reverse().join(' <- ');
    const out = new SidecarError(e.code, `${e.message} (included from ${chain})`, e, e.cause);
    chained.add(out);
    return out;
  }

  /** Name the cycle: the Include lines from the previous visit of the innermost site to it. */
  private loopError(): SidecarError {
    const key = (f: Frame): string => `${f.file}:${f.line}`;
    const frames = this.stack;
    const last = key(frames[frames.length - 1]!);
    let j = frames.length - 2;
    while (j >= 0 && key(frames[j]!) !== last) j--;
    const at = frames.find((f) => key(f) === last)!;
    const chain = j >= 0 ? frames.slice(j).map(key).join(' -> ') : frames.map(key).join(' -> ');
    return confError('LWT_CONF_INCLUDE_LOOP',
      `Include loop: ${chain} (httpd stops at include depth ${MAX_INCLUDE_DEPTH})`, at.file, at.line);
  }
}

function freezeNode(node: Directive, args: readonly string[], rawArgs: string, children: Directive[] | undefined): Directive {
  const d: Directive = children === undefined
    ? { name: node.name, key: node.key, args: Object.freeze([...args]), rawArgs, file: node.file, line: node.line }
    : { name: node.name, key: node.key, args: Object.freeze([...args]), rawArgs, file: node.file, line: node.line, children: Object.freeze(children) };
  return Object.freeze(d);
}

function validate(opts: LoadOptions): void {
  if (typeof opts !== 'object' || opts === null || typeof opts.configFile !== 'string' || opts.configFile === '') {
    throw new SidecarError('LWT_OPTION_INVALID', 'configFile must be a non-empty path to the main configuration file');
  }
  for (const [k, v] of [['defines', opts.defines], ['modules', opts.modules]] as const) {
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) {
      throw new SidecarError('LWT_OPTION_INVALID', `${k} must be an array of strings`);
    }
  }
}

/**
 * Read the main configuration file and everything it includes, applying
 * ServerRoot, Define, ${VAR}, LoadModule and the load-time conditionals.
 * Synchronous; throws SidecarError with code, file and line.
 */
export function loadConfig(opts: LoadOptionsEx): LoadedConfig {
  validate(opts);
  const configFile = path.resolve(opts.configFile);
  let env: Readonly<Record<string, string | undefined>> = opts.env ?? process.env;
  const envWarnings: Diagnostic[] = [];
  if (opts.envvarsFile !== undefined) {
    env = readEnvvars(path.resolve(opts.envvarsFile), env, envWarnings);
  }
  loadCount++;
  const loader = new Loader(opts, configFile, env);
  loader.warnings.push(...envWarnings);
  const tree: Directive[] = [];
  loader.walk(loader.readFile(configFile), tree);
  pruneParseCache();
  const watchFiles = [...new Set(loader.files)];
  if (opts.envvarsFile !== undefined) watchFiles.push(path.resolve(opts.envvarsFile));
  return Object.freeze({
    configFile,
    serverRoot: loader.serverRoot,
    files: Object.freeze([...loader.files]),
    tree: Object.freeze(tree),
    defines: Object.freeze(loader.vars.definesInOrder()),
    modules: Object.freeze([...loader.modules].sort()),
    warnings: Object.freeze(loader.warnings.map((w) => Object.freeze({ ...w }))),
    watch: Object.freeze({ files: watchFiles, globs: loader.globs }),
  });
}
