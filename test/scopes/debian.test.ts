/**
 * Configuration nobody in this project wrote: the machine's /etc/apache2 and
 * every snippet Debian's packages ship there, read all at once.
 */

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { loadConfig } from '../../src/apache';
import { buildSnapshot, describeSnapshot, resolve } from '../../src/scopes';
import { parseDumpVhosts, removeSite, tempSite } from './helpers';

describe('Debian\'s own configuration', () => {
  it('builds a snapshot of /etc/apache2 whose virtual hosts and DocumentRoot match apache2ctl -S', () => {
    const snap = buildSnapshot(loadConfig({ configFile: '/etc/apache2/apache2.conf', envvarsFile: '/etc/apache2/envvars' }));
    const r = spawnSync('apache2ctl', ['-S'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const dumped = parseDumpVhosts(r.stdout);
    assert.deepEqual(snap.vhosts.filter((v) => !v.main).map((v) => `${v.file}:${v.line}`).sort(),
      [...new Set(dumped.map((d) => `${d.file}:${d.line}`))].sort());
    const mainRoot = /^Main DocumentRoot: "(.*)"$/m.exec(r.stdout)?.[1];
    assert.equal(snap.vhosts[0].documentRoot, mainRoot);
    // Debian's default site has no lwt-wsapi scope: nothing there may ever run.
    assert.deepEqual(snap.scopes, []);
    assert.equal(resolve(snap, { host: 'localhost', path: '/index.html', clientIp: '127.0.0.1' }).status, 404);
  });

  it('reads every module, conf and site snippet Debian ships, without error', () => {
    const root = tempSite({
      'all.conf': ['mods-available/*.load', 'mods-available/*.conf', 'conf-available/*.conf', 'sites-available/*.conf']
        .map((g) => `Include /etc/apache2/${g}`).join('\n') + '\n',
    });
    try {
      const snap = buildSnapshot(loadConfig({ configFile: path.join(root, 'all.conf'), serverRoot: '/etc/apache2', envvarsFile: '/etc/apache2/envvars' }));
      const d = describeSnapshot(snap);
      assert.ok(d.files.length > 50, `read ${d.files.length} files`);
      // userdir.conf protects with `Require method`, which only Apache can check: listed, with its line.
      assert.ok(d.unsupportedAccess.some((u) => u.file === '/etc/apache2/mods-available/userdir.conf' && /Require method/.test(u.message)));
    } finally {
      removeSite(root);
    }
  });
});
