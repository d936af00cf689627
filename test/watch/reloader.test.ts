import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatError } from '../../src/errors';
import { loadSnapshot } from '../../src/commands/common';
import { Reloader, type WatchLog } from '../../src/watch/reloader';
import { removeTree, siteTree, tempDir, vhostConf, writeTree } from './helpers';

function capture(): { log: WatchLog; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => { lines.push(`${level}: ${m}`); };
  return { log: { info: at('info'), notice: at('notice'), warn: at('warn'), error: at('error') }, lines };
}

for (const loadInWorker of [true, false]) {
  describe(`watch/reloader: a reload is a transaction (loading ${loadInWorker ? 'in the loader thread' : 'on the main thread'})`, () => {
    let root: string;
    let configFile: string;
    let reloader: Reloader | null = null;

    beforeEach(() => {
      root = tempDir();
      configFile = siteTree(root);
    });
    afterEach(async () => {
      await reloader?.close();
      reloader = null;
      removeTree(root);
    });

    function start(extra: { onSnapshot?: (s: import('../../src/scopes/types').Snapshot) => void; log?: WatchLog } = {}) {
      const initial = loadSnapshot({ configFile }, 1);
      reloader = new Reloader({ loadOptions: { configFile }, initial, loadInWorker, ...extra });
      return reloader;
    }

    it('swaps in a valid edit as generation + 1 and hands it to onSnapshot', async () => {
      const seen: number[] = [];
      const r = start({ onSnapshot: (s) => seen.push(s.generation) });
      writeTree(root, { 'conf/sites-enabled/new.conf': vhostConf(root, 'new.test') });
      const res = await r.reload('test');
      assert.ok(res.ok, res.ok ? '' : formatError(res.error));
      assert.equal(res.generation, 2);
      assert.equal(r.current().generation, 2);
      assert.deepEqual(seen, [2]);
      assert.ok(r.current().vhosts.some((v) => v.serverName === 'new.test'));
      assert.ok(r.current().config.files.includes(path.join(root, 'conf/sites-enabled/new.conf')));
    });

    it('keeps the last good generation on a syntax error, reports file:line, and recovers when fixed', async () => {
      const errors: string[] = [];
      const { log, lines } = capture();
      const r = start({ log });
      r.on('error', (f) => errors.push(formatError(f.error)));
      const before = r.current();
      const bad = path.join(root, 'conf/sites-enabled/one.conf');
      fs.writeFileSync(bad, vhostConf(root, 'one.test').replace('</Directory>\n', ''));
      const res = await r.reload('test');
      assert.equal(res.ok, false);
      assert.equal(r.current(), before, 'the same snapshot object keeps serving');
      assert.equal(r.lastError?.file, bad);
      assert.equal(typeof r.lastError?.line, 'number');
      assert.match(formatError(r.lastError!), new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+: `));
      assert.deepEqual(errors, [formatError(r.lastError!)]);
      assert.ok(lines.some((l) => l.startsWith('error: ') && l.includes(`generation 1 keeps serving: ${formatError(r.lastError!)}`)), lines.join('\n'));

      fs.writeFileSync(bad, vhostConf(root, 'one.test'));
      const fixed = await r.reload('test');
      assert.ok(fixed.ok, fixed.ok ? '' : formatError(fixed.error));
      assert.equal(fixed.generation, 2, 'a failed reload uses no generation number');
      assert.equal(r.lastError, null);
    });

    it('logs what changed: virtual hosts and scopes added, removed, and a changed LuaPath', async () => {
      const { log, lines } = capture();
      const r = start({ log });
      writeTree(root, {
        'conf/sites-enabled/new.conf': vhostConf(root, 'new.test'),
        'conf/sites-enabled/one.conf': vhostConf(root, 'one.test', `${root}/lib2/?.lua`),
      });
      const res = await r.reload('test');
      assert.ok(res.ok, res.ok ? '' : formatError(res.error));
      assert.equal(res.diff.vhostsAdded.length, 1);
      assert.equal(res.diff.scopesAdded.length, 1);
      assert.equal(res.diff.scopesChanged.length, 1);
      const text = lines.join('\n');
      assert.match(text, /notice: reload \(test\): generation 2 live in [\d.]+ ms; scopes \+1 -0 ~1, vhosts \+1 -0, files \+1 -0/);
      assert.match(text, /\+ vhost new\.test \*:8080/);
      assert.ok(text.includes(`LuaPath: ${root}/lib/?.lua -> ${root}/lib2/?.lua`), text);

      fs.unlinkSync(path.join(root, 'conf/sites-enabled/new.conf'));
      const gone = await r.reload('test');
      assert.ok(gone.ok, gone.ok ? '' : formatError(gone.error));
      assert.equal(gone.diff.vhostsRemoved[0]?.serverName, 'new.test');
      assert.equal(gone.diff.scopesRemoved.length, 1);
    });

    it('never runs two loads at once: requests during a reload join the single next one', async () => {
      const r = start();
      const a = r.reload('a');
      const b = r.reload('b');
      const c = r.reload('c');
      assert.equal(b, c);
      const [ra, rb] = await Promise.all([a, b]);
      assert.equal(ra.generation, 2);
      assert.equal(rb.generation, 3);
      assert.equal(rb.reason, 'b, c');
    });

    it('close() is idempotent and refuses later reloads with LWT_CLOSED', async () => {
      const r = start();
      const p = r.close();
      assert.equal(r.close(), p);
      await p;
      await assert.rejects(r.reload('late'), (e: { code?: string }) => e.code === 'LWT_CLOSED');
    });
  });
}

describe('watch/reloader: options', () => {
  it('names the option and the fix when one is invalid', () => {
    assert.throws(
      () => new Reloader({ loadOptions: { configFile: '' }, initial: {} as never }),
      (e: { code?: string; message?: string }) => e.code === 'LWT_OPTION_INVALID' && /loadOptions\.configFile/.test(e.message ?? ''),
    );
  });
});
