/**
 * The directives the semantic model reads: name, number of arguments, where
 * httpd allows them (its override class: RSRC_CONF is server/vhost only,
 * OR_AUTHCFG only inside sections, OR_OPTIONS/OR_FILEINFO everywhere) and how
 * each writes into the section's record. Directives not listed here do not
 * affect handler selection, Lua settings, environment or access, and are skipped.
 */

import * as path from 'node:path';
import { confError, type Diagnostic } from '../errors';
import type { Directive } from '../apache/types';
import type { AccessRule } from './types';
import { checkAllowEntry, parseRequire, checkNegativeInOr } from './access';
import { parseFlag, parseLuaCount, parseLuaFile, parseLuaPath, parseLuaSize, type LuaConf, type SectionRoot } from './lua-settings';
import { OPT_SYM_LINKS, OPT_SYM_OWNER, OPT_UNSET, type EnvEntry, type LegacyConf, type Origin } from './dir-conf';

export type Level = 'server' | 'vhost' | 'dir';

export interface AliasDef extends Origin {
  readonly kind: 'alias' | 'alias-match';
  readonly fake: string;
  readonly regex: RegExp | null;
  readonly real: string;
  /** ScriptAlias: mod_alias forces the cgi-script handler. */
  readonly script: boolean;
}

/** What one section (or server level) collects while its directives are read. */
export interface DirDraft {
  setHandler?: { value: string } & Origin;
  acceptPathInfo?: 'on' | 'off' | 'default';
  options?: { opts: number; add: number; remove: number };
  directoryIndex?: string[];
  directorySlash?: boolean;
  mimeHandlers?: Map<string, { handler: string } & Origin>;
  removeHandlers?: string[];
  lua: { -readonly [K in keyof LuaConf]: LuaConf[K] };
  env?: { vars: Map<string, EnvEntry>; unset: string[] };
  authzOp?: 'unset' | 'off' | 'and' | 'or';
  requires: AccessRule[];
  legacy?: { -readonly [K in keyof LegacyConf]: LegacyConf[K] } & { allow: string[]; deny: string[] };
  /** Allow/Deny entries the sidecar cannot test (host names, env=), listed at start-up. */
  legacyUnchecked: Diagnostic[];
}

export interface ServerDraft {
  serverName?: string;
  aliases: string[];
  serverAdmin?: string;
  documentRoot?: string;
  aliasDefs: AliasDef[];
}

export interface ApplyContext {
  readonly level: Level;
  readonly dir: DirDraft;
  readonly server: ServerDraft | null;
  /** cmd->path of the enclosing section, for relative Lua paths. */
  readonly root: SectionRoot;
  readonly serverRoot: string;
  /** Inside <Limit>/<LimitExcept>: access rules depend on the method. */
  readonly limited: string | null;
  warn(d: Directive, message: string): void;
}

interface Spec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly levels: readonly Level[];
  readonly apply: (d: Directive, c: ApplyContext) => void;
}

const ANY: readonly Level[] = ['server', 'vhost', 'dir'];
const SERVER: readonly Level[] = ['server', 'vhost'];
const SECTION: readonly Level[] = ['dir'];

export function newDirDraft(): DirDraft {
  return { lua: {}, requires: [], legacyUnchecked: [] };
}

function server(c: ApplyContext): ServerDraft {
  return c.server!;
}

/** Regex of a *Match section or AliasMatch: PCRE as httpd compiles it, a leading (?i) becomes the i flag. */
export function compileRegex(source: string, d: Directive): RegExp {
  let flags = '';
  let src = source;
  const m = /^\(\?([imsx]+)\)/.exec(src);
  if (m && !m[1].includes('x')) { flags = m[1].replace('m', '') + (m[1].includes('m') ? 'm' : ''); src = src.slice(m[0].length); }
  try {
    return new RegExp(src, flags);
  } catch (err) {
    throw confError('LWT_CONF_REGEX', `Regex could not be compiled: ${source}`, d.file, d.line, err);
  }
}

function lua(key: keyof LuaConf, parse: (v: string, d: Directive, c: ApplyContext) => string | number | boolean): Spec['apply'] {
  return (d, c) => {
    const value = parse(d.args[0], d, c);
    if ((key === 'luaPath' || key === 'luaCPath' || key === 'handler' || key === 'preHook' || key === 'postHook')
      && c.level === 'dir' && c.root !== null && !c.root.startsWith('/')
      && String(value).split(';').some((p) => !p.replace(/^\+/, '').startsWith('/'))) {
      c.warn(d, `${d.name}: relative entries are rooted at the section pattern '${c.root}', as mod_lwt does; that is rarely a real directory`);
    }
    (c.dir.lua as Record<string, unknown>)[key] = value;
  };
}

