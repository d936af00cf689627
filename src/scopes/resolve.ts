/**
 * Request → what httpd would do with it, in request.c's order: pick the
 * server, translate the URL (mod_alias, then DocumentRoot), walk the file
 * system for the longest existing prefix (the rest is PATH_INFO), merge the
 * per-directory records (<Directory> by depth, regex directory sections,
 * <Files>, <Location>), let mod_dir pick a DirectoryIndex, let mod_mime's
 * AddHandler and then SetHandler choose the handler, and check access.
 */

import * as fs from 'node:fs';
import type { Resolution, ResolveRequest, Snapshot } from './types';
import { checkAccess, decideAccess, needsUserReason } from './access';
import {
  accessRuleOf, EMPTY_CONF, mergeDirConf, mergeOptions, OPT_SYM_LINKS, OPT_SYM_OWNER, SERVER_OPTIONS, type DirConf, type Origin,
} from './dir-conf';
import { luaSettingsOf } from './lua-settings';
import { modelOf, type SectionModel, type ServerModel } from './model';
import { selectServer } from './vhosts';
import type { AliasDef } from './directive-table';

export const LWT_HANDLER = 'lwt-wsapi';

interface Translation {
  filename: string;
  contextPrefix: string;
  contextDocumentRoot: string;
  script: boolean;
}

/** mod_alias's alias_matches: a prefix match on path segments, runs of slashes counting as one. */
function aliasMatches(uri: string, fake: string): number {
  let u = 0;
  let f = 0;
  while (f < fake.length) {
    if (fake[f] === '/') {
      if (uri[u] !== '/') return 0;
      while (fake[f] === '/') f++;
      while (uri[u] === '/') u++;
    } else if (uri[u++] !== fake[f++]) {
      return 0;
    }
  }
  // The fake name must end on a segment boundary of the URL.
  if (fake.length > 0 && fake[fake.length - 1] !== '/' && u < uri.length && uri[u] !== '/') return 0;
  return u;
}

/** ap_pregsub: `$0`…`$9` are the groups, a backslash quotes the next character. */
function pregsub(template: string, m: RegExpExecArray): string {
  return template.replace(/\\(.)|\$([0-9])/g, (_, esc: string | undefined, n: string | undefined) => (esc !== undefined ? esc : m[Number(n)] ?? ''));
}

function tryAlias(a: AliasDef, uri: string): Translation | null {
  if (a.regex) {
    a.regex.lastIndex = 0;
    const m = a.regex.exec(uri);
    if (!m) return null;
    return { filename: pregsub(a.real, m), contextPrefix: '', contextDocumentRoot: '', script: a.script };
  }
  const l = aliasMatches(uri, a.fake);
  if (l === 0) return null;
  return { filename: a.real + uri.slice(l), contextPrefix: a.fake, contextDocumentRoot: a.real, script: a.script };
}

/** translate_name: aliases in order, else DocumentRoot + URL (core.c avoids a doubled slash). */
export function translate(server: ServerModel, uri: string): Translation {
  for (const a of server.aliases) {
    const t = tryAlias(a, uri);
    if (t) {
      if (t.contextDocumentRoot === '') t.contextDocumentRoot = server.documentRoot;
      return t;
    }
  }
  const root = server.documentRoot;
  const filename = root.endsWith('/') && uri.startsWith('/') ? root + uri.slice(1) : root + uri;
  return { filename, contextPrefix: '', contextDocumentRoot: root, script: false };
}

interface Walk {
  /** Existing directories from `/` down, each with a trailing slash. */
  dirs: string[];
  filename: string;
  pathInfo: string;
  kind: 'file' | 'dir' | 'missing' | 'other';
  /** Symbolic links met on the way, with the number of `dirs` above each (its directory's depth). */
  links: Array<{ path: string; depth: number }>;
}

/**
 * True when no directory of `server` takes FollowSymLinks away (the server's
 * Options keep it and no non-regex <Directory> removes it, as symlinkRefused
 * merges them): then a link never changes the answer, and one stat of the
 * whole path (following links) finds an existing file as the walk would.
 */
const linksFollowed = new WeakMap<ServerModel, boolean>();
function followsLinksEverywhere(server: ServerModel): boolean {
  let v = linksFollowed.get(server);
  if (v === undefined) {
    const keeps = (o: { opts: number }) => (o.opts & OPT_SYM_LINKS) !== 0;
    v = keeps(mergeOptions(SERVER_OPTIONS, server.defaults.options))
      && server.directories.every((s) => s.regex || keeps(mergeOptions(SERVER_OPTIONS, s.conf.options)));
    linksFollowed.set(server, v);
  }
  return v;
}

