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
import { globToRegExp } from './model';
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

const namePatterns = new WeakMap<ServerModel, RegExp[]>();

function matchesName(s: ServerModel, host: string): boolean {
  let res = namePatterns.get(s);
  if (!res) {
    res = s.names.map((n) => (/[*?[]/.test(n) ? globToRegExp(n) : null)).filter((r): r is RegExp => r !== null);
    namePatterns.set(s, res);
  }
  return s.names.includes(host) || res.some((r) => r.test(host));
}

function portMatches(a: VhostAddress, port: number): boolean {
  return a.port === null || a.port === port;
}

/**
 * Pick the server for a request. Without `localAddress` (the sidecar does not
 * always know the address Apache accepted on) IP-specific virtual hosts are
 * candidates alongside the wildcard ones.
 */
export function selectServer(main: ServerModel, vhosts: readonly ServerModel[], host: string | undefined, port: number, localAddress?: string): ServerModel {
  let candidates: readonly ServerModel[];
  const local = localAddress ? parseAddress(localAddress) : null;
  if (local) {
    const exact = vhosts.filter((v) => v.addresses.some((a) => {
      if (a.host === '*' || !portMatches(a, port)) return false;
      const ip = parseAddress(a.host);
      return ip !== null && sameAddress(ip, local);
    }));
    candidates = exact.length ? exact : vhosts.filter((v) => v.addresses.some((a) => a.host === '*' && portMatches(a, port)));
  } else {
    candidates = vhosts.filter((v) => v.addresses.some((a) => portMatches(a, port)));
  }
  if (candidates.length === 0) return main;
  const h = requestHost(host);
  if (h !== null) {
    const named = candidates.find((v) => matchesName(v, h));
    if (named) return named;
  }
  return candidates[0];
}
