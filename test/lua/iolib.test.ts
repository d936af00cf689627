import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lua, lauxlib, lualib, toLuaString } from '../../src/lua/fengari';
import { openIo, closeIo, pushStreamFile, writeStdout } from '../../src/lua/iolib';
import { IO_FIXTURES as FIXTURES, execLua, newIoState, PRINT, viaC, viaFengari, type IoState } from '../helpers/lua-io';

/** A state with PRINT already defined. */
function newState(cwd: string, stdout?: (b: Uint8Array) => void, stdin?: Uint8Array): IoState {
  const run = newIoState(cwd, { stdout, stdin });
  execLua(run, PRINT);
  return run;
}

function sameAsC(code: string, cwd = FIXTURES): string {
  const expected = viaC(PRINT + code, cwd);
  assert.equal(viaFengari(PRINT + code, cwd), expected);
  return expected;
}

describe('io library (against C Lua 5.1)', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-io-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reads a fixture with every Lua 5.1 format, several per call', () => {
    const out = sameAsC(`
      local f = assert(io.open('sample.txt'))
      print(f:read())
      print(f:read('*l'))
      print(f:read('*l', '*n', '*n', '*n', '*n', '*n', '*n', '*n'))
      print(f:read(4), f:read(0), f:read('*l'))
      print(f:read('*a'))
      print(f:read('*a'), f:read('*l'), f:read(0), f:read(1), f:read('*n'))
      f:close()`);
    assert.match(out, /^first line\n/);
  });

  it('iterates with io.lines and file:lines, io.lines closing its file at the end', () => {
    sameAsC(`
      for l in io.lines('sample.txt') do io.write('[', l, ']') end print()
      local f = io.open('sample.txt')
      for l in f:lines() do io.write('<', #l, '>') end print()
      print(io.type(f), f:read('*a'), f:read('*l'))
      local it = io.lines('sample.txt')
      while it() do end
      print(pcall(it))`);
  });

  it('seeks from set, cur and end and reports positions', () => {
    sameAsC(`
      local f = io.open('sample.txt')
      print(f:seek(), f:seek('end'), f:seek('set', 6), f:read(4), f:seek('cur'), f:seek('cur', -2), f:read('*l'))
      print(f:seek('end', -9), f:read('*a'))
      print(f:seek('set', -1))
      print(f:seek('set', 1000), f:read('*a'), f:read(0))
      print(pcall(f.seek, f, 'bogus'))`);
  });

  it('reads numbers like the C library, hex and exponents included', () => {
    sameAsC(`
      local f = io.open('numbers.txt')
      print(f:read('*n', '*n', '*n', '*n', '*n', '*n'))
      f = io.open('sample.txt') f:read('*l')
      print(f:read('*n'), f:read('*l'))`);
  });

  it('consumes input on a failed or partial number exactly as glibc fscanf does', () => {
    sameAsC(`
      local f = io.open('numbers-edge.txt')
      repeat
        local n = f:read('*n')
        local next = f:read(1)
        print(n, next)
      until not next`);
  });

  it('returns C Lua’s errors and errno for missing, unwritable and misused files', () => {
    sameAsC(`
      print(io.open('no-such-file'))
      print(io.open('/no/such/dir/file', 'w'))
      print(io.open('.', 'w'))
      print(io.open('.'):read('*a'))
      print(io.open('sample.txt', 'z'))
      print(pcall(io.lines, 'no-such-file'))
      print(pcall(io.input, 'no-such-file'))
      local f = io.open('sample.txt')
      print(f:write('x'))
      print(pcall(f.read, f, '*x'))
      print(pcall(f.read, f, 'x'))
      print(pcall(f.read, f, {}))
      f:close()
      print(f, io.type(f), io.type(io.stdout), io.type(42))
      print(pcall(f.read, f))
      print(pcall(f.close, f))
      print(pcall(f.lines, f))
      print(io.stdout:close())
      print(io.close())`.replace(/pcall\((io\.\w+)/g, (_, fn) => `pcall(function(...) local r = ${fn}(...) return r end`));
  });

  it('mixes reads, writes and seeks on r+, w+ and a+ files', () => {
    sameAsC(`
      local f = assert(io.open('rw.txt', 'w+'))
      f:write('hello\\n', 42, ' ', 2.5, '\\n', 'world\\n')
      print(f:seek('set'), f:read('*l'))
      f:write('XY')
      print(f:seek('cur'), f:seek('set'), f:read('*a'))
      f:close()
      f = io.open('rw.txt', 'a+')
      print(f:read('*l'))
      f:write('tail\\n')
      print(f:seek('cur'), f:seek('set'), f:read('*a'))
      f:close()
      f = io.open('rw.txt', 'r+b')
      f:seek('set', 1) f:write('EL') f:close()
      print(io.open('rw.txt'):read('*a'))
      local w = io.open('rw.txt', 'w') print(w:read('*l')) w:close()
      print(io.open('rw.txt'):read('*a'))
      print(io.open('rw.txt', 'wx'))
      print(io.open('rw.txt', 'ax+'))
      os.remove('new.txt')
      local x = io.open('new.txt', 'wx') x:write('excl') x:close()
      print(io.open('new.txt'):read('*a'))`, tmp);
  });

  it('switches default input and output and reports closed standard files', () => {
    sameAsC(`
      io.output('out.txt')
      io.write('one ', 1, '\\n') io.write(1/3, ' ', 2^53, ' ', 10/2, '\\n')
      print(io.output() == io.stdout)
      io.close()
      print(pcall(function() io.write('x') end))
      io.output(io.stdout)
      io.input('out.txt')
      print(io.read('*l')) print(io.read('*a')) print(io.read('*l'))
      for l in io.lines() do print(l) end
      io.close(io.input())
      print(pcall(function() return io.read() end))
      print(pcall(function() return io.lines() end))`, tmp);
  });

  it('passes file names through as bytes, not as decoded text', () => {
    // "caf\233.txt" is Latin-1, invalid UTF-8: C Lua hands the bytes to open(2) unchanged.
    fs.writeFileSync(Buffer.from(`${tmp}/caf\xe9.txt`, 'latin1'), 'latin1 name\n');
    const out = sameAsC(`
      print(io.open('caf\\233.txt'):read('*l'))
      print(io.open('caf\\233.txt\\0ignored after NUL'):read('*l'))
      print(io.open('caf\\233\\255.txt'))
      print(pcall(function() local r = io.lines('caf\\233\\255.txt') return r end))`, tmp);
    assert.match(out, /^latin1 name\n/);
  });

  it('removes and renames files relative to the state directory with C Lua’s results', () => {
    sameAsC(`
      io.open('a.txt', 'w'):close()
      print(os.rename('a.txt', 'b.txt'), io.open('b.txt') ~= nil, io.open('a.txt'))
      print(os.rename('missing', 'c.txt'))
      print(os.remove('b.txt'), os.remove('b.txt'))
      require 'lfs' lfs.mkdir('d') lfs.mkdir('e') io.open('e/f', 'w'):close()
      print(os.remove('d'), os.remove('e'), os.remove('/'))`, tmp);
  });

  it('makes an anonymous io.tmpfile', () => {
    sameAsC(`
      local t = io.tmpfile()
      t:write('scratch') t:seek('set')
      print(t:read('*a'), io.type(t))
      t:close()`, tmp);
  });
});

