import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isRelevant, watchTargets } from '../../src/watch/watcher';
import { removeTree, tempDir, writeTree } from './helpers';

/** The files httpd itself reads for `IncludeOptional TARGET`, from `apache2 -t -D DUMP_INCLUDES`. */
function httpdIncludes(root: string, target: string): string[] {
  const conf = path.join(root, 'main.conf');
  fs.writeFileSync(conf, `ServerRoot "${root}"\nServerName x\nIncludeOptional "${target}"\n`);
  const r = spawnSync('apache2', ['-f', conf, '-t', '-D', 'DUMP_INCLUDES'], { encoding: 'utf8' });
  return `${r.stdout}\n${r.stderr}`.split('\n')
    .map((l) => /^\s+\(3\) (.*)$/.exec(l)?.[1])
    .filter((f): f is string => f !== undefined)
    .sort();
}

describe('watch/watcher: a new file in a watched directory reloads when httpd would read it', () => {
  const names = ['a.conf', 'b.conf', '.hidden.conf', 'a.conf~', 'x[1].conf', 'c.CONF', 'd.conf.bak', 'e-1.conf', 'f?.conf', 'z.load'];
  let root: string;
  let d: string;

  before(() => {
    root = tempDir('lwt-globs-');
    d = path.join(root, 'd');
    writeTree(root, Object.fromEntries(names.map((n) => [`d/${n}`, '# x\n'])));
  });
  after(() => removeTree(root));

  const relevantNames = (pattern: string) => {
    const t = watchTargets({ files: [], globs: [{ dir: d, pattern, file: path.join(root, 'main.conf'), line: 3 }] });
    return names.map((n) => path.join(d, n)).filter((f) => isRelevant(t, f)).sort();
  };

  for (const pattern of ['*.conf', '?.conf', '[ab].conf', '[!a]*.conf', '[a-c]*', '*.[cl]o*', 'x[[]1]*', '.*', '*-?.conf']) {
    it(`the same names as httpd for IncludeOptional d/${pattern}`, () => {
      assert.deepEqual(relevantNames(pattern), httpdIncludes(root, `d/${pattern}`));
    });
  }

  it('every name, dot files too, for a directory Include (pattern *), as httpd reads them', () => {
    const httpd = httpdIncludes(root, 'd/');
    assert.ok(httpd.includes(path.join(d, '.hidden.conf')), 'httpd reads dot files of an included directory');
    assert.deepEqual(relevantNames('*'), httpd);
  });
});
