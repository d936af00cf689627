/**
 * Nothing a script does reaches the sidecar process (issue 3 §4): os.exit and
 * the CPU limit end only the request and cannot be caught, print goes to the
 * log, os.getenv sees the request's environment, C modules and fengari's JS
 * loading paths are refused.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lua, lauxlib, lualib, toLuaString, toJsString } from '../../src/lua/fengari';
import { openCompat } from '../../src/lua/compat';
import { excludeFromCpuTime, installSandbox, sandboxStop, setCpuDeadline, setMemoryLimit, type SandboxStop } from '../../src/lua/sandbox';
import type { LogLevel } from '../../src/lua/types';

interface Outcome { logs: Array<[LogLevel, string]>; stop: SandboxStop | null; error: string | null; status: number }

const C_DIR = '/usr/lib/x86_64-linux-gnu/lua/5.1';

function run(code: string, opts: { env?: Record<string, string>; cpuMs?: number; memoryBytes?: number; cwd?: string; globals?: Record<string, (L: unknown) => number> } = {}): Outcome {
  const logs: Array<[LogLevel, string]> = [];
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  openCompat(L);
  installSandbox(L, { cwd: opts.cwd ?? '/tmp', log: (level, m) => logs.push([level, m]) }, opts.env ?? {});
  for (const [name, f] of Object.entries(opts.globals ?? {})) {
    lua.lua_pushcfunction(L, f);
    lua.lua_setglobal(L, toLuaString(name));
  }
  if (opts.cpuMs !== undefined) setCpuDeadline(L, opts.cpuMs);
  if (opts.memoryBytes !== undefined) setMemoryLimit(L, opts.memoryBytes);
  let st = lauxlib.luaL_loadstring(L, toLuaString(code));
  if (st === lua.LUA_OK) st = lua.lua_pcall(L, 0, 0, 0);
  if (st === lua.LUA_OK) return { logs, stop: null, error: null, status: st };
  const stop = sandboxStop(L, -1);
  return { logs, stop, error: stop ? null : toJsString(lauxlib.luaL_tolstring(L, -1)), status: st };
}

const printed = (o: Outcome): string[] => o.logs.filter(([l]) => l === 'debug').map(([, m]) => m);

describe('sandbox', () => {
  describe('os.exit', () => {
    it('ends the chunk with an exit stop carrying the status', () => {
      const o = run('print("before") os.exit(3) print("after")');
      assert.deepEqual(printed(o), ['before']);
      assert.equal(o.stop?.kind, 'exit');
      assert.equal(o.stop?.code, 3);
    });

    it('maps os.exit(), os.exit(true) and os.exit(false) to 0, 0 and 1', () => {
      assert.equal(run('os.exit()').stop?.code, 0);
      assert.equal(run('os.exit(true)').stop?.code, 0);
      assert.equal(run('os.exit(false)').stop?.code, 1);
    });

    it('cannot be caught by pcall, xpcall handlers or coroutines', () => {
      const cases = [
        'print(pcall(os.exit, 1))',
        'print(xpcall(function() os.exit(2) end, function(e) return "handled " .. tostring(e) end))',
        'local co = coroutine.create(function() coroutine.yield(1) os.exit(4) end) coroutine.resume(co) print(coroutine.resume(co))',
        'print(pcall(coroutine.wrap(function() os.exit(5) end)))',
        'for i = 1, 3 do pcall(function() pcall(os.exit, 6) end) end print("survived")',
      ];
      for (const code of cases) {
        const o = run(code);
        assert.equal(o.stop?.kind, 'exit', code);
        assert.deepEqual(printed(o), [], code);
      }
    });

    it('leaves ordinary errors catchable and yields across the wrapped pcall working', () => {
      const o = run(`
        print(pcall(error, "plain"))
        print(select(2, xpcall(function() error({ code = 1 }) end, function(e) return type(e) end)))
        local co = coroutine.wrap(function() print(pcall(coroutine.yield, 5)) return 7 end)
        print(co()) print(co("resumed"))`);
      assert.equal(o.error, null);
      assert.deepEqual(printed(o), ['false\tplain', 'table', '5', 'true\tresumed', '7']);
    });
  });

  describe('output and environment', () => {
    it('sends print to the log at debug level and never to the process stdout', () => {
      const write = process.stdout.write;
      let leaked = '';
      process.stdout.write = ((chunk: string | Uint8Array) => {
        leaked += String(chunk);
        return true;
      }) as typeof process.stdout.write;
      let o: Outcome;
      try {
        o = run('print("a", 1, nil, 10/2, true) print() print(setmetatable({}, { __tostring = function() return "obj" end }))');
      } finally {
        process.stdout.write = write;
      }
      assert.equal(leaked, '');
      assert.deepEqual(o.logs, [['debug', 'a\t1\tnil\t5\ttrue'], ['debug', ''], ['debug', 'obj']]);
    });

    it('os.getenv reads the request environment, not the sidecar\'s', () => {
      assert.ok(process.env.PATH !== undefined);
      const o = run('print(os.getenv("QUERY_STRING"), os.getenv("PATH"), os.getenv("EMPTY") == "")', { env: { QUERY_STRING: 'a=1', EMPTY: '' } });
      assert.deepEqual(printed(o), ['a=1\tnil\ttrue']);
    });

    it('os.execute and io.popen return nil and a message', () => {
      const o = run('print(os.execute("touch /tmp/x")) print(io.popen("ls"))');
      assert.deepEqual(printed(o), ['nil\tos.execute is disabled in the sidecar', 'nil\tio.popen is disabled in the sidecar']);
    });

    it('debug.sethook cannot remove the CPU limit', () => {
      assert.match(run('debug.sethook()').error ?? '', /debug\.sethook is not available in the sidecar/);
    });
  });

  describe('module loading', () => {
    it('removes package.loadlib, package.jspath and the JS searchers', () => {
      const o = run('print(package.loadlib, package.jspath, #package.searchers)');
      assert.deepEqual(printed(o), ['nil\tnil\t3']);
    });

    it('never runs a .js file found where fengari\'s JS searcher looked', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-sandbox-'));
      try {
        fs.writeFileSync(path.join(dir, 'evil.js'), 'globalThis.__lwtEvil = true; module.exports = {};');
        const o = run('package.path = "./?.lua" package.jspath = "./?.js" package.cpath = "" print(pcall(require, "evil"))', { cwd: dir });
        assert.equal((globalThis as Record<string, unknown>).__lwtEvil, undefined);
        assert.match(printed(o)[0], /^false\tmodule 'evil' not found:/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    for (const mod of ['lfs', 'lpeg']) {
      it(`require "${mod}" names the real ${mod}.so and says C modules cannot load`, () => {
        const so = path.join(C_DIR, `${mod}.so`);
        assert.ok(fs.existsSync(so), `${so} is installed (lua-filesystem, lua-lpeg)`);
        const o = run(`package.path = "" package.cpath = "${C_DIR}/?.so" print(select(2, pcall(require, "${mod}")))`);
        assert.equal(printed(o)[0],
          `error loading module '${mod}' from file '${so}':\n\tC modules cannot be loaded in the sidecar (no JavaScript equivalent is installed)`);
      });
    }

    it('finds a C module by its root name (5.1 all-in-one loader) and by a dotted path', () => {
      const o = run(`package.path = "" package.cpath = "${C_DIR}/?.so" print(select(2, pcall(require, "lpeg.extra"))) print(select(2, pcall(require, "socket.core")))`);
      assert.match(printed(o)[0], new RegExp(`from file '${C_DIR}/lpeg\\.so'`));
      assert.match(printed(o)[1], new RegExp(`from file '${C_DIR}/socket/core\\.so'`));
    });
  });

  describe('CPU limit', () => {
    it('stops a loop that keeps catching errors with pcall', () => {
      const o = run('while true do pcall(function() while true do end end) end', { cpuMs: 50 });
      assert.equal(o.stop?.kind, 'cpu');
    });

    it('stops a loop inside a coroutine and inside an xpcall handler', () => {
      assert.equal(run('coroutine.wrap(function() while true do end end)()', { cpuMs: 30 }).stop?.kind, 'cpu');
      assert.equal(run('xpcall(error, function() while true do end end)', { cpuMs: 30 }).stop?.kind, 'cpu');
    });

    it('does not count time the thread was blocked outside Lua (a slow client)', () => {
      // What the pool worker does while it waits for the socket to drain.
      const block = (): number => {
        const until = performance.now() + 200;
        while (performance.now() < until) { /* blocked */ }
        excludeFromCpuTime(200);
        return 0;
      };
      const o = run('for i = 1, 3 do block() local s = 0 for j = 1, 50000 do s = s + j end end print("done")', { cpuMs: 150, globals: { block } });
      assert.equal(o.stop, null);
      assert.deepEqual(printed(o), ['done']);
    });

    it('lets a script that finishes in time run normally', () => {
      const o = run('local s = 0 for i = 1, 1000 do s = s + i end print(s)', { cpuMs: 10000 });
      assert.deepEqual(printed(o), ['500500']);
      assert.equal(o.stop, null);
    });
  });

  describe('protected calls', () => {
    it('leave no Lua upvalue that leads to an unwrapped pcall, xpcall or coroutine.resume', () => {
      const o = run('for _, f in ipairs({ pcall, xpcall, coroutine.resume }) do print(select("#", debug.getupvalue(f, 1)), select("#", debug.getupvalue(f, 2))) end');
      assert.deepEqual(printed(o), ['0\t0', '0\t0', '0\t0']);
    });

    it('keep pcall and xpcall results, argument errors and yields across them as the builtins gave', () => {
      const o = run([
        'print(pcall(function(a, b) return a + b, "x" end, 1, 2))',
        'print(pcall(error, "boom", 0))',
        'print(xpcall(function(a) error(a, 0) end, function(e) return "handled " .. e end, "it"))',
        'print(select(2, pcall(pcall)))',
        'print(select(2, pcall(xpcall, print)))',
        'local co = coroutine.wrap(function() print(pcall(function() local v = coroutine.yield(1) error("after " .. v, 0) end)) return "end" end)',
        'print(co()) print(co("resume"))',
      ].join('\n'));
      assert.deepEqual(printed(o), [
        'true\t3\tx', 'false\tboom', 'false\thandled it',
        "bad argument #1 to 'pcall' (value expected)", "bad argument #2 to 'xpcall' (function expected, got no value)",
        '1', 'false\tafter resume', 'end',
      ]);
    });
  });

  describe('collectgarbage', () => {
    it('answers the options mod_lwt scripts use instead of raising "lua_gc not implemented"', () => {
      const o = run('print(collectgarbage(), collectgarbage("collect"), collectgarbage("count") > 0, collectgarbage("step", 100), collectgarbage("setpause", 100)) print(pcall(collectgarbage, "nope"))');
      assert.deepEqual(printed(o), ['0\t0\ttrue\ttrue\t200', "false\tbad argument #1 to 'collectgarbage' (invalid option 'nope')"]);
    });
  });

  describe('memory limit (live heap growth of the thread, docs/limits.md)', () => {
    const KEEP = 'local t = {} for i = 1, 1e6 do t[i] = string.rep("x", 1000) .. i end';

    it('fails a script that keeps large strings past the limit with a Lua memory error', () => {
      const o = run(KEEP, { memoryBytes: 16 * 1024 * 1024 });
      assert.equal(o.status, lua.LUA_ERRMEM);
      assert.equal(o.error, 'not enough memory');
    });

    it('counts tables and small strings too', () => {
      const o = run('local t = {} for i = 1, 1e7 do t[i] = { i, "k" .. i } end', { memoryBytes: 16 * 1024 * 1024 });
      assert.equal(o.status, lua.LUA_ERRMEM);
    });

    it('cannot be caught by pcall, xpcall or coroutine.resume', () => {
      for (const code of [
        `print(pcall(function() ${KEEP} end)) while true do end`,
        `print(xpcall(function() ${KEEP} end, function(e) return "handled" end))`,
        `print(coroutine.resume(coroutine.create(function() ${KEEP} end)))`,
      ]) {
        const o = run(code, { memoryBytes: 16 * 1024 * 1024, cpuMs: 20_000 });
        assert.equal(o.status, lua.LUA_ERRMEM, code);
        assert.deepEqual(printed(o), [], code);
      }
    });

    it('checks between library calls that build large strings, which a hook tick would not see in time', () => {
      // ~11 instructions per iteration: the first hook tick would come after ~900 MB.
      const loop = 'local keep = {} while true do keep[#keep + 1] = string.rep("x", 1024 * 1024 - 16) .. #keep end';
      assert.equal(run(loop, { memoryBytes: 32 * 1024 * 1024 }).status, lua.LUA_ERRMEM);
      assert.equal(run(loop.replace('keep[#keep + 1] =', 'local s ='), { cpuMs: 300 }).stop?.kind, 'cpu');
    });

    it('leaves the metered library functions\' results and argument errors as they were', () => {
      const o = run('print(("ab"):rep(3, "-"), select("#", ("abc"):gsub("b", "B")), table.concat({1, 2}, ","), ("x"):sub(2) == "") print(pcall(string.rep)) print(pcall(function() return string.rep() end))',
        { memoryBytes: 16 * 1024 * 1024 });
      const [first, viaPcall, viaCall] = printed(o);
      assert.equal(first, 'ab-ab-ab\t2\t1,2\ttrue');
      // Named as unwrapped functions are (Lua 5.3: the global name, or the call site's).
      assert.equal(viaPcall, "false\tbad argument #1 to 'string.rep' (string expected, got no value)");
      assert.match(viaCall ?? '', /^false\t\[string ".*"\]:1: bad argument #1 to 'rep' \(string expected, got no value\)$/);
    });

    it('does not count garbage: a script that churns through temporary strings finishes', () => {
      const o = run('local s for i = 1, 3e4 do s = string.rep("x", 1000) .. i end print(#s)', { memoryBytes: 4 * 1024 * 1024 });
      assert.equal(o.error, null);
      assert.deepEqual(printed(o), ['1005']);
    });
  });
});
