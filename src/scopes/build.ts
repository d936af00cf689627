/**
 * Directive tree → per-server models: walks the main server and each
 * <VirtualHost>, reads every section that can carry a handler (nested
 * <Files> inside <Directory> as httpd allows), and combines them the way
 * httpd prepares them once at start-up.
 */

import * as path from 'node:path';
import { confError, type Diagnostic } from '../errors';
import type { Directive, LoadedConfig } from '../apache/types';
import type { AccessRule, VHost } from './types';
import { isRequireContainer, parseContainer, checkNegativeInOr, checkHasPositive } from './access';
import { applyDirective, compileRegex, isRelevantKey, newDirDraft, type ApplyContext, type DirDraft, type Level, type ServerDraft } from './directive-table';
import { EMPTY_CONF, mergeDirConf, type DirConf } from './dir-conf';
import { sectionGlob, hasWildcard, type IfRecord, type Model, type SectionKind, type SectionModel, type ServerModel } from './model';
import { parseServerName, parseVhostAddress, serverNameHost } from './vhosts';

/** Debian's compiled-in DocumentRoot (`apache2 -S` shows it when none is configured). */
export const DEFAULT_DOCUMENT_ROOT = '/var/www/html';

const SECTIONS: Record<string, { kind: SectionKind; label: string; match: boolean }> = {
  directory: { kind: 'directory', label: 'Directory', match: false },
  directorymatch: { kind: 'directory', label: 'DirectoryMatch', match: true },
  files: { kind: 'files', label: 'Files', match: false },
  filesmatch: { kind: 'files', label: 'FilesMatch', match: true },
  location: { kind: 'location', label: 'Location', match: false },
  locationmatch: { kind: 'location', label: 'LocationMatch', match: true },
};
const IF_SECTIONS = new Set(['if', 'elseif', 'else']);
const LIMIT_SECTIONS = new Set(['limit', 'limitexcept']);

/** Where a directive draft came from, to list handler scopes afterwards. */
export interface ScopeSource {
  readonly level: 'server' | 'vhost' | 'section';
  readonly section: SectionModel | null;
  readonly parent: SectionModel | null;
  readonly conf: DirConf;
  readonly server: RawServer;
}

interface RawServer {
  readonly main: boolean;
  readonly draft: ServerDraft;
  readonly defaults: DirConf;
  readonly directories: SectionModel[];
  readonly files: SectionModel[];
  readonly locations: SectionModel[];
  readonly addresses: string[];
  readonly file: string;
  readonly line: number;
}

export interface Built {
  readonly model: Model;
  /** The finished model of each server a ScopeSource names. */
  readonly serverOf: ReadonlyMap<object, ServerModel>;
  readonly sources: readonly ScopeSource[];
  readonly warnings: readonly Diagnostic[];
  readonly unsupportedAccess: readonly Diagnostic[];
}

class Walker {
  readonly warnings: Diagnostic[] = [];
  readonly unsupported: Diagnostic[] = [];
  readonly ifs: IfRecord[] = [];
  readonly sources: ScopeSource[] = [];

  constructor(readonly serverRoot: string) {}

  warn(d: { file: string; line: number }, message: string): void {
    this.warnings.push({ message, file: d.file, line: d.line });
  }

