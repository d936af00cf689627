/**
 * Include / IncludeOptional targets to the ordered list of files httpd reads,
 * following server/config.c (process_resource_config_nofnmatch and
 * process_resource_config_fnmatch) and what httpd 2.4.71 does in practice:
 * - a directory means every entry in it except `.` and `..` (dot-files
 *   included), sorted by strcmp on the full path, subdirectories recursed;
 * - a wildcard may stand in any path component; a component that is not the
 *   last only matches real directories (a symlink is not one, d_type rule);
 *   wildcards match a leading '.' only literally (APR_FNM_PERIOD);
 * - Include fails on a missing file, a missing directory or a wildcard with no
 *   match; IncludeOptional ignores those (but not other errors).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { confError, type SidecarError } from '../errors';
import { fnmatch, hasWildcard } from './fnmatch';
import type { WatchSet } from './types';

/** httpd's AP_MAX_INCLUDE_DIR_DEPTH. */
const MAX_DIR_DEPTH = 128;

export interface IncludeSite {
  readonly file: string;
  readonly line: number;
  readonly optional: boolean;
}

export type GlobWatch = WatchSet['globs'][number];

/** httpd's fname_alphasort: strcmp, i.e. byte order of the UTF-8 names (not UTF-16 order). */
function sortStrcmp(paths: string[]): string[] {
  if (paths.every((p) => /^[\x00-\x7f]*$/.test(p))) return paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return paths.map((p) => ({ p, b: Buffer.from(p) })).sort((x, y) => Buffer.compare(x.b, y.b)).map((x) => x.p);
}

function errnoOf(e: unknown): string {
  return typeof e === 'object' && e !== null && typeof (e as NodeJS.ErrnoException).code === 'string'
    ? (e as NodeJS.ErrnoException).code! : 'EIO';
}

function errnoText(e: unknown): string {
  const code = errnoOf(e);
  return code === 'ENOENT' ? 'No such file or directory'
    : code === 'ENOTDIR' ? 'Not a directory'
      : code === 'EACCES' ? 'Permission denied' : code;
}

/**
 * Expand one Include argument (already made absolute against ServerRoot) to the
 * files to read, in order. Directory and wildcard expansions are added to
 * `globs` so a watcher can see files appear.
 */
export function expandInclude(target: string, site: IncludeSite, globs: GlobWatch[], stats: StatCache = new Map()): string[] {
  const out: string[] = [];
  const ctx: Ctx = { site, globs, out, stats };
  if (!hasWildcard(target)) {
    plain(ctx, target, 0);
    return out;
  }
  const parts = target.split('/').filter((p) => p !== '');
  walk(ctx, '/', parts, 0);
  return out;
}

/** stat results of one load: a tree that includes one file from every vhost stats it once. */
export type StatCache = Map<string, fs.Stats | Error>;

interface Ctx {
  site: IncludeSite;
  globs: GlobWatch[];
  out: string[];
  stats: StatCache;
}

function statCached(stats: StatCache, p: string): fs.Stats {
  let r = stats.get(p);
  if (r === undefined) {
    try {
      r = fs.statSync(p);
    } catch (e) {
      r = e as Error;
    }
    stats.set(p, r);
  }
  if (r instanceof Error) throw r;
  return r;
}

function fail(site: IncludeSite, code: 'LWT_CONF_INCLUDE_MISSING' | 'LWT_CONF_INCLUDE_UNREADABLE', msg: string, cause?: unknown): SidecarError {
  return confError(code, msg, site.file, site.line, cause);
}

/** process_resource_config_nofnmatch: a file, or a directory read whole. */
function plain(ctx: Ctx, p: string, depth: number): void {
  const { site, globs, out } = ctx;
  let st: fs.Stats;
  try {
    st = statCached(ctx.stats, p);
  } catch (e) {
    if (site.optional && errnoOf(e) === 'ENOENT') {
      // Watch the place where an optional file may appear later.
      globs.push({ dir: path.dirname(p), pattern: path.basename(p), file: site.file, line: site.line });
      return;
    }
    const code = errnoOf(e) === 'ENOENT' ? 'LWT_CONF_INCLUDE_MISSING' : 'LWT_CONF_INCLUDE_UNREADABLE';
    throw fail(site, code, `Could not open configuration file ${p}: ${errnoText(e)}`, e);
  }
  if (st.isDirectory()) {
    if (++depth > MAX_DIR_DEPTH) {
      throw fail(site, 'LWT_CONF_INCLUDE_UNREADABLE',
        `Directory ${p} exceeds the maximum include directory nesting level of ${MAX_DIR_DEPTH}`);
    }
    let names: string[];
    try {
      names = fs.readdirSync(p);
    } catch (e) {
      throw fail(site, 'LWT_CONF_INCLUDE_UNREADABLE', `Could not open config directory ${p}: ${errnoText(e)}`, e);
    }
    globs.push({ dir: p, pattern: '*', file: site.file, line: site.line });
    const full = sortStrcmp(names.map((n) => path.join(p, n)));
    for (const f of full) plain(ctx, f, depth);
    return;
  }
  if (!st.isFile() && p !== '/dev/null') {
    throw fail(site, 'LWT_CONF_INCLUDE_UNREADABLE', `Could not open configuration file ${p}: not a regular file`);
  }
  out.push(p);
}

/** process_resource_config_fnmatch: resolve components left to right. */
function walk(ctx: Ctx, dir: string, parts: readonly string[], i: number): void {
  const { site, globs, out } = ctx;
  const part = parts[i]!;
  const last = i === parts.length - 1;
  if (!hasWildcard(part)) {
    const p = path.join(dir, part);
    if (last) plain(ctx, p, 0);
    else walk(ctx, p, parts, i + 1);
    return;
  }
  globs.push({ dir, pattern: part, file: site.file, line: site.line });
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (site.optional && errnoOf(e) === 'ENOENT') return;
    const code = errnoOf(e) === 'ENOENT' ? 'LWT_CONF_INCLUDE_MISSING' : 'LWT_CONF_INCLUDE_UNREADABLE';
    throw fail(site, code, `Could not open directory ${dir}: ${errnoText(e)}`, e);
  }
  const matches: string[] = [];
  const regular = new Set<string>();
  for (const ent of entries) {
    if (!fnmatch(part, ent.name)) continue;
    // Inside the path only directories count; httpd uses the dirent type, so a symlink is skipped.
    if (!last && !ent.isDirectory()) continue;
    const full = path.join(dir, ent.name);
    matches.push(full);
    if (ent.isFile()) regular.add(full);
  }
  if (matches.length === 0) {
    if (site.optional) return;
    throw fail(site, 'LWT_CONF_INCLUDE_MISSING', `No matches for the wildcard '${part}' in '${dir}'`);
  }
  for (const m of sortStrcmp(matches)) {
    // A regular file from the directory listing needs no stat of its own.
    if (last && regular.has(m)) out.push(m);
    else if (last) plain(ctx, m, 0);
    else walk(ctx, m, parts, i + 1);
  }
}
