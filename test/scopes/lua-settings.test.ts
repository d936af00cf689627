import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { formatError } from '../../src/errors';
import { res, removeSite, snapshotFromText, tempSite, snapshotOf } from './helpers';
import { thrown } from '../helpers/thrown';

/** A site whose <Directory @ROOT@/www> holds `lines`; returns the Lua settings resolve() gives for /a.ws. */
function luaFor(lines: string, serverLines = '') {
  const { snap, root } = snapshotFromText(
    `DocumentRoot @ROOT@/www\nAddHandler lwt-wsapi .ws\n${serverLines}\n<Directory @ROOT@/www>\n${lines}\n</Directory>\n`,
    { 'www/a.ws': '' },
  );
  try {
    const r = res(snap, '/a.ws');
    assert.equal(r.status, 200);
    return { lua: r.lua, root };
  } finally {
    removeSite(root);
  }
}

function confErr(text: string) {
  const root = tempSite({ 'httpd.conf': text });
  try {
    const e = thrown(() => snapshotOf(root));
    return { code: e.code, message: e.message, file: e.file, line: e.line, root, text: formatError(e as { message: string }) };
  } finally {
    removeSite(root);
  }
}

describe('mod_lwt directives (mod_lwt.md §1)', () => {
  describe('LuaPath and LuaCPath values', () => {
    it('roots relative entries at the <Directory> path and keeps the + prefix', () => {
      const { lua, root } = luaFor('LuaPath "+lib/?.lua;../shared/?.lua"\nLuaCPath "clib/?.so"');
      assert.equal(lua.luaPath, `+${root}/www/lib/?.lua;${root}/shared/?.lua`);
      assert.equal(lua.luaCPath, `${root}/www/clib/?.so`);
    });

    it('keeps absolute entries absolute (mod_lwt stripped the leading slash)', () => {
      const { lua } = luaFor('LuaPath "/usr/share/lua/5.1/?.lua;/opt//x/./?.lua"');
      assert.equal(lua.luaPath, '/usr/share/lua/5.1/?.lua;/opt/x/?.lua');
    });

    it('drops empty pieces, so ";;" cannot insert the default path', () => {
      const { lua, root } = luaFor('LuaPath ";;a/?.lua;;"');
      assert.equal(lua.luaPath, `${root}/www/a/?.lua`);
    });

    it('accepts absolute entries at server level and refuses relative ones there', () => {
      const { lua } = luaFor('', 'LuaPath "+/srv/lua/?.lua"');
      assert.equal(lua.luaPath, '+/srv/lua/?.lua');
      const e = confErr('LuaPath "+lib/?.lua"\n');
      assert.equal(e.code, 'LWT_CONF_LUA_PATH');
      assert.equal(e.text, `${path.join(e.root, 'httpd.conf')}:1: LuaPath requires a Lua path`);
    });

    it('refuses a relative entry at virtual-host level', () => {
      const e = confErr('<VirtualHost *:80>\n  ServerName a\n  LuaCPath "x/?.so"\n</VirtualHost>\n');
      assert.equal(e.text, `${path.join(e.root, 'httpd.conf')}:3: LuaCPath requires a Lua path`);
    });

    it('reports LuaPath without an argument at its line', () => {
      const e = confErr('ServerName x\n<Directory /tmp>\n  LuaPath\n</Directory>\n');
      assert.equal(e.code, 'LWT_CONF_ARGS');
      assert.equal(e.file, path.join(e.root, 'httpd.conf'));
      assert.equal(e.line, 3);
      assert.match(e.message, /^LuaPath takes one argument/);
    });

    it('does not accumulate + across scopes: the inner value replaces the outer one', () => {
      const { lua } = luaFor('LuaPath "+/inner/?.lua"', 'LuaPath "+/outer/?.lua"');
      assert.equal(lua.luaPath, '+/inner/?.lua');
    });
  });

  describe('sizes and numbers', () => {
    const sizes: Array<[string, number]> = [['0', 0], ['123', 123], ['12K', 12 * 1024], ['12M', 12 * 1024 ** 2], ['2G', 2 * 1024 ** 3]];
    for (const [text, n] of sizes) {
      it(`reads LuaMemoryLimit ${text} as ${n}`, () => {
        assert.equal(luaFor(`LuaMemoryLimit ${text}`).lua.memoryLimit, n);
      });
    }

    for (const bad of ['12Q', '12k', '1.5M', '-1', '12MB', 'M']) {
      it(`refuses LuaMemoryLimit ${bad} with file:line`, () => {
        const e = confErr(`ServerName x\nLuaMemoryLimit ${bad}\n`);
        assert.equal(e.code, 'LWT_CONF_LUA_SIZE');
        assert.equal(e.text, `${path.join(e.root, 'httpd.conf')}:2: LuaMemoryLimit requires a non-negative integer`);
      });
    }

    it('reads LuaArgsLimit, LuaFileLimit and LuaMaxArgs, and refuses a suffix on LuaMaxArgs', () => {
      const { lua } = luaFor('LuaArgsLimit 2M\nLuaFileLimit 3K\nLuaMaxArgs 10');
      assert.deepEqual([lua.argsLimit, lua.fileLimit, lua.maxArgs], [2 * 1024 ** 2, 3 * 1024, 10]);
      assert.equal(confErr('LuaMaxArgs 10K\n').message, 'LuaMaxArgs requires a non-negative integer');
    });

    it('fills the defaults of §1.1 when nothing is set', () => {
      const { lua } = luaFor('');
      assert.deepEqual(lua, {
        luaPath: null, luaCPath: null, errorOutput: true, handler: null, preHook: null, postHook: null,
        maxArgs: 256, argsLimit: 1048576, fileLimit: 8388608, memoryLimit: 67108864,
      });
    });

    it('reads LuaErrorOutput as a flag and refuses other words', () => {
      assert.equal(luaFor('LuaErrorOutput off').lua.errorOutput, false);
      assert.equal(confErr('LuaErrorOutput maybe\n').message, 'LuaErrorOutput must be On or Off');
    });

    it('roots LuaHandler and the hooks like a LuaPath piece', () => {
      const { lua, root } = luaFor('LuaHandler h.lua\nLuaPreHook /abs/pre.lua\nLuaPostHook ../post.lua');
      assert.deepEqual([lua.handler, lua.preHook, lua.postHook], [`${root}/www/h.lua`, '/abs/pre.lua', `${root}/post.lua`]);
    });
  });

  it('merges each setting separately: the more specific scope wins only where it set a value', () => {
    const { snap, root } = snapshotFromText([
      'DocumentRoot @ROOT@/www',
      'LuaMemoryLimit 8M',
      'LuaPath /outer/?.lua',
      '<Directory @ROOT@/www>',
      '  SetHandler lwt-wsapi',
      '  LuaCPath /c/?.so',
      '</Directory>',
      '<Directory @ROOT@/www/sub>',
      '  LuaMemoryLimit 1M',
      '</Directory>',
    ].join('\n'), { 'www/sub/a.ws': '' });
    try {
      const r = res(snap, '/sub/a.ws');
      assert.deepEqual([r.lua.luaPath, r.lua.luaCPath, r.lua.memoryLimit], ['/outer/?.lua', '/c/?.so', 1024 ** 2]);
    } finally {
      removeSite(root);
    }
  });
});
