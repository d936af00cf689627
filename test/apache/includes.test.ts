import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../src/apache';
import { FIXTURES, removeTree, tempTree } from './helpers';
import { thrown } from '../helpers/thrown';

const rel = (root: string, files: readonly string[]): string[] => files.map((f) => path.relative(root, f));

describe('apache includes', () => {
  const roots: string[] = [];
  const tree = (files: Record<string, string>): string => {
    const r = tempTree(files);
    roots.push(r);
    return r;
  };
  after(() => roots.forEach(removeTree));

  it('reads files in httpd order: wildcards, whole directories, wildcard directories', () => {
    const root = path.join(FIXTURES, 'include-order');
    const c = loadConfig({ configFile: path.join(root, 'main.conf') });
    assert.deepEqual(rel(root, c.files), [
      'main.conf',
      'conf.d/10-a.conf', 'conf.d/2-b.conf', 'conf.d/B.conf', 'conf.d/a.conf', 'conf.d/sub/nested.conf',
      'all/.dot', 'all/Z.load', 'all/a.conf', 'all/deeper/x.conf',
      'sites/alpha/site.conf', 'sites/beta/site.conf', 'sites/gamma/site.conf',
      'conf.d/10-a.conf', 'conf.d/2-b.conf',
      'conf.d/B.conf',
    ]);
    assert.deepEqual(c.tree.map((d) => `${path.relative(root, d.file)}:${d.line}:${d.name}`), ['conf.d/10-a.conf:2:ServerAdmin', 'conf.d/10-a.conf:2:ServerAdmin']);
  });

  it('records what a watcher needs: every file once, and each wildcard or directory', () => {
    const root = path.join(FIXTURES, 'include-order');
    const c = loadConfig({ configFile: path.join(root, 'main.conf') });
    assert.equal(new Set(c.watch.files).size, c.watch.files.length);
    assert.equal(c.watch.files.length, 13);
    const globs = c.watch.globs.map((g) => `${path.relative(root, g.dir) || '.'} ${g.pattern} @${g.line}`);
    assert.ok(globs.includes('conf.d *.conf @7'));
    assert.ok(globs.includes('all * @10'));
    assert.ok(globs.includes('all/deeper * @10'));
    assert.ok(globs.includes('sites * @13'));
    assert.ok(globs.includes('missing *.conf @20'), 'an optional wildcard in a missing directory is still watched');
    assert.ok(globs.includes('. missing.conf @21'), 'a missing optional file is watched for');
  });

  it('resolves relative paths against ServerRoot, and a ServerRoot line changes it for later lines', () => {
    const root = path.join(FIXTURES, 'server-root');
    const c = loadConfig({ configFile: path.join(root, 'main.conf'), env: { FIXTURE_ROOT: root } });
    assert.deepEqual(c.files, [
      ...['main.conf', 'first.conf', 'other-root/second.conf', 'other-root/conf/x.conf'].map((f) => path.join(root, f)),
      '/dev/null',
    ]);
    assert.equal(c.serverRoot, path.join(root, 'other-root'));
  });

  it('takes the starting ServerRoot from the options', () => {
    const root = tree({ 'etc/main.conf': 'Include conf/x.conf\n', 'srv/conf/x.conf': '# x\n' });
    const c = loadConfig({ configFile: path.join(root, 'etc/main.conf'), serverRoot: path.join(root, 'srv') });
    assert.deepEqual(rel(root, c.files), ['etc/main.conf', 'srv/conf/x.conf']);
  });

  it('reads an empty directory as nothing, with Include as well', () => {
    const root = tree({ 'main.conf': 'Include empty\nIncludeOptional empty/*.conf\n' });
    fs.mkdirSync(path.join(root, 'empty'));
    assert.deepEqual(rel(root, loadConfig({ configFile: path.join(root, 'main.conf') }).files), ['main.conf']);
  });

  it('lets a wildcard inside the path match directories only, not files or symlinks', () => {
    const root = tree({ 'main.conf': 'Include d*/x.conf\n', 'd1/x.conf': '# d1\n', 'dfile': '# a file\n', 'real/x.conf': '# via link\n' });
    fs.symlinkSync(path.join(root, 'real'), path.join(root, 'dlink'));
    assert.deepEqual(rel(root, loadConfig({ configFile: path.join(root, 'main.conf') }).files), ['main.conf', 'd1/x.conf']);
  });

  it('follows a symlink named without a wildcard', () => {
    const root = tree({ 'main.conf': 'Include link/*.conf\n', 'real/a.conf': '# a\n' });
    fs.symlinkSync(path.join(root, 'real'), path.join(root, 'link'));
    assert.deepEqual(rel(root, loadConfig({ configFile: path.join(root, 'main.conf') }).files), ['main.conf', 'link/a.conf']);
  });

  it('splices included directives in place, inside sections too', () => {
    const root = tree({
      'main.conf': 'A 1\n<VirtualHost *:80>\n  Include vhost.conf\n</VirtualHost>\nB 2\n',
      'vhost.conf': 'ServerName x\n<Directory /x>\nSetHandler lwt-wsapi\n</Directory>\n',
    });
    const c = loadConfig({ configFile: path.join(root, 'main.conf') });
    assert.deepEqual(c.tree.map((d) => d.name), ['A', 'VirtualHost', 'B']);
    const vh = c.tree[1]!;
    assert.deepEqual(vh.children!.map((d) => `${path.basename(d.file)}:${d.line}:${d.name}`), ['vhost.conf:1:ServerName', 'vhost.conf:2:Directory']);
  });

  it('returns frozen data', () => {
    const root = tree({ 'main.conf': '<Directory /x>\nA b\n</Directory>\n' });
    const c = loadConfig({ configFile: path.join(root, 'main.conf') });
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.tree) && Object.isFrozen(c.tree[0]) && Object.isFrozen(c.tree[0]!.children));
    assert.ok(Object.isFrozen(c.tree[0]!.children![0]!.args));
  });

  it('sees a changed file on the next load (the parse cache keys on content)', () => {
    const root = tree({ 'main.conf': 'A 1\n' });
    const file = path.join(root, 'main.conf');
    assert.deepEqual(loadConfig({ configFile: file }).tree[0]!.args, ['1']);
    fs.writeFileSync(file, 'A 2\n');
    assert.deepEqual(loadConfig({ configFile: file }).tree[0]!.args, ['2']);
  });

  describe('errors', () => {
    const cases: Array<{ name: string; files: Record<string, string>; code: string; file: string; line: number; message: RegExp }> = [
      { name: 'a missing Include target', files: { 'main.conf': '#\nInclude nope.conf\n' }, code: 'LWT_CONF_INCLUDE_MISSING', file: 'main.conf', line: 2, message: /Could not open configuration file .*nope\.conf/ },
      { name: 'a wildcard with no match', files: { 'main.conf': 'Include conf/*.conf\n', 'conf/a.txt': '' }, code: 'LWT_CONF_INCLUDE_MISSING', file: 'main.conf', line: 1, message: /No matches for the wildcard '\*\.conf'/ },
      { name: 'a wildcard in a missing directory', files: { 'main.conf': 'Include nodir/*.conf\n' }, code: 'LWT_CONF_INCLUDE_MISSING', file: 'main.conf', line: 1, message: /Could not open directory/ },
      { name: 'a wildcard directory missing the named file', files: { 'main.conf': 'Include d*/x.conf\n', 'd1/x.conf': '', 'd2/y.conf': '' }, code: 'LWT_CONF_INCLUDE_MISSING', file: 'main.conf', line: 1, message: /d2\/x\.conf/ },
      { name: 'an optional wildcard below a file', files: { 'main.conf': 'IncludeOptional f/*.conf\n', f: '' }, code: 'LWT_CONF_INCLUDE_UNREADABLE', file: 'main.conf', line: 1, message: /Not a directory/ },
      { name: 'an Include of a device', files: { 'main.conf': '\n\nInclude /dev/zero\n' }, code: 'LWT_CONF_INCLUDE_UNREADABLE', file: 'main.conf', line: 3, message: /not a regular file/ },
      { name: 'an Include with two arguments', files: { 'main.conf': 'Include a b\n' }, code: 'LWT_CONF_ARGS', file: 'main.conf', line: 1, message: /Include takes one argument/ },
      { name: 'a syntax error inside an included file', files: { 'main.conf': 'Include sub.conf\n', 'sub.conf': 'A\n<Files x>\n' }, code: 'LWT_CONF_SECTION_UNCLOSED', file: 'sub.conf', line: 2, message: /<Files> was not closed/ },
      { name: 'an include loop', files: { 'main.conf': 'Include a.conf\n', 'a.conf': '#\nInclude b.conf\n', 'b.conf': 'Include a.conf\n' }, code: 'LWT_CONF_INCLUDE_LOOP', file: 'a.conf', line: 2, message: /a\.conf:2 -> .*b\.conf:1 -> .*a\.conf:2/ },
      { name: 'a directory that includes itself', files: { 'main.conf': 'Include conf.d\n', 'conf.d/self.conf': 'Include conf.d/*.conf\n' }, code: 'LWT_CONF_INCLUDE_LOOP', file: 'conf.d/self.conf', line: 1, message: /self\.conf:1 -> .*self\.conf:1/ },
      { name: 'a ServerRoot that is not a directory', files: { 'main.conf': '\nServerRoot /nonexistent/root\n' }, code: 'LWT_CONF_SERVER_ROOT', file: 'main.conf', line: 2, message: /ServerRoot must be a valid directory/ },
    ];
    for (const c of cases) {
      it(`rejects ${c.name} with the right code and file:line`, () => {
        const root = tree(c.files);
        const e = thrown(() => loadConfig({ configFile: path.join(root, 'main.conf') }));
        assert.equal(e.code, c.code, e.message);
        assert.equal(e.file, path.join(root, c.file));
        assert.equal(e.line, c.line);
        assert.match(e.message, c.message);
      });
    }

    it('says through which Includes a bad file was reached', () => {
      const root = tree({ 'main.conf': 'Include a.conf\n', 'a.conf': '#\nInclude b.conf\n', 'b.conf': '<Files x>\n' });
      const e = thrown(() => loadConfig({ configFile: path.join(root, 'main.conf') }));
      assert.equal(e.code, 'LWT_CONF_SECTION_UNCLOSED');
      assert.equal(`${e.file}:${e.line}`, `${path.join(root, 'b.conf')}:1`);
      assert.ok(e.message.endsWith(`(included from ${path.join(root, 'a.conf')}:2 <- ${path.join(root, 'main.conf')}:1)`), e.message);
    });

    it('rejects a missing main file, naming it', () => {
      const e = thrown(() => loadConfig({ configFile: '/nonexistent/apache2.conf' }));
      assert.equal(e.code, 'LWT_CONF_INCLUDE_MISSING');
      assert.equal(e.file, '/nonexistent/apache2.conf');
    });

    it('rejects an included file it cannot read (no permission, or a FIFO when running as root)', () => {
      const root = tree({ 'main.conf': 'Include secret.conf\n', 'secret.conf': 'A\n' });
      const secret = path.join(root, 'secret.conf');
      if (process.getuid?.() === 0) {
        // root reads any file; a FIFO is a file httpd refuses too ("not a regular file").
        fs.rmSync(secret);
        execFileSync('mkfifo', [secret]);
      } else {
        fs.chmodSync(secret, 0o000);
      }
      const e = thrown(() => loadConfig({ configFile: path.join(root, 'main.conf') }));
      assert.equal(e.code, 'LWT_CONF_INCLUDE_UNREADABLE');
      assert.equal(e.file, path.join(root, 'main.conf'));
      assert.equal(e.line, 1);
    });

    it('rejects bad options by name', () => {
      assert.equal(thrown(() => loadConfig({ configFile: '' })).code, 'LWT_OPTION_INVALID');
      assert.match(thrown(() => loadConfig({ configFile: '/x', defines: 'A' as unknown as string[] })).message, /defines must be an array of strings/);
    });
  });
});
