/**
 * newRequestState copies a per-worker template of the libraries into each new
 * state: every table and C closure must still be the state's own, in the
 * order opening the libraries one by one gives, and the shared library
 * functions must act for the state they are called in.
 */

import * as assert from 'node:assert/strict';
import { lauxlib, captureState, restoreState } from '../../src/lua/fengari';
import { newRequestState, openSharedLibraries, DEFAULT_RUNTIME_OPTIONS } from '../../src/lua/state';
import { ChunkCache } from '../../src/lua/chunk-cache';
import { jobFor } from '../helpers/oracle';
import type { LogLevel } from '../../src/lua/types';
import { FINGERPRINT, evalIn } from '../helpers/lua-fingerprint';

function requestState(env: Record<string, string> = {}, log: (level: LogLevel, m: string) => void = () => undefined) {
  const job = jobFor({ script: 'hello.lua' });
  return newRequestState({ ...job, env: { ...job.env, ...env } }, { cwd: '/', log }, DEFAULT_RUNTIME_OPTIONS, new ChunkCache());
}

/** A script that changes every kind of thing a state copies from the template. */
const POISON = `
local lfs = require 'lfs'
string.format = nil
string.rep = function() return 'poisoned' end
table.insert = nil
math.pi = 3
getmetatable('').__index = {}
package.searchers[1] = nil
package.preload.httpd = nil
package.loaded.string = nil
package.path = 'poisoned'
debug.setupvalue(os.date, 1, function() return 'poisoned' end)
debug.getregistry()['FILE*'].__index.write = nil
io.write = nil
os.getenv = nil
coroutine.resume = nil
httpd.core.escape_uri = nil
print = nil
lfs.attributes = nil
getmetatable(select(2, lfs.dir('/'))).__index.next = nil
_G.poisoned = true
debug.setupvalue(require, 1, {})
return 'done'
`;

/** What a fresh state answers, whatever another state did. */
const PROBE = `
local lfs = require 'lfs'
local _, d = lfs.dir('/')
return table.concat({
  string.format('%5.1f', math.pi), ('ab'):rep(2), tostring(table.insert ~= nil), os.date('!%Y-%m-%d', 0),
  tostring(#package.searchers), tostring(package.preload.httpd ~= nil), tostring(package.loaded.string == string),
  lfs.attributes('/', 'mode'), d:next(), tostring(io.write ~= nil), tostring(rawget(_G, 'poisoned')),
  httpd.core.escape_uri('a b'), type(coroutine.resume), type(print), type(os.getenv),
}, ' ')
`;

describe('newRequestState (a per-worker template copied into each state)', () => {
  it('gives a copied state the same tables, entries, order and closures as opening the libraries one by one', () => {
    const T = lauxlib.luaL_newstate();
    openSharedLibraries(T);
    const L = lauxlib.luaL_newstate();
    restoreState(L, captureState(T));
    const copied = evalIn(L, FINGERPRINT);
    assert.equal(copied, evalIn(T, FINGERPRINT));
    assert.match(copied, /\n {2}require = function J \[table=REG\.<number:2>\.require\^1\]\n/);
  });

  it('keeps what one script changes in library tables, metatables and closure upvalues out of every other state', () => {
    const before = requestState().L;
    const expectedFingerprint = evalIn(before, FINGERPRINT);
    const expectedProbe = evalIn(requestState().L, PROBE);
    assert.equal(expectedProbe, '  3.1 abab true 1970-01-01 3 true true directory . true nil a%20b function function function');

    assert.equal(evalIn(requestState().L, POISON), 'done');

    assert.equal(evalIn(before, FINGERPRINT), expectedFingerprint);
    assert.equal(evalIn(requestState().L, FINGERPRINT), expectedFingerprint);
    assert.equal(evalIn(requestState().L, PROBE), expectedProbe);
  });

  it('has the shared library functions act for the state they are called in', () => {
    const logs: Array<[string, string]> = [];
    const a = requestState({ WHO: 'a' }, (level, m) => logs.push(['a', `${level} ${m}`]));
    const b = requestState({ WHO: 'b' }, (level, m) => logs.push(['b', `${level} ${m}`]));
    evalIn(a.L, 'print(os.getenv("WHO")) httpd.core.notice("from a") io.stderr:write("err a\\n")');
    evalIn(b.L, 'print(os.getenv("WHO")) httpd.core.err("from b") io.stderr:write("err b\\n")');
    assert.deepEqual(logs, [
      ['a', 'debug a'], ['a', 'notice from a'], ['a', 'error err a'],
      ['b', 'debug b'], ['b', 'error from b'], ['b', 'error err b'],
    ]);
    evalIn(a.L, 'require("lfs").chdir("/tmp")');
    assert.equal(evalIn(b.L, 'return require("lfs").currentdir()'), '/');
    assert.equal(a.ctx.cwd, '/tmp');
    assert.equal(evalIn(a.L, 'return type(require("httpd"))'), 'table');
  });
});
