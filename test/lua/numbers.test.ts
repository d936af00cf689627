/**
 * Numbers are Lua 5.1 doubles (issue 3 §3): each snippet runs in real lua5.1
 * and in a patched fengari state, and the printed bytes must be identical.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { lua, lauxlib, lualib, toLuaString, toJsString } from '../../src/lua/fengari';
import { installSandbox } from '../../src/lua/sandbox';
import { openCompat } from '../../src/lua/compat';

function runLua51(code: string): string {
  const r = spawnSync('lua5.1', ['-e', code], { encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`lua5.1 failed: ${r.stderr}`);
  return r.stdout;
}

function runFengari(code: string): string {
  const lines: string[] = [];
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  openCompat(L);
  installSandbox(L, { cwd: '/tmp', log: (_level, m) => lines.push(m) });
  const st = lauxlib.luaL_loadstring(L, toLuaString(code));
  if (st !== lua.LUA_OK || lua.lua_pcall(L, 0, 0, 0) !== lua.LUA_OK) {
    throw new Error(`fengari failed: ${toJsString(lua.lua_tolstring(L, -1))}`);
  }
  return lines.map((l) => Buffer.from(l, 'utf8').toString('latin1') + '\n').join('');
}

/** Doubles of every magnitude and shape (random bits, decimals, binary fractions, big integers), seeded. */
function randomDoublesScript(count: number): string {
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const dv = new DataView(new ArrayBuffer(8));
  const nums: string[] = [];
  for (let i = 0; i < count; i++) {
    let x: number;
    switch (i % 4) {
      case 0:
        dv.setUint32(0, Math.floor(rnd() * 2 ** 32));
        dv.setUint32(4, Math.floor(rnd() * 2 ** 32));
        x = dv.getFloat64(0);
        if (!Number.isFinite(x)) x = 1.5;
        break;
      case 1: x = (rnd() - 0.5) * 10 ** Math.floor(rnd() * 40 - 20); break;
      case 2: x = Math.round(rnd() * 1e6) / [1, 2, 4, 8, 16, 100, 1000][Math.floor(rnd() * 7)]!; break;
      default: x = Math.floor(rnd() * 2 ** 53) * (rnd() < 0.5 ? 1 : -1);
    }
    nums.push(x.toPrecision(17));
  }
  const formats = ['%.14g', '%g', '%.3f', '%e', '%.0f', '%10.4g', '%#g', '%.20g', '%.1e', '%d', '%x'];
  return `for _, x in ipairs{${nums.join(',')}} do print(tostring(x), ${formats.map((f) => `string.format("${f}", x)`).join(', ')}) end`;
}