/** Option names of httpd 2.4's set_options → the symbolic-link bits they carry (the others matter only to httpd). */
const OPTION_BITS: Readonly<Record<string, number>> = {
  indexes: 0, includes: 0, includesnoexec: 0, execcgi: 0, multiviews: 0, runscripts: 0,
  followsymlinks: OPT_SYM_LINKS, symlinksifownermatch: OPT_SYM_OWNER, none: 0, all: OPT_SYM_LINKS,
};

/** core.c set_options, step for step, with its error messages. */
function setOptions(d: Directive, c: ApplyContext): void {
  const o = c.dir.options ??= { opts: OPT_UNSET, add: 0, remove: 0 };
  let first = true;
  let merge = false;
  let allNone = false;
  const fail = (message: string): never => { throw confError('LWT_CONF_ARGS', message, d.file, d.line); };
  for (const arg of d.args) {
    let w = arg;
    let action = '';
    if (w.startsWith('+') || w.startsWith('-')) {
      action = w[0];
      w = w.slice(1);
      if (!merge && !first && !allNone) fail('Either all Options must start with + or -, or no Option may.');
      merge = true;
    } else if (first) {
      o.opts = 0;
    } else if (merge) {
      fail('Either all Options must start with + or -, or no Option may.');
    }
    const key = w.toLowerCase();
    const opt = OPTION_BITS[key];
    if (opt === undefined) fail(`Illegal option ${w}`);
    if (key === 'none' || key === 'all') {
      const name = key === 'none' ? 'None' : 'All';
      if (!first) fail(`'Options ${name}' must be the first ${key === 'none' ? 'Option' : 'option'} given.`);
      if (merge) fail(`You may not use 'Options +${name}' or 'Options -${name}'.`);
      allNone = true;
    }
    if (action === '-') { o.remove |= opt!; o.add &= ~opt!; o.opts &= ~opt!; }
    else if (action === '+') { o.add |= opt!; o.remove &= ~opt!; o.opts |= opt!; }
    else o.opts |= opt!;
    first = false;
  }
}

function access(c: ApplyContext, d: Directive, rule: AccessRule): void {
  if (c.limited !== null) {
    c.dir.requires.push({ kind: 'unsupported', what: `${d.name} ${d.rawArgs} inside <${c.limited}>`, file: d.file, line: d.line });
    return;
  }
  checkNegativeInOr(rule, d, 'any-of');
  c.dir.requires.push(rule);
}

function legacy(c: ApplyContext): NonNullable<DirDraft['legacy']> {
  if (!c.dir.legacy) c.dir.legacy = { order: 'deny,allow', allow: [], deny: [], satisfy: 'nospec' };
  return c.dir.legacy;
}

function allowDeny(list: 'allow' | 'deny'): Spec['apply'] {
  return (d, c) => {
    if (d.args[0].toLowerCase() !== 'from') throw confError('LWT_CONF_ACCESS', "allow and deny must be followed by 'from'", d.file, d.line);
    const hosts = d.args.slice(1);
    if (hosts.length === 0) throw confError('LWT_CONF_ARGS', `${d.name} requires at least two arguments, 'from' followed by hostnames or IP-address wildcards`, d.file, d.line);
    for (const h of hosts) {
      if (checkAllowEntry(h, d) === 'unsupported') c.dir.legacyUnchecked.push({ message: `${d.name} ${d.args[0]} ${h}`, file: d.file, line: d.line });
    }
    if (c.limited !== null) c.warn(d, `${d.name} inside <${c.limited}> applies to some methods only; the sidecar applies it to all`);
    legacy(c)[list].push(...hosts);
  };
}

function envDraft(c: ApplyContext): NonNullable<DirDraft['env']> {
  if (!c.dir.env) c.dir.env = { vars: new Map(), unset: [] };
  return c.dir.env;
}

