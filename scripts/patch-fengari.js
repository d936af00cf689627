#!/usr/bin/env node
'use strict';
/*
 * Makes fengari 0.1.5's numbers behave like Lua 5.1's doubles, and its
 * prototypes safe to share between states (postinstall).
 * What is changed and why: docs/fengari-patch.md. Every edit names an anchor
 * text that must occur exactly once; a missing anchor or another fengari
 * version fails the install loudly instead of shipping a half-patched VM.
 * Running it twice is a no-op (each edit recognises its own result).
 */

const fs = require('node:fs');
const path = require('node:path');

const EXPECTED_VERSION = '0.1.5';
const MARK = '/* lwt-sidecar */';

/*
 * The C printf subset Lua 5.1 relied on (glibc semantics: exact binary value,
 * ties to even, inf/nan spelling). Written out as src/lwt-cformat.js.
 */
function cformatModule(module) {
  const dv = new DataView(new ArrayBuffer(8));

  function signBit(x) {
    dv.setFloat64(0, x);
    return (dv.getUint8(0) & 0x80) !== 0;
  }

  /* Exact decimal expansion of a finite x > 0: digits d (no leading or trailing zeros), x = d[0].d[1..] * 10^e. */
  function exactDigits(x) {
    dv.setFloat64(0, x);
    const hi = dv.getUint32(0);
    const lo = dv.getUint32(4);
    let bexp = (hi >>> 20) & 0x7ff;
    let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
    if (bexp === 0) bexp = 1;
    else mant |= 1n << 52n;
    const e2 = bexp - 1075;
    let d;
    let e;
    if (e2 >= 0) {
      d = (mant << BigInt(e2)).toString();
      e = d.length - 1;
    } else {
      d = (mant * 5n ** BigInt(-e2)).toString();
      e = d.length - 1 + e2;
    }
    return { d: d.replace(/0+$/, ''), e };
  }

  /* Round to the digit at decimal position lastPos, ties to even. Zero is d === ''. */
  function roundAt(d, e, lastPos) {
    const k = e - lastPos + 1;
    if (k >= d.length) return { d, e };
    if (k < 0) return { d: '', e: 0 };
    const next = d.charCodeAt(k) - 48;
    const prevOdd = k > 0 && (d.charCodeAt(k - 1) - 48) % 2 === 1;
    const up = next > 5 || (next === 5 && (k + 1 < d.length || prevOdd));
    const kept = d.slice(0, k);
    if (!up) {
      const t = kept.replace(/0+$/, '');
      return t === '' ? { d: '', e: 0 } : { d: t, e };
    }
    const a = kept.split('');
    let i = a.length - 1;
    while (i >= 0 && a[i] === '9') a[i--] = '0';
    if (i < 0) return { d: '1', e: e + 1 };
    a[i] = String.fromCharCode(a[i].charCodeAt(0) + 1);
    return { d: a.join('').replace(/0+$/, ''), e };
  }

  function digitsFrom(r, from, to) {
    let s = '';
    for (let p = from; p >= to; p--) {
      const i = r.e - p;
      s += r.d !== '' && i >= 0 && i < r.d.length ? r.d[i] : '0';
    }
    return s;
  }

  function fixed(r, prec, alt) {
    const int = r.d === '' || r.e < 0 ? '0' : digitsFrom(r, r.e, 0);
    return prec > 0 || alt ? int + '.' + digitsFrom(r, -1, -prec) : int;
  }

  function expo(r, prec, alt, upper) {
    const e = r.d === '' ? 0 : r.e;
    const m = digitsFrom(r, e, e) + (prec > 0 || alt ? '.' + digitsFrom(r, e - 1, e - prec) : '');
    const ex = String(Math.abs(e)).padStart(2, '0');
    return m + (upper ? 'E' : 'e') + (e < 0 ? '-' : '+') + ex;
  }

  function stripZeros(s) {
    if (s.indexOf('.') < 0) return s;
    const at = s.search(/[eE]/);
    const mant = at < 0 ? s : s.slice(0, at);
    const rest = at < 0 ? '' : s.slice(at);
    return mant.replace(/0+$/, '').replace(/\.$/, '') + rest;
  }

  /*
   * Round |x| at lastPos. JS's shortest round-trip digits S are within half an
   * ulp of the exact value; for a normal double with at most 15 of them, every
   * 15-digit step is wider than an ulp, so rounding S gives the exact result
   * unless the dropped tail is exactly "5". Otherwise (subnormals, more digits
   * kept or known) use the exact binary expansion.
   */
  function roundValue(ax, a, lastPos) {
    const k = a.e - lastPos + 1;
    if (ax >= 2.2250738585072014e-308 && a.d.length <= 15 && k <= 15 && (k < 0 || k >= a.d.length || a.d.slice(k) !== '5')) return roundAt(a.d, a.e, lastPos);
    const x = exactDigits(ax);
    return roundAt(x.d, x.e, lastPos);
  }

  /* Shortest round-trip digits of ax > 0 from String(): "123.45", "1.5e-7", "1e+21". */
  function approxDigits(ax) {
    const s = String(ax);
    const at = s.indexOf('e');
    const m = at < 0 ? s : s.slice(0, at);
    const point = m.indexOf('.');
    let d = point < 0 ? m : m.slice(0, point) + m.slice(point + 1);
    let lead = 0;
    while (d.charCodeAt(lead) === 48) lead++;
    d = d.slice(lead).replace(/0+$/, '');
    return { d, e: (point < 0 ? m.length : point) - 1 - lead + (at < 0 ? 0 : Number(s.slice(at + 1))) };
  }

  /* Body of %e/%f/%g for |x|, finite. */
  function floatBody(ax, conv, prec, alt) {
    const x = ax === 0 ? { d: '', e: 0 } : approxDigits(ax);
    const lc = conv.toLowerCase();
    const upper = conv !== lc;
    if (x.d === '') {
      if (lc === 'f') return fixed(x, prec, alt);
      if (lc === 'e') return expo(x, prec, alt, upper);
    }
    if (lc === 'f') return fixed(roundValue(ax, x, -prec), prec, alt);
    if (lc === 'e') return expo(roundValue(ax, x, x.e - prec), prec, alt, upper);
    const P = prec === 0 ? 1 : prec;
    const r = x.d === '' ? x : roundValue(ax, x, x.e - P + 1);
    const X = r.d === '' ? 0 : r.e;
    const s = X < P && X >= -4 ? fixed(r, P - 1 - X, alt) : expo(r, P - 1, alt, upper);
    return alt ? s : stripZeros(s);
  }

  function parseSpec(form) {
    const m = /^%([-+ #0]*)(\d*)(?:\.(\d*))?([a-zA-Z])$/.exec(form);
    if (!m) throw new RangeError('bad format ' + form);
    return {
      left: m[1].includes('-'), plus: m[1].includes('+'), space: m[1].includes(' '),
      alt: m[1].includes('#'), zero: m[1].includes('0'),
      width: m[2] === '' ? 0 : Number(m[2]),
      prec: m[3] === undefined ? -1 : Number(m[3] || '0'),
      conv: m[4],
    };
  }

  function pad(sp, sign, body, zeroOk) {
    const len = sign.length + body.length;
    if (len >= sp.width) return sign + body;
    if (sp.left) return sign + body + ' '.repeat(sp.width - len);
    if (sp.zero && zeroOk) return sign + '0'.repeat(sp.width - len) + body;
    return ' '.repeat(sp.width - len) + sign + body;
  }

  /* C's (long long) cast on x86-64: truncation; NaN and out of range give LLONG_MIN. */
  function toInt64(n) {
    const t = Math.trunc(n);
    if (!(t >= -9223372036854775808 && t < 9223372036854775808)) return -9223372036854775808n;
    return BigInt(t);
  }

  /* (unsigned long long) of a double as gcc compiles it on x86-64: values from 2^63 convert exactly, 2^64 and up give 0. */
  function toUint64(n) {
    if (n >= 9223372036854775808) return n < 18446744073709551616 ? BigInt(n) : 0n;
    return BigInt.asUintN(64, toInt64(n));
  }

  /* One numeric conversion (d i o u x X e E f F g G) of a C format item, as Lua 5.1's string.format did it. */
  function formatNumber(form, n) {
    const sp = parseSpec(form);
    const c = sp.conv;
    if (c === 'd' || c === 'i') {
      const v = toInt64(n);
      let digits = (v < 0n ? -v : v).toString();
      if (sp.prec >= 0) digits = sp.prec === 0 && v === 0n ? '' : digits.padStart(sp.prec, '0');
      const sign = v < 0n ? '-' : sp.plus ? '+' : sp.space ? ' ' : '';
      return pad(sp, sign, digits, sp.prec < 0);
    }
    if (c === 'o' || c === 'u' || c === 'x' || c === 'X') {
      const u = toUint64(n);
      let digits = u.toString(c === 'o' ? 8 : c === 'u' ? 10 : 16);
      if (c === 'X') digits = digits.toUpperCase();
      if (sp.prec >= 0) digits = sp.prec === 0 && u === 0n ? '' : digits.padStart(sp.prec, '0');
      let prefix = '';
      if (sp.alt && c === 'o' && digits[0] !== '0') digits = '0' + digits;
      if (sp.alt && (c === 'x' || c === 'X') && u !== 0n) prefix = c === 'x' ? '0x' : '0X';
      return pad(sp, prefix, digits, sp.prec < 0);
    }
    const neg = signBit(n);
    const sign = neg ? '-' : sp.plus ? '+' : sp.space ? ' ' : '';
    const upper = c === 'E' || c === 'G' || c === 'F';
    if (!Number.isFinite(n)) {
      const word = Number.isNaN(n) ? 'nan' : 'inf';
      return pad(sp, sign, upper ? word.toUpperCase() : word, false);
    }
    return pad(sp, sign, floatBody(Math.abs(n), c, sp.prec < 0 ? 6 : sp.prec, sp.alt), true);
  }

  /* LUA_NUMBER_FMT "%.14g": tostring, concatenation, print. */
  function number2str(n) {
    if (Number.isInteger(n) && n < 1e14 && n > -1e14) return n === 0 && 1 / n < 0 ? '-0' : String(n);
    if (Number.isNaN(n)) return signBit(n) ? '-nan' : 'nan';
    if (!Number.isFinite(n)) return n < 0 ? '-inf' : 'inf';
    return (n < 0 ? '-' : '') + floatBody(Math.abs(n), 'g', 14, false);
  }

  /* %s and %c: width and precision count bytes, as C's do. */
  function formatBytes(form, bytes) {
    const sp = parseSpec(form);
    const s = sp.prec >= 0 && sp.conv === 's' ? bytes.subarray(0, sp.prec) : bytes;
    if (s.length >= sp.width) return s;
    const out = new Uint8Array(sp.width).fill(32);
    out.set(s, sp.left ? 0 : sp.width - s.length);
    return out;
  }

  /* Lua 5.1 lstrlib addquoted: only " \ newline \r and \0 are escaped. */
  function quote51(s) {
    const out = [34];
    for (const c of s) {
      if (c === 34 || c === 92 || c === 10) out.push(92, c);
      else if (c === 13) out.push(92, 114);
      else if (c === 0) out.push(92, 48, 48, 48);
      else out.push(c);
    }
    out.push(34);
    return Uint8Array.from(out);
  }

  /* glibc strtod accepted inf/infinity/nan, so Lua 5.1's tonumber("inf") is inf. */
  function str2special(s) {
    const t = String.fromCharCode.apply(null, Array.from(s));
    const m = /^[\t\n\v\f\r ]*([+-]?)(inf|infinity|nan)[\t\n\v\f\r ]*\0?$/i.exec(t);
    if (!m) return null;
    const v = m[2].toLowerCase() === 'nan' ? NaN : Infinity;
    return { n: m[1] === '-' ? -v : v, i: s.length };
  }

  module.exports = { formatNumber, formatBytes, number2str, quote51, str2special };
}

/* The edits: [file, anchor, replacement]. */
const EDITS = [
  ['luaconf.js',
    'const LUA_COMPAT_FLOATSTRING = conf.LUA_COMPAT_FLOATSTRING || false;',
    `const LUA_COMPAT_FLOATSTRING = true; ${MARK} /* Lua 5.1 printed integral doubles without ".0" */`],
  ['luaconf.js',
    '    return String(Number(n.toPrecision(14))); /* should match behaviour of LUA_NUMBER_FMT */',
    `    return require('./lwt-cformat.js').number2str(n); ${MARK} /* C's %.14g */`],
  // Every number is a double, as in Lua 5.1: integer TValues are never created, so
  // 32-bit integer arithmetic (which wraps silently in fengari) never runs.
  ['lobject.js',
    '    constructor(type, value) {\n        this.type = type;',
    `    constructor(type, value) {\n        this.type = type === LUA_TNUMINT ? LUA_TNUMFLT : type; ${MARK}`],
  ['lobject.js',
    '    setivalue(x) {\n        this.type = LUA_TNUMINT;',
    `    setivalue(x) {\n        this.type = LUA_TNUMFLT; ${MARK}`],
  // Numerals and string conversions go through strtod in 5.1: no wrapping hex integers, no integer subtype.
  ['lobject.js',
    '    let s2i = l_str2int(s);\n    if (s2i !== null) {   /* try as an integer */',
    `    let s2i = null; ${MARK}\n    if (s2i !== null) {   /* try as an integer */`],
  ['lobject.js',
    "    if (mode === 'n')  /* reject 'inf' and 'nan' */\n        return null;",
    `    if (mode === 'n') ${MARK}\n        return require('./lwt-cformat.js').str2special(s);`],
  // With no integer TValues the constant-cache index is a float: reuse it anyway.
  ['lcode.js',
    '    if (idx.ttisinteger()) {  /* is there an index there? */',
    `    if (idx.ttisnumber()) { ${MARK}`],
  // 5.1 folded constant expressions whose result is zero (`0 * -1` is the constant 0 when 0 is
  // already a constant of the function); only NaN stayed unfolded.
  ['lcode.js',
    '        if (isNaN(n) || n === 0)\n            return false;',
    `        if (isNaN(n)) ${MARK}\n            return false;`],
  // 5.1's luaL_checkinteger cast the double: s:sub(1, n/2) truncates instead of failing.
  ['lauxlib.js',
    '    let d = lua_tointegerx(L, arg);\n    if (d === false)\n        interror(L, arg);\n    return d;',
    `    let d = lua_tointegerx(L, arg); ${MARK}\n    if (d === false) {\n        const n = lua_tonumberx(L, arg);\n        if (n === false) interror(L, arg);\n        d = Number.isNaN(n) ? 0 : Math.max(-2147483648, Math.min(2147483647, Math.trunc(n)));\n    }\n    return d;`],
  // No closure cache in prototypes: the chunk cache shares one Proto between all states of a
  // worker, and a cached closure would carry one request's upvalues into the next (and closures
  // without upvalues would be one object across states). Lua 5.1 made a new closure every time.
  ['lvm.js',
    '    p.cache = ncl;  /* save it on cache for reuse */',
    `    /* p.cache is never set */ ${MARK}`],
  // Field names given to lua_setfield/lua_getfield (and so lua_setglobal, luaL_setfuncs) as
  // interned byte strings (to_luastring(s, true)) become one TString per worker, hash included:
  // opening the libraries of each per-request state no longer copies and hashes every name.
  ['defs.js',
    '    if (cache) to_luastring_cache[str] = outU8Array;',
    `    if (cache) { to_luastring_cache[str] = outU8Array; lwt_interned.add(outU8Array); } ${MARK}`],
  ['defs.js',
    'const to_luastring_cache = {};',
    `const to_luastring_cache = {};\nconst lwt_interned = new WeakSet(); ${MARK}\nmodule.exports.lwt_interned = lwt_interned;`],
  // A new buffer starts at 64 bytes instead of growing 1, 2, 4, ... one byte at a time.
  ['lauxlib.js',
    '        let newsize = Math.max(B.b.length * 2, newend);  /* double buffer size */',
    `        let newsize = Math.max(B.b.length * 2, newend, 64); ${MARK} /* double buffer size, 64 at least */`],
  // gsub, format and concat add bytes one by one: no new subarray view for each.
  ['lauxlib.js',
    'const luaL_addchar = function(B, c) {\n    luaL_prepbuffsize(B, 1);\n    B.b[B.n++] = c;\n};',
    `const luaL_addchar = function(B, c) {\n    if (B.b.length <= B.n) luaL_prepbuffsize(B, 1); ${MARK} /* grow only when full */\n    B.b[B.n++] = c;\n};`],
  ['lauxlib.js',
    '        s = from_userstring(s);\n        let b = luaL_prepbuffsize(B, l);\n        b.set(s.subarray(0, l));\n        luaL_addsize(B, l);',
    `        s = from_userstring(s);\n        if (B.b.length < B.n + l) luaL_prepbuffsize(B, l); ${MARK} /* copy in place, no views */\n        B.b.set(l === s.length ? s : s.subarray(0, l), B.n);\n        luaL_addsize(B, l);`],
  // luaS_hash is the key of every string in a table and the equality test of long strings.
  // Unpadded hex made "\1\35" and "\18\3" one string ("|123"); one character per byte cannot collide.
  ['lstring.js',
    '    let s = "|";\n    for (let i=0; i<len; i++)\n        s += str[i].toString(16);\n    return s;',
    `    if (len > 16) return "|" + lwt_latin1Slice.call(str, 0, len); ${MARK} /* one character per byte */\n` +
    '    let s = "|";\n    for (let i=0; i<len; i++)\n        s += String.fromCharCode(str[i]);\n    return s;'],
  ['lstring.js',
    'const { lua_assert } = require("./llimits.js");',
    `const { lua_assert } = require("./llimits.js");\nconst lwt_latin1Slice = require("buffer").Buffer.prototype.latin1Slice; ${MARK}`],
  ['lstring.js',
    'module.exports.luaS_eqlngstr    = luaS_eqlngstr;',
    `/* A TString is immutable (its hash is computed once): one per interned byte string. */ ${MARK}\n` +
    `const lwt_keys = new WeakMap();\n` +
    `const lwt_interned = require('./defs.js').lwt_interned;\n` +
    `module.exports.luaS_newkey = function(L, str) {\n` +
    `    let ts = lwt_keys.get(str);\n` +
    `    if (ts === undefined) {\n` +
    `        ts = luaS_new(L, str);\n` +
    `        if (lwt_interned.has(str)) lwt_keys.set(str, ts);\n` +
    `    }\n` +
    `    return ts;\n` +
    `};\n` +
    'module.exports.luaS_eqlngstr    = luaS_eqlngstr;'],
  ['lapi.js',
    '    luaS_new,\n    luaS_newliteral\n} = require(\'./lstring.js\');',
    `    luaS_new,\n    luaS_newkey, ${MARK}\n    luaS_newliteral\n} = require('./lstring.js');`],
  ['lapi.js',
    'const auxsetstr = function(L, t, k) {\n    let str = luaS_new(L, from_userstring(k));',
    `const auxsetstr = function(L, t, k) {\n    let str = luaS_newkey(L, from_userstring(k)); ${MARK}`],
  ['lapi.js',
    'const auxgetstr = function(L, t, k) {\n    let str = luaS_new(L, from_userstring(k));',
    `const auxgetstr = function(L, t, k) {\n    let str = luaS_newkey(L, from_userstring(k)); ${MARK} /* get */`],
  ['lauxlib.js',
    '        lua_setfield(L, -(nup + 2), to_luastring(lib));',
    `        lua_setfield(L, -(nup + 2), to_luastring(lib, true)); ${MARK}`],
  // string.format: C printf semantics for numbers, 5.1's %q, byte-exact %s/%c.
  ['lstrlib.js',
    "const { sprintf } = require('sprintf-js');",
    `const { sprintf } = require('sprintf-js');\nconst lwt_cformat = require('./lwt-cformat.js'); ${MARK}`],
  ['lstrlib.js',
    ["                case 'c': {", "                default: {  /* also treat cases 'pnLlh' */"],
    `                case 'c': ${MARK}\n` +
    `                    luaL_addstring(b, lwt_cformat.formatBytes(String.fromCharCode(...form), Uint8Array.of(luaL_checknumber(L, arg) & 255)));\n` +
    `                    break;\n` +
    `                case 'd': case 'i': case 'o': case 'u': case 'x': case 'X':\n` +
    `                case 'e': case 'E': case 'f': case 'F': case 'g': case 'G':\n` +
    `                    luaL_addstring(b, to_luastring(lwt_cformat.formatNumber(String.fromCharCode(...form), luaL_checknumber(L, arg))));\n` +
    `                    break;\n` +
    `                case 'a': case 'A':\n` +
    `                    addlenmod(form, to_luastring(LUA_INTEGER_FRMLEN, true));\n` +
    `                    luaL_addstring(b, lua_number2strx(L, form, luaL_checknumber(L, arg)));\n` +
    `                    break;\n` +
    `                case 'q':\n` +
    `                    luaL_addstring(b, lwt_cformat.quote51(luaL_checkstring(L, arg)));\n` +
    `                    break;\n` +
    `                case 's': {\n` +
    `                    const s = luaL_tolstring(L, arg);\n` +
    `                    luaL_addstring(b, lwt_cformat.formatBytes(String.fromCharCode(...form), s));\n` +
    `                    lua_pop(L, 1);\n` +
    `                    break;\n` +
    `                }\n`],
];

/*
 * Stack slots above the top are cleared by assigning undefined instead of
 * `delete`: reads see undefined either way (nothing in fengari tests slot
 * presence), but V8 turns an array that has elements deleted into a slow one,
 * and the Lua stack is the VM's hottest array (about a quarter of a cached
 * request). Every occurrence is replaced; the count per file guards against
 * another fengari version.
 */
const STACK_CLEAR = {
  pattern: /delete (L|from)\.stack\[([^\]]+)\];/g,
  replacement: '$1.stack[$2] = undefined;',
  marker: `${MARK} /* stack slots are cleared by assignment, not delete (docs/fengari-patch.md) */`,
  counts: { 'lapi.js': 18, 'ldebug.js': 1, 'ldo.js': 5, 'lparser.js': 1, 'ltm.js': 1, 'lvm.js': 3 },
};

function applyStackClear(text, file) {
  if (text.includes(STACK_CLEAR.marker)) return text;
  const found = (text.match(STACK_CLEAR.pattern) ?? []).length;
  if (found !== STACK_CLEAR.counts[file]) fail(`${file}: ${found} stack deletes found, expected ${STACK_CLEAR.counts[file]}`);
  return `${text.replace(STACK_CLEAR.pattern, STACK_CLEAR.replacement)}\n${STACK_CLEAR.marker}\n`;
}

function fail(msg) {
  process.stderr.write(`patch-fengari: ${msg}\n`);
  process.exit(1);
}

function findFengari() {
  try {
    return path.dirname(require.resolve('fengari/package.json', { paths: [path.join(__dirname, '..')] }));
  } catch {
    return null;
  }
}

function applyEdit(text, file, anchor, replacement) {
  const marker = replacement.split('\n').find((l) => l.includes(MARK));
  if (text.includes(marker)) return text;
  if (Array.isArray(anchor)) {
    const [from, to] = anchor;
    const a = text.indexOf(from);
    const b = text.indexOf(to, a);
    if (a < 0 || b < 0 || text.indexOf(from, a + 1) >= 0) fail(`${file}: anchor not found once: ${JSON.stringify(from)}`);
    return text.slice(0, a) + replacement + text.slice(b);
  }
  const at = text.indexOf(anchor);
  if (at < 0 || text.indexOf(anchor, at + 1) >= 0) fail(`${file}: anchor not found once: ${JSON.stringify(anchor)}`);
  return text.slice(0, at) + replacement + text.slice(at + anchor.length);
}

function main() {
  const root = findFengari();
  if (root === null) fail('fengari is not installed');
  const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  if (version !== EXPECTED_VERSION) fail(`fengari ${version} found; this patch is written for ${EXPECTED_VERSION}`);
  const src = path.join(root, 'src');
  const texts = new Map();
  for (const [file, anchor, replacement] of EDITS) {
    const text = texts.get(file) ?? fs.readFileSync(path.join(src, file), 'utf8');
    texts.set(file, applyEdit(text, file, anchor, replacement));
  }
  for (const file of Object.keys(STACK_CLEAR.counts)) {
    const text = texts.get(file) ?? fs.readFileSync(path.join(src, file), 'utf8');
    texts.set(file, applyStackClear(text, file));
  }
  const helper = `'use strict';\n${MARK} /* written by scripts/patch-fengari.js; see docs/fengari-patch.md */\n(${cformatModule.toString()})(module);\n`;
  fs.writeFileSync(path.join(src, 'lwt-cformat.js'), helper);
  for (const [file, text] of texts) fs.writeFileSync(path.join(src, file), text);
  process.stdout.write(`patch-fengari: fengari ${version} patched (${EDITS.length} edits, stack clearing in ${Object.keys(STACK_CLEAR.counts).length} files)\n`);
}

if (require.main === module) main();
module.exports = { cformatModule };
