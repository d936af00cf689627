/**
 * Virtual-host addresses and selection as httpd's vhost.c does it: the
 * connection's address and port pick the candidate set (an IP-specific match
 * beats `*`/`_default_`, which are the same thing in 2.4), then the Host
 * header picks by ServerName/ServerAlias in configuration order; the first
 * candidate is the default. No candidate at all: the main server.
 */

import { confError } from '../errors';
import type { Directive } from '../apache/types';
import type { ServerModel, VhostAddress } from './model';
import { sectionGlob } from './model';
import { parseAddress, sameAddress } from './ip';

/** One `<VirtualHost>` argument: `*:80`, `_default_:443`, `127.0.0.1:8080`, `[::1]:80`, `*`, `host:*`. */
export function parseVhostAddress(text: string, d: Directive): VhostAddress {
  let host = text;
  let portText: string | null = null;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) throw confError('LWT_CONF_ARGS', `Invalid address or port in "${text}"`, d.file, d.line);
    host = text.slice(1, end);
    if (text[end + 1] === ':') portText = text.slice(end + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && text.indexOf(':') === colon) { host = text.slice(0, colon); portText = text.slice(colon + 1); }
  }
  let port: number | null = null;
  if (portText !== null && portText !== '*') {
    if (!/^[0-9]+$/.test(portText) || Number(portText) > 65535) throw confError('LWT_CONF_ARGS', `Invalid address or port in "${text}"`, d.file, d.line);
    port = Number(portText) || null;
  }
  const h = host.toLowerCase();
  if (h === '*' || h === '_default_') return { host: '*', port };
  // httpd resolves host names at start-up; the sidecar only knows localhost.
  if (h === 'localhost') return { host: '127.0.0.1', port };
  return { host: h, port };
}

/** ServerName `[scheme://]fqdn[:port]` as core.c's server_hostname_port splits it. */
export function parseServerName(text: string): { host: string; port: number | null; scheme: string | null } {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  let rest = m ? text.slice(m[0].length) : text;
  let port: number | null = null;
  const pm = /:([0-9]+)$/.exec(rest);
  if (pm && (!rest.startsWith('[') || rest.lastIndexOf(']') < pm.index)) { port = Number(pm[1]); rest = rest.slice(0, pm.index); }
  return { host: rest, port, scheme: m ? m[1].toLowerCase() : null };
}

/** ServerName may carry a scheme and a port (`https://www.example.com:443`); matching uses the host only. */
export function serverNameHost(name: string): string {
  let n = name.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  if (n.startsWith('[')) n = n.slice(0, n.indexOf(']') + 1);
  else n = n.replace(/:[0-9]*$/, '');
  return n.toLowerCase().replace(/\.$/, '');
}

/** The Host header without port and trailing dot, lower-cased. */
export function requestHost(host: string | undefined): string | null {
  if (host === undefined || host === '') return null;
  return serverNameHost(host);
}

/**
 * Name lookup prepared once per snapshot: exact names in a map, `*.suffix`
 * aliases by suffix, other wildcards in a list; each maps to vhost indices in
 * configuration order, because the first virtual host that matches wins.
 */
interface NameIndex {
  readonly exact: Map<string, number[]>;
  readonly suffix: Map<string, number[]>;
  readonly other: Array<{ readonly i: number; readonly re: RegExp }>;
  /** Candidate sets by `port|localAddress`: few distinct keys per deployment. */
  readonly candidates: Map<string, { readonly list: readonly number[]; readonly set: ReadonlySet<number> }>;
}

const indexes = new WeakMap<readonly ServerModel[], NameIndex>();

function push(map: Map<string, number[]>, key: string, i: number): void {
  const list = map.get(key);
  if (!list) map.set(key, [i]);
  else if (list[list.length - 1] !== i) list.push(i);
}

function indexOf(vhosts: readonly ServerModel[]): NameIndex {
  let idx = indexes.get(vhosts);
  if (idx) return idx;
  idx = { exact: new Map(), suffix: new Map(), other: [], candidates: new Map() };
  vhosts.forEach((v, i) => {
    for (const n of v.names) {
      if (!/[*?[]/.test(n)) push(idx!.exact, n, i);
      else if (/^\*\.[^*?[]*$/.test(n)) push(idx!.suffix, n.slice(1), i);
      else idx!.other.push({ i, re: sectionGlob(n) });
    }
  });
  indexes.set(vhosts, idx);
  return idx;
}

function portMatches(a: VhostAddress, port: number): boolean {
  return a.port === null || a.port === port;
}

/**
 * vhost.c find_ipaddr/find_default_server: an address whose port is the
 * connection's beats one with a wildcard port (`*:443` over `*:*`).
 */
function byPort(vhosts: readonly ServerModel[], all: readonly number[], port: number, hostOk: (a: VhostAddress) => boolean): number[] {
  const exact = all.filter((i) => vhosts[i].addresses.some((a) => hostOk(a) && a.port === port));
  return exact.length ? exact : all.filter((i) => vhosts[i].addresses.some((a) => hostOk(a) && a.port === null));
}

function candidatesFor(vhosts: readonly ServerModel[], idx: NameIndex, port: number, localAddress?: string) {
  const key = `${port}|${localAddress ?? ''}`;
  let c = idx.candidates.get(key);
  if (c) return c;
  const all = vhosts.map((_, i) => i);
  let list: number[];
  const local = localAddress ? parseAddress(localAddress) : null;
  if (local) {
    const exact = byPort(vhosts, all, port, (a) => {
      if (a.host === '*') return false;
      const ip = parseAddress(a.host);
      return ip !== null && sameAddress(ip, local);
    });
    list = exact.length ? exact : byPort(vhosts, all, port, (a) => a.host === '*');
  } else {
    // The local address unknown: IP-specific servers stay candidates beside the wildcard ones.
    const wild = new Set(byPort(vhosts, all, port, (a) => a.host === '*'));
    list = all.filter((i) => wild.has(i) || vhosts[i].addresses.some((a) => a.host !== '*' && portMatches(a, port)));
  }
  c = { list, set: new Set(list) };
  if (idx.candidates.size > 1000) idx.candidates.clear();
  idx.candidates.set(key, c);
  return c;
}

function firstIn(list: readonly number[] | undefined, set: ReadonlySet<number>): number {
  if (list) for (const i of list) if (set.has(i)) return i;
  return Infinity;
}

/**
 * Pick the server for a request. Without `localAddress` (the sidecar does not
 * always know the address Apache accepted on) IP-specific virtual hosts are
 * candidates alongside the wildcard ones.
 */
export function selectServer(main: ServerModel, vhosts: readonly ServerModel[], host: string | undefined, port: number, localAddress?: string): ServerModel {
  if (vhosts.length === 0) return main;
  const idx = indexOf(vhosts);
  const { list, set } = candidatesFor(vhosts, idx, port, localAddress);
  if (list.length === 0) return main;
  const h = requestHost(host);
  if (h !== null) {
    let best = firstIn(idx.exact.get(h), set);
    for (let k = h.indexOf('.'); k >= 0; k = h.indexOf('.', k + 1)) best = Math.min(best, firstIn(idx.suffix.get(h.slice(k)), set));
    for (const o of idx.other) {
      if (o.i >= best) break;
      if (set.has(o.i) && o.re.test(h)) { best = o.i; break; }
    }
    if (best !== Infinity) return vhosts[best];
  }
  return vhosts[list[0]];
}
