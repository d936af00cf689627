import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatError } from '../../src/errors';
import { loadSnapshot } from '../../src/commands/common';
import { resolve } from '../../src/scopes';
import type { Snapshot } from '../../src/scopes/types';
import { startWatching, type ReloadFailure, type ReloadSuccess, type Watching } from '../../src/watch';
import { removeTree, saveByRename, siteTree, tempDir, vhostConf, waitForEvent, writeTree } from './helpers';

/** What the server would answer before running anything, for http://HOST:8080/FILE (only new.test has /new.lua). */
function statusFor(s: Snapshot, host: string, file = '/new.lua'): number {
  return resolve(s, { host, port: 8080, path: file }).status;
}

async function getJson(url: string, method = 'GET'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('watch: startWatching follows edits of a running configuration', () => {
  let root: string;
  let configFile: string;
  let live: Snapshot;
  let w: Watching | null = null;

  beforeEach(() => {
    root = tempDir();
    configFile = siteTree(root);
  });
  afterEach(async () => {
    await w?.close();
    w = null;
    removeTree(root);
  });

  async function start(watch = true): Promise<Watching> {
    live = loadSnapshot({ configFile }, 1);
    w = await startWatching({
      loadOptions: { configFile }, initial: live, watch, admin: '127.0.0.1:0', debounceMs: 100,
      onSnapshot: (s) => { live = s; },
    });
    return w;
  }
  const nextReload = (x: Watching, what: string) => waitForEvent<[ReloadSuccess]>(x.reloader, 'reload', what).then(([r]) => r);
  const nextFailure = (x: Watching, what: string) => waitForEvent<[ReloadFailure]>(x.reloader, 'error', what).then(([r]) => r);

  it('a new site file matching the IncludeOptional glob answers, and 404 once it is deleted', async () => {
    const x = await start();
    assert.equal(statusFor(live, 'new.test'), 404, 'before: the default vhost (one.test) has no /new.lua');
    const site = path.join(root, 'conf/sites-enabled/new.conf');
    const added = nextReload(x, 'the reload after adding new.conf');
    fs.writeFileSync(site, vhostConf(root, 'new.test'));
    assert.equal((await added).generation, 2);
    assert.equal(statusFor(live, 'new.test'), 200);

    const removed = nextReload(x, 'the reload after deleting new.conf');
    fs.unlinkSync(site);
    await removed;
    assert.equal(statusFor(live, 'new.test'), 404);
  });

  it('a LuaPath saved through a temp file and rename is in the next snapshot', async () => {
    const x = await start();
    const reloaded = nextReload(x, 'the reload after the rename-save');
    saveByRename(path.join(root, 'conf/sites-enabled/one.conf'), vhostConf(root, 'one.test', `${root}/lib2/?.lua`));
    const r = await reloaded;
    assert.equal(resolve(live, { host: 'one.test', port: 8080, path: '/index.lua' }).lua.luaPath, `${root}/lib2/?.lua`);
    assert.match(r.reason, /sites-enabled\/one\.conf/);
  });

  it('an IncludeOptional directory that appears, disappears and comes back is followed', async () => {
    fs.appendFileSync(configFile, 'IncludeOptional conf.d/*.conf\n');
    const x = await start();
    const dir = path.join(root, 'conf/conf.d');
    const made = nextReload(x, 'the reload after creating conf.d');
    writeTree(root, { 'conf/conf.d/new.conf': vhostConf(root, 'new.test') });
    await made;
    assert.equal(statusFor(live, 'new.test'), 200);

    const removed = nextReload(x, 'the reload after removing conf.d');
    fs.rmSync(dir, { recursive: true });
    await removed;
    assert.equal(statusFor(live, 'new.test'), 404);

    const back = nextReload(x, 'the reload after creating conf.d again');
    writeTree(root, { 'conf/conf.d/new.conf': vhostConf(root, 'new.test') });
    await back;
    assert.equal(statusFor(live, 'new.test'), 200);

    const edited = nextReload(x, 'the reload after editing a file in the recreated directory');
    fs.writeFileSync(path.join(dir, 'new.conf'), vhostConf(root, 'new.test', `${root}/lib3/?.lua`));
    await edited;
    assert.equal(resolve(live, { host: 'new.test', port: 8080, path: '/new.lua' }).lua.luaPath, `${root}/lib3/?.lua`);
  });

  it('ten files touched at once make exactly one reload', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `conf/sites-enabled/s${i}.conf`);
    writeTree(root, Object.fromEntries(names.map((n, i) => [n, vhostConf(root, `s${i}.test`)])));
    const x = await start();
    const generations: number[] = [];
    x.reloader.on('reload', (r) => generations.push(r.generation));
    const first = nextReload(x, 'the reload after touching ten files');
    const later = new Date(Date.now() + 5_000);
    for (const n of names) fs.utimesSync(path.join(root, n), later, later);
    await first;
    // A separate edit afterwards shows where the burst's reloads ended.
    await new Promise((r) => setTimeout(r, 400));
    const sentinel = nextReload(x, 'the reload after the sentinel edit');
    fs.appendFileSync(path.join(root, 'conf/ports.conf'), '# sentinel\n');
    await sentinel;
    assert.deepEqual(generations, [2, 3]);
  });

  it('a syntax error keeps the old configuration answering; /health and the log say file:line; fixing it recovers', async () => {
    const x = await start();
    const admin = x.admin!.url();
    const bad = path.join(root, 'conf/sites-enabled/one.conf');
    const failed = nextFailure(x, 'the failed reload');
    fs.writeFileSync(bad, vhostConf(root, 'one.test').replace('<Directory', 'Directory'));
    const f = await failed;
    assert.equal(f.error.file, bad);
    assert.equal(live.generation, 1);
    assert.equal(statusFor(live, 'one.test', '/index.lua'), 200, 'the last good generation still answers');

    const h = await getJson(`${admin}/health`);
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'degraded');
    assert.equal(h.body.generation, 1);
    const err = h.body.lastReloadError as { code: string; file: string; line: number; text: string };
    assert.equal(err.file, bad);
    assert.equal(err.text, formatError(f.error));
    assert.match(err.text, /one\.conf:\d+: /);

    const fixed = nextReload(x, 'the reload after the fix');
    fs.writeFileSync(bad, vhostConf(root, 'one.test'));
    assert.equal((await fixed).generation, 2);
    const ok = await getJson(`${admin}/health`);
    assert.equal(ok.body.status, 'ok');
    assert.equal(ok.body.lastReloadError, null);
  });

  it('/health lists the generation, its load time and the files watched; POST /reload reloads; other paths 404', async () => {
    const x = await start();
    const admin = x.admin!.url();
    const h = await getJson(`${admin}/health`);
    assert.equal(h.body.status, 'ok');
    assert.equal(h.body.configFile, configFile);
    assert.equal(h.body.loadedAt, live.loadedAt.toISOString());
    assert.deepEqual(h.body.files, live.config.files);
    assert.ok((h.body.files as string[]).includes(path.join(root, 'conf/sites-enabled/one.conf')));
    assert.ok((h.body.watchedDirectories as string[]).includes(path.join(root, 'conf/sites-enabled')));
    assert.equal(h.body.scopes, live.scopes.length);

    const r = await getJson(`${admin}/reload`, 'POST');
    assert.equal(r.status, 200);
    assert.equal(r.body.generation, 2);
    assert.equal(live.generation, 2);
    assert.equal((await getJson(`${admin}/nope`)).status, 404);
    assert.equal((await getJson(`${admin}/reload`)).status, 405);
  });

  it('with watching off, edits wait for an explicit reload (SIGHUP, POST /reload)', async () => {
    const x = await start(false);
    assert.equal(x.watcher, null);
    fs.writeFileSync(path.join(root, 'conf/sites-enabled/new.conf'), vhostConf(root, 'new.test'));
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(live.generation, 1);
    const h = await getJson(`${x.admin!.url()}/health`);
    assert.equal(h.body.watching, false);
    const r = await x.reloader.reload('SIGHUP');
    assert.ok(r.ok);
    assert.equal(statusFor(live, 'new.test'), 200);
  });

  it('refuses an admin address off loopback, naming the option', async () => {
    live = loadSnapshot({ configFile }, 1);
    await assert.rejects(
      startWatching({ loadOptions: { configFile }, initial: live, watch: false, admin: '0.0.0.0:8071', onSnapshot() {} }),
      (e: { code?: string; message?: string }) => e.code === 'LWT_OPTION_INVALID' && /--admin/.test(e.message ?? ''),
    );
  });

  it('close() is idempotent', async () => {
    const x = await start();
    const p = x.close();
    assert.equal(x.close(), p);
    await p;
    w = null;
  });
});
