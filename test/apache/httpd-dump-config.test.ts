/**
 * httpd as the oracle for the text layer: mod_info's `-t -D DUMP_CONFIG`
 * prints every directive httpd kept, as `Name args` with the argument text
 * exactly as it stood after continuation joining, trimming and ${VAR}
 * expansion. The same text must come out of loadConfig as `name rawArgs`.
 */

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import fc from 'fast-check';
import { loadConfig } from '../../src/apache';
import type { Directive } from '../../src/apache/types';
import { httpdErrorSite, removeTree, runHttpd, tempTree } from './helpers';
import { thrown } from '../helpers/thrown';

const PRELUDE = [
  'LoadModule info_module /usr/lib/apache2/modules/mod_info.so',
  'LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so',
  'LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so',
  'ErrorLog /dev/null',
  'ServerName localhost',
  'Define V "x  y"',
].join('\n') + '\n';

/** Directive lines of the dump, indentation removed. */
function dumpLines(stdout: string): string[] {
  return stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** The same view of our tree; EXEC_ON_READ directives httpd does not keep are left out. */
function ourLines(nodes: readonly Directive[]): string[] {
  const out: string[] = [];
  for (const d of nodes) {
    if (d.key === 'loadmodule' || d.key === 'serverroot') continue;
    if (d.children === undefined) out.push(d.rawArgs === '' ? d.name : `${d.name} ${d.rawArgs}`);
    else {
      out.push(`<${d.name}${d.rawArgs === '' ? '' : ' ' + d.rawArgs}>`, ...ourLines(d.children));
      // mod_info prints the close of a section only when the section has children.
      if (d.children.length > 0) out.push(`</${d.name}>`);
    }
  }
  return out;
}

function compare(body: string): void {
  const root = tempTree({ 'main.conf': PRELUDE + body });
  try {
    const main = path.join(root, 'main.conf');
    const r = runHttpd(['-D', 'DUMP_CONFIG', '-d', root, '-f', main]);
    if (r.status !== 0) {
      // A swallowed section line makes both readers reject the file, at the same place.
      const e = thrown(() => loadConfig({ configFile: main, env: {} }));
      assert.deepEqual({ file: e.file, line: e.line }, httpdErrorSite(r.stderr), `${r.stderr}\n--- config:\n${body}`);
      return;
    }
    assert.deepEqual(ourLines(loadConfig({ configFile: main, env: {} }).tree), dumpLines(r.stdout), body);
  } finally {
    removeTree(root);
  }
}

describe('apache text layer agrees with httpd -D DUMP_CONFIG', () => {
  it('on quoting, continuation, comments, variables and sections', () => {
    compare([
      '# a comment',
      'DirectoryIndex  a  "b c"  \\',
      "   d ${V} 'q\\'s' \\\\\\\\   ",
      '   # indented comment',
      'DirectoryIndex a#b # not a comment',
      '<IfDefine !NOPE>',
      '  DirectoryIndex "in ifdefine"',
      '</IfDefine>',
      '<Directory "/x y">',
      '  DirectoryIndex None',
      '  <Files \\',
      '     "*.ws">',
      '    DirectoryIndex index.ws',
      '  </Files>',
      '</Directory>',
      '<Location /a>  ',
      '</Location>',
    ].join('\n') + '\n');
  });

  it('on generated lines', () => {
    const word = fc.oneof(
      fc.stringMatching(/^[a-z0-9.#]{1,6}$/),
      fc.stringMatching(/^[a-z "'\\]{0,6}$/).map((s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`),
      fc.stringMatching(/^[a-z "\\]{0,6}$/).map((s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`),
      fc.constant('${V}'),
      fc.constant('x${V}y'),
    );
    const sep = fc.constantFrom(' ', '  ', '\t', ' \\\n', '\\\n ', ' \\\n   ');
    const line = fc.tuple(fc.array(fc.tuple(sep, word), { minLength: 1, maxLength: 5 }), fc.constantFrom('', ' ', '\t'))
      .map(([parts, tail]) => 'DirectoryIndex' + parts.map(([s, w]) => s + w).join('') + tail);
    const block = fc.array(fc.oneof(line, line.map((l) => `<Directory /d>\n${l}\n</Directory>`), fc.constant('# comment \\ '), fc.constant('# swallows the next line \\')), { minLength: 1, maxLength: 4 });
    fc.assert(fc.property(block, (lines) => compare(lines.join('\n') + '\n')), { numRuns: 30 });
  });
});
