/**
 * Loaded-connector images: a request may start from a copy of the state that
 * `require "httpd.wsapi"` leaves, and must then be exactly the state that
 * loading it would have given, its own in every part; when the loading reads
 * the world, or a file its path search saw changes, the request loads the
 * connector itself.
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { newRequestState, connectorImageFor, DEFAULT_RUNTIME_OPTIONS } from '../../src/lua/state';
import { ChunkCache } from '../../src/lua/chunk-cache';
import { jobFor, runSidecar } from '../helpers/oracle';
import { FINGERPRINT, evalIn } from '../helpers/lua-fingerprint';
import type { LuaJob } from '../../src/lua/types';

const opts = DEFAULT_RUNTIME_OPTIONS;

describe('lua/connector-image: a request copies the loaded connector', () => {
  let dir: string;
  let cache: ChunkCache;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-connector-'));
    cache = new ChunkCache();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The probe script, with `dir` searched first for Lua modules. */
  const probe = (env: Record<string, string> = {}): LuaJob => {
    const job = jobFor({ script: 'connector-probe.lua', env });
    return { ...job, luaPath: `${dir}/?.lua;${opts.defaultPath}` };
  };
  const ask = (env: Record<string, string> = {}) => {
    const r = runSidecar(probe(env), opts, cache);
    assert.equal(r.status, 200, `${r.body}\n${r.logs.map((l) => l.join(' ')).join('\n')}`);
    return r.body;
  };
  const ctx = () => ({ cwd: '/', log: () => undefined });

  it('gives a state equal, table by table and closure by closure, to one that loaded the connector itself', () => {
    const job = jobFor({ script: 'hello.lua' });
    const img = connectorImageFor(job, ctx(), opts, cache);
    assert.equal(img.why, null);
    assert.ok(img.image !== null);
    const copied = newRequestState(job, ctx(), opts, cache, true).L;
    const loaded = newRequestState(job, ctx(), opts, cache, false).L;
    assert.equal(evalIn(loaded, 'return package.loaded["httpd.wsapi"] == nil'), 'true');
    evalIn(loaded, 'require "httpd.wsapi"');
    // Both within one second: wsapi.common keeps os.time() in upvalues.
    assert.equal(evalIn(copied, FINGERPRINT), evalIn(loaded, FINGERPRINT));
    assert.equal(evalIn(copied, 'return package.loaded["httpd.wsapi"] ~= nil'), 'true');
  });

  it('keeps what one request does to the loaded modules, their upvalues and globals out of the next', () => {
    const first = ask();
    assert.equal(first, 'marker=nil damaged=nil,nil input=true output=true stdout=true who=nil');
    assert.equal(ask(), first);
    assert.ok(connectorImageFor(probe(), ctx(), opts, cache).image !== null);
  });

  it('gives each request its own standard files and httpd.input/httpd.output in the copied modules', () => {
    const a = newRequestState(jobFor({ script: 'hello.lua' }), ctx(), opts, cache, true);
    const b = newRequestState(jobFor({ script: 'hello.lua' }), ctx(), opts, cache, true);
    evalIn(a.L, 'require("httpd").write("to a")');
    const chunks: string[] = [];
    a.record.output = (c) => chunks.push(`a:${Buffer.from(c)}`);
    b.record.output = (c) => chunks.push(`b:${Buffer.from(c)}`);
    evalIn(a.L, 'require("httpd").write("one")');
    evalIn(b.L, 'require("httpd").write("two")');
    assert.deepEqual(chunks, ['a:one', 'b:two']);
  });

  it('sees a module that appears earlier on the path, an edit of it and its removal on the next request', () => {
    assert.match(ask(), /^marker=nil /);
    const file = path.join(dir, 'wsapi.lua');
    fs.writeFileSync(file, 'return { marker = "first" }\n');
    assert.match(ask(), /^marker=first /);
    fs.writeFileSync(file, 'return { marker = "second edit" }\n');
    assert.match(ask(), /^marker=second edit /);
    fs.rmSync(file);
    assert.match(ask(), /^marker=nil /);
  });

  it('loads the connector in each request when loading reads the request (os.getenv)', () => {
    fs.writeFileSync(path.join(dir, 'wsapi.lua'), 'return { marker = os.getenv("WHO") }\n');
    assert.match(ask({ WHO: 'a' }), /^marker=a .* who=a$/);
    assert.match(ask({ WHO: 'b' }), /^marker=b .* who=b$/);
    const img = connectorImageFor(probe(), ctx(), opts, cache);
    assert.equal(img.image, null);
    assert.equal(img.why, 'loading calls os.getenv');
  });

  it('is not fooled by a loading that catches the refusal with pcall', () => {
    fs.writeFileSync(path.join(dir, 'wsapi.lua'), 'local ok, who = pcall(os.getenv, "WHO")\nreturn { marker = tostring(who) }\n');
    assert.match(ask({ WHO: 'c' }), /^marker=c /);
    assert.match(ask({ WHO: 'd' }), /^marker=d /);
    assert.equal(connectorImageFor(probe(), ctx(), opts, cache).why, 'loading calls os.getenv');
  });

  it('loads the connector in each request when the loaded state holds what a copy cannot (a coroutine)', () => {
    fs.writeFileSync(path.join(dir, 'wsapi.lua'), 'return { marker = "co", co = coroutine.create(function () end) }\n');
    assert.match(ask(), /^marker=co /);
    assert.match(ask(), /^marker=co /);
    const img = connectorImageFor(probe(), ctx(), opts, cache);
    assert.equal(img.image, null);
    assert.match(img.why ?? '', /^the loaded state holds a state-bound value/);
  });

  it('loads the connector in each request when loading fails, with the loading error', () => {
    fs.writeFileSync(path.join(dir, 'wsapi.lua'), 'error("no wsapi here")\n');
    for (let i = 0; i < 2; i++) {
      const r = runSidecar(probe(), opts, cache);
      assert.deepEqual([r.result.ok, r.result.status, r.result.headSent], [false, 500, false]);
      assert.match(r.logs.map((l) => l[1]).join('\n'), /Cannot load WSAPI connector; module loading failed: .*no wsapi here/);
    }
    assert.equal(connectorImageFor(probe(), ctx(), opts, cache).why, 'loading fails');
  });

  it('holds an image that read the clock for that second only', async () => {
    // Start early in a second, so the first two look-ups share it.
    if (Date.now() % 1000 > 700) await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
    const job = jobFor({ script: 'hello.lua' });
    const img = connectorImageFor(job, ctx(), opts, cache);
    // wsapi.common calls os.time() at load.
    assert.equal(img.expires, (Math.floor(Date.now() / 1000) + 1) * 1000);
    assert.equal(connectorImageFor(job, ctx(), opts, cache), img);
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
    const next = connectorImageFor(job, ctx(), opts, cache);
    assert.notEqual(next, img);
    assert.equal(next.expires, (Math.floor(Date.now() / 1000) + 1) * 1000);
  });

  it('gives up a loading that runs over its time budget (half the CPU limit), and the request loads the connector itself under its CPU limit', () => {
    fs.writeFileSync(path.join(dir, 'wsapi.lua'), 'while true do end\n');
    const started = Date.now();
    const r = runSidecar(probe(), { ...opts, cpuLimitMs: 200 }, cache);
    assert.deepEqual([r.result.ok, r.result.status], [false, 500]);
    assert.match(r.logs.map((l) => l[1]).join('\n'), /CPU time limit exceeded/);
    const img = connectorImageFor(probe(), ctx(), { ...opts, cpuLimitMs: 200 }, cache);
    assert.equal(img.why, 'loading took over 100 ms');
    assert.ok(img.expires > Date.now() + 50_000, 'tried again in a minute, not on every request');
    assert.ok(Date.now() - started < 1000);
  });

  it('is not used with the chunk cache off: every request loads and compiles everything', () => {
    const off = { ...opts, chunkCache: false };
    const L = newRequestState(jobFor({ script: 'hello.lua' }), ctx(), off, cache, true).L;
    assert.equal(evalIn(L, 'return package.loaded["httpd.wsapi"] == nil'), 'true');
  });
});