const CASES: Array<[string, string]> = [
  ['division with an integral result', 'print(10/2, 7/2, 1/3, -10/4)'],
  ['2^53 in exponent form', 'print(2^53, 2^63, 2^-21, 2^0.5)'],
  ['products beyond 32 bits', 'print(100000*100000, 65536*65536, -2147483648 - 1, 2147483647 + 1)'],
  ['os.time()*1000 does not wrap', 'local t = os.time() print(t*1000 > 0, t*1000 == t*1000, (t*1000) % 1000)'],
  ['infinities and nan', 'print(1/0, -1/0, 0/0, math.huge, -math.huge)'],
  ['%.14g boundaries', 'print(1e15, 1e14, 99999999999999, 123456789012, 123456789012345, 0.1, 1e-5, 0.0001, 1e100, 123.456, -1.5e-7, math.pi)'],
  ['math.floor of large values', 'print(math.floor(2^40), math.floor(-2^40 - 0.5), math.ceil(2^35 + 0.1), math.floor(3.7))'],
  ['length arithmetic beyond 2^31', 'local t = {1, 2, 3} print(#t + 2^31, #t * 2^31, #"abc" * 1e10)'],
  ['numeric for prints integers', 'for i = 1, 3 do print(i) end for i = 10, 1, -4 do print(i) end for i = 0.5, 1.5, 0.5 do print(i) end'],
  ['tonumber conversions', 'print(tonumber("0x10"), tonumber("  42  "), tonumber("1e2"), tonumber("0xffffffff"), tonumber("10", 16), tonumber("z", 36), tonumber("inf"), tonumber("x"))'],
  ['hex numerals do not wrap', 'print(0xff, 0x7fffffff + 1, 0xffffffff, 0x100000000)'],
  ['string coercion', 'print("10" + 1, "3" * "4", 10 .. "", 2^53 .. "", "0x10" + 0, 1e300 * 1e10 .. "")'],
  ['string.format %g', 'print(string.format("%g %g %g %g %g %G", 1e20, 0.0001, 1e-5, 123456789, 100000, 1e-10))'],
  ['string.format integers', 'print(string.format("%d %5d %-5d| %05d %+d %i %d %d", 3, 42, 42, -42, 5, 7, 3.9, -3.9))'],
  ['string.format %d of large doubles', 'print(string.format("%d %d", 2^40, 2^53))'],
  ['string.format floats', 'print(string.format("%5.2f %.3f %f %.0f %.0f %.0f %e %.2E %10.4g|", 3.14159, 2.5, 1/3, 0.5, 1.5, 2.5, 12345.6789, 0.000123, math.pi))'],
  ['string.format hex and octal', 'print(string.format("%x %X %#x %o %#o %x %5x|%-6X|", 255, 255, 255, 8, 8, -1, 3, 171))'],
  ['string.format inf and nan', 'print(string.format("%f %g %e %5.1f %d", 1/0, -1/0, 1/0, -1/0, 3))'],
  ['string.format %q', 'print(string.format("%q", "a\\nb\\r\\0c\\"d\\\\e"), string.format("%q", 5), string.format("%q", 2^53))'],
  ['string.format %s and %c', 'print(string.format("%5s|%-5s|%.2s|%c%c|%s %s", "ab", "cd", "xyz", 72, 105, 1e15, 10/2))'],
  ['string library with float arguments', 'print(("abcdef"):sub(2, 4), ("abcdef"):sub(1, 7/2), string.rep("ab", 3), ("x"):byte(), #string.rep("a", 2^10))'],
  ['table keys from arithmetic', 'local t = {} t[10/2] = "five" t[2^40] = "big" print(t[5], t[2^40], #{[1] = 1, [2.0] = 2})'],
  ['pairs and ipairs keys print as integers', 'for k, v in ipairs({"a", "b"}) do print(k, v) end local n = 0 for k in pairs({10, 20, 30}) do n = n + k end print(n)'],
  ['modulo and math functions', 'print(7 % 3, -7 % 3, 7.5 % 2, math.fmod(7, 3), math.max(1, 2.5), math.abs(-2^40), math.sqrt(16), 2^31 % 7)'],
  ['select and unpack counts', 'print(select("#", 1, 2, 3), select(2, "a", "b"), unpack({1, 2, 3}))'],
  ['negative zero from runtime arithmetic', 'local z = 0 print(-z, 0 * -1, z)'],
  ['ties round to even on the exact binary value (glibc)', 'print(string.format("%.0f %.0f %.0f %.0f %.2f %.1f %.14g %.3g %.0e", 0.5, 1.5, 2.5, -3.5, 0.125, 0.25, 2^-21, 1.0005, 2.5e10))'],
  ['subnormals and the ends of the range', 'print(2^-1074, 2^-1022, 2^-1022 * 0.75, 1e-310, string.format("%g %e %.20g", 2^-1074, 1e-310, 2^-1060), 2^1023 * 1.999)'],
  ['concatenation of floats', 'print(1.5 .. "|" .. 2^-1074 .. "|" .. 1.7976931348623157e308 .. "|" .. 5e-324)'],
];

describe('numbers behave like Lua 5.1 doubles (compared with lua5.1)', () => {
  for (const [name, code] of CASES) {
    it(name, () => {
      assert.equal(runFengari(code), runLua51(code));
    });
  }

  it('formats 1200 pseudo-random doubles like lua5.1 (tostring and 11 printf formats)', () => {
    assert.equal(runFengari(randomDoublesScript(1200)), runLua51(randomDoublesScript(1200)));
  });

  it('converts out-of-range values for %d %x %o %u as the C casts did', () => {
    const code = 'for _, x in ipairs{0/0, 2^63, 2^63 + 2^11, 2^64, 1e19, -1e30, -2^63, -1, 1/0, -1/0, 0.5, -0.5} do print(string.format("%x|%o|%u|%d|%X", x, x, x, x, x)) end';
    assert.equal(runFengari(code), runLua51(code));
  });

  it('0/0 prints with the sign lua5.1 prints on this machine', () => {
    const code = 'local z = 0 print(z/z, -(z/z))';
    assert.equal(runFengari(code), runLua51(code));
  });
});
