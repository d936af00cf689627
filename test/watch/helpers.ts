/**
 * Watch-test helpers: a fresh temp tree per test (a small Debian-like layout
 * with an IncludeOptional glob), and waits that fail with a message instead of
 * hanging when the awaited event never comes.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EventEmitter } from 'node:events';
import { removeTree, tempDir as tempTreeDir, writeTree } from '../helpers/tree';

/** Generous: watch tests wait for real file-system events on a shared machine. */
export const EVENT_TIMEOUT_MS = 5_000;

export { removeTree, writeTree };

export function tempDir(prefix = 'lwt-watch-'): string {
  return tempTreeDir(prefix);
}

/** Save as editors do: write a temp file beside the target, then rename it over. */
export function saveByRename(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

export function vhostConf(root: string, name: string, luaPath?: string): string {
  return [
    '<VirtualHost *:8080>',
    `  ServerName ${name}`,
    `  DocumentRoot "${root}/www/${name}"`,
    `  <Directory "${root}/www/${name}">`,
    '    SetHandler lwt-wsapi',
    ...(luaPath ? [`    LuaPath "${luaPath}"`] : []),
    '  </Directory>',
    '</VirtualHost>',
    '',
  ].join('\n');
}

/**
 * A site laid out like Debian's /etc/apache2: the main file includes a ports
 * file and `IncludeOptional sites-enabled/*.conf`; one virtual host, one.test,
 * with an lwt-wsapi directory and a LuaPath.
 */
export function siteTree(root: string, extra: Record<string, string> = {}): string {
  writeTree(root, {
    'conf/apache2.conf': [
      `ServerRoot "${root}/conf"`,
      'ServerName main.test',
      `DocumentRoot "${root}/www/main"`,
      'Include ports.conf',
      'IncludeOptional sites-enabled/*.conf',
      '',
    ].join('\n'),
    'conf/ports.conf': 'Listen 8080\n',
    'conf/sites-enabled/one.conf': vhostConf(root, 'one.test', `${root}/lib/?.lua`),
    'www/main/index.html': 'main\n',
    'www/one.test/index.lua': 'return 1\n',
    'www/new.test/new.lua': 'return 1\n',
    ...extra,
  });
  return path.join(root, 'conf/apache2.conf');
}

export function waitForEvent<T extends unknown[]>(
  emitter: EventEmitter, event: string, what: string, predicate: (...args: T) => boolean = () => true,
  timeoutMs = EVENT_TIMEOUT_MS,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onEvent = (...args: unknown[]) => {
      if (!predicate(...(args as T))) return;
      cleanup();
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
    };
    emitter.on(event, onEvent);
  });
}

/** Poll `check` until it returns a value other than undefined. */
export async function waitUntil<T>(check: () => T | undefined, what: string, timeoutMs = EVENT_TIMEOUT_MS): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** waitUntil for a check that must ask something asynchronously (an HTTP endpoint). */
export async function waitUntilAsync<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = EVENT_TIMEOUT_MS): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