/** walk() for a regular file found by one stat: the same directories, with no syscall per segment. */
function fileWalk(full: string): Walk {
  const dirs = ['/'];
  let i = 1;
  for (;;) {
    const j = full.indexOf('/', i);
    if (j < 0) return { dirs, filename: full, pathInfo: '', kind: 'file', links: [] };
    if (j > i) dirs.push(full.slice(0, j) + '/');
    i = j + 1;
  }
}

/** ap_directory_walk's stat loop: stop at the first regular file or the first missing segment. */
function walk(full: string, server?: ServerModel): Walk {
  if (server !== undefined && followsLinksEverywhere(server)) {
    let isFile = false;
    try {
      isFile = fs.statSync(full, { throwIfNoEntry: false })?.isFile() === true;
    } catch {
      // ENOTDIR (a file with PATH_INFO after it), EACCES, ELOOP: the walk finds out.
    }
    if (isFile) return fileWalk(full);
  }
  const dirs = ['/'];
  const links: Walk['links'] = [];
  let i = 1;
  for (;;) {
    if (i >= full.length) return { dirs, filename: full, pathInfo: '', kind: 'dir', links };
    const j = full.indexOf('/', i);
    const end = j < 0 ? full.length : j;
    if (end === i) { i++; continue; }
    const p = full.slice(0, end);
    // lstat first, as httpd (APR_FINFO_LINK): a link is only followed where Options allow (symlinkRefused).
    let st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) {
      links.push({ path: p, depth: dirs.length });
      st = fs.statSync(p, { throwIfNoEntry: false });
    }
    if (!st) return { dirs, filename: p, pathInfo: full.slice(end), kind: 'missing', links };
    if (st.isDirectory()) {
      dirs.push(p + '/');
      if (j < 0) return { dirs, filename: p, pathInfo: '', kind: 'dir', links };
      i = end + 1;
      continue;
    }
    return { dirs, filename: p, pathInfo: full.slice(end), kind: st.isFile() ? 'file' : 'other', links };
  }
}

/**
 * ap_directory_walk's resolve_symlink (AH00037): a link is followed only when
 * the Options of the directory holding it (server defaults and the
 * non-regex <Directory> sections down to it) include FollowSymLinks, or
 * SymLinksIfOwnerMatch and the link and its target have the same owner.
 * A proxied URL skips that walk in Apache, so the sidecar repeats it.
 */
function symlinkRefused(server: ServerModel, w: Walk): string | null {
  for (const link of w.links) {
    const at = { ...w, dirs: w.dirs.slice(0, link.depth) };
    let options = mergeOptions(SERVER_OPTIONS, server.defaults.options);
    for (const s of server.directories) {
      if (!s.regex && dirMatches(s, at)) options = mergeOptions(options, s.conf.options);
    }
    if (options.opts & OPT_SYM_LINKS) continue;
    if (options.opts & OPT_SYM_OWNER) {
      const own = fs.lstatSync(link.path, { throwIfNoEntry: false });
      const target = fs.statSync(link.path, { throwIfNoEntry: false });
      if (own && target && own.uid === target.uid) continue;
    }
    return link.path;
  }
  return null;
}

function dirMatches(s: SectionModel, w: Walk): boolean {
  if (s.components === 0) return true;
  const at = w.dirs[s.components - 1];
  if (at === undefined) return false;
  return s.glob ? s.glob.test(at) : s.key === at;
}

function locationMatches(s: SectionModel, uri: string): boolean {
  if (s.regex) return s.regex.test(uri);
  if (s.glob) return s.glob.test(uri);
  const k = s.key;
  if (!uri.startsWith(k)) return false;
  return k.endsWith('/') || uri.length === k.length || uri[k.length] === '/';
}

function fileMatches(s: SectionModel, base: string): boolean {
  if (s.regex) return s.regex.test(base);
  if (s.glob) return s.glob.test(base);
  return s.key === base;
}

/** The per-directory record for a walked file, merged in httpd's order. */
export function mergeFor(server: ServerModel, w: Walk, uri: string): DirConf {
  let conf = server.defaults;
  const nestedFiles: SectionModel[] = [];
  for (const s of server.directories) {
    if (s.regex ? !s.regex.test(w.filename) : !dirMatches(s, w)) continue;
    conf = mergeDirConf(conf, s.conf);
    nestedFiles.push(...s.files);
  }
  const base = w.filename.slice(w.filename.lastIndexOf('/') + 1);
  for (const s of [...server.files, ...nestedFiles]) {
    if (fileMatches(s, base)) conf = mergeDirConf(conf, s.conf);
  }
  for (const s of server.locations) {
    if (locationMatches(s, uri)) conf = mergeDirConf(conf, s.conf);
  }
  return conf;
}

