/**
 * IP addresses and subnets as mod_authz_host and mod_access_compat accept them
 * (both go through apr_ipsubnet_create): a full address, a partial IPv4
 * address (`10.1` = 10.1.0.0/16), `addr/bits`, `addr/netmask` (IPv4 only).
 * IPv4 rules also match IPv4-mapped IPv6 clients (`::ffff:10.1.2.3`), as APR does.
 */

import { isIPv4, isIPv6 } from 'node:net';

export interface Subnet {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, already masked. */
  readonly bytes: Uint8Array;
  readonly mask: Uint8Array;
}

function v4Bytes(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map(Number));
}

function v6Bytes(s: string): Uint8Array {
  const out = new Uint8Array(16);
  let text = s;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = v4Bytes(text.slice(lastColon + 1));
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, null];
  const hs = head === '' ? [] : head.split(':');
  const rs = rest === null || rest === '' ? [] : rest.split(':');
  const groups = hs.map((g) => parseInt(g, 16));
  const fill = 8 - hs.length - rs.length;
  for (let i = 0; rest !== null && i < fill; i++) groups.push(0);
  for (const g of rs) groups.push(parseInt(g, 16));
  if (tail.length) groups.splice(6, 2, tail[0], tail[1]);
  groups.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}

/** Parse a client address; IPv4-mapped IPv6 comes back as IPv4. Null when it is not an address. */
export function parseAddress(ip: string): { family: 4 | 6; bytes: Uint8Array } | null {
  let s = ip.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (isIPv4(s)) return { family: 4, bytes: v4Bytes(s) };
  if (!isIPv6(s)) return null;
  const b = v6Bytes(s);
  const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  return mapped ? { family: 4, bytes: b.slice(12) } : { family: 6, bytes: b };
}

function prefixMask(len: number, bits: number): Uint8Array {
  const m = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    const take = Math.max(0, Math.min(8, bits - 8 * i));
    m[i] = take === 0 ? 0 : (0xff << (8 - take)) & 0xff;
  }
  return m;
}

function subnet(family: 4 | 6, bytes: Uint8Array, mask: Uint8Array): Subnet {
  return { family, bytes: bytes.map((b, i) => b & mask[i]), mask };
}

/** apr_ipsubnet_create; null when the text does not look like an IP address or subnet. */
export function parseSubnet(text: string): Subnet | null {
  const slash = text.indexOf('/');
  const addr = slash >= 0 ? text.slice(0, slash) : text;
  const maskText = slash >= 0 ? text.slice(slash + 1) : null;
  if (isIPv6(addr)) {
    const bytes = v6Bytes(addr);
    if (maskText === null) return subnet(6, bytes, prefixMask(16, 128));
    if (!/^[0-9]+$/.test(maskText) || Number(maskText) > 128) return null;
    return subnet(6, bytes, prefixMask(16, Number(maskText)));
  }
  if (isIPv4(addr)) {
    const bytes = v4Bytes(addr);
    if (maskText === null) return subnet(4, bytes, prefixMask(4, 32));
    if (/^[0-9]+$/.test(maskText) && Number(maskText) <= 32) return subnet(4, bytes, prefixMask(4, Number(maskText)));
    if (isIPv4(maskText)) return subnet(4, bytes, v4Bytes(maskText));
    return null;
  }
  // Partial IPv4 (1 to 3 leading octets), without a mask: APR's "10.1" form.
  if (maskText === null && /^[0-9]{1,3}(\.[0-9]{1,3}){0,2}\.?$/.test(addr)) {
    const octets = addr.replace(/\.$/, '').split('.').map(Number);
    if (octets.some((o) => o > 255)) return null;
    const bytes = new Uint8Array(4);
    octets.forEach((o, i) => { bytes[i] = o; });
    return subnet(4, bytes, prefixMask(4, 8 * octets.length));
  }
  return null;
}

export function subnetContains(net: Subnet, ip: { family: 4 | 6; bytes: Uint8Array }): boolean {
  if (net.family !== ip.family) return false;
  for (let i = 0; i < net.bytes.length; i++) {
    if ((ip.bytes[i] & net.mask[i]) !== net.bytes[i]) return false;
  }
  return true;
}

export function isLoopback(ip: { family: 4 | 6; bytes: Uint8Array }): boolean {
  if (ip.family === 4) return ip.bytes[0] === 127;
  return ip.bytes.slice(0, 15).every((b) => b === 0) && ip.bytes[15] === 1;
}

export function sameAddress(a: { family: 4 | 6; bytes: Uint8Array }, b: { family: 4 | 6; bytes: Uint8Array }): boolean {
  return a.family === b.family && a.bytes.every((x, i) => x === b.bytes[i]);
}
