import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WatchSet } from '../../src/apache/types';
import { ConfigWatcher, isRelevant, watchTargets } from '../../src/watch/watcher';
import { removeTree, saveByRename, tempDir, waitUntil, writeTree } from './helpers';

/** A watcher on a real temp tree that records each settled batch. */
async function watch(set: WatchSet) {
  const batches: string[][] = [];
  const errors: Error[] = [];
  const w = new ConfigWatcher(set, {
    debounceMs: 100,
    maxDelayMs: 2_000,
    onChange: (changed) => batches.push([...changed]),
    onError: (e) => errors.push(e),
  });
  await w.whenReady();
  /** Wait for the batch that mentions `file`, and return every batch so far. */
  const until = (file: string) =>
    waitUntil(() => (batches.some((b) => b.includes(file)) ? batches : undefined), `a change batch with ${file}`);
  return { w, batches, errors, until };
}

describe('watch/watcher: watching the files a load read', () => {
  let root: string;
  let set: WatchSet;
  let closeIt: (() => Promise<void>) | null = null;

  beforeEach(() => {
    root = tempDir();
    writeTree(root, { 'main.conf': 'x\n', 'ports.conf': 'Listen 80\n', 'unrelated.txt': 'x\n', 'sites/one.conf': 'x\n' });
    set = {
      files: [path.join(root, 'main.conf'), path.join(root, 'ports.conf'), path.join(root, 'sites/one.conf')],
      globs: [{ dir: path.join(root, 'sites'), pattern: '*.conf', file: path.join(root, 'main.conf'), line: 3 }],
    };
  });

  afterEach(async () => {
    await closeIt?.();
    closeIt = null;
    removeTree(root);
  });

  it('covers each file and each wildcard Include directory, and nothing else', () => {
    const t = watchTargets(set);
    assert.deepEqual([...t.dirs].sort(), [root, path.join(root, 'sites')]);
    assert.equal(isRelevant(t, path.join(root, 'ports.conf')), true);
    assert.equal(isRelevant(t, path.join(root, 'sites/new.conf')), true, 'a new file matching the glob');
    assert.equal(isRelevant(t, path.join(root, 'sites/new.conf.bak')), false);
    assert.equal(isRelevant(t, path.join(root, 'sites/.new.conf')), false, 'httpd globs with FNM_PERIOD');
    assert.equal(isRelevant(t, path.join(root, 'unrelated.txt')), false);
  });

  it('reports a new file that matches the Include glob, and not files outside the closure', async () => {
    const { w, until } = await watch(set);
    closeIt = () => w.close();
    writeTree(root, { 'unrelated.txt': 'changed\n', 'sites/notes.txt': 'x\n', 'sites/.hidden.conf': 'x\n' });
    writeTree(root, { 'sites/new.conf': 'x\n' });
    const batches = await until(path.join(root, 'sites/new.conf'));
    assert.deepEqual(batches.flat(), [path.join(root, 'sites/new.conf')]);
  });

  it('reports a removed site file', async () => {
    const { w, until } = await watch(set);
    closeIt = () => w.close();
    fs.unlinkSync(path.join(root, 'sites/one.conf'));
    await until(path.join(root, 'sites/one.conf'));
  });

  it('sees a save through a temp file and rename, twice in a row (the inode changes each time)', async () => {
    const { w, batches, until } = await watch(set);
    closeIt = () => w.close();
    const file = path.join(root, 'ports.conf');
    saveByRename(file, 'Listen 81\n');
    await until(file);
    const seen = batches.length;
    saveByRename(file, 'Listen 82\n');
    await waitUntil(() => (batches.length > seen ? true : undefined), 'the second save');
    assert.deepEqual(batches.flat(), [file, file], 'the temp file itself is not part of the closure');
  });

  it('settles ten files touched at once into exactly one batch', async () => {
    const names = Array.from({ length: 10 }, (_, i) => path.join(root, `sites/s${i}.conf`));
    writeTree(root, Object.fromEntries(names.map((n) => [path.relative(root, n), 'x\n'])));
    const { w, batches, until } = await watch({ ...set, files: [...set.files, ...names] });
    closeIt = () => w.close();
    const now = new Date(Date.now() + 5_000);
    for (const n of names) fs.utimesSync(n, now, now);
    await until(names[9]!);
    // A later, separate edit shows where the first burst ended.
    await new Promise((r) => setTimeout(r, 300));
    fs.appendFileSync(path.join(root, 'main.conf'), '# sentinel\n');
    await until(path.join(root, 'main.conf'));
    assert.equal(batches.length, 2);
    assert.deepEqual(batches[0], [...names].sort());
    assert.deepEqual(batches[1], [path.join(root, 'main.conf')]);
  });

  it('follows a new include closure after retarget, and lets go of a dropped one', async () => {
    writeTree(root, { 'conf.d/a.conf': 'x\n', 'extra.conf': 'x\n' });
    const { w, batches, until } = await watch(set);
    closeIt = () => w.close();
    w.retarget({
      files: [path.join(root, 'main.conf'), path.join(root, 'extra.conf')],
      globs: [{ dir: path.join(root, 'conf.d'), pattern: '*', file: path.join(root, 'main.conf'), line: 2 }],
    });
    assert.deepEqual(w.directories(), [root, path.join(root, 'conf.d')].sort());
    // chokidar adds directories asynchronously; a settled batch for the new dir proves it is watched.
    const b = path.join(root, 'conf.d/b.conf');
    for (let i = 0; !batches.some((x) => x.includes(b)); i++) {
      assert.ok(i < 15, 'an event from the newly watched directory');
      writeTree(root, { 'conf.d/b.conf': `${i}\n` });
      await new Promise((r) => setTimeout(r, 300));
    }
    writeTree(root, { 'sites/two.conf': 'x\n', 'ports.conf': 'Listen 81\n' });
    fs.appendFileSync(path.join(root, 'extra.conf'), '# newly included file in a watched directory\n');
    await until(path.join(root, 'extra.conf'));
    const all = batches.flat();
    assert.ok(!all.includes(path.join(root, 'sites/two.conf')), 'the dropped glob directory');
    assert.ok(!all.includes(path.join(root, 'ports.conf')), 'a file no longer included');
  });

  it('close() is idempotent and no batch is reported after it', async () => {
    const { w, batches } = await watch(set);
    const p = w.close();
    assert.equal(w.close(), p);
    await p;
    writeTree(root, { 'sites/late.conf': 'x\n' });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(batches, []);
  });
});
