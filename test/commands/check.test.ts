/**
 * `lwt-sidecar check`, run as a user runs it: the built CLI in a child process.
 */

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli, SITE, SITE_ENV } from '../scopes/helpers';

const ENV = { ...process.env, ...SITE_ENV };

describe('lwt-sidecar check', () => {
  it('prints the fixture site as JSON: files in httpd\'s order, virtual hosts, lwt-wsapi scopes', () => {
    const r = cli(['check', '--config', path.join(SITE, 'apache2.conf'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    const dump = spawnSync('apache2', ['-d', SITE, '-f', path.join(SITE, 'apache2.conf'), '-C', 'Define LWT_RUN /tmp', '-t', '-D', 'DUMP_INCLUDES'], { encoding: 'utf8', env: ENV });
    const httpdFiles = [...dump.stdout.matchAll(/^\s*\((?:\*|\d+)\) (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(d.files, httpdFiles);
    assert.deepEqual(d.vhosts.filter((v: { main: boolean }) => !v.main).map((v: { serverName: string; aliases: string[]; addresses: string[]; documentRoot: string; file: string; line: number }) =>
      [v.serverName, v.aliases, v.addresses, v.documentRoot, path.relative(SITE, v.file), v.line]), [
      ['www.example.test', ['example.test', 'localhost', '127.0.0.1'], ['*:*'], path.join(SITE, 'www'), 'sites/10-www.conf', 3],
      ['api.example.test', [], ['*:*'], path.join(SITE, 'api'), 'sites/20-api.conf', 3],
    ]);
    assert.deepEqual(d.scopes.map((s: { section: string; pattern: string; handler: string; luaPath: string | null; luaCPath: string | null; file: string; line: number }) =>
      [s.section, s.pattern, s.handler, s.luaPath, s.luaCPath, path.relative(SITE, s.file), s.line]), [
      ['Directory', path.join(SITE, 'www/app'), 'lwt-wsapi', `+${SITE}/www/app/lib/?.lua`, null, 'sites/10-www.conf', 15],
      ['VirtualHost', '*:*', 'lwt-wsapi .ws', null, null, 'sites/10-www.conf', 11],
      ['Files', '*.lua', 'lwt-wsapi', '/usr/share/lua/5.1/?.lua', null, 'sites/20-api.conf', 9],
    ]);
    assert.deepEqual(d.warnings, []);
  });

  it('prints a readable summary by default', () => {
    const r = cli(['check', '--config', path.join(SITE, 'apache2.conf')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /lwt-wsapi scopes \(3\):/);
    assert.match(r.stdout, /LuaPath \+\S+\/www\/app\/lib\/\?\.lua; LuaCPath \(Lua default\); LuaMemoryLimit 32M/);
  });

  describe('on an invalid configuration', () => {
    let dir = '';
    before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-check-')); });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const cases: Array<[string, string, number, string]> = [
      ['LuaMemoryLimit 12Q', 'ServerName x\n<Directory /tmp>\n  LuaMemoryLimit 12Q\n</Directory>\n', 3, 'LuaMemoryLimit requires a non-negative integer'],
      ['LuaPath without argument', 'ServerName x\nLuaPath\n', 2, 'LuaPath takes one argument'],
      ['an unterminated section', 'ServerName x\n<Directory /tmp>\n', 2, ''],
    ];
    for (const [name, text, line, message] of cases) {
      it(`exits 1 with file:line: message for ${name}, and no stack trace`, () => {
        const conf = path.join(dir, `${name.replace(/\W+/g, '-')}.conf`);
        fs.writeFileSync(conf, text);
        const r = cli(['check', '--config', conf]);
        assert.equal(r.status, 1);
        assert.ok(r.stderr.startsWith(`lwt-sidecar: ${conf}:${line}: ${message}`), r.stderr);
        assert.doesNotMatch(r.stderr, /\n\s+at /);
        assert.equal(r.stdout, '');
      });
    }
  });

  it('applies -D NAME to <IfDefine> before listing scopes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-check-'));
    try {
      const conf = path.join(dir, 'httpd.conf');
      fs.writeFileSync(conf, 'ServerName x\n<IfDefine WITH_LWT>\n  AddHandler lwt-wsapi .ws\n</IfDefine>\n');
      const scopes = (args: string[]) => JSON.parse(cli(['check', '--config', conf, '--json', ...args]).stdout).scopes.length;
      assert.deepEqual([scopes([]), scopes(['-D', 'WITH_LWT'])], [0, 1]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a missing --config as a usage error', () => {
    const r = cli(['check']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--config FILE is required/);
  });
});