const SPECS: readonly Spec[] = [
  // core / mod_alias: server and virtual-host level only
  { name: 'ServerName', min: 1, max: 1, levels: SERVER, apply: (d, c) => { server(c).serverName = d.args[0]; } },
  { name: 'ServerAlias', min: 1, max: Infinity, levels: SERVER, apply: (d, c) => {
    if (c.level !== 'vhost') throw confError('LWT_CONF_CONTEXT', 'ServerAlias only used in <VirtualHost>', d.file, d.line);
    server(c).aliases.push(...d.args);
  } },
  { name: 'ServerAdmin', min: 1, max: 1, levels: SERVER, apply: (d, c) => { server(c).serverAdmin = d.args[0]; } },
  { name: 'DocumentRoot', min: 1, max: 1, levels: SERVER, apply: (d, c) => {
    server(c).documentRoot = path.posix.resolve(c.serverRoot, d.args[0]).replace(/(.)\/+$/, '$1');
  } },
  ...(['Alias', 'ScriptAlias'] as const).map((name): Spec => ({ name, min: 2, max: 2, levels: SERVER, apply: (d, c) => {
    server(c).aliasDefs.push({ kind: 'alias', fake: d.args[0], regex: null, real: d.args[1], script: name === 'ScriptAlias', file: d.file, line: d.line });
  } })),
  ...(['AliasMatch', 'ScriptAliasMatch'] as const).map((name): Spec => ({ name, min: 2, max: 2, levels: SERVER, apply: (d, c) => {
    server(c).aliasDefs.push({ kind: 'alias-match', fake: d.args[0], regex: compileRegex(d.args[0], d), real: d.args[1], script: name === 'ScriptAliasMatch', file: d.file, line: d.line });
  } })),

  // core / mod_mime / mod_dir: handler selection
  { name: 'SetHandler', min: 1, max: 1, levels: ANY, apply: (d, c) => {
    const value = d.args[0].toLowerCase();
    if (value.includes('%{')) c.warn(d, 'SetHandler with an expression depends on the request; the sidecar cannot evaluate it and treats it as a handler other than lwt-wsapi');
    c.dir.setHandler = { value, file: d.file, line: d.line };
  } },
  { name: 'AddHandler', min: 2, max: Infinity, levels: ANY, apply: (d, c) => {
    const handler = d.args[0].toLowerCase();
    if (!c.dir.mimeHandlers) c.dir.mimeHandlers = new Map();
    for (const e of d.args.slice(1)) c.dir.mimeHandlers.set(e.toLowerCase().replace(/^\./, ''), { handler, file: d.file, line: d.line });
  } },
  { name: 'RemoveHandler', min: 1, max: Infinity, levels: ANY, apply: (d, c) => {
    (c.dir.removeHandlers ??= []).push(...d.args.map((e) => e.replace(/^\./, '').toLowerCase()));
  } },
  { name: 'Options', min: 0, max: Infinity, levels: ANY, apply: setOptions },
  { name: 'AcceptPathInfo', min: 1, max: 1, levels: ANY, apply: (d, c) => {
    const v = d.args[0].toLowerCase();
    if (v !== 'on' && v !== 'off' && v !== 'default') throw confError('LWT_CONF_ARGS', 'AcceptPathInfo must be set to On, Off, or Default', d.file, d.line);
    c.dir.acceptPathInfo = v;
  } },
  { name: 'DirectoryIndex', min: 1, max: Infinity, levels: ANY, apply: (d, c) => {
    c.dir.directoryIndex = d.args.length === 1 && d.args[0].toLowerCase() === 'disabled' ? [] : [...d.args];
  } },
  // mod_dir's AP_INIT_FLAG with OR_INDEXES: On or Off, anywhere.
  { name: 'DirectorySlash', min: 1, max: 1, levels: ANY, apply: (d, c) => { c.dir.directorySlash = parseFlag(d.args[0], d); } },

  // mod_lwt: OR_OPTIONS, so everywhere
  { name: 'LuaPath', min: 1, max: 1, levels: ANY, apply: lua('luaPath', (v, d, c) => parseLuaPath(v, c.root, d)) },
  { name: 'LuaCPath', min: 1, max: 1, levels: ANY, apply: lua('luaCPath', (v, d, c) => parseLuaPath(v, c.root, d)) },
  { name: 'LuaErrorOutput', min: 1, max: 1, levels: ANY, apply: lua('errorOutput', (v, d) => parseFlag(v, d)) },
  { name: 'LuaHandler', min: 1, max: 1, levels: ANY, apply: lua('handler', (v, d, c) => parseLuaFile(v, c.root, d)) },
  { name: 'LuaPreHook', min: 1, max: 1, levels: ANY, apply: lua('preHook', (v, d, c) => parseLuaFile(v, c.root, d)) },
  { name: 'LuaPostHook', min: 1, max: 1, levels: ANY, apply: lua('postHook', (v, d, c) => parseLuaFile(v, c.root, d)) },
  { name: 'LuaMaxArgs', min: 1, max: 1, levels: ANY, apply: lua('maxArgs', (v, d) => parseLuaCount(v, d)) },
  { name: 'LuaArgsLimit', min: 1, max: 1, levels: ANY, apply: lua('argsLimit', (v, d) => parseLuaSize(v, d)) },
  { name: 'LuaFileLimit', min: 1, max: 1, levels: ANY, apply: lua('fileLimit', (v, d) => parseLuaSize(v, d)) },
  { name: 'LuaMemoryLimit', min: 1, max: 1, levels: ANY, apply: lua('memoryLimit', (v, d) => parseLuaSize(v, d)) },

  // mod_env
  { name: 'SetEnv', min: 1, max: 2, levels: ANY, apply: (d, c) => { envDraft(c).vars.set(d.args[0], { op: 'set', value: d.args[1] ?? '' }); } },
  { name: 'PassEnv', min: 1, max: Infinity, levels: ANY, apply: (d, c) => { for (const n of d.args) envDraft(c).vars.set(n, { op: 'pass' }); } },
  { name: 'UnsetEnv', min: 1, max: Infinity, levels: ANY, apply: (d, c) => {
    const env = envDraft(c);
    for (const n of d.args) { env.vars.delete(n); env.unset.push(n); }
  } },

  // mod_authz_core / mod_access_compat: OR_AUTHCFG, sections only
  { name: 'Require', min: 1, max: Infinity, levels: SECTION, apply: (d, c) => access(c, d, parseRequire(d)) },
  { name: 'AuthMerging', min: 1, max: 1, levels: SECTION, apply: (d, c) => {
    const v = d.args[0].toLowerCase();
    if (v !== 'off' && v !== 'and' && v !== 'or') throw confError('LWT_CONF_ARGS', "AuthMerging must be one of: 'Off', 'And', 'Or'", d.file, d.line);
    c.dir.authzOp = v;
  } },
  { name: 'Order', min: 1, max: 1, levels: SECTION, apply: (d, c) => {
    const v = d.args[0].toLowerCase();
    if (v !== 'allow,deny' && v !== 'deny,allow' && v !== 'mutual-failure') throw confError('LWT_CONF_ACCESS', 'unknown order', d.file, d.line);
    legacy(c).order = v;
  } },
  { name: 'Allow', min: 1, max: Infinity, levels: SECTION, apply: allowDeny('allow') },
  { name: 'Deny', min: 1, max: Infinity, levels: SECTION, apply: allowDeny('deny') },
  { name: 'Satisfy', min: 1, max: 1, levels: SECTION, apply: (d, c) => {
    const v = d.args[0].toLowerCase();
    if (v !== 'all' && v !== 'any') throw confError('LWT_CONF_ARGS', "Satisfy either 'any' or 'all'.", d.file, d.line);
    legacy(c).satisfy = v;
  } },
];

