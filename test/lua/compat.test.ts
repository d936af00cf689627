/**
 * Lua 5.1 compatibility (issue 3 §3): the same scripts run under real lua5.1
 * and under fengari with openCompat, and print the same bytes.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lua, lauxlib, lualib, toLuaString, toJsString } from '../../src/lua/fengari';
import { openCompat } from '../../src/lua/compat';
import { installSandbox } from '../../src/lua/sandbox';
import { ChunkCache, installCachedLoaders } from '../../src/lua/chunk-cache';

const cache = new ChunkCache();

function runFengari(dir: string, file: string): string {
  const lines: string[] = [];
  const ctx = { cwd: dir, log: (_level: string, m: string) => lines.push(m) };
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  openCompat(L);
  installSandbox(L, ctx);
  installCachedLoaders(L, cache, ctx);
  if (cache.load(L, path.join(dir, file), '@' + file) !== lua.LUA_OK || lua.lua_pcall(L, 0, 0, 0) !== lua.LUA_OK) {
    lines.push('ERROR ' + toJsString(lua.lua_tolstring(L, -1)));
  }
  return lines.map((l) => l + '\n').join('');
}

function runLua51(dir: string, file: string): string {
  const r = spawnSync('lua5.1', [file], { cwd: dir, encoding: 'utf8' });
  return r.stdout + (r.status === 0 ? '' : 'ERROR ' + r.stderr.split('\n')[0].replace(/^lua5\.1: /, '') + '\n');
}

const PRELUDE = 'package.path = "./?.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua"\n';

const FILES: Record<string, string> = {
  'shapes/circle.lua': `
local pi = math.pi
local before = function() return print ~= nil end
module(..., package.seeall)
function area(r) return pi * r * r end
function names() return _NAME, _PACKAGE, _M == shapes.circle end
function sees_globals() return type(string.format), before() end`,
  'plain.lua': `
module("plain")
function f() return print end
function g() return _M end`,
};

const SCRIPTS: Array<[string, string]> = [
  ['module(..., package.seeall) in a required file creates nested globals', `
local c = require "shapes.circle"
print(c == shapes.circle, package.loaded["shapes.circle"] == c, type(shapes))
print(c.area(2), c.names())
print(c.sees_globals())
print(area, _NAME, getfenv(1) == _G)`],
  ['module without package.seeall hides the globals', `
require "plain"
print(plain.f(), plain.g() == plain, plain._NAME, plain._PACKAGE)`],
  ['module called twice reuses the table; a name conflict fails', `
module("again", package.seeall) x = 1
module("again", package.seeall)
print(x, _NAME)
notatable = 5
print(pcall(module, "notatable.sub"))`],
  ['setfenv/getfenv on functions and levels', `
local function f() return y end
local env = { y = 42 }
print(setfenv(f, env) == f, f(), getfenv(f) == env, getfenv(1) == _G, getfenv() == _G, getfenv(0) == _G)
local function lvl() setfenv(1, { print = print, tostring = tostring }) print(tostring(string)) end
lvl()
print(type(string), getfenv(print) == _G)`],
  ['setfenv gives one function its own environment', `
local M = {}
function M.a() return tag end
function M.b() return tag end
setfenv(M.a, setmetatable({ tag = "A" }, { __index = _G }))
print(M.a(), M.b())`],
  ['loadstring + setfenv sandboxes a chunk', `
local g = assert(loadstring("z = (z or 0) + 1; return z, print"))
local env = {}
setfenv(g, env)
print(g(), g(), z, env.z)
print((loadstring("syntax error here")))`],
  ['5.1 library names', `
print(unpack({ 1, 2, 3 }))
print(table.getn({ 1, 2, 3 }), table.maxn({ [1] = 1, [10] = 2, x = 3 }), table.maxn({}), pcall(table.setn, {}, 1))
print(math.mod(7, 3), math.mod(-7, 3), math.pow(2, 10), math.log10(1000), math.ldexp(0.5, 3), math.frexp(8))
print(math.frexp(0.1), math.frexp(-3), math.ldexp(1, -1074), math.atan2(1, 1), math.cosh(1), math.sinh(1), math.tanh(0.5))
for w in string.gfind("one two three", "%a+") do print(w) end
table.foreach({ 10 }, print) table.foreachi({ "p", "q" }, print)
print(string.find("a\\0b", "%z"), string.match("ab\\0", "[%z]") == "\\0", ("x\\0y"):gsub("%z", "0"))
local p = newproxy(true) getmetatable(p).__index = function(_, k) return k .. "!" end
print(newproxy(p).key, type(newproxy()), type(package.loaders))`],
  ['Orbit htmlify renders through setfenv (real orbit.lua)', `
local orbit = require "orbit"
module("myapp", package.seeall, orbit.new)
function render_page(t)
  return html{ head{ title(t) }, body{ h1(t), p.intro "Hello", a{ href = "/x", "link" }, br() } }
end
function plain() return type(html) end
myapp:htmlify("render_.+")
print(render_page("Hi"))
print(plain(), _NAME, type(myapp.dispatch_get))`],
  ['byte strings stay distinct as table keys and in comparisons', `
local pairs_ = { { "\\1\\35", "\\18\\3" }, { "\\1\\17", "\\17\\1" }, { "\\0\\1\\1", "\\0\\17" }, { ("\\1\\35"):rep(10), ("\\18\\3"):rep(10) } }
for _, p in ipairs(pairs_) do
  local t = { [p[1]] = "first" }
  t[p[2]] = "second"
  print(p[1] == p[2], t[p[1]], t[p[2]], #p[1], #p[2])
end
local n = 0 for k in pairs({ ["\\1\\35"] = 1, ["\\18\\3"] = 2, ["\\255"] = 3, ["\\195\\191"] = 4 }) do n = n + 1 end
print(n, ("\\200\\1"):byte(1, -1))`],
  ['collectgarbage answers every 5.1 option', `print(type(collectgarbage("count")), collectgarbage("count") > 0, collectgarbage(), collectgarbage("collect"))
print(type(collectgarbage("step")), collectgarbage("setpause", 200), collectgarbage("setstepmul", 200), collectgarbage("stop"), collectgarbage("restart"))
print(pcall(collectgarbage, "bogus") == false)`],
];

describe('Lua 5.1 compatibility (compared with lua5.1)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-compat-'));
    for (const [name, text] of Object.entries(FILES)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  SCRIPTS.forEach(([name, body], i) => {
    it(name, () => {
      const file = `case${i}.lua`;
      fs.writeFileSync(path.join(dir, file), PRELUDE + body + '\n');
      const expected = runLua51(dir, file);
      assert.doesNotMatch(expected, /^ERROR/m, 'the oracle itself must run the script');
      assert.equal(runFengari(dir, file), expected);
    });
  });

  it('has every function lua5.1 has in _G, string, table, math, os, coroutine and debug', () => {
    const list = `local out = {} for _, lib in ipairs{"_G", "string", "table", "math", "os", "coroutine", "debug"} do
      local t = lib == "_G" and _G or _G[lib]
      for k, v in pairs(t) do if type(v) == "function" then out[#out+1] = lib .. "." .. k end end end
      table.sort(out) print(table.concat(out, " "))`;
    fs.writeFileSync(path.join(dir, 'names.lua'), list);
    const have = new Set(runFengari(dir, 'names.lua').trim().split(' '));
    const missing = runLua51(dir, 'names.lua').trim().split(' ').filter((n) => !have.has(n));
    assert.deepEqual(missing, []);
  });
});
