/**
 * The number reader behind file:read("*n"). C Lua 5.1 reads numbers with
 * glibc's fscanf("%lf"), whose consumption rules differ from Lua 5.3's
 * l_getn; scripts see the difference in what the next read returns.
 */

import type { FileStream } from './luafile';

const SPACE = new Set([32, 9, 10, 11, 12, 13]);

/**
 * read("*n") as C Lua 5.1 gets it from glibc's fscanf("%lf"): the longest
 * numeral prefix is consumed with one character of push-back ("1ex" gives 1
 * and leaves "x"; "-x" gives nil and leaves "x"); a failed "nan"/"inf" match
 * consumes the mismatching character too; an incomplete exponent is ignored.
 */
export function scanNumber(s: FileStream): number | null {
  let c = s.peekByte();
  while (SPACE.has(c)) {
    s.skipByte();
    c = s.peekByte();
  }
  let text = '';
  const take = (): void => {
    text += String.fromCharCode(c);
    s.skipByte();
    c = s.peekByte();
  };
  const lower = (): string => String.fromCharCode(c).toLowerCase();
  if (c === 43 || c === 45) take(); /* + - */
  const sign = text === '-' ? -1 : 1;
  if (lower() === 'n' || lower() === 'i') {
    const word = lower() === 'n' ? 'nan' : 'inf';
    for (const ch of word) {
      if (lower() !== ch) return failNumber(s, c);
      take();
    }
    if (word === 'inf' && lower() === 'i') {
      for (const ch of 'inity') {
        if (lower() !== ch) return failNumber(s, c);
        take();
      }
    }
    return word === 'nan' ? NaN : sign * Infinity;
  }
  let hex = false;
  let digits = 0;
  if (c === 48 /* 0 */) {
    take();
    if (lower() === 'x') {
      take();
      hex = true;
    } else digits = 1;
  }
  const isDigit = (): boolean => (c >= 48 && c <= 57) || (hex && /[a-f]/.test(lower()) && c >= 0);
  while (isDigit()) {
    take();
    digits++;
  }
  if (c === 46 /* . */) {
    take();
    while (isDigit()) {
      take();
      digits++;
    }
  }
  if (digits === 0) return null;
  if (lower() === (hex ? 'p' : 'e')) {
    take();
    if (c === 43 || c === 45) take();
    while (c >= 48 && c <= 57) take();
  }
  return hex ? parseHexFloat(text) : parseFloat(text);
}

/** A failed inf/nan match: glibc has already consumed the mismatching character. */
function failNumber(s: FileStream, c: number): null {
  if (c >= 0) s.skipByte();
  return null;
}

/** strtod for [sign]0x<hex>[.<hex>][p[sign]<dec>], an incomplete exponent ignored. */
function parseHexFloat(text: string): number {
  const m = /^([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?/i.exec(text);
  if (m === null) return NaN;
  const frac = m[3] ?? '';
  let v = 0;
  for (const d of m[2] + frac) v = v * 16 + parseInt(d, 16);
  v *= Math.pow(2, (m[4] === undefined ? 0 : parseInt(m[4], 10)) - 4 * frac.length);
  return m[1] === '-' ? -v : v;
}
