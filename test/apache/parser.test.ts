import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseText } from '../../src/apache';
import type { Directive } from '../../src/apache/types';
import { thrown } from '../helpers/thrown';

/** A compact view of a tree: `line:Name args` with children nested. */
function view(nodes: readonly Directive[]): unknown[] {
  return nodes.map((n) => n.children === undefined
    ? `${n.line}:${n.name}${n.args.length ? ' ' + n.args.join('|') : ''}`
    : { [`${n.line}:<${n.name}${n.args.length ? ' ' + n.args.join('|') : ''}>`]: view(n.children) });
}

describe('apache parser', () => {
  const cases: Array<{ name: string; text: string; want: unknown[] }> = [
    {
      name: 'keeps every directive with its line',
      text: '# head\nServerName example.com\n\nListen 80\n',
      want: ['2:ServerName example.com', '4:Listen 80'],
    },
    {
      name: 'nests sections and keeps their arguments without the closing >',
      text: '<VirtualHost *:80 [::1]:80>\n  DocumentRoot /srv\n  <Directory "/srv/a b">\n    SetHandler lwt-wsapi\n  </Directory>\n</VirtualHost>\n',
      want: [{ '1:<VirtualHost *:80|[::1]:80>': ['2:DocumentRoot /srv', { '3:<Directory /srv/a b>': ['4:SetHandler lwt-wsapi'] }] }],
    },
    {
      name: 'matches section names case-insensitively and keeps the spelling',
      text: '<directory /x>\nRequire all granted\n</DIRECTORY>\n',
      want: [{ '1:<directory /x>': ['2:Require all|granted'] }],
    },
    {
      name: 'accepts a section without arguments',
      text: '<Else>\nA\n</Else>\n',
      want: [{ '1:<Else>': ['2:A'] }],
    },
    {
      name: 'gives a continued section line the line where it starts',
      text: '\n<Location \\\n /x>\n</Location>\n',
      want: [{ '2:<Location /x>': [] }],
    },
    {
      name: 'keeps an <If> expression whole in rawArgs',
      text: `<If "%{HTTP_HOST} == 'a'">\n</If>\n`,
      want: [{ "1:<If %{HTTP_HOST} == 'a'>": [] }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(view(parseText(c.text, '/conf/test.conf')), c.want);
    });
  }

  it('records file, key and raw argument text', () => {
    const [d] = parseText('AddHandler  lwt-wsapi .ws\n', '/conf/a.conf');
    assert.deepEqual(d, { name: 'AddHandler', key: 'addhandler', args: ['lwt-wsapi', '.ws'], rawArgs: 'lwt-wsapi .ws', file: '/conf/a.conf', line: 1 });
    const [s] = parseText(`<If "-f '/x'">\n</If>\n`, '/conf/a.conf');
    assert.equal(s!.rawArgs, `"-f '/x'"`);
  });

  it('does not expand ${VAR} (that is the loader\'s job)', () => {
    const [d] = parseText('DocumentRoot ${ROOT}/www\n', '/c');
    assert.deepEqual(d!.args, ['${ROOT}/www']);
  });

  const errors: Array<{ name: string; text: string; code: string; line: number; message: RegExp }> = [
    { name: 'an unterminated section', text: 'A\n<VirtualHost *:80>\n<Directory /x>\n</Directory>\n', code: 'LWT_CONF_SECTION_UNCLOSED', line: 2, message: /<VirtualHost> was not closed/ },
    { name: 'an unknown section close', text: 'A\n\n</Directory>\n', code: 'LWT_CONF_SECTION_MISMATCH', line: 3, message: /<\/Directory> without matching <Directory> section/ },
    { name: 'a mismatched close', text: '<Directory /x>\n</Location>\n', code: 'LWT_CONF_SECTION_MISMATCH', line: 2, message: /Expected <\/Directory> but saw <\/Location>/ },
    { name: 'a section without its closing >', text: '<Directory /x\n</Directory>\n', code: 'LWT_CONF_SYNTAX', line: 1, message: /missing closing '>'/ },
    { name: 'a close without its >', text: '<Directory /x>\n</Directory\n', code: 'LWT_CONF_SYNTAX', line: 2, message: /missing closing '>'/ },
  ];
  for (const c of errors) {
    it(`rejects ${c.name} with file:line`, () => {
      const e = thrown(() => parseText(c.text, '/conf/bad.conf'));
      assert.equal(e.code, c.code);
      assert.equal(e.file, '/conf/bad.conf');
      assert.equal(e.line, c.line);
      assert.match(e.message, c.message);
      assert.match(String(e), new RegExp(`^/conf/bad.conf:${c.line}: `));
    });
  }

  it('never crashes on arbitrary input: it parses or throws a SidecarError', () => {
    const unit = fc.constantFrom('<', '>', '/', 'A', 'b', ' ', '\n', '\\', '"', "'", '#', 'Dir', '</Dir>', '<Dir x>');
    fc.assert(fc.property(fc.string({ unit, maxLength: 80 }), (text) => {
      try {
        parseText(text, '/f');
      } catch (e) {
        assert.match(String((e as { code?: string }).code), /^LWT_CONF_/);
        assert.equal((e as { file?: string }).file, '/f');
        assert.equal(typeof (e as { line?: number }).line, 'number');
      }
    }));
  });
});
