/**
 * What changed between two generations, for the reload log line and /reload.
 * A scope is identified by where it applies (virtual host, section, pattern),
 * not by file:line: moving a block within a file is no change, while a new
 * LuaPath or handler under the same identity is one.
 */

import { formatError } from '../errors';
import type { Scope, Snapshot, VHost } from '../scopes/types';

export interface ScopeChange {
  readonly before: Scope;
  readonly after: Scope;
  /** `LuaPath: a -> b` … one entry per setting that differs. */
  readonly fields: readonly string[];
}

export interface SnapshotDiff {
  readonly scopesAdded: readonly Scope[];
  readonly scopesRemoved: readonly Scope[];
  readonly scopesChanged: readonly ScopeChange[];
  readonly vhostsAdded: readonly VHost[];
  readonly vhostsRemoved: readonly VHost[];
  readonly filesAdded: readonly string[];
  readonly filesRemoved: readonly string[];
}

const SCOPE_FIELDS: ReadonlyArray<readonly [string, (s: Scope) => unknown]> = [
  ['handler', (s) => s.handler],
  ['extensions', (s) => s.extensions.join(' ')],
  ['LuaPath', (s) => s.luaPath],
  ['LuaCPath', (s) => s.luaCPath],
  ['LuaMemoryLimit', (s) => s.memoryLimit],
];

export function scopeKey(s: Scope): string {
  return `${s.vhost ?? '(main server)'}|${s.section}|${s.pattern}`;
}

export function vhostKey(v: VHost): string {
  return `${v.main ? '(main server)' : v.serverName ?? '(no ServerName)'}|${[...v.addresses].sort().join(' ')}`;
}

/** Group by key, keeping order: the same section may legitimately appear twice. */
function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

export function diffSnapshots(before: Snapshot, after: Snapshot): SnapshotDiff {
  const scopesAdded: Scope[] = [];
  const scopesRemoved: Scope[] = [];
  const scopesChanged: ScopeChange[] = [];
  const old = groupBy(before.scopes, scopeKey);
  const neu = groupBy(after.scopes, scopeKey);
  for (const [k, afterList] of neu) {
    const beforeList = old.get(k) ?? [];
    afterList.forEach((a, i) => {
      const b = beforeList[i];
      if (b === undefined) { scopesAdded.push(a); return; }
      const fields = SCOPE_FIELDS.filter(([, get]) => get(a) !== get(b))
        .map(([name, get]) => `${name}: ${show(get(b))} -> ${show(get(a))}`);
      if (fields.length > 0) scopesChanged.push({ before: b, after: a, fields });
    });
    scopesRemoved.push(...beforeList.slice(afterList.length));
  }
  for (const [k, beforeList] of old) if (!neu.has(k)) scopesRemoved.push(...beforeList);

  const oldV = new Set(before.vhosts.map(vhostKey));
  const newV = new Set(after.vhosts.map(vhostKey));
  const oldF = new Set(before.config.files);
  const newF = new Set(after.config.files);
  return {
    scopesAdded,
    scopesRemoved,
    scopesChanged,
    vhostsAdded: after.vhosts.filter((v) => !oldV.has(vhostKey(v))),
    vhostsRemoved: before.vhosts.filter((v) => !newV.has(vhostKey(v))),
    filesAdded: after.config.files.filter((f) => !oldF.has(f)),
    filesRemoved: before.config.files.filter((f) => !newF.has(f)),
  };
}

export function isEmptyDiff(d: SnapshotDiff): boolean {
  return d.scopesAdded.length + d.scopesRemoved.length + d.scopesChanged.length
    + d.vhostsAdded.length + d.vhostsRemoved.length + d.filesAdded.length + d.filesRemoved.length === 0;
}

function show(v: unknown): string {
  return v === null || v === undefined || v === '' ? '(unset)' : String(v);
}

function describeScope(s: Scope): string {
  const where = formatError({ message: '', file: s.file, line: s.line }).replace(/: $/, '');
  return `<${s.section} ${s.pattern}>${s.vhost ? ` in ${s.vhost}` : ''} (${s.handler}) at ${where}`;
}

function describeVHost(v: VHost): string {
  return `${v.main ? '(main server)' : v.serverName ?? '(no ServerName)'} ${v.addresses.join(' ')}`.trim();
}

/** `scopes +1 -0 ~1, vhosts +1 -0` */
export function summarizeDiff(d: SnapshotDiff): string {
  if (isEmptyDiff(d)) return 'no change in scopes, virtual hosts or files';
  const parts = [
    `scopes +${d.scopesAdded.length} -${d.scopesRemoved.length} ~${d.scopesChanged.length}`,
    `vhosts +${d.vhostsAdded.length} -${d.vhostsRemoved.length}`,
  ];
  if (d.filesAdded.length + d.filesRemoved.length > 0) parts.push(`files +${d.filesAdded.length} -${d.filesRemoved.length}`);
  return parts.join(', ');
}

/** One line per change, for the log under the summary. */
export function describeDiff(d: SnapshotDiff): string[] {
  return [
    ...d.vhostsAdded.map((v) => `+ vhost ${describeVHost(v)}`),
    ...d.vhostsRemoved.map((v) => `- vhost ${describeVHost(v)}`),
    ...d.scopesAdded.map((s) => `+ scope ${describeScope(s)}`),
    ...d.scopesRemoved.map((s) => `- scope ${describeScope(s)}`),
    ...d.scopesChanged.map((c) => `~ scope ${describeScope(c.after)}: ${c.fields.join('; ')}`),
    ...d.filesAdded.map((f) => `+ file ${f}`),
    ...d.filesRemoved.map((f) => `- file ${f}`),
  ];
}
