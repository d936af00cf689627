/**
 * The compiled-chunk cache (issue 3 §5): chunks compile once per worker, load
 * into new states, keep upvalue names, and an edited file is recompiled.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lua, lauxlib, lualib, toLuaString, toJsString, compileProto, pushProto } from '../../src/lua/fengari';
import { openCompat } from '../../src/lua/compat';
import { installSandbox } from '../../src/lua/sandbox';
import { ChunkCache, installCachedLoaders } from '../../src/lua/chunk-cache';
import { newRequestState, DEFAULT_RUNTIME_OPTIONS } from '../../src/lua';
import { jobFor } from '../helpers/oracle';
import type { StateContext } from '../../src/lua/context';

interface Run { out: string; error: string | null }

function newState(cache: ChunkCache, cwd: string): { L: unknown; lines: string[] } {
  const lines: string[] = [];
  const ctx: StateContext = { cwd, log: (_level, m) => lines.push(m) };
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  openCompat(L);
  installSandbox(L, ctx);
  installCachedLoaders(L, cache, ctx);
  return { L, lines };
}

/** Run Lua source (not cached) in a fresh state whose loaders use `cache`. */
function run(cache: ChunkCache, cwd: string, code: string): Run {
  const { L, lines } = newState(cache, cwd);
  const st = lauxlib.luaL_loadstring(L, toLuaString(code));
  const ok = st === lua.LUA_OK && lua.lua_pcall(L, 0, 0, 0) === lua.LUA_OK;
  return { out: lines.join('\n'), error: ok ? null : toJsString(lua.lua_tolstring(L, -1)) };
}

function lua51(cwd: string, code: string): string {
  const r = spawnSync('lua5.1', ['-e', code], { cwd, encoding: 'utf8' });
  return r.stdout.trimEnd();
}