/** mod_mime's find_ct: every extension after the base name counts; the last one with a handler wins. */
export function mimeHandler(conf: DirConf, filename: string): ({ handler: string } & Origin) | null {
  const map = conf.mimeHandlers;
  if (!map || map.size === 0) return null;
  let fn = filename.slice(filename.lastIndexOf('/') + 1);
  let start = 0;
  while (fn[start] === '.') start++;
  const dot = fn.indexOf('.', start);
  if (dot < 0) return null;
  fn = fn.slice(dot + 1);
  let found: ({ handler: string } & Origin) | null = null;
  for (const ext of fn.split('.')) {
    if (ext === '') continue;
    const h = map.get(ext.toLowerCase());
    if (h) found = h;
  }
  return found;
}

function handlerOf(conf: DirConf, w: Walk, t: Translation): { handler: string | null; origin: Origin | null } {
  let handler: string | null = t.script ? 'cgi-script' : null;
  let origin: Origin | null = null;
  if (w.kind !== 'dir') {
    const m = mimeHandler(conf, w.filename);
    if (m) { handler = m.handler; origin = m; }
  }
  // core_override_type runs in fixups, after mod_mime: SetHandler wins unless it says `none`.
  if (conf.setHandler && conf.setHandler.value !== 'none') {
    handler = conf.setHandler.value;
    origin = conf.setHandler;
  }
  return { handler, origin };
}

/** Decode-free normalisation of an already decoded path: one slash per separator, `.`/`..` resolved; null when `..` escapes. */
export function normalizePath(p: string): string | null {
  if (!p.startsWith('/') || p.includes('\0')) return null;
  const out: string[] = [];
  const parts = p.split('/');
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i];
    const last = i === parts.length - 1;
    if (seg === '' && !last) continue;
    if (seg === '.') { if (last) out.push(''); continue; }
    if (seg === '..') {
      if (out.length === 0) return null;
      out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(seg);
  }
  return '/' + out.join('/');
}

const NO_ENV = Object.freeze({ set: Object.freeze([]), unset: Object.freeze([]), pass: Object.freeze([]) });

/**
 * mod_dir's fixup_dir: the first name whose sub-request is OK and a regular
 * file wins; a sub-request that redirects (the name is a directory) ends the
 * search with that redirect; a refused one is remembered and answered if no
 * name is found.
 */
function directoryIndex(server: ServerModel, w: Walk, uri: string, req: ResolveRequest): Resolution | null {
  const conf = mergeFor(server, w, uri);
  let refused: Resolution | null = null;
  for (const name of conf.directoryIndex ?? ['index.html']) {
    const next = name.startsWith('/') ? name : uri + name;
    const t = translate(server, next);
    if (!t.filename.startsWith('/')) continue;
    const found = walk(t.filename, server);
    if (found.kind === 'dir' && !next.endsWith('/')) {
      // The sub-request's own fixup_dir: its 301 is the answer; with DirectorySlash Off it is no index.
      const sub = resolveIn(server, next, req, 1, t, found);
      if (sub.status === 301) return sub;
      if (mergeFor(server, found, next).directorySlash === false) continue;
      return { ...sub, status: 404, reason: `DirectoryIndex ${name} is a directory: Apache redirects` };
    }
    if (found.kind !== 'file' || found.pathInfo !== '') continue;
    const sub = resolveIn(server, next, req, 1, t, found);
    const verdict = checkAccess(sub.access, req.clientIp ?? '', req.serverIp, req.user);
    if (verdict === 'denied' || (verdict === 'unsupported' && req.unsupportedAccess !== 'allow')) {
      // Outside lwt-wsapi the answer stays 404: the sidecar reveals nothing about other files.
      refused ??= sub.status === 403 ? sub : { ...sub, status: 404 };
      continue;
    }
    return sub;
  }
  return refused;
}

