/**
 * Helpers for the configuration-engine tests: a real tree on disk (configuration
 * and site files), read with the real loader, and a snapshot built from it.
 */

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { loadConfig } from '../../src/apache';
import { buildSnapshot, resolve } from '../../src/scopes';
import type { Resolution, ResolveRequest, Snapshot } from '../../src/scopes/types';
import { removeTree, tempDir, writeTree } from '../helpers/tree';

export const SITE = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'httpd-conf', 'site');

/** Write files (relative path → content; a trailing `/` makes a directory) under a fresh temp dir. `@ROOT@` becomes the dir. */
export function tempSite(files: Record<string, string>): string {
  const root = tempDir('lwt-scopes-');
  writeTree(root, Object.fromEntries(Object.entries(files).map(([rel, text]) => [rel, text.split('@ROOT@').join(root)])));
  return root;
}

export const removeSite = removeTree;

/** Load `conf` (relative to root) with the real loader and build a snapshot. */
export function snapshotOf(root: string, conf = 'httpd.conf', env: Record<string, string> = {}): Snapshot {
  return buildSnapshot(loadConfig({ configFile: path.join(root, conf), env: { ...process.env, ...env } }));
}

/** A configuration from text alone: throws what buildSnapshot throws. */
export function snapshotFromText(text: string, extra: Record<string, string> = {}): { snap: Snapshot; root: string } {
  const root = tempSite({ 'httpd.conf': text, ...extra });
  try {
    return { snap: snapshotOf(root), root };
  } catch (e) {
    removeSite(root);
    throw e;
  }
}

export function res(snap: Snapshot, p: string, more: Partial<ResolveRequest> = {}): Resolution {
  return resolve(snap, { path: p, clientIp: '127.0.0.1', ...more });
}

/** The fixture site's environment (its paths are absolute through ${LWT_SITE}). */
export const SITE_ENV = { LWT_SITE: SITE };

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'lwt-sidecar');

/** Run the built CLI in a child process, as a user runs it (with the fixture site's environment). */
export function cli(args: string[], env: NodeJS.ProcessEnv = { ...process.env, ...SITE_ENV }) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface DumpedVhost { address: string; name: string; file: string; line: number; aliases: string[]; isDefault: boolean }

/** Parse the "VirtualHost configuration:" part of `apache2 -S`. */
export function parseDumpVhosts(stdout: string): DumpedVhost[] {
  const out: DumpedVhost[] = [];
  let address = '';
  let last: DumpedVhost | null = null;
  for (const line of stdout.split('\n')) {
    let m = /^(\S+)\s+is a NameVirtualHost$/.exec(line);
    if (m) { address = m[1]; continue; }
    m = /^(\S+)\s+(\S+) \((.+):(\d+)\)$/.exec(line);
    if (m) { last = { address: m[1], name: m[2], file: m[3], line: Number(m[4]), aliases: [], isDefault: true }; out.push(last); continue; }
    m = /^\s+default server (\S+) \((.+):(\d+)\)$/.exec(line);
    if (m) { last = { address, name: m[1], file: m[2], line: Number(m[3]), aliases: [], isDefault: true }; out.push(last); continue; }
    m = /^\s+port (\S+) namevhost (\S+) \((.+):(\d+)\)$/.exec(line);
    if (m) { last = { address, name: m[2], file: m[3], line: Number(m[4]), aliases: [], isDefault: false }; out.push(last); continue; }
    m = /^\s+(?:wild )?alias (\S+)$/.exec(line);
    if (m && last) last.aliases.push(m[1]);
  }
  return out;
}