describe('ChunkCache', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-cache-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('compiles a file once and loads the compiled chunk into later states', () => {
    const cache = new ChunkCache();
    const file = path.join(dir, 'a.lua');
    fs.writeFileSync(file, 'return 6 * 7, ...');
    for (let i = 0; i < 3; i++) {
      const L = lauxlib.luaL_newstate();
      assert.equal(cache.load(L, file), lua.LUA_OK);
      lua.lua_pushstring(L, toLuaString('arg'));
      lua.lua_call(L, 1, 2);
      assert.equal(lua.lua_tonumber(L, 1), 42);
      assert.equal(toJsString(lua.lua_tolstring(L, 2)), 'arg');
    }
    assert.deepEqual([cache.stats.misses, cache.stats.hits], [1, 2]);
  });

  it('picks up an edited file on the next load, also when the size is unchanged', () => {
    const cache = new ChunkCache();
    const file = path.join(dir, 'v.lua');
    const value = (): number => {
      const L = lauxlib.luaL_newstate();
      assert.equal(cache.load(L, file), lua.LUA_OK);
      lua.lua_call(L, 0, 1);
      return lua.lua_tonumber(L, -1);
    };
    fs.writeFileSync(file, 'return 1');
    assert.equal(value(), 1);
    fs.writeFileSync(file, 'return 2');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    assert.equal(value(), 2);
    fs.writeFileSync(file, 'return 333');
    assert.equal(value(), 333);
  });

  it('keeps the most recently used chunks within its entry and heap budgets', () => {
    const files = ['a', 'b', 'c'].map((n) => {
      const file = path.join(dir, `${n}.lua`);
      fs.writeFileSync(file, `return "${n}"` + ' '.repeat(90));
      return file;
    });
    const loadAll = (cache: ChunkCache, order: number[]): void => {
      const L = lauxlib.luaL_newstate();
      for (const i of order) {
        assert.equal(cache.load(L, files[i]!), lua.LUA_OK);
        lua.lua_call(L, 0, 1);
        assert.equal(toJsString(lua.lua_tolstring(L, -1)), ['a', 'b', 'c'][i]);
      }
    };
    const byCount = new ChunkCache({ maxEntries: 2 });
    loadAll(byCount, [0, 1, 0, 2, 0, 1]);
    // a stays (used again before c came), b went when c came: 4 compilations
    assert.deepEqual([byCount.stats.misses, byCount.stats.hits, byCount.stats.entries], [4, 2, 2]);
    const one = new ChunkCache();
    loadAll(one, [0]);
    const byBytes = new ChunkCache({ maxBytes: one.stats.bytes * 2 });
    loadAll(byBytes, [0, 1, 2, 2, 0]);
    assert.deepEqual([byBytes.stats.misses, byBytes.stats.hits, byBytes.stats.entries], [4, 1, 2]);
    assert.equal(byBytes.stats.bytes, one.stats.bytes * 2);
  });

  it('keeps upvalue names in cached chunks', () => {
    const cache = new ChunkCache();
    fs.writeFileSync(path.join(dir, 'up.lua'), 'local counter = 0\nreturn function() counter = counter + 1; return print end\n');
    const code = 'local f = loadfile("up.lua")() print((debug.getupvalue(f, 1)), (debug.getupvalue(f, 2)), (debug.getupvalue(loadfile("up.lua"), 1)))';
    const first = run(cache, dir, code);
    const second = run(cache, dir, code);
    assert.equal(second.out, first.out);
    assert.equal(second.out, 'counter\t_ENV\t_ENV');
    assert.ok(cache.stats.hits >= 2);
  });

  it('module(..., package.seeall) works from a cached chunk', () => {
    const cache = new ChunkCache();
    fs.writeFileSync(path.join(dir, 'greet.lua'), 'module(..., package.seeall)\nfunction hello(n) return "hello " .. n .. " from " .. _NAME end\n');
    const code = 'package.path = "./?.lua" require "greet" print(greet.hello("x"), hello)';
    assert.equal(run(cache, dir, code).out, 'hello x from greet\tnil');
    assert.equal(run(cache, dir, code).out, 'hello x from greet\tnil');
    assert.equal(cache.stats.hits, 1);
  });

  describe('isolation between states sharing a compiled chunk', () => {
    it('gives each state fresh upvalues and its own globals as _ENV', () => {
      const cache = new ChunkCache();
      fs.writeFileSync(path.join(dir, 'counter.lua'),
        'local n = 0\nhits = (hits or 0) + 1\nreturn function() n = n + 1; return n, hits end\n');
      const code = 'local f = dofile("counter.lua") f() f() print(f()) print(hits, dofile("counter.lua")())';
      const first = run(cache, dir, code);
      assert.equal(first.out, '3\t1\n1\t1\t2');
      assert.equal(first.out, lua51(dir, code));
      assert.equal(run(cache, dir, code).out, first.out);
      assert.ok(cache.stats.hits >= 3);
    });

    it('an upvalue changed with debug.setupvalue or setfenv in one state is not seen by the next', () => {
      const cache = new ChunkCache();
      fs.writeFileSync(path.join(dir, 'env.lua'), 'return function() return x end');
      const changed = run(cache, dir, 'local f = dofile("env.lua") setfenv(f, { x = "mine" }) '
        + 'local g = loadfile("env.lua") debug.setupvalue(g, 1, { x = "other" }) print(f(), g()())');
      assert.equal(changed.out, 'mine\tother');
      assert.equal(run(cache, dir, 'x = "global" print(dofile("env.lua")(), loadfile("env.lua")()())').out, 'global\tglobal');
    });

    it('compileProto: one compilation, each pushProto a closure over that state\'s globals', () => {
      const proto = compileProto('n = (n or 0) + 1 return n, ...', '=shared');
      const call = (L: unknown): string => {
        pushProto(L, proto);
        lua.lua_pushstring(L, toLuaString('arg'));
        lua.lua_call(L, 1, 2);
        return `${lua.lua_tonumber(L, -2)} ${toJsString(lua.lua_tolstring(L, -1))}`;
      };
      const A = lauxlib.luaL_newstate();
      const B = lauxlib.luaL_newstate();
      assert.deepEqual([call(A), call(A), call(B)], ['1 arg', '2 arg', '1 arg']);
      assert.throws(() => compileProto('return +', '=bad'), /^Error: =bad: bad:1: unexpected symbol near '\+'$/);
    });

    it('makes a new closure each time, as Lua 5.1 does, never one object across states', () => {
      const cache = new ChunkCache();
      fs.writeFileSync(path.join(dir, 'mk.lua'), 'return function() return function() end end');
      const code = 'local mk = dofile("mk.lua") print(mk() == mk(), mk() == dofile("mk.lua")(), rawequal(mk, dofile("mk.lua")))';
      assert.equal(run(cache, dir, code).out, lua51(dir, code));
      const closureIn = (): unknown => {
        const L = lauxlib.luaL_newstate();
        assert.equal(cache.load(L, path.join(dir, 'mk.lua')), lua.LUA_OK);
        lua.lua_call(L, 0, 1);
        lua.lua_call(L, 0, 1);
        return lua.lua_topointer(L, -1);
      };
      assert.notEqual(closureIn(), closureIn());
    });
  });

  describe('isolation between request states built from per-worker templates', () => {
    function evalIn(L: unknown, code: string): string {
      assert.equal(lauxlib.luaL_loadstring(L, toLuaString(code)), lua.LUA_OK);
      const status = lua.lua_pcall(L, 0, 1, 0);
      const s = toJsString(lauxlib.luaL_tolstring(L, -1));
      assert.equal(status, lua.LUA_OK, s);
      return s;
    }
    const newState = (cache: ChunkCache): unknown =>
      newRequestState(jobFor({ script: 'hello.lua' }), { cwd: dir, log: () => undefined }, DEFAULT_RUNTIME_OPTIONS, cache).L;
    const probe = 'return table.concat({ tostring(string.foo), ("x"):upper(), tostring(math.pi), type(table.insert), '
      + 'tostring(getmetatable("").__index == string), tostring(package.loaded.string == string), tostring(os.time ~= nil) }, " ")';

    it('a standard library table changed by one state is unchanged in the next', () => {
      const cache = new ChunkCache();
      const before = evalIn(newState(cache), probe);
      assert.equal(before, 'nil X 3.1415926535898 function true true true');
      const A = newState(cache);
      evalIn(A, 'string.foo = 1 string.upper = function() return "hacked" end math.pi = 3 table.insert = nil '
        + 'getmetatable("").__index = { upper = function() return "meta" end } os.time = nil return 1');
      assert.equal(evalIn(A, probe), '1 meta 3 nil false true false');
      assert.equal(evalIn(newState(cache), probe), before);
    });

    it('two live states opened from the same templates do not share library tables', () => {
      const cache = new ChunkCache();
      const A = newState(cache);
      const B = newState(cache);
      evalIn(A, 'string.rep = nil coroutine.extra = true return 1');
      assert.equal(evalIn(B, 'return tostring(string.rep ~= nil) .. " " .. tostring(coroutine.extra)'), 'true nil');
      const tableOf = (L: unknown, name: string): unknown => {
        lua.lua_getglobal(L, toLuaString(name));
        return lua.lua_topointer(L, -1);
      };
      for (const lib of ['string', 'table', 'math', 'os', 'coroutine', 'utf8', 'debug']) assert.notEqual(tableOf(A, lib), tableOf(B, lib));
    });
  });

  it('loadfile and dofile resolve relative names against the state\'s own cwd', () => {
    const cache = new ChunkCache();
    for (const sub of ['one', 'two']) {
      fs.mkdirSync(path.join(dir, sub));
      fs.writeFileSync(path.join(dir, sub, 'x.lua'), `return "${sub}", ...`);
    }
    assert.equal(run(cache, path.join(dir, 'one'), 'print(dofile("x.lua"), loadfile("x.lua")("arg"))').out, 'one\tone\targ');
    assert.equal(run(cache, path.join(dir, 'two'), 'print(dofile("x.lua"))').out, 'two');
  });

  it('loadfile accepts an environment (5.3); dofile propagates errors with positions, also from the cache', () => {
    const cache = new ChunkCache();
    fs.writeFileSync(path.join(dir, 'env.lua'), 'return y');
    fs.writeFileSync(path.join(dir, 'boom.lua'), '#!/usr/bin/lua\nlocal x = 1\nerror("boom")\n');
    assert.equal(run(cache, dir, 'print(loadfile("env.lua", "t", { y = 5 })())').out, '5');
    for (let i = 0; i < 2; i++) assert.equal(run(cache, dir, 'dofile("boom.lua")').error, 'boom.lua:3: boom');
    assert.equal(cache.stats.hits, 1);
  });

  it('reports missing files, directories and syntax errors with the messages lua5.1 gives', () => {
    const cache = new ChunkCache();
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'bad.lua'), 'local x = \n');
    const code = 'print(loadfile("nope.lua")) print(loadfile("sub")) print(pcall(dofile, "nope.lua")) print(select("#", loadfile("bad.lua")), (loadfile("bad.lua")))';
    assert.equal(run(cache, dir, code).out, lua51(dir, code));
    const msg = run(cache, dir, 'print(select(2, loadfile("bad.lua")))').out;
    assert.match(msg, /^bad\.lua:2: unexpected symbol near <eof>$/);
  });

  it('require reports a syntax error in a module with its real message', () => {
    const cache = new ChunkCache();
    fs.writeFileSync(path.join(dir, 'broken.lua'), 'function (\n');
    const r = run(cache, dir, 'package.path = "./?.lua" require "broken"');
    assert.match(r.error ?? '', /^error loading module 'broken' from file '\.\/broken\.lua':\n\t\.\/broken\.lua:1: .*near '\('/);
    assert.doesNotMatch(r.error ?? '', /attempt to call a nil value/);
  });

  it('lists the tried files when a module is not found, like lua5.1', () => {
    const cache = new ChunkCache();
    const code = 'package.path = "./?.lua;./?/init.lua" package.cpath = "./?.so" print(select(2, pcall(require, "missing.mod")))';
    const expected = lua51(dir, code).replace(/\n\tno field package\.preload\['missing\.mod'\]/, '');
    const got = run(cache, dir, code).out.replace(/\n\tno field package\.preload\['missing\.mod'\]/, '');
    assert.equal(got, expected);
  });
});