  /** Freeze a draft into a record, checking the section's Require rules as a whole. */
  finish(draft: DirDraft, where: { file: string; line: number } | null): DirConf {
    const out: { -readonly [K in keyof DirConf]: DirConf[K] } = { lua: Object.freeze({ ...draft.lua }) };
    if (draft.setHandler) out.setHandler = draft.setHandler;
    if (draft.acceptPathInfo) out.acceptPathInfo = draft.acceptPathInfo;
    if (draft.options) out.options = Object.freeze({ ...draft.options });
    if (draft.directoryIndex) out.directoryIndex = draft.directoryIndex;
    if (draft.directorySlash !== undefined) out.directorySlash = draft.directorySlash;
    if (draft.mimeHandlers) out.mimeHandlers = draft.mimeHandlers;
    if (draft.removeHandlers) out.removeHandlers = draft.removeHandlers;
    if (draft.env) out.env = draft.env;
    if (draft.legacy) out.legacy = deepFreeze(draft.legacy);
    this.unsupported.push(...draft.legacyUnchecked);
    if (draft.requires.length || draft.authzOp) {
      let rule: AccessRule | null = null;
      if (draft.requires.length && where) {
        checkHasPositive(draft.requires, '<Directory>, <Location>, or similar', where.file, where.line);
        rule = deepFreeze(draft.requires.length === 1 ? draft.requires[0] : { kind: 'any-of', rules: draft.requires });
        this.collectUnsupported(rule);
      }
      out.authz = { op: draft.authzOp ?? 'unset', rule };
    }
    const keys = Object.keys(out);
    return keys.length === 1 && Object.keys(out.lua).length === 0 ? EMPTY_CONF : Object.freeze(out);
  }

  collectUnsupported(rule: AccessRule): void {
    if (rule.kind === 'unsupported') this.unsupported.push({ message: rule.what, file: rule.file, line: rule.line });
    else if ('rules' in rule) rule.rules.forEach((r) => this.collectUnsupported(r));
  }

  recordIf(d: Directive): void {
    const relevant = containsRelevant(d);
    this.ifs.push({ name: d.name, expr: d.rawArgs, relevant, file: d.file, line: d.line });
    if (relevant) {
      this.warn(d, `<${d.name}${d.rawArgs ? ' ' + d.rawArgs : ''}> depends on the request: the sidecar cannot evaluate it and ignores the handler, Lua, environment and access directives inside`);
    }
  }

  /** Directives of one level (server, vhost or section body); sections are handed to `onSection`. */
  walkBody(children: readonly Directive[], ctx: ApplyContext, sectionLabel: string, onSection: (d: Directive) => boolean): void {
    for (const d of children) {
      if (d.children) {
        if (IF_SECTIONS.has(d.key)) { this.recordIf(d); continue; }
        if (LIMIT_SECTIONS.has(d.key)) {
          this.walkBody(d.children, { ...ctx, limited: `${d.name} ${d.rawArgs}`.trim() }, sectionLabel, onSection);
          continue;
        }
        if (isRequireContainer(d.key)) {
          if (ctx.level !== 'dir') throw confError('LWT_CONF_CONTEXT', `<${d.name}> not allowed here`, d.file, d.line);
          const rule = parseContainer(d, (c) => this.walkBody([c], ctx, sectionLabel, onSection));
          if (ctx.limited !== null) {
            ctx.dir.requires.push({ kind: 'unsupported', what: `<${d.name}> inside <${ctx.limited}>`, file: d.file, line: d.line });
          } else {
            checkNegativeInOr(rule, d, 'any-of');
            ctx.dir.requires.push(rule);
          }
          continue;
        }
        if (!onSection(d) && containsRelevant(d) && !['proxy', 'proxymatch'].includes(d.key)) {
          this.warn(d, `<${d.name}> is not understood by the sidecar; the directives inside it are ignored`);
        }
        continue;
      }
      applyDirective(d, ctx, sectionLabel);
      if (d.key === 'allowoverride' && d.args.some((a) => a.toLowerCase() !== 'none')) {
        this.warn(d, 'AllowOverride enables .htaccess files, which the sidecar does not read');
      }
    }
  }

