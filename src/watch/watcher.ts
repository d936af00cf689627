/**
 * Watches exactly what a configuration load read: every file of the include
 * closure, and for each wildcard or directory Include the directory itself, so a
 * new `sites-enabled/x.conf` that matches the glob is seen and a removed one too.
 *
 * We watch the parent directories (depth 0) and filter names ourselves instead
 * of watching the files: an editor that saves by writing a temp file and
 * renaming it over the original replaces the inode, and only the directory
 * watcher sees the new file reliably. Bursts of events (a deploy tool rewriting
 * a tree, an editor's write + rename + chmod) settle into one callback after
 * `debounceMs` of quiet.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import type { WatchSet } from '../apache/types';
import { fnmatch } from '../apache/fnmatch';

export interface WatcherOptions {
  /** Quiet time after the last event before `onChange` runs. */
  readonly debounceMs: number;
  /** Upper bound on how long a continuous stream of events can defer `onChange`. */
  readonly maxDelayMs: number;
  /** Called once per settled burst with the absolute paths that changed. */
  readonly onChange: (changed: readonly string[]) => void;
  readonly onError: (err: Error) => void;
}

export interface WatchTargets {
  readonly files: ReadonlySet<string>;
  readonly dirs: ReadonlySet<string>;
  /** Directory → patterns of the Includes that read it by wildcard or whole. */
  readonly globs: ReadonlyMap<string, readonly string[]>;
}

/** The directories and name filters that cover a WatchSet. Pure, for tests and /health. */
export function watchTargets(set: WatchSet): WatchTargets {
  const files = new Set(set.files.map((f) => path.resolve(f)));
  const globs = new Map<string, string[]>();
  for (const g of set.globs) {
    const dir = path.resolve(g.dir);
    const list = globs.get(dir) ?? [];
    list.push(g.pattern);
    globs.set(dir, list);
  }
  const dirs = new Set<string>([...files].map((f) => path.dirname(f)));
  for (const d of globs.keys()) dirs.add(d);
  return { files, dirs, globs };
}

/** A watched directory, or one on the way to it (its creation or removal matters). */
function isWantedDir(t: WatchTargets, p: string): boolean {
  if (t.dirs.has(p)) return true;
  const prefix = p.endsWith(path.sep) ? p : p + path.sep;
  for (const d of t.dirs) if (d.startsWith(prefix)) return true;
  return false;
}

/**
 * Where to watch for a directory: itself, or while it does not exist, the
 * nearest ancestor that does (chokidar sees a missing path being created, but
 * not what is then written inside it).
 */
function rootFor(dir: string): string {
  let p = dir;
  while (!fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) {
    const up = path.dirname(p);
    if (up === p) break;
    p = up;
  }
  return p;
}

/**
 * Whether a change at `p` can change what a load reads. Wildcards follow httpd's
 * apr_fnmatch with APR_FNM_PERIOD. The pattern `*` also stands for a directory
 * Include, which reads dot files too (process_resource_config_nofnmatch): we
 * accept every name for it, as a spurious reload is harmless and a missed one not.
 */
export function isRelevant(t: WatchTargets, p: string): boolean {
  if (t.files.has(p)) return true;
  const patterns = t.globs.get(path.dirname(p));
  const name = path.basename(p);
  if (patterns !== undefined && patterns.some((pat) => (pat === '*' ? name !== '.' && name !== '..' : fnmatch(pat, name)))) return true;
  return isWantedDir(t, p);
}

/**
 * Linux stamps mtimes from a coarse clock (one scheduler tick behind the real
 * time), so a file written just after the load began can carry an earlier
 * mtime. Erring this way costs at most one needless reload.
 */
const MTIME_SLACK_MS = 50;

export class ConfigWatcher {
  private readonly opts: WatcherOptions;
  private targets: WatchTargets;
  /** The paths handed to chokidar: the wanted directories, or ancestors of missing ones. */
  private roots: Set<string>;
  /** Roots chokidar reported removed: it drops their watchers, so they are added again. */
  private readonly lost = new Set<string>();
  private readonly fsw: FSWatcher;
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private firstPendingAt = 0;
  private closing: Promise<void> | null = null;
  private readonly ready: Promise<void>;