function resolveIn(server: ServerModel, uri: string, req: ResolveRequest, depth: number, known?: Translation, walked?: Walk): Resolution {
  const t = known ?? translate(server, uri);
  // A relative Alias target (mod_alias does not root it) cannot name a file httpd would serve.
  if (!t.filename.startsWith('/')) return refused(server, `'${t.filename}' is not an absolute file name`);
  const w = walked ?? walk(t.filename, server);
  if (w.kind === 'dir' && uri.endsWith('/') && depth === 0) {
    const index = directoryIndex(server, w, uri, req);
    if (index) return index;
  }
  const conf = mergeFor(server, w, uri);
  const { handler, origin } = handlerOf(conf, w, t);
  const pathInfo = w.kind === 'dir' ? '' : w.pathInfo;
  const scriptName = pathInfo && uri.endsWith(pathInfo) ? uri.slice(0, uri.length - pathInfo.length) : uri;
  const access = accessRuleOf(conf);
  const envVars = conf.env?.vars;
  const env = envVars ? Object.freeze({
    set: Object.freeze([...envVars].filter(([, v]) => v.op === 'set').map(([k, v]) => Object.freeze([k, (v as { value: string }).value] as const))),
    unset: Object.freeze([] as string[]),
    pass: Object.freeze([...envVars].filter(([, v]) => v.op === 'pass').map(([k]) => k)),
  }) : NO_ENV;
  let status: Resolution['status'] = 200;
  let reason: string | null = null;
  let redirect: string | undefined;
  const link = handler === LWT_HANDLER ? symlinkRefused(server, w) : null;
  if (handler !== LWT_HANDLER) {
    status = 404;
    reason = handler === null ? 'no handler: not an lwt-wsapi request' : `handler is '${handler}', not lwt-wsapi`;
  } else if (link !== null) {
    status = 403;
    reason = `Symbolic link not allowed or link target not accessible: ${link}`;
  } else {
    const { verdict, needsUser } = decideAccess(access, req.clientIp ?? '', req.serverIp, req.user);
    if (verdict === 'denied') { status = 403; reason = needsUser ? needsUserReason(needsUser) : 'access denied by the configuration'; }
    else if (verdict === 'unsupported' && req.unsupportedAccess !== 'allow') { status = 403; reason = 'access depends on a rule the sidecar cannot check'; }
    else if (w.kind === 'missing') { status = 404; reason = 'file does not exist'; }
    else if (w.kind === 'other') { status = 404; reason = 'not a regular file'; }
    else if (w.kind === 'dir' && uri.endsWith('/')) { status = 404; reason = 'directory without a DirectoryIndex file'; }
    else if (w.kind === 'dir' && conf.directorySlash === false) { status = 404; reason = 'directory without a trailing slash (DirectorySlash Off)'; }
    else if (w.kind === 'dir') {
      // mod_dir's fixup_dir (DirectorySlash On, the default): 301 to the URL with the slash added.
      status = 301;
      reason = 'directory without a trailing slash: mod_dir redirects (DirectorySlash On)';
      redirect = escapeUriPath(uri) + '/';
    } else if (pathInfo !== '' && conf.acceptPathInfo === 'off') { status = 404; reason = 'path info refused by AcceptPathInfo Off'; }
  }
  return Object.freeze({
    status, reason,
    vhost: server.vhost,
    filename: w.filename,
    pathInfo,
    scriptName,
    handler,
    lua: luaSettingsOf(conf.lua),
    env,
    access,
    documentRoot: server.documentRoot,
    contextPrefix: t.contextPrefix,
    contextDocumentRoot: t.contextDocumentRoot,
    pathTranslated: pathInfo ? translate(server, pathInfo).filename : '',
    scope: origin ? { file: origin.file, line: origin.line } : null,
    ...(redirect !== undefined ? { redirect } : {}),
  });
}

/** httpd's T_OS_ESCAPE_PATH (gen_test_char.c): what ap_escape_uri leaves as it is. */
const PATH_SAFE = /^[A-Za-z0-9$\-_.+!*'(),:;@&=/~]$/;

/** ap_escape_uri (ap_os_escape_path, partial): every other byte of the UTF-8 path as %xx, lower-case hex like httpd's c2x. */
export function escapeUriPath(p: string): string {
  let out = '';
  for (const ch of p) {
    if (PATH_SAFE.test(ch)) { out += ch; continue; }
    for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).padStart(2, '0');
  }
  return out;
}

function refused(server: ServerModel, reason: string): Resolution {
  return Object.freeze({
    status: 404, reason, vhost: server.vhost, filename: null, pathInfo: '', scriptName: '',
    handler: null, lua: luaSettingsOf(EMPTY_CONF.lua), env: NO_ENV, access: null, documentRoot: server.documentRoot,
    contextPrefix: '', contextDocumentRoot: server.documentRoot, pathTranslated: '', scope: null,
  });
}

/** What httpd would do with the request, before running anything (see Resolution). */
export function resolve(snap: Snapshot, req: ResolveRequest): Resolution {
  const model = modelOf(snap);
  const server = selectServer(model.main, model.vhosts, req.host, req.port ?? 80, req.localAddress);
  const uri = normalizePath(req.path);
  if (uri === null) return refused(server, 'invalid path');
  return resolveIn(server, uri, req, 0);
}
