/**
 * httpd is the oracle: Debian's real apache2 reads the same trees with
 * `-t -D DUMP_INCLUDES`, and the files it lists (and the line it blames on
 * bad input) must be the ones loadConfig reports.
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { allDirectives, loadConfig } from '../../src/apache';
import { spawnSync } from 'node:child_process';
import { COMPILED_IN } from '../../src/apache/modules';
import { FIXTURES, httpdErrorSite, parseDumpIncludes, removeTree, runHttpd, tempTree } from './helpers';
import { thrown } from '../helpers/thrown';

function httpdFiles(root: string, main: string, extra: string[] = [], env: Record<string, string> = {}): string[] {
  const r = runHttpd(['-D', 'DUMP_INCLUDES', '-d', root, '-f', main, ...extra], env);
  assert.doesNotMatch(r.stderr, /Syntax error/, r.stderr);
  return parseDumpIncludes(r.stdout).map((e) => e.file);
}

describe('apache layer agrees with httpd', () => {
  it('on the include order fixture (globs, directories, optional includes)', () => {
    const root = path.join(FIXTURES, 'include-order');
    const main = path.join(root, 'main.conf');
    assert.deepEqual(loadConfig({ configFile: main }).files, httpdFiles(root, main));
  });

  it('on the conditionals fixture, with -D and an environment variable', () => {
    const root = path.join(FIXTURES, 'conditionals');
    const main = path.join(root, 'main.conf');
    const ours = loadConfig({ configFile: main, defines: ['FROM_CMDLINE'], env: { FIXTURE_ENV: 'envvalue' } }).files;
    const theirs = httpdFiles(root, main, ['-D', 'FROM_CMDLINE'], { FIXTURE_ENV: 'envvalue' });
    assert.deepEqual(ours, theirs);
    assert.equal(ours.length, 18, 'every branch file but never.conf');
  });

  it('on the ServerRoot fixture', () => {
    const root = path.join(FIXTURES, 'server-root');
    const main = path.join(root, 'main.conf');
    const ours = loadConfig({ configFile: main, env: { FIXTURE_ROOT: root } }).files;
    assert.deepEqual(ours, httpdFiles(root, main, [], { FIXTURE_ROOT: root }));
  });

  it('on the mod_lwt guard fixture, except that the sidecar counts mod_lwt.c as loaded', () => {
    const root = path.join(FIXTURES, 'lwt-guard');
    const main = path.join(root, 'main.conf');
    const ours = loadConfig({ configFile: main }).files.map((f) => path.basename(f));
    const theirs = httpdFiles(root, main).map((f) => path.basename(f));
    assert.deepEqual(theirs, ['main.conf', 'no-lwt.conf', 'common.conf']);
    assert.deepEqual(ours, ['main.conf', 'lwt.conf', 'common.conf']);
  });

  it('on this machine\'s /etc/apache2 read through apache2ctl with Debian\'s envvars', () => {
    const r = runHttpd(['-D', 'DUMP_INCLUDES'], {}, 'apache2ctl');
    assert.equal(r.status, 0, r.stderr);
    const theirs = parseDumpIncludes(r.stdout).map((e) => e.file);
    assert.ok(theirs.length > 1);
    const c = loadConfig({ configFile: '/etc/apache2/apache2.conf', envvarsFile: '/etc/apache2/envvars' });
    assert.deepEqual(c.files, theirs);
    assert.deepEqual(c.warnings, []);
  });

  describe('on bad input: both fail, at the same file and line', () => {
    const cases = ['unclosed.conf', 'unknown-close.conf', 'mismatch.conf', 'missing.conf', 'no-match.conf', 'unreadable.conf'];
    const root = path.join(FIXTURES, 'bad');
    for (const name of cases) {
      it(name, () => {
        const main = path.join(root, name);
        const r = runHttpd(['-d', root, '-f', main]);
        assert.notEqual(r.status, 0);
        const site = httpdErrorSite(r.stderr);
        const e = thrown(() => loadConfig({ configFile: main }));
        assert.deepEqual({ file: e.file, line: e.line }, site, `${e.message}\nhttpd: ${r.stderr}`);
      });
    }

    it('loop.conf: httpd stops at depth 128; the sidecar names the cycle httpd went round', () => {
      const main = path.join(root, 'loop.conf');
      const r = runHttpd(['-d', root, '-f', main]);
      assert.notEqual(r.status, 0);
      // httpd's message ("Exceeded maximum include depth of 128") is cut at 8 KiB by the chain before it.
      assert.ok((r.stderr.match(/loop\/b\.conf:/g) ?? []).length > 20, r.stderr);
      const e = thrown(() => loadConfig({ configFile: main }));
      assert.equal(e.code, 'LWT_CONF_INCLUDE_LOOP');
      assert.ok(r.stderr.includes(`Syntax error on line ${e.line} of ${e.file}:`));
      assert.match(e.message, /loop\/a\.conf:3 -> .*loop\/b\.conf:3 -> .*loop\/a\.conf:3/);
    });
  });

  it('on sorting names by bytes, as strcmp does (not by UTF-16 code units)', () => {
    const root = tempTree({ 'main.conf': 'Include d/*.conf\nInclude d\n', 'd/\u{1F600}.conf': '#\n', 'd/\uE000.conf': '#\n', 'd/Z.conf': '#\n', 'd/\u00e9.conf': '#\n' });
    try {
      const main = path.join(root, 'main.conf');
      const ours = loadConfig({ configFile: main }).files;
      assert.deepEqual(ours, httpdFiles(root, main));
      assert.deepEqual(ours.slice(1, 5).map((f) => path.basename(f)), ['Z.conf', '\u00e9.conf', '\uE000.conf', '\u{1F600}.conf']);
    } finally {
      removeTree(root);
    }
  });

  it('on generated include trees (names with dots, brackets, digits and case)', () => {
    const names = fc.constantFrom('a.conf', 'B.conf', '.x.conf', '10.conf', '2.conf', 'z.load', 'a b.conf', 'é.conf', '_.conf');
    const dirs = fc.constantFrom('d1', 'D2', '.dd', 'd1/sub', 'x');
    const patterns = fc.constantFrom('d1/*.conf', '*/*.conf', 'd1', 'D2/[a-z]*', '*/[!a]*.conf', 'd?/*', '*', 'x/*.load', '*/sub/*.conf');
    const roots: string[] = [];
    try {
      fc.assert(fc.property(
        fc.array(fc.tuple(dirs, names), { minLength: 1, maxLength: 8 }), fc.array(patterns, { minLength: 1, maxLength: 3 }),
        (files, includes) => {
          const tree: Record<string, string> = {};
          for (const [d, n] of files) tree[`${d}/${n}`] = `# ${d}/${n}\n`;
          // IncludeOptional: a pattern that matches nothing is not an error for either reader.
          tree['main.conf'] = includes.map((p) => `IncludeOptional "${p}"`).join('\n') + '\n';
          const root = tempTree(tree);
          roots.push(root);
          const main = path.join(root, 'main.conf');
          // Both may reject a tree (e.g. `*` reaching main.conf again); then both must.
          const r = runHttpd(['-D', 'DUMP_INCLUDES', '-d', root, '-f', main]);
          if (/Syntax error/.test(r.stderr)) {
            thrown(() => loadConfig({ configFile: main }));
            return;
          }
          assert.deepEqual(loadConfig({ configFile: main }).files, parseDumpIncludes(r.stdout).map((e) => e.file));
        },
      ), { numRuns: 25 });
    } finally {
      roots.forEach(removeTree);
    }
  });

  it('on which directives and sections exist, with Debian\'s default modules loaded (<IfDirective>, <IfSection>)', () => {
    const entries = allDirectives().filter((d) => d.module !== 'mod_lwt.c');
    const files: Record<string, string> = {};
    const lines = ['Include /etc/apache2/mods-enabled/*.load'];
    entries.forEach((d, i) => {
      const kind = d.section ? 'IfSection' : 'IfDirective';
      files[`m/${i}.conf`] = `# ${kind} ${d.name}\n`;
      lines.push(`<${kind} ${d.name}>`, `Include m/${i}.conf`, `</${kind}>`);
    });
    // Spelling does not matter to httpd's lookup.
    lines.push('<IfDirective documentroot>', 'Include m/lower.conf', '</IfDirective>');
    files['m/lower.conf'] = '#\n';
    files['main.conf'] = lines.join('\n') + '\n';
    const root = tempTree(files);
    try {
      const main = path.join(root, 'main.conf');
      const theirs = httpdFiles(root, main);
      assert.ok(theirs.length > 200, `httpd knew only ${theirs.length} names`);
      assert.deepEqual(loadConfig({ configFile: main }).files, theirs);
    } finally {
      removeTree(root);
    }
  });

  it('on the modules compiled into apache2 (`apache2 -l`), which count as loaded', () => {
    const out = spawnSync('apache2', ['-l'], { encoding: 'utf8' }).stdout;
    const listed = out.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim());
    assert.deepEqual([...COMPILED_IN].sort(), listed.sort());
  });

  it('parses every configuration snippet Debian packages ship under /etc/apache2/*-available', () => {
    const dirs = ['conf-available', 'mods-available', 'sites-available'].map((d) => path.join('/etc/apache2', d));
    let count = 0;
    for (const dir of dirs) {
      for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.conf') || n.endsWith('.load'))) {
        const file = path.join(dir, name);
        const c = loadConfig({ configFile: file, serverRoot: '/etc/apache2', envvarsFile: '/etc/apache2/envvars' });
        assert.equal(c.files[0], file);
        count++;
      }
    }
    assert.ok(count > 100, `only ${count} snippets found`);
  });
});