describe('io library (Lua 5.3 additions and sidecar rules)', () => {
  it('accepts 5.3 formats: bare letters, "L", and formats in lines()', () => {
    const out = viaFengari(
      PRINT + `local f = io.open('sample.txt')
       print(f:read('l'), f:read('L'), f:read('*L'), f:read('n', 'n'))
       f:close()
       for a, b in io.lines('numbers.txt', 'n', 'n') do print(a, b) end
       local g = io.open('sample.txt') for c in g:lines(5) do io.write('|', c) break end print()`,
      FIXTURES,
    );
    assert.equal(out, 'first line\tsecond line with CRLF\r\n\t\n\t42\t31\n1\t2\n3\t4.5\n-6\tnil\n|first\n');
  });

  it('returns the file from write so calls chain (5.2+), and numbers print as tostring does', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-io-'));
    try {
      const out = viaFengari(
        PRINT + `local f = io.open('c.txt', 'w')
         print(f:write('a'):write(10/2, ' ', 1e20, ' ', 1/0) == f)
         f:close() print(io.open('c.txt'):read('*a'))`,
        tmp,
      );
      assert.equal(out, 'true\na5 1e+20 inf\n');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('never writes to the process: io.write goes to the sink or the debug log, io.stderr to the error log', () => {
    const run = newState(FIXTURES, undefined);
    const quiet = newState(FIXTURES, undefined);
    // A state without a stdout sink logs its stdout at debug level, line by line.
    const L = lauxlib.luaL_newstate();
    lualib.luaL_openlibs(L);
    const logs: Array<[string, string]> = [];
    openIo(L, { cwd: FIXTURES, log: (l, m) => logs.push([l, m]) });
    const status =
      lauxlib.luaL_loadstring(L, toLuaString(`io.write('a', 'b\\nc') io.stderr:write('oops\\n', 'more') io.write('d\\n')`)) ||
      lua.lua_pcall(L, 0, 0, 0);
    assert.equal(status, 0);
    closeIo(L);
    assert.deepEqual(logs, [
      ['debug', 'ab'],
      ['error', 'oops'],
      ['debug', 'cd'],
      ['error', 'more'],
    ]);
    execLua(run, `io.write('to sink') print(io.stdout:seek('set'))`);
    assert.equal(run.out, 'to sinknil\tIllegal seek\t29\n');
    execLua(quiet, `print(io.popen('ls'))`);
    assert.match(quiet.out, /^nil\t'popen' not supported.*\t38\n$/);
  });

  it('writeStdout (print) shares io.stdout’s stream, whatever io.output() is', () => {
    const run = newState(FIXTURES);
    execLua(run, `io.output('/dev/null') io.stdout:write('a')`);
    assert.equal(writeStdout(run.L, new TextEncoder().encode('b\n')), true);
    execLua(run, `io.write('not here') io.stdout:write('c')`);
    assert.equal(run.out, 'ab\nc');
  });

  it('reads io.stdin from the bytes given, and nothing otherwise', () => {
    const run = newState(FIXTURES, undefined, new TextEncoder().encode('posted\nbody'));
    execLua(run, `print(io.read('*l'), io.stdin:read('*a'), io.read('*a'), io.read('*l'))`);
    const none = newState(FIXTURES);
    execLua(none, `print(io.read('*a'), io.read('*l'))`);
    assert.equal(run.out + none.out, 'posted\tbody\t\tnil\n\tnil\n');
  });

  it('keeps each state in its own working directory when requests interleave', () => {
    const a = newState(FIXTURES);
    const b = newState(FIXTURES);
    const before = process.cwd();
    execLua(a, `require 'lfs' assert(lfs.chdir('sub'))`);
    execLua(b, `require 'lfs' f = io.open('local.txt')`);
    execLua(a, `f = io.open('local.txt')`);
    execLua(b, `print(lfs.currentdir() == '${FIXTURES}', f:read('*l'))`);
    execLua(a, `print(lfs.currentdir() == '${path.join(FIXTURES, 'sub')}', f:read('*l'))`);
    assert.equal(a.out, 'true\tI am sub/local.txt\n');
    assert.equal(b.out, 'true\tI am local.txt at the top\n');
    assert.equal(process.cwd(), before);
  });

  it('closeIo flushes and closes what a script left open', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-io-'));
    try {
      const run = newState(tmp);
      execLua(run, `f = io.open('left.txt', 'w') f:write('buffered') g = io.open('left.txt')`);
      assert.equal(fs.readFileSync(path.join(tmp, 'left.txt'), 'utf8'), '');
      closeIo(run.L);
      assert.equal(fs.readFileSync(path.join(tmp, 'left.txt'), 'utf8'), 'buffered');
      execLua(run, `print(io.type(f), io.type(g), tostring(f))`);
      assert.equal(run.out, 'closed file\tclosed file\tfile (closed)\n');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('pushStreamFile (httpd.input / httpd.output handles)', () => {
  it('reads a body through callbacks with every format and chunk boundary', () => {
    const run = newState(FIXTURES);
    const body = Buffer.from('a=1&b=2\nsecond line\n12 rest');
    let offset = 0;
    // Three-byte chunks: lines and numbers straddle chunk boundaries.
    pushStreamFile(run.L, {
      read: (max) => {
        if (offset >= body.length) return null;
        const chunk = body.subarray(offset, offset + Math.min(3, max));
        offset += chunk.length;
        return chunk;
      },
    });
    lua.lua_setglobal(run.L, toLuaString('input'));
    execLua(run, `print(input:read('*l'), input:read(3), input:read('*L'), input:read('*n'), input:read('*a'), input:read(0))`);
    assert.equal(run.out, 'a=1&b=2\tsec\tond line\n\t12\t rest\tnil\n');
  });

  it('writes through unbuffered, one callback per write, and returns C-style errors', () => {
    const run = newState(FIXTURES);
    const got: string[] = [];
    pushStreamFile(run.L, { write: (b) => got.push(Buffer.from(b).toString()) });
    lua.lua_setglobal(run.L, toLuaString('output'));
    pushStreamFile(run.L, {
      read: () => {
        throw Object.assign(new Error('no body'), { code: 'EBADFD' });
      },
    });
    lua.lua_setglobal(run.L, toLuaString('input'));
    execLua(run, `output:write('Status: 200\\r\\n', 5) output:write('body') print(input:read('*a'))
               print(output:read('*l')) print(output:seek('set')) print(io.type(output))`);
    // Each argument is its own fwrite under C, and the stream is unbuffered.
    assert.deepEqual(got, ['Status: 200\r\n', '5', 'body']);
    assert.equal(run.out, 'nil\tFile descriptor in bad state\t77\nnil\tBad file descriptor\t9\nnil\tIllegal seek\t29\nfile\n');
  });
});