  section(d: Directive, server: RawServer, nested: boolean): SectionModel {
    const info = SECTIONS[d.key];
    if (d.args.length === 0) throw confError('LWT_CONF_ARGS', `<${d.name}> directive requires additional arguments`, d.file, d.line);
    const tilde = !info.match && d.args[0] === '~';
    const args = tilde ? d.args.slice(1) : d.args;
    if (args.length !== 1) {
      throw confError('LWT_CONF_ARGS', args.length === 0 ? `<${d.name} ~ > block must specify a path` : `Multiple <${d.name}> arguments not (yet) supported.`, d.file, d.line);
    }
    const pattern = args[0];
    const isRegex = info.match || tilde;
    const regex = isRegex ? compileRegex(pattern, d) : null;
    let key = pattern;
    if (info.kind === 'directory' && !isRegex && pattern !== '/') {
      // core.c canonicalises the path and adds the trailing slash; a relative path (which httpd roots at
      // its working directory) is rooted at ServerRoot here.
      key = path.posix.resolve(this.serverRoot, pattern);
      if (!key.endsWith('/')) key += '/';
    }
    const glob = !isRegex && hasWildcard(key) ? sectionGlob(key) : null;
    const components = info.kind === 'directory' && key !== '/' ? (key.match(/\//g) ?? []).length : 0;
    const draft = newDirDraft();
    const files: SectionModel[] = [];
    const labelName = tilde ? info.label.replace(/^(Directory|Files|Location)$/, '$1Match') : info.label;
    const ctx = this.context('dir', draft, null, key);
    this.walkBody(d.children ?? [], ctx, `<${d.name}>`, (c) => {
      const inner = SECTIONS[c.key];
      if (c.key === 'virtualhost') throw confError('LWT_CONF_CONTEXT', `<${c.name}> cannot occur within <${d.name}> section`, c.file, c.line);
      if (!inner) return false;
      if (inner.kind === 'files' && info.kind === 'directory' && !nested) {
        files.push(this.section(c, server, true));
        return true;
      }
      throw confError('LWT_CONF_CONTEXT', `<${c.name}> cannot occur within <${d.name}> section`, c.file, c.line);
    });
    const model: SectionModel = Object.freeze({
      kind: info.kind, label: labelName, pattern, key, regex, glob, components,
      conf: this.finish(draft, d), files: Object.freeze(files), file: d.file, line: d.line,
    });
    if (!nested) {
      this.sources.push({ level: 'section', section: model, parent: null, conf: model.conf, server });
      for (const f of files) this.sources.push({ level: 'section', section: f, parent: model, conf: f.conf, server });
    }
    return model;
  }

  context(level: Level, dir: DirDraft, server: ServerDraft | null, root: string | null): ApplyContext {
    return { level, dir, server, root, serverRoot: this.serverRoot, limited: null, warn: (d, m) => this.warn(d, m) };
  }

  /** The body of the main server or of one <VirtualHost>. */
  server(children: readonly Directive[], main: boolean, at: { file: string; line: number }, addresses: string[], vhostsOut: RawServer[] | null): RawServer {
    const draft: ServerDraft = { aliases: [], aliasDefs: [] };
    const dir = newDirDraft();
    const directories: SectionModel[] = [];
    const files: SectionModel[] = [];
    const locations: SectionModel[] = [];
    const pending: Directive[] = [];
    const raw = { main, draft, defaults: EMPTY_CONF, directories, files, locations, addresses, file: at.file, line: at.line } as RawServer;
    this.walkBody(children, this.context(main ? 'server' : 'vhost', dir, draft, null), main ? 'server config' : '<VirtualHost>', (d) => {
      if (d.key === 'virtualhost') {
        if (!vhostsOut) throw confError('LWT_CONF_CONTEXT', '<VirtualHost> cannot occur within <VirtualHost> section', d.file, d.line);
        pending.push(d);
        return true;
      }
      const info = SECTIONS[d.key];
      if (!info) return false;
      const s = this.section(d, raw, false);
      (info.kind === 'directory' ? directories : info.kind === 'files' ? files : locations).push(s);
      return true;
    });
    (raw as { defaults: DirConf }).defaults = this.finish(dir, null);
    this.sources.push({ level: main ? 'server' : 'vhost', section: null, parent: null, conf: raw.defaults, server: raw });
    for (const d of pending) {
      if (d.args.length === 0) throw confError('LWT_CONF_ARGS', '<VirtualHost> directive requires additional arguments', d.file, d.line);
      vhostsOut!.push(this.server(d.children ?? [], false, d, [...d.args], null));
    }
    return raw;
  }
}

/** Rules are shared by every request that resolves to the section: nobody may change them. */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

function containsRelevant(d: Directive): boolean {
  return (d.children ?? []).some((c) => (c.children ? containsRelevant(c) || isRequireContainer(c.key) : isRelevantKey(c.key)));
}

function publicVhost(s: RawServer, main: RawServer): VHost {
  const written = s.draft.serverName ?? (s.main ? undefined : main.draft.serverName);
  const name = written === undefined ? null : parseServerName(written);
  // Measured with httpd 2.4: a virtual host without a ServerName of its own takes
  // its first address's port, not the main server's ServerName port.
  const first = s.main || s.draft.serverName !== undefined || s.addresses.length === 0 ? null
    : parseVhostAddress(s.addresses[0]!, { file: s.file, line: s.line } as Directive);
  return Object.freeze({
    serverName: name?.host ?? null,
    serverPort: name?.port ?? null,
    serverScheme: name?.scheme ?? null,
    hostlessPort: first !== null ? first.port : name?.port ?? null,
    aliases: Object.freeze([...s.draft.aliases]),
    addresses: Object.freeze([...s.addresses]),
    documentRoot: s.draft.documentRoot ?? main.draft.documentRoot ?? DEFAULT_DOCUMENT_ROOT,
    serverAdmin: s.draft.serverAdmin ?? main.draft.serverAdmin ?? null,
    main: s.main,
    file: s.file,
    line: s.line,
  });
}

/** core.c reorder: non-regex before regex, fewer components first, then configuration order. */
function sortDirectories(list: readonly SectionModel[]): SectionModel[] {
  return list.map((s, i) => ({ s, i })).sort((a, b) => {
    const ra = a.s.regex ? 1 : 0;
    const rb = b.s.regex ? 1 : 0;
    return ra - rb || a.s.components - b.s.components || a.i - b.i;
  }).map((x) => x.s);
}

function serverModel(s: RawServer, main: RawServer): ServerModel {
  const vhost = publicVhost(s, main);
  const isMain = s === main;
  const names = [s.draft.serverName ?? main.draft.serverName, ...s.draft.aliases]
    .filter((n): n is string => typeof n === 'string').map(serverNameHost);
  return Object.freeze({
    vhost,
    names: Object.freeze(names),
    addresses: Object.freeze(isMain ? [] : s.addresses.map((a) => parseVhostAddress(a, { file: s.file, line: s.line } as Directive))),
    defaults: isMain ? s.defaults : mergeDirConf(main.defaults, s.defaults),
    directories: Object.freeze(sortDirectories(isMain ? s.directories : [...main.directories, ...s.directories])),
    files: Object.freeze(isMain ? s.files : [...main.files, ...s.files]),
    locations: Object.freeze(isMain ? s.locations : [...main.locations, ...s.locations]),
    aliases: Object.freeze(isMain ? s.draft.aliasDefs : [...s.draft.aliasDefs, ...main.draft.aliasDefs]),
    documentRoot: vhost.documentRoot,
  });
}

export function buildModel(config: LoadedConfig): Built {
  const w = new Walker(config.serverRoot);
  const raws: RawServer[] = [];
  const main = w.server(config.tree, true, { file: config.configFile, line: 1 }, [], raws);
  const mainModel = serverModel(main, main);
  const vhosts = raws.map((r) => serverModel(r, main));
  const serverOf = new Map<object, ServerModel>([[main, mainModel], ...raws.map((r, i): [object, ServerModel] => [r, vhosts[i]])]);
  const model: Model = Object.freeze({ main: mainModel, vhosts: Object.freeze(vhosts), ifSections: Object.freeze(w.ifs) });
  return { model, serverOf, sources: w.sources, warnings: w.warnings, unsupportedAccess: w.unsupported };
}
