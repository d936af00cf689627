/**
 * Rebuild what Apache received from what mod_proxy forwarded. Measured with
 * Apache 2.4.71 (apache-proxy.md): mod_proxy *appends* the real peer to
 * X-Forwarded-For and the client's Host to X-Forwarded-Host, and adds
 * X-Forwarded-Server; the scheme header is set by the site's RequestHeader.
 * Only a trusted peer's headers count; from it, the last entries are
 * Apache's and are removed again, so the script sees what the client sent.
 * The authenticated user and auth type (httpd's r->user, r->ap_auth_type)
 * come the same way, from headers the snippet sets after Apache's
 * authentication and removes from every other request.
 */

import { BlockList, isIP } from 'node:net';

export interface ForwardingOptions {
  /** Peers whose forwarding headers are believed. */
  readonly trustedProxies: BlockList;
  /** Lower-case name of the header carrying the scheme (set by the Apache snippet). */
  readonly schemeHeader: string;
  /** Lower-case name of the header carrying the client's port (optional in the snippet). */
  readonly portHeader: string;
  /** Lower-case name of the header carrying httpd's THE_REQUEST (optional in the snippet). */
  readonly requestLineHeader: string;
  /** Lower-case name of the header carrying REMOTE_USER (default DEFAULT_USER_HEADER). */
  readonly userHeader?: string;
  /** Lower-case name of the header carrying AUTH_TYPE (default DEFAULT_AUTH_TYPE_HEADER). */
  readonly authTypeHeader?: string;
}

/** The names deploy/apache/lwt-sidecar.conf sets (`--user-header`, `--auth-type-header`). */
export const DEFAULT_USER_HEADER = 'X-Forwarded-User';
export const DEFAULT_AUTH_TYPE_HEADER = 'X-Forwarded-Auth-Type';

/** The client's request line as Apache received it (httpd's THE_REQUEST). */
export interface RequestLine {
  readonly method: string;
  /** The raw target: REQUEST_URI under mod_lwt. */
  readonly target: string;
  readonly protocol: string;
}

export interface ClientView {
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly trusted: boolean;
  /** REMOTE_ADDR / REMOTE_PORT. */
  readonly address: string;
  readonly port: number;
  readonly scheme: 'http' | 'https';
  /** The client's Host header, null when absent. */
  readonly host: string | null;
  /** Request headers as the client sent them to Apache, in order, duplicates kept. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** From a trusted peer's request-line header; null when not sent. */
  readonly requestLine: RequestLine | null;
  /** REMOTE_USER (httpd's r->user), from a trusted peer's user header; null when none. */
  readonly user: string | null;
  /** AUTH_TYPE (r->ap_auth_type), from a trusted peer's auth-type header; null when none. */
  readonly authType: string | null;
}

/** `GET /a%7Eb?x HTTP/1.1` → its parts; null when it is not a request line. */
export function parseRequestLine(value: string): RequestLine | null {
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d(?:\.\d)?)$/.exec(value.trim());
  return m ? { method: m[1]!, target: m[2]!, protocol: m[3]! } : null;
}

