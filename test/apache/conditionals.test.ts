import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadConfig, type LoadOptionsEx } from '../../src/apache';
import type { Directive } from '../../src/apache/types';
import { removeTree, tempTree } from './helpers';
import { thrown } from '../helpers/thrown';

function names(nodes: readonly Directive[]): string[] {
  return nodes.map((d) => (d.children === undefined ? `${d.name}${d.args.length ? ' ' + d.args.join('|') : ''}` : `<${d.name}>[${names(d.children).join(', ')}]`));
}

describe('apache variables and conditionals', () => {
  const roots: string[] = [];
  after(() => roots.forEach(removeTree));
  const load = (text: string, opts: Partial<LoadOptionsEx> = {}, extra: Record<string, string> = {}) => {
    const root = tempTree({ 'main.conf': text, ...extra });
    roots.push(root);
    return loadConfig({ env: {}, ...opts, configFile: path.join(root, 'main.conf') });
  };

  describe('Define and ${VAR}', () => {
    it('expands Define values before the environment, and leaves unknown names as written', () => {
      const c = load('Define ROOT /srv\nDocumentRoot ${ROOT}/www\nA ${HOME} ${NOPE}\n', { env: { ROOT: '/env', HOME: '/home/x' } });
      assert.deepEqual(names(c.tree), ['DocumentRoot /srv/www', 'A /home/x|${NOPE}']);
    });

    it('expands before splitting, so a value with spaces gives several arguments (httpd ap_resolve_env)', () => {
      const c = load('Define PAIR "a b"\nX ${PAIR}\nY "${PAIR}"\n');
      assert.deepEqual(c.tree.map((d) => d.args), [['a', 'b'], ['a b']]);
      assert.equal(c.tree[0]!.rawArgs, 'a b');
    });

    it('warns once per undefined variable name, at its first use', () => {
      const c = load('A ${X}\nB ${X} ${Y}\n<Directory ${X}>\n</Directory>\nC ${ns:skip}\n');
      assert.deepEqual(c.warnings.map((w) => `${w.line}: ${w.message}`), ['1: Config variable ${X} is not defined', '2: Config variable ${Y} is not defined']);
      assert.ok(c.warnings.every((w) => w.file!.endsWith('main.conf')));
    });

    it('applies Define and UnDefine in reading order; one-argument Defines are not variables', () => {
      const c = load('Define V 1\nA ${V}\nUnDefine V\nB ${V}\nDefine FLAG\nC ${FLAG}\n');
      assert.deepEqual(names(c.tree), ['A 1', 'B ${V}', 'C ${FLAG}']);
      assert.deepEqual(c.defines, ['FLAG']);
    });

    it('lists -D parameters and Defines; Define lines leave the tree', () => {
      const c = load('Define A\nDefine B x\n', { defines: ['CMD'] });
      assert.deepEqual(c.defines, ['CMD', 'A', 'B']);
      assert.deepEqual(c.tree, []);
    });

    it('expands variables in section arguments and in Include paths', () => {
      const c = load('Define D sub\n<Directory /${D}>\nInclude ${D}/x.conf\n</Directory>\n', {}, { 'sub/x.conf': 'Inside yes\n' });
      assert.deepEqual(names(c.tree), ['<Directory>[Inside yes]']);
      assert.deepEqual(c.tree[0]!.args, ['/sub']);
    });

    it('rejects a variable name with a colon', () => {
      const e = thrown(() => load('\nDefine a:b 1\n'));
      assert.equal(e.code, 'LWT_CONF_VARIABLE');
      assert.equal(e.line, 2);
    });

    it('reads an envvars file into the environment first', () => {
      const c = load('ErrorLog ${APACHE_LOG_DIR}/error.log\n', { envvarsFile: '/etc/apache2/envvars' });
      assert.deepEqual(names(c.tree), ['ErrorLog /var/log/apache2/error.log']);
      assert.ok(c.watch.files.includes('/etc/apache2/envvars'));
    });
  });

  describe('<IfDefine> and <IfModule>', () => {
    it('splices a true section in place and drops a false one', () => {
      const c = load('<IfDefine A>\nX 1\n</IfDefine>\n<IfDefine !A>\nX 2\n</IfDefine>\nY\n', { defines: ['A'] });
      assert.deepEqual(names(c.tree), ['X 1', 'Y']);
    });

    it('does not read Includes inside a false section', () => {
      const c = load('<IfDefine NOPE>\nInclude missing.conf\n</IfDefine>\n');
      assert.deepEqual(c.files.length, 1);
    });

    it('counts a module as loaded after its LoadModule line, by either name, not before', () => {
      const c = load([
        '<IfModule proxy_module>', 'A before', '</IfModule>',
        'LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so',
        '<IfModule proxy_module>', 'B id', '</IfModule>',
        '<IfModule mod_proxy.c>', 'C source', '</IfModule>',
        '<IfModule !mod_proxy.c>', 'D not', '</IfModule>',
      ].join('\n') + '\n');
      assert.deepEqual(names(c.tree), ['LoadModule proxy_module|/usr/lib/apache2/modules/mod_proxy.so', 'B id', 'C source']);
      assert.ok(c.modules.includes('proxy_module') && c.modules.includes('mod_proxy.c'));
    });

    it('counts mod_lwt and the compiled-in modules as loaded, and modules named in the options', () => {
      const c = load([
        '<IfModule mod_lwt.c>', 'A lwt', '</IfModule>',
        '<IfModule lwt_module>', 'B lwt', '</IfModule>',
        '<IfModule mod_version.c>', 'C version', '</IfModule>',
        '<IfModule log_config_module>', 'D log', '</IfModule>',
        '<IfModule mod_rewrite.c>', 'E rewrite', '</IfModule>',
        '<IfModule mod_ssl.c>', 'F ssl', '</IfModule>',
      ].join('\n') + '\n', { modules: ['rewrite_module'] });
      assert.deepEqual(names(c.tree), ['A lwt', 'B lwt', 'C version', 'D log', 'E rewrite']);
    });

    it('names the MPMs by their source file, as httpd does', () => {
      const c = load('LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n<IfModule event.c>\nA\n</IfModule>\n<IfModule mod_mpm_event.c>\nB\n</IfModule>\n');
      assert.deepEqual(names(c.tree).slice(1), ['A']);
    });
  });

  describe('<IfVersion>, <IfFile>, <IfDirective>, <IfSection>', () => {
    const versionCases: Array<[string, boolean]> = [
      ['2.4.71', true], ['= 2.4.71', true], ['== 2.4', false], ['2.4.70', false], ['>= 2.4', true], ['> 2.4.71', false],
      ['>= 2.4.71', true], ['< 2.5', true], ['<= 2.4.71', true], ['< 2', false], ['~ ^2\\.4\\.', true], ['/^2\\.4/', true],
      ['!= /^1\\./', true], ['!< 2.4', true], ['!= 2.4.71', false],
    ];
    for (const [arg, want] of versionCases) {
      it(`<IfVersion ${arg}> is ${want} for 2.4.71`, () => {
        assert.deepEqual(names(load(`<IfVersion ${arg}>\nYes\n</IfVersion>\n`).tree), want ? ['Yes'] : []);
      });
    }

    it('compares against the version given in the options', () => {
      assert.deepEqual(names(load('<IfVersion >= 2.5>\nYes\n</IfVersion>\n', { httpdVersion: '2.5.0' }).tree), ['Yes']);
    });

    it('rejects a malformed version and an unknown operator with file:line', () => {
      assert.equal(thrown(() => load('\n<IfVersion >= 2.x>\n</IfVersion>\n')).line, 2);
      assert.match(thrown(() => load('<IfVersion => 2.4>\n</IfVersion>\n')).message, /unrecognized operator '=>'/);
    });

    it('tests files relative to ServerRoot', () => {
      const c = load('<IfFile here.txt>\nA\n</IfFile>\n<IfFile !here.txt>\nB\n</IfFile>\n<IfFile /nonexistent>\nC\n</IfFile>\n', {}, { 'here.txt': '' });
      assert.deepEqual(names(c.tree), ['A']);
    });

    it('knows directives and sections only when their module is loaded', () => {
      const text = [
        '<IfDirective Alias>', 'A', '</IfDirective>',
        '<IfDirective luapath>', 'B', '</IfDirective>',
        '<IfDirective !ProxyPass>', 'C', '</IfDirective>',
        '<IfSection VirtualHost>', 'D', '</IfSection>',
        '<IfSection Proxy>', 'E', '</IfSection>',
      ].join('\n') + '\n';
      assert.deepEqual(names(load(text).tree), ['B', 'C', 'D']);
      assert.deepEqual(names(load(text, { modules: ['alias_module', 'mod_proxy.c'] }).tree), ['A', 'B', 'D', 'E']);
    });

    it('rejects a conditional without its argument', () => {
      const e = thrown(() => load('<IfModule>\n</IfModule>\n'));
      assert.equal(e.code, 'LWT_CONF_CONDITION');
      assert.equal(e.line, 1);
    });
  });

  it('keeps <If>, <ElseIf> and <Else> in the tree with their expressions', () => {
    const c = load(`<If "%{HTTP_HOST} == 'a'">\nA\n</If>\n<ElseIf "true">\nB\n</ElseIf>\n<Else>\nC\n</Else>\n`);
    assert.deepEqual(names(c.tree), ['<If>[A]', '<ElseIf>[B]', '<Else>[C]']);
    assert.equal(c.tree[0]!.rawArgs, `"%{HTTP_HOST} == 'a'"`);
  });
});
