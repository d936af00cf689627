/**
 * Hot reload, wired for `serve`: the reloader (transactional reloads), the file
 * watcher that triggers it and follows each new include closure, and the
 * loopback admin endpoint. SIGHUP belongs to the command: it calls
 * `reloader.reload('SIGHUP')`, as `apachectl graceful` signals httpd.
 */

import * as path from 'node:path';
import { SidecarError, formatError } from '../errors';
import type { LoadOptions, WatchSet } from '../apache/types';
import type { Snapshot } from '../scopes/types';
import { AdminServer, parseAdminAddress } from './admin';
import { Reloader, type WatchLog } from './reloader';
import { ConfigWatcher } from './watcher';

export { Reloader, type ReloadResult, type ReloadSuccess, type ReloadFailure, type WatchLog } from './reloader';
export { AdminServer, parseAdminAddress, health, type Health } from './admin';
export { ConfigWatcher, watchTargets } from './watcher';
export { diffSnapshots, summarizeDiff, describeDiff, type SnapshotDiff } from './diff';

export const WATCH_DEFAULTS = Object.freeze({ reloadDebounceMs: 150, maxReloadDelayMs: 2_000 });

export interface StartWatchingOptions {
  loadOptions: LoadOptions;
  initial: Snapshot;
  /** Called with each new generation right after it is swapped in. */
  onSnapshot(s: Snapshot): void;
  log?: WatchLog;
  /** Watch the files (false: `--no-watch`, reload only on SIGHUP or POST /reload). */
  watch: boolean;
  /** `--admin HOST:PORT`, loopback only. */
  admin?: string;
  /** Quiet time after the last file event before reloading. */
  debounceMs?: number;
  /** Read and parse in a worker thread (default false; see ReloaderInput.loadInWorker). */
  loadInWorker?: boolean;
}

export interface Watching {
  readonly reloader: Reloader;
  readonly watcher: ConfigWatcher | null;
  readonly admin: AdminServer | null;
  /** Idempotent. */
  close(): Promise<void>;
}

function checkDebounce(v: number | undefined): number {
  if (v === undefined) return WATCH_DEFAULTS.reloadDebounceMs;
  if (!Number.isInteger(v) || v < 0 || v > 60_000) {
    throw new SidecarError('LWT_OPTION_INVALID', `reloadDebounceMs must be an integer from 0 to 60000 (got ${v})`);
  }
  return v;
}

/** `sites-enabled/a.conf, b.conf and 8 more` relative to the main file's directory. */
function describeChanged(changed: readonly string[], base: string): string {
  const rel = changed.map((f) => (f.startsWith(base + path.sep) ? path.relative(base, f) : f));
  return rel.length <= 3 ? rel.join(', ') : `${rel.slice(0, 3).join(', ')} and ${rel.length - 3} more`;
}

export async function startWatching(opts: StartWatchingOptions): Promise<Watching> {
  const debounceMs = checkDebounce(opts.debounceMs);
  const admin = opts.admin === undefined ? null : parseAdminAddress(opts.admin);
  const log = opts.log;
  const reloader = new Reloader({
    loadOptions: opts.loadOptions, initial: opts.initial, onSnapshot: opts.onSnapshot,
    ...(log ? { log } : {}), ...(opts.loadInWorker === undefined ? {} : { loadInWorker: opts.loadInWorker }),
  });
  let watcher: ConfigWatcher | null = null;
  let adminServer: AdminServer | null = null;
  try {
    if (opts.watch) {
      const base = path.dirname(opts.initial.config.configFile);
      let watched: WatchSet = opts.initial.config.watch;
      const w = new ConfigWatcher(watched, {
        debounceMs,
        maxDelayMs: Math.max(WATCH_DEFAULTS.maxReloadDelayMs, 10 * debounceMs),
        onChange: (changed) => {
          reloader.reload(`changed: ${describeChanged(changed, base)}`).catch(() => { /* closed meanwhile */ });
        },
        onError: (err) => log?.warn(`watch: ${err.message}`),
      });
      watcher = w;
      const readSince = (r: { at: Date; timings: { totalMs: number } }) => r.at.getTime() - r.timings.totalMs;
      reloader.on('reload', (r) => {
        watched = r.snapshot.config.watch;
        w.retarget(watched, readSince(r));
      });
      // After a failed load, keep the last good closure, plus the file that failed
      // when the last good load never read it (a new Include of it), so that fixing
      // it reloads; directories created or removed meanwhile are followed too.
      reloader.on('error', (r) => {
        const f = r.error.file;
        if (f !== undefined && !watched.files.includes(f)) watched = { files: [...watched.files, f], globs: watched.globs };
        w.retarget(watched, readSince(r));
      });
      await w.whenReady();
      log?.info(`watching ${watched.files.length} configuration files in ${w.directories().length} directories`);
    }
    if (admin) {
      adminServer = await AdminServer.start({ address: admin, reloader, watchedDirectories: () => watcher?.directories() ?? null });
      log?.notice(`admin endpoint on ${adminServer.url()} (GET /health, POST /reload)`);
    }
  } catch (err) {
    await Promise.allSettled([watcher?.close(), reloader.close()]);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' || (err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') {
      throw new SidecarError('LWT_OPTION_INVALID', `--admin ${opts.admin}: ${formatError(err as Error)}`);
    }
    throw err;
  }
  let closing: Promise<void> | null = null;
  return {
    reloader,
    watcher,
    admin: adminServer,
    close() {
      closing ??= Promise.allSettled([watcher?.close(), adminServer?.close()])
        .then(() => reloader.close());
      return closing;
    },
  };
}