/** `--trusted-proxy` list: addresses or CIDR ranges; `loopback` for 127.0.0.0/8 and ::1. */
export function parseTrustedProxies(values: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of values) {
    const v = raw.trim();
    if (v === 'loopback') {
      list.addSubnet('127.0.0.0', 8, 'ipv4');
      list.addAddress('::1', 'ipv6');
      continue;
    }
    const [addr, bits] = v.split('/');
    const family = isIP(addr ?? '');
    if (family === 0 || (bits !== undefined && !/^\d+$/.test(bits))) {
      throw new Error(`--trusted-proxy must be an IP address, a CIDR range or 'loopback' (got '${raw}')`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return list;
}

/** `::ffff:1.2.3.4` (a v4 peer on a dual-stack socket) is 1.2.3.4, as Apache logs it. */
export function plainAddress(addr: string): string {
  return addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}

/** Answers per list and peer address: BlockList.check builds a SocketAddress on every call. */
const trustMemo = new WeakMap<BlockList, Map<string, boolean>>();
const TRUST_MEMO_MAX = 1024;

export function isTrusted(list: BlockList, addr: string): boolean {
  let memo = trustMemo.get(list);
  if (memo === undefined) trustMemo.set(list, memo = new Map());
  let trusted = memo.get(addr);
  if (trusted === undefined) {
    const family = isIP(addr);
    trusted = family !== 0 && list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
    if (memo.size >= TRUST_MEMO_MAX) memo.clear();
    memo.set(addr, trusted);
  }
  return trusted;
}

/** Split `a, b, c` into the client's part (`a, b`) and Apache's last entry (`c`). */
export function splitLast(value: string): { before: string | null; last: string } {
  const i = value.lastIndexOf(',');
  if (i < 0) return { before: null, last: value.trim() };
  return { before: value.slice(0, i).trim(), last: value.slice(i + 1).trim() };
}

/** rawHeaders (name, value, name, value…) → the client's view. */
export function clientView(
  rawHeaders: readonly string[], peerAddress: string, peerPort: number, opts: ForwardingOptions,
): ClientView {
  const peer = plainAddress(peerAddress);
  const trusted = isTrusted(opts.trustedProxies, peer);
  const headers: Array<readonly [string, string]> = [];
  let host: string | null = null;
  let xff: string | null = null;
  let xfh: string | null = null;
  let scheme: string | null = null;
  let port: string | null = null;
  let requestLine: RequestLine | null = null;
  const userHeader = (opts.userHeader ?? DEFAULT_USER_HEADER).toLowerCase();
  const authTypeHeader = (opts.authTypeHeader ?? DEFAULT_AUTH_TYPE_HEADER).toLowerCase();
  const user: string[] = [];
  const authType: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    const key = name.toLowerCase();
    if (key === 'host' && host === null) host = value;
    if (trusted) {
      // Apache merged repeats with ", " before appending (apr_table_mergen): join the same way.
      if (key === 'x-forwarded-for') { xff = xff === null ? value : `${xff}, ${value}`; continue; }
      if (key === 'x-forwarded-host') { xfh = xfh === null ? value : `${xfh}, ${value}`; continue; }
      if (key === 'x-forwarded-server') continue;
      // Hop-by-hop headers of Apache's own connection to the sidecar, not the client's.
      if (key === 'connection' || key === 'keep-alive') continue;
      if (key === opts.schemeHeader) { scheme = value.trim().toLowerCase(); continue; }
      if (key === opts.portHeader) { port = value.trim(); continue; }
      if (key === opts.requestLineHeader) { requestLine = parseRequestLine(value); continue; }
      if (key === userHeader) { user.push(value); continue; }
      if (key === authTypeHeader) { authType.push(value); continue; }
    }
    headers.push([name, value]);
  }
  let address = peer;
  let clientPort = peerPort;
  if (trusted && xff !== null) {
    const { before, last } = splitLast(xff);
    if (isIP(last)) address = plainAddress(last);
    if (before) headers.push(['X-Forwarded-For', before]);
    clientPort = port !== null && /^\d{1,5}$/.test(port) ? Number(port) : 0;
  }
  if (trusted && xfh !== null) {
    const { before, last } = splitLast(xfh);
    // mod_proxy's X-Forwarded-Host is the client's Host: right even without ProxyPreserveHost.
    if (last) {
      host = last;
      replaceHost(headers, last);
    }
    if (before) headers.push(['X-Forwarded-Host', before]);
  }
  return {
    peerAddress: peer,
    peerPort,
    trusted,
    address,
    port: clientPort,
    scheme: scheme === 'https' ? 'https' : 'http',
    host,
    headers,
    requestLine,
    user: single(user),
    authType: single(authType),
  };
}

/**
 * The snippet's `RequestHeader set` sends one copy, and none when Apache
 * authenticated nobody. An empty value is no value (httpd sets REMOTE_USER
 * only when r->user is set); repeated copies are not Apache's doing: believe neither.
 */
function single(values: readonly string[]): string | null {
  return values.length === 1 && values[0] !== '' ? values[0]! : null;
}

function replaceHost(headers: Array<readonly [string, string]>, host: string): void {
  const i = headers.findIndex(([n]) => n.toLowerCase() === 'host');
  if (i >= 0) headers[i] = [headers[i]![0], host];
  else headers.unshift(['Host', host]);
}
