/**
 * Resolution rules beyond what the apache2 comparison covers: merge order
 * between main server and virtual host, <If> warnings, environment, paths.
 */

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { normalizePath } from '../../src/scopes';
import type { Snapshot } from '../../src/scopes/types';
import { res, removeSite, snapshotFromText } from './helpers';
import { thrown } from '../helpers/thrown';

function site(conf: string, files: Record<string, string>): { snap: Snapshot; root: string } {
  return snapshotFromText(conf, files);
}

describe('resolve', () => {
  const made: string[] = [];
  function make(conf: string, files: Record<string, string> = {}): Snapshot {
    const { snap, root } = site(conf, files);
    made.push(root);
    return snap;
  }
  after(() => made.forEach(removeSite));

  describe('merge order', () => {
    it('applies the virtual host\'s <Directory> after the main server\'s for the same path', () => {
      const snap = make([
        'DocumentRoot @ROOT@/www',
        '<Directory @ROOT@/www>', '  SetHandler lwt-wsapi', '  LuaMemoryLimit 1M', '</Directory>',
        '<VirtualHost *:80>', '  ServerName v', '  DocumentRoot @ROOT@/www',
        '  <Directory @ROOT@/www>', '    LuaMemoryLimit 2M', '  </Directory>', '</VirtualHost>',
      ].join('\n'), { 'www/a.lua': '' });
      const r = res(snap, '/a.lua', { host: 'v', port: 80 });
      assert.equal(r.handler, 'lwt-wsapi');
      assert.equal(r.lua.memoryLimit, 2 * 1024 * 1024);
    });

    it('lets <Location> override <Files>, and <Files> override <Directory>', () => {
      const snap = make([
        'DocumentRoot @ROOT@/www',
        '<Location /a>', '  LuaMemoryLimit 3M', '</Location>',
        '<Files "*.lua">', '  LuaMemoryLimit 2M', '  SetHandler lwt-wsapi', '</Files>',
        '<Directory @ROOT@/www>', '  LuaMemoryLimit 1M', '  SetHandler None', '</Directory>',
      ].join('\n'), { 'www/a/x.lua': '', 'www/b/x.lua': '' });
      assert.equal(res(snap, '/a/x.lua').lua.memoryLimit, 3 * 1024 ** 2);
      assert.equal(res(snap, '/b/x.lua').lua.memoryLimit, 2 * 1024 ** 2);
      assert.equal(res(snap, '/b/x.lua').status, 200);
    });

    it('applies later sections of the same kind and depth over earlier ones', () => {
      const snap = make([
        'DocumentRoot @ROOT@/www',
        '<Directory @ROOT@/www>', '  SetHandler lwt-wsapi', '</Directory>',
        '<Directory @ROOT@/w*>', '  SetHandler none', '</Directory>',
      ].join('\n'), { 'www/x.lua': '' });
      assert.equal(res(snap, '/x.lua').handler, null);
    });

    it('matches <Location> on whole segments and by wildcard or regex', () => {
      const snap = make([
        'DocumentRoot @ROOT@/www',
        '<Location /app>', '  SetHandler lwt-wsapi', '</Location>',
        '<Location /w*/x.lua>', '  SetHandler lwt-wsapi', '</Location>',
        '<LocationMatch "^/re/.+\\.lua$">', '  SetHandler lwt-wsapi', '</LocationMatch>',
      ].join('\n'), { 'www/app/x.lua': '', 'www/apple/x.lua': '', 'www/wild/x.lua': '', 'www/re/x.lua': '' });
      assert.deepEqual(['/app/x.lua', '/apple/x.lua', '/wild/x.lua', '/re/x.lua'].map((p) => res(snap, p).status), [200, 404, 200, 200]);
    });
  });

  describe('handlers', () => {
    it('lower-cases SetHandler and AddHandler values as httpd does', () => {
      const snap = make('DocumentRoot @ROOT@/www\nAddHandler LWT-WSAPI .WS\n<Files "*.lua">\nSetHandler Lwt-Wsapi\n</Files>\n', { 'www/a.ws': '', 'www/b.lua': '' });
      assert.deepEqual([res(snap, '/a.ws').handler, res(snap, '/b.lua').handler], ['lwt-wsapi', 'lwt-wsapi']);
    });

    it('counts every extension, so app.ws.bak is still a script and .ws alone is a name', () => {
      const snap = make('DocumentRoot @ROOT@/www\nAddHandler lwt-wsapi .ws\nAddHandler other .bak\n', { 'www/a.ws.txt': '', 'www/a.ws.bak': '', 'www/a.bak.ws': '', 'www/.ws': '', 'www/a..ws': '' });
      assert.deepEqual(['/a.ws.txt', '/a.ws.bak', '/a.bak.ws', '/.ws', '/a..ws'].map((p) => res(snap, p).handler),
        ['lwt-wsapi', 'other', 'lwt-wsapi', null, 'lwt-wsapi']);
    });

    it('forces cgi-script under ScriptAlias unless an extension handler says otherwise', () => {
      const snap = make('DocumentRoot @ROOT@/www\nAddHandler lwt-wsapi .ws\nScriptAlias /cgi-bin/ @ROOT@/cgi/\n', { 'cgi/a.sh': '', 'cgi/b.ws': '' });
      assert.deepEqual([res(snap, '/cgi-bin/a.sh').handler, res(snap, '/cgi-bin/b.ws').handler], ['cgi-script', 'lwt-wsapi']);
    });

    it('never reports a 200 for a file whose handler is not exactly lwt-wsapi', () => {
      const snap = make('DocumentRoot @ROOT@/www\nAddHandler lwt .lua\nAddHandler lwt-wsapi-x .x\n', { 'www/a.lua': '', 'www/b.x': '' });
      assert.deepEqual(['/a.lua', '/b.x'].map((p) => res(snap, p).status), [404, 404]);
    });
  });

  describe('paths', () => {
    const snap = (): Snapshot => make('DocumentRoot @ROOT@/www\nAddHandler lwt-wsapi .ws\n<Directory @ROOT@/www/d>\n  SetHandler lwt-wsapi\n</Directory>\n', { 'www/a.ws': '', 'www/d/': '' });

    it('normalises and refuses paths as httpd would', () => {
      assert.equal(normalizePath('/a//b/./c/../d'), '/a/b/d');
      assert.equal(normalizePath('/a/b/..'), '/a/');
      assert.equal(normalizePath('/../etc/passwd'), null);
      assert.equal(normalizePath('/a\0b'), null);
      assert.equal(normalizePath('relative'), null);
    });

    it('answers 404 for a path that escapes the root, before touching the file system', () => {
      const r = res(snap(), '/../../etc/passwd');
      assert.equal(r.status, 404);
      assert.equal(r.filename, null);
    });

    it('gives PATH_TRANSLATED as the mapping of PATH_INFO, and no PATH_INFO for a bare file', () => {
      const s = snap();
      const r = res(s, '/a.ws/x y');
      assert.equal(r.pathInfo, '/x y');
      assert.equal(r.pathTranslated, path.join(path.dirname(r.filename!), 'x y'));
      assert.equal(res(s, '/a.ws').pathTranslated, '');
    });

    it('explains a directory without trailing slash and a missing file', () => {
      const s = snap();
      assert.match(res(s, '/d').reason ?? '', /trailing slash/);
      assert.equal(res(s, '/nope.ws').reason, 'file does not exist');
      assert.equal(res(s, '/nope.ws').filename?.endsWith('/www/nope.ws'), true);
    });
  });

  describe("directories without a trailing slash (mod_dir's DirectorySlash)", () => {
    const conf = (extra: string[] = []) => make([
      'DocumentRoot @ROOT@/www', 'AddHandler lwt-wsapi .ws',
      '<Directory @ROOT@/www/app>', '  SetHandler lwt-wsapi', '</Directory>',
      '<Directory @ROOT@/www/app/denied>', '  Require all denied', '</Directory>',
      ...extra,
    ].join('\n'), { 'www/app/sub/': '', 'www/app/a b~é/': '', 'www/app/off/on/': '', 'www/app/denied/': '', 'www/plain/': '', 'www/app/idx/sub/': '' });

    it('redirects a directory of an lwt-wsapi scope to its path with the slash, escaped as ap_escape_uri does', () => {
      const s = conf();
      const r = res(s, '/app/sub');
      assert.deepEqual([r.status, r.redirect, r.handler], [301, '/app/sub/', 'lwt-wsapi']);
      assert.match(r.reason ?? '', /trailing slash/);
      assert.equal(res(s, '/app/a b~é').redirect, '/app/a%20b~%c3%a9/');
    });

    it('keeps 404 for a directory outside lwt-wsapi scopes and for the directory with its slash', () => {
      const s = conf();
      for (const p of ['/plain', '/app/sub/']) {
        const r = res(s, p);
        assert.deepEqual([r.status, r.redirect], [404, undefined], p);
      }
    });

    it('checks access first, as httpd runs mod_dir in the fixups after it', () => {
      assert.equal(res(conf(), '/app/denied').status, 403);
    });

    it('does not redirect under DirectorySlash Off, merged per directory like mod_dir', () => {
      const s = conf(['<Directory @ROOT@/www/app/off>', '  DirectorySlash Off', '</Directory>',
        '<Directory @ROOT@/www/app/off/on>', '  DirectorySlash on', '</Directory>']);
      const off = res(s, '/app/off');
      assert.deepEqual([off.status, off.redirect], [404, undefined]);
      assert.match(off.reason ?? '', /DirectorySlash Off/);
      assert.equal(res(s, '/app/off/on').status, 301);
      assert.equal(res(s, '/app/sub').status, 301);
    });

    it('answers a DirectoryIndex that names a directory with its redirect, or skips it under DirectorySlash Off', () => {
      const s = conf(['<Directory @ROOT@/www/app/idx>', '  DirectoryIndex sub', '</Directory>']);
      assert.deepEqual([res(s, '/app/idx/').status, res(s, '/app/idx/').redirect], [301, '/app/idx/sub/']);
      const off = conf(['<Directory @ROOT@/www/app/idx>', '  DirectoryIndex sub', '</Directory>', '<Directory @ROOT@/www/app/idx/sub>', '  DirectorySlash Off', '</Directory>']);
      assert.equal(res(off, '/app/idx/').reason, 'directory without a DirectoryIndex file');
    });

    it('refuses DirectorySlash values other than On and Off with the position', () => {
      const e = thrown(() => make('DocumentRoot @ROOT@/www\n<Directory @ROOT@/www>\n  DirectorySlash yes\n</Directory>\n'));
      assert.equal(e.code, 'LWT_CONF_ARGS');
      assert.equal(e.message, 'DirectorySlash must be On or Off');
      assert.equal(e.line, 3);
    });
  });

  describe('environment', () => {
    it('merges SetEnv, PassEnv and UnsetEnv like mod_env', () => {
      const snap = make([
        'DocumentRoot @ROOT@/www', 'AddHandler lwt-wsapi .ws', 'SetEnv A 1', 'SetEnv B 2', 'PassEnv HOME',
        '<Directory @ROOT@/www/sub>', '  UnsetEnv B HOME', '  SetEnv C', '</Directory>',
      ].join('\n'), { 'www/a.ws': '', 'www/sub/a.ws': '' });
      const top = res(snap, '/a.ws').env;
      assert.deepEqual([top.set, top.pass], [[['A', '1'], ['B', '2']], ['HOME']]);
      const sub = res(snap, '/sub/a.ws').env;
      assert.deepEqual([sub.set, sub.pass, sub.unset], [[['A', '1'], ['C', '']], [], []]);
    });
  });

  describe('snapshots', () => {
    it('are frozen, numbered by generation, and only resolve() with their own model', () => {
      const { snap, root } = site('DocumentRoot @ROOT@/www\n', {});
      made.push(root);
      assert.ok(Object.isFrozen(snap) && Object.isFrozen(snap.vhosts) && Object.isFrozen(snap.scopes));
      assert.equal(snap.generation, 1);
      assert.throws(() => res({ ...snap }, '/'), /not a snapshot made by buildSnapshot/);
    });
  });

  describe('diagnostics', () => {
    it('warns with file:line about an <If> holding handler or access directives, and records every <If>', () => {
      const snap = make('DocumentRoot @ROOT@/www\n<If "%{HTTP_HOST} == \'a\'">\n  SetHandler lwt-wsapi\n</If>\n<Else>\n  Header set X y\n</Else>\n');
      const w = snap.warnings.filter((d) => /depends on the request/.test(d.message));
      assert.equal(w.length, 1);
      assert.equal(w[0].line, 2);
    });

    it('warns that .htaccess files are not read when AllowOverride enables them', () => {
      const snap = make('<Directory /tmp>\n  AllowOverride All\n</Directory>\n');
      assert.ok(snap.warnings.some((d) => d.line === 2 && /\.htaccess/.test(d.message)));
    });

    const errors: Array<[string, string, string, number]> = [
      ['a <Directory> without a path', '<Directory>\n</Directory>\n', 'LWT_CONF_ARGS', 1],
      ['a regex that does not compile', 'ServerName x\n<DirectoryMatch "(">\n</DirectoryMatch>\n', 'LWT_CONF_REGEX', 2],
      ['<Directory> inside <Location>', '<Location />\n  <Directory /x>\n  </Directory>\n</Location>\n', 'LWT_CONF_CONTEXT', 2],
      ['DocumentRoot inside <Directory>', '<Directory /x>\n  DocumentRoot /y\n</Directory>\n', 'LWT_CONF_CONTEXT', 2],
      ['ServerAlias outside <VirtualHost>', 'ServerAlias a.test\n', 'LWT_CONF_CONTEXT', 1],
      ['AddHandler without an extension', 'AddHandler lwt-wsapi\n', 'LWT_CONF_ARGS', 1],
      ['AcceptPathInfo with a wrong word', 'AcceptPathInfo Sometimes\n', 'LWT_CONF_ARGS', 1],
    ];
    for (const [name, text, code, line] of errors) {
      it(`refuses ${name} at its line`, () => {
        const e = thrown(() => make(text));
        assert.equal(e.code, code);
        assert.equal(e.line, line);
        assert.ok(e.file?.endsWith('httpd.conf'));
      });
    }
  });
});