const BY_KEY = new Map(SPECS.map((s) => [s.name.toLowerCase(), s]));

function arityMessage(s: Spec): string {
  if (s.min === s.max) return `${s.name} takes ${s.min === 1 ? 'one argument' : 'two arguments'}`;
  if (s.max === Infinity) return `${s.name} requires at least ${s.min === 1 ? 'one argument' : 'two arguments'}`;
  return `${s.name} takes ${s.min}-${s.max} arguments`;
}

/** Apply one plain directive; returns false when the table does not know it. */
export function applyDirective(d: Directive, c: ApplyContext, sectionLabel: string): boolean {
  const spec = BY_KEY.get(d.key);
  if (!spec) return false;
  if (!spec.levels.includes(c.level)) {
    const msg = c.level === 'dir'
      ? `${spec.name} cannot occur within ${sectionLabel} section`
      : `${spec.name} not allowed here`;
    throw confError('LWT_CONF_CONTEXT', msg, d.file, d.line);
  }
  if (d.args.length < spec.min || d.args.length > spec.max) throw confError('LWT_CONF_ARGS', arityMessage(spec), d.file, d.line);
  spec.apply(d, c);
  return true;
}

/** Directive keys that make an <If> section matter to the sidecar. */
export function isRelevantKey(key: string): boolean {
  return BY_KEY.get(key)?.levels.includes('dir') === true || key.startsWith('require');
}