  constructor(set: WatchSet, opts: WatcherOptions) {
    this.opts = opts;
    this.targets = watchTargets(set);
    this.roots = new Set([...this.targets.dirs].map(rootFor));
    this.fsw = chokidar.watch([...this.roots], {
      ignoreInitial: true,
      depth: 0,
      // Only the roots and relevant names: chokidar then keeps per-file watchers
      // for those alone, not for every file in /etc/apache2.
      ignored: (p: string) => !(this.roots.has(p) || isRelevant(this.targets, p)),
    });
    this.ready = new Promise((resolve) => this.fsw.once('ready', () => resolve()));
    // Directory events matter too: a wildcard in the middle of an Include path,
    // or an included directory that is created or removed.
    for (const ev of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) {
      this.fsw.on(ev, (p: string) => this.event(ev, path.resolve(p)));
    }
    this.fsw.on('error', (err: unknown) => this.opts.onError(err instanceof Error ? err : new Error(String(err))));
  }

  /** Resolves when the initial scan is done and changes from now on are seen. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** The directories that should be watched (the include closure's), sorted. */
  directories(): string[] {
    return [...this.targets.dirs].sort();
  }

  /**
   * Follow a load's closure: new Includes are watched, dropped ones let go, and
   * directories created or removed since the last call are watched where they
   * now are. Called after every reload attempt, failed ones included.
   */
  retarget(set: WatchSet, readSince: number = Date.now()): void {
    if (this.closing) return;
    const next = watchTargets(set);
    const prev = this.targets;
    const nextRoots = new Set([...next.dirs].map(rootFor));
    // unwatch() also ignores the path from then on: only for directories no
    // longer wanted, not for a wanted one that was removed and may come back.
    const gone = [...this.roots].filter((d) => !nextRoots.has(d) && !isWantedDir(next, d));
    const added = [...nextRoots].filter((d) => !this.roots.has(d) || this.lost.has(d));
    // A file newly included from a directory already watched had been filtered
    // out, so chokidar holds no watcher for it: add it by name.
    const newFiles = [...next.files].filter((f) => !prev.files.has(f) && nextRoots.has(path.dirname(f)));
    this.targets = next;
    this.roots = nextRoots;
    this.lost.clear();
    if (gone.length > 0) this.fsw.unwatch(gone);
    if (added.length + newFiles.length > 0) this.fsw.add([...added, ...newFiles]);
    if (added.length > 0) {
      const t = setTimeout(() => this.catchUp(added, readSince), this.opts.debounceMs);
      t.unref();
    }
  }

  /**
   * chokidar sets up a newly added directory asynchronously: a file written in
   * it between the load that found it and that moment raises no event. Look
   * once the watch is in place, and report what differs from the closure or
   * changed since the load began reading (`readSince`, epoch ms).
   */
  private catchUp(dirs: readonly string[], readSince: number): void {
    if (this.closing) return;
    for (const dir of dirs) {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      const present = new Set<string>();
      for (const e of entries) {
        if (e.isDirectory()) continue;
        const p = path.join(dir, e.name);
        if (!isRelevant(this.targets, p)) continue;
        present.add(p);
        const mtime = fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0;
        if (!this.targets.files.has(p)) this.event('add', p);
        else if (mtime >= readSince - MTIME_SLACK_MS) this.event('change', p);
      }
      for (const f of this.targets.files) if (path.dirname(f) === dir && !present.has(f)) this.event('unlink', f);
    }
  }

  private event(ev: string, p: string): void {
    if (this.closing) return;
    if (ev === 'unlinkDir' && this.roots.has(p)) this.lost.add(p);
    if (!isRelevant(this.targets, p)) return;
    this.pending.add(p);
    const now = Date.now();
    if (this.timer === null) this.firstPendingAt = now;
    else clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.opts.debounceMs, this.firstPendingAt + this.opts.maxDelayMs - now));
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = null;
    if (this.closing || this.pending.size === 0) return;
    const changed = [...this.pending].sort();
    this.pending.clear();
    this.opts.onChange(changed);
  }

  /** Idempotent; no batch is reported once it is called. */
  close(): Promise<void> {
    if (!this.closing) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      this.pending.clear();
      this.closing = this.fsw.close();
    }
    return this.closing;
  }
}
