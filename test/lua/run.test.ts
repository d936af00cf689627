/**
 * runRequest as mod_lwt's handler: one state per request, C-level failures
 * vs WSAPI's own error pages, deferred functions, LuaPath, isolation.
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { newRequestState, mergeLuaPath, ChunkCache, DEFAULT_RUNTIME_OPTIONS } from '../../src/lua';
import { jobFor, runSidecar, SCRIPTS, type CgiRequest } from '../helpers/oracle';
import { evalIn } from '../helpers/lua-fingerprint';
import type { LogLevel, LuaJob } from '../../src/lua/types';

const GROW_SCRIPT = path.join(SCRIPTS, 'grow.lua');

function errors(logs: Array<[LogLevel, string]>): string[] {
  return logs.filter(([l]) => l === 'error').map(([, m]) => m);
}

function withPath(req: CgiRequest, luaPath: string | null): LuaJob {
  return { ...jobFor(req), luaPath };
}

describe('runRequest', () => {
  it('commits status and headers once, before the first body byte, and streams the chunks', () => {
    const events: string[] = [];
    const job = jobFor({ script: 'writes.lua' });
    const result = require('../../src/lua').runRequest(job, {
      head: (s: number, h: Array<[string, string]>) => events.push(`head ${s} ${JSON.stringify(h)}`),
      body: (c: Uint8Array) => events.push(`body ${Buffer.from(c).toString()}`),
      log: () => undefined,
    }, DEFAULT_RUNTIME_OPTIONS, new ChunkCache());
    assert.deepEqual(result, { ok: true, status: 203, headSent: true });
    assert.deepEqual(events, [
      'head 203 [["X-A","1"],["Content-Type","text/html"]]',
      'body one,', 'body two,', 'body three',
    ]);
  });

  it('logs mod_lwt\'s request statistics line at info when asked to', () => {
    const r = runSidecar({ script: 'hello.lua' }, { ...DEFAULT_RUNTIME_OPTIONS, logStatistics: true });
    const file = path.join(SCRIPTS, 'hello.lua').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(r.logs.find(([l]) => l === 'info')?.[1] ?? '',
      new RegExp(`^Request statistics \\[filename=${file}\\] \\[realtime=\\d+\\.\\d{3} s\\] \\[cputime=\\d+\\.\\d{3} s\\] \\[memory=0\\.000 M\\]$`));
    assert.equal(runSidecar({ script: 'hello.lua' }).logs.length, 0);
  });

  describe('bad scripts fail only their request', () => {
    it('a syntax error shows the real message in the log and on WSAPI\'s 500 page', () => {
      const r = runSidecar({ script: 'bad/syntax.lua' });
      assert.equal(r.result.ok, true);
      assert.equal(r.status, 500);
      assert.match(r.body, /WSAPI Error in Application/);
      assert.match(r.body, /syntax\.lua:4: unexpected symbol near '='/);
      assert.match(errors(r.logs).join('\n'), /^WSAPI error in application: .*syntax\.lua:4: unexpected symbol near '='/);
    });

    it('a runtime error is WSAPI\'s 500 page, logged through the error pipe', () => {
      const r = runSidecar({ script: 'bad/runtime.lua' });
      assert.equal(r.status, 500);
      assert.match(errors(r.logs)[0]!, /^WSAPI error in application: .*runtime\.lua:5: attempt to index a nil value/);
    });

    it('error({404, msg}) is WSAPI\'s 404 page', () => {
      const r = runSidecar({ script: 'bad/notfound.lua', pathInfo: '/x' });
      assert.equal(r.status, 404);
      assert.match(r.body, /nothing at \/x/);
    });

    it('a status WSAPI has no reason phrase for (418) is a C-level failure: no head, logged', () => {
      const r = runSidecar({ script: 'bad/teapot.lua' });
      assert.equal(r.result.ok, false);
      assert.equal(r.result.headSent, false);
      assert.equal(r.result.status, 500);
      assert.equal(r.result.error?.code, 'LWT_LUA_RUNTIME');
      const file = path.join(SCRIPTS, 'bad/teapot.lua');
      assert.ok(errors(r.logs)[0]!.startsWith(`Lua runtime error running '${file}': `), errors(r.logs)[0]);
      assert.match(errors(r.logs)[0]!, /common\.lua:163: attempt to concatenate/);
      assert.ok(errors(r.logs)[0]!.endsWith(' [LWT_LUA_RUNTIME]'), errors(r.logs)[0]);
    });

    it('a Status line without digits fails in the connector (set_status(nil)): C-level, as mod_lwt', () => {
      const r = runSidecar({ script: 'bad/badstatus.lua' });
      assert.equal(r.result.ok, false);
      assert.equal(r.result.headSent, false);
      assert.match(errors(r.logs)[0]!, /^Lua runtime error running '.*badstatus\.lua': .*number expected/);
    });

    it('require "lpeg" (a C module) is WSAPI\'s 500 page naming the module', () => {
      const r = runSidecar({ script: 'bad/needs_lpeg.lua' });
      assert.equal(r.status, 500);
      assert.match(errors(r.logs).join('\n'), /error loading module 'lpeg' from file '.*lpeg\.so':\s+C modules cannot be loaded in the sidecar/);
      const warned = r.logs.filter(([l]) => l === 'warn').map(([, m]) => m);
      assert.equal(warned.length, 1, warned.join('\n'));
      assert.match(warned[0]!, /^error loading module 'lpeg' from file '.*lpeg\.so': C modules cannot be loaded in the sidecar \(no JavaScript equivalent is installed\) \[LWT_LUA_C_MODULE\]$/);
    });

    it('os.exit() ends only its request, past WSAPI\'s xpcall, logged as a C-level failure', () => {
      const r = runSidecar({ script: 'bad/exit.lua' });
      assert.equal(r.result.ok, false);
      assert.equal(r.result.error?.code, 'LWT_LUA_EXIT');
      assert.match(errors(r.logs)[0]!, /^Lua runtime error running '.*exit\.lua': os\.exit\(3\) ends only this request \[LWT_LUA_EXIT\]$/);
      assert.equal(runSidecar({ script: 'hello.lua' }).status, 200);
    });

    it('a script that loops forever, even under pcall, is stopped by the CPU limit', () => {
      const r = runSidecar({ script: 'bad/loop.lua' }, { ...DEFAULT_RUNTIME_OPTIONS, cpuLimitMs: 150 });
      assert.equal(r.result.ok, false);
      assert.equal(r.result.error?.code, 'LWT_LUA_CPU');
      assert.match(errors(r.logs)[0]!, /^Lua runtime error running '.*loop\.lua': CPU time limit exceeded \[LWT_LUA_CPU\]$/);
    });

    it('the job\'s LuaMemoryLimit applies in runRequest itself: over it, mod_lwt\'s memory error with its code', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-run-memory-'));
      try {
        fs.copyFileSync(GROW_SCRIPT, path.join(dir, 'grow.lua'));
        const file = path.join(dir, 'grow.lua');
        const job = jobFor({ script: 'grow.lua', env: { DOCUMENT_ROOT: dir, CONTEXT_DOCUMENT_ROOT: dir, SCRIPT_FILENAME: file } });
        const r = runSidecar({ ...job, memoryLimit: 8 * 1024 * 1024 });
        assert.equal(r.result.ok, false, r.body);
        assert.equal(r.result.error?.code, 'LWT_LUA_MEMORY');
        assert.equal(r.result.status, 500);
        assert.deepEqual(errors(r.logs), [`Lua memory allocation error running '${file}': not enough memory [LWT_LUA_MEMORY]`]);
        assert.equal(runSidecar({ ...job, memoryLimit: 256 * 1024 * 1024 }).body, 'kept 65536');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a header name WSAPI\'s pipe only partly matches swallows the body, as under mod_lwt', () => {
      const r = runSidecar({ script: 'bad/badheader.lua' });
      assert.equal(r.result.ok, true);
      assert.equal(r.status, 200);
      assert.deepEqual(r.rawHeaders, [['Bad', '1'], ['Content-Type', 'text/html']]);
      assert.equal(r.body, '');
    });

    it('the next request runs normally', () => {
      runSidecar({ script: 'bad/teapot.lua' });
      assert.equal(runSidecar({ script: 'hello.lua' }).status, 200);
    });
  });

  it('loads a .ws script the "require" way, as a module named after its base name (mod_lwt forces ext "lua")', () => {
    const r = runSidecar({ script: 'hello.ws', pathInfo: '/p' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '<html><body><p>Hello Wsapi!</p><p>PATH_INFO: /p</p><p>SCRIPT_NAME: /hello.ws</p></body></html>');
  });

  it('provides the globals mod_lwt-era code used: wsapi.common, wsapi.app_path, httpd, httpd.core', () => {
    assert.equal(runSidecar({ script: 'legacy.lua' }).body,
      'common=true\napp_path=true\nreason=Not Found\nhttpd=true,true\ncore=true');
  });

  it('sends print and io.write to the log at debug level and io.stderr at error level, never to stdout', () => {
    const write = process.stdout.write;
    let leaked = '';
    process.stdout.write = ((chunk: string | Uint8Array) => { leaked += String(chunk); return true; }) as typeof process.stdout.write;
    let r: ReturnType<typeof runSidecar>;
    try {
      r = runSidecar({ script: 'printer.lua' });
    } finally {
      process.stdout.write = write;
    }
    assert.equal(leaked, '');
    assert.equal(r.body, 'body');
    assert.deepEqual(r.logs.filter(([l]) => l === 'debug').map(([, m]) => m), ['printed\t1', 'written']);
    assert.deepEqual(errors(r.logs), ['to stderr']);
  });

  describe('compiled chunks', () => {
    function scriptJob(file: string): LuaJob {
      const base = jobFor({ script: 'hello.lua' });
      const env = { ...base.env, SCRIPT_FILENAME: file, SCRIPT_NAME: `/${path.basename(file)}`, DOCUMENT_ROOT: path.dirname(file) };
      return { ...base, filename: file, env, request: { ...base.request, filename: file } };
    }
    const version = (n: number) => `module(..., package.seeall)\nfunction run(env) return 200, {}, coroutine.wrap(function () coroutine.yield("v${n}") end) end\n`;

    it('an edited script is picked up on the next request through a shared cache', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-run-'));
      try {
        const file = path.join(dir, 'edit.lua');
        fs.writeFileSync(file, version(1));
        const cache = new ChunkCache();
        assert.equal(runSidecar(scriptJob(file), DEFAULT_RUNTIME_OPTIONS, cache).body, 'v1');
        fs.writeFileSync(file, version(22));
        assert.equal(runSidecar(scriptJob(file), DEFAULT_RUNTIME_OPTIONS, cache).body, 'v22');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('runs with chunkCache off (everything compiled from source)', () => {
      assert.equal(runSidecar({ script: 'iso/global.lua' }, { ...DEFAULT_RUNTIME_OPTIONS, chunkCache: false }).body, 'counter=1');
    });
  });

  describe('deferred functions', () => {
    it('run after the response: error list, then normal list, FIFO, errors logged and skipped', () => {
      const r = runSidecar({ script: 'defer.lua' });
      const notices = r.logs.filter(([l]) => l === 'notice').map(([, m]) => m);
      assert.deepEqual(notices, ['error-list 1', 'normal 1', 'normal 2', 'normal 3, deferred during the pass']);
      assert.match(errors(r.logs)[0]!, /^Lua runtime error in deferred function: .*defer\.lua:\d+: deferred boom/);
    });

    it('after a C-level failure only the error list runs', () => {
      const r = runSidecar({ script: 'defer.lua', pathInfo: '/fail' });
      assert.equal(r.result.ok, false);
      assert.deepEqual(r.logs.filter(([l]) => l === 'notice').map(([, m]) => m), ['error-list 1']);
    });
  });

  describe('package.path', () => {
    it('a leading + appends LuaPath to the Lua 5.1 default; otherwise it replaces it', () => {
      const d = DEFAULT_RUNTIME_OPTIONS.defaultPath;
      assert.equal(mergeLuaPath(null, d), d);
      assert.equal(mergeLuaPath('+/a/?.lua', d), `${d};/a/?.lua`);
      assert.equal(mergeLuaPath('/a/?.lua;/b/?.lua', d), '/a/?.lua;/b/?.lua');
    });

    it('finds a script\'s library through LuaPath', () => {
      const lib = path.join(SCRIPTS, 'lib', '?.lua');
      assert.equal(runSidecar(withPath({ script: 'uselib.lua' }, `+${lib}`)).body, 'hello, path');
      assert.equal(runSidecar(withPath({ script: 'uselib.lua' }, null)).status, 500);
    });

    it('the sidecar\'s httpd and httpd.wsapi win over copies on the Lua path', () => {
      const shadow = path.join(SCRIPTS, 'shadow', '?.lua');
      const r = runSidecar(withPath({ script: 'hello.lua' }, `${shadow};${DEFAULT_RUNTIME_OPTIONS.defaultPath}`));
      assert.equal(r.status, 200, JSON.stringify(r.logs));
    });

    it('starts from Lua 5.1\'s default path and cpath', () => {
      const { L } = newRequestState(jobFor({ script: 'hello.lua' }), { cwd: '/', log: () => undefined }, DEFAULT_RUNTIME_OPTIONS, new ChunkCache());
      assert.equal(evalIn(L, 'return package.path .. "|" .. package.cpath'),
        `${DEFAULT_RUNTIME_OPTIONS.defaultPath}|${DEFAULT_RUNTIME_OPTIONS.defaultCPath}`);
      assert.ok(Object.isFrozen(DEFAULT_RUNTIME_OPTIONS));
    });
  });

  describe('isolation', () => {
    it('a global set by one request is not visible to the next', () => {
      assert.equal(runSidecar({ script: 'iso/global.lua' }).body, 'counter=1');
      assert.equal(runSidecar({ script: 'iso/global.lua' }).body, 'counter=1');
    });

    it('two interleaved requests with different working directories open their own relative files', () => {
      const mk = () => newRequestState(jobFor({ script: 'hello.lua' }), { cwd: '/', log: () => undefined }, DEFAULT_RUNTIME_OPTIONS, new ChunkCache()).L;
      const a = mk();
      const b = mk();
      evalIn(a, `require("lfs").chdir(${JSON.stringify(path.join(SCRIPTS, 'iso', 'a'))})`);
      evalIn(b, `require("lfs").chdir(${JSON.stringify(path.join(SCRIPTS, 'iso', 'b'))})`);
      assert.equal(evalIn(a, 'return io.open("data.txt"):read("*l")'), 'I am A');
      assert.equal(evalIn(b, 'return io.open("data.txt"):read("*l")'), 'I am B');
      assert.equal(evalIn(a, 'return require("lfs").currentdir()'), path.join(SCRIPTS, 'iso', 'a'));
    });
  });
});

