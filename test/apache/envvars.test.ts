import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readEnvvars } from '../../src/apache';
import type { Diagnostic } from '../../src/errors';
import { removeTree, tempTree } from './helpers';

/** What /bin/sh exports after sourcing `file` from an environment of exactly `base`. */
function shellTruth(file: string, base: Record<string, string>): Record<string, string> {
  const out = execFileSync('env', ['-i', ...Object.entries(base).map(([k, v]) => `${k}=${v}`), 'sh', '-c', '. "$0" && env -0', file], { encoding: 'utf8' });
  const env: Record<string, string> = {};
  for (const entry of out.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  delete env.PWD;
  delete env.SHLVL;
  delete env._;
  return env;
}

describe('apache envvars', () => {
  const roots: string[] = [];
  after(() => roots.forEach(removeTree));
  const file = (text: string): string => {
    const r = tempTree({ envvars: text });
    roots.push(r);
    return path.join(r, 'envvars');
  };

  for (const confdir of ['/etc/apache2', '/etc/apache2-second']) {
    it(`reads Debian's real /etc/apache2/envvars as sh does (APACHE_CONFDIR=${confdir})`, () => {
      const base = { APACHE_CONFDIR: confdir, HOME: '/root' };
      const warnings: Diagnostic[] = [];
      assert.deepEqual(readEnvvars('/etc/apache2/envvars', base, warnings), shellTruth('/etc/apache2/envvars', base));
      assert.deepEqual(warnings, []);
    });
  }

  it('defaults APACHE_CONFDIR to the file\'s directory, as apache2ctl does', () => {
    const env = readEnvvars('/etc/apache2/envvars', {}, []);
    assert.equal(env.APACHE_CONFDIR, '/etc/apache2');
    assert.equal(env.APACHE_LOG_DIR, '/var/log/apache2');
  });

  const agreeing: Array<[string, string]> = [
    ['quotes and references', `A=one\nexport B="$A two"\nexport C='$A'\nexport D=\${A}x\\ y\nexport E="\\$A \\"q\\""\n`],
    ['unexported variables stay out', 'X=hidden\nexport Y=$X\n'],
    ['export of an existing variable, unset', 'X=1\nexport X\nexport Z=2\nunset Z\n'],
    ['if/elif/else on strings', 'M=b\nif [ "$M" = a ]; then\n export R=a\nelif [ "$M" != b ] ; then\n export R=notb\nelse\n export R=other\nfi\n'],
    ['-n, -z and nesting', 'if [ -n "$NOPE" ]; then\n  export A=1\nelse\n  if [ -z "$NOPE" ]; then export B=2; fi\nfi\n'],
    ['parameter operators', 'P=/a/b/c.d\nexport S1=\${P#*/} S2=\${P##*/} S3=\${P%.*} S4=\${P%%/*}x S5=\${NOPE:-dflt} S6=\${P:+set}\n'],
    ['comments after words, semicolons', 'export A=1 # a comment\nexport B=2; export C=3\n'],
  ];
  for (const [name, text] of agreeing) {
    it(`agrees with sh on ${name}`, () => {
      const f = file(text);
      const base = { APACHE_CONFDIR: '/etc/apache2' };
      const warnings: Diagnostic[] = [];
      assert.deepEqual(readEnvvars(f, base, warnings), shellTruth(f, base));
      assert.deepEqual(warnings, []);
    });
  }

  it('skips what it cannot evaluate, with a warning at the line, and never runs it', () => {
    const marker = path.join(path.dirname(file('')), 'ran');
    const f = file([
      'export A=1',
      `touch ${marker}`,
      'export B=$(id -u)',
      'if [ -f /etc/passwd ]; then',
      '  export C=1',
      'else',
      '  export C=2',
      'fi',
      '. /etc/default/locale',
      'export D=4',
    ].join('\n') + '\n');
    const warnings: Diagnostic[] = [];
    const env = readEnvvars(f, { APACHE_CONFDIR: '/x' }, warnings);
    assert.deepEqual(env, { APACHE_CONFDIR: '/x', A: '1', D: '4' });
    assert.equal(fs.existsSync(marker), false);
    assert.deepEqual(warnings.map((w) => w.line), [2, 3, 4, 9]);
    assert.ok(warnings.every((w) => w.file === f && w.message.startsWith('envvars: ')));
  });

  it('skips every branch of an if whose test it cannot read, and keeps the if structure', () => {
    const f = file('if [ "$(uname)" = Linux ]; then export A=1; else export A=2; fi\nif true; then\n  export C=3\nfi\nexport B=ok\n');
    const warnings: Diagnostic[] = [];
    assert.deepEqual(readEnvvars(f, { APACHE_CONFDIR: '/x' }, warnings), { APACHE_CONFDIR: '/x', B: 'ok' });
    assert.deepEqual(warnings.map((w) => w.line), [1, 2]);
  });

  it('fails with LWT_CONF_ENVVARS when the file cannot be read', () => {
    assert.throws(() => readEnvvars('/nonexistent/envvars', {}, []), (e: { code?: string }) => e.code === 'LWT_CONF_ENVVARS');
  });
});
