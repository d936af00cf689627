/**
 * The sidecar's options: one defaults object, validated once at the edge and
 * handed on frozen, with units in the names.
 *
 * Values the sidecar cannot learn from a proxied request (mod_lwt.md §7):
 * - SERVER_SOFTWARE: `serverSoftware` (`--server-software`, default `Apache`;
 *   Apache's banner depends on ServerTokens and its version, neither readable
 *   from the configuration alone);
 * - SERVER_ADDR: `serverAddr` (`--server-addr`), else the local address of the
 *   connection Apache made to the sidecar (right when both share the host);
 * - SERVER_ADMIN: the virtual host's ServerAdmin from the configuration;
 * - SERVER_SIGNATURE: `serverSignature` (`--server-signature on|off|email`),
 *   else the configuration's server-level ServerSignature (httpd default Off).
 */

import { BlockList } from 'node:net';
import * as os from 'node:os';
import { SidecarError } from '../errors';
import type { RuntimeOptions } from '../lua/types';
import { createLogger, type Logger } from '../log';
import { DEFAULT_AUTH_TYPE_HEADER, DEFAULT_USER_HEADER, parseTrustedProxies } from './forwarded';

export type SignatureMode = 'on' | 'off' | 'email';

export interface SidecarOptions {
  /** `host:port`, `[v6]:port` or a port alone (loopback); default 127.0.0.1:8070. */
  listen?: string;
  workers?: number;
  queueLimit?: number;
  cpuLimitMs?: number;
  maxBodyBytes?: number;
  /** Keep-alive idle timeout: longer than Apache's pooled-connection ttl. */
  idleTimeoutMs?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** How long a graceful stop waits for in-flight requests before closing connections. */
  stopTimeoutMs?: number;
  trustedProxies?: readonly string[];
  schemeHeader?: string;
  portHeader?: string;
  requestLineHeader?: string;
  /** Header a trusted Apache sets to the authenticated user (REMOTE_USER). */
  userHeader?: string;
  /** Header a trusted Apache sets to the authentication type (AUTH_TYPE). */
  authTypeHeader?: string;
  apacheChecksAccess?: boolean;
  serverSoftware?: string;
  serverAddr?: string | null;
  serverSignature?: SignatureMode | null;
  /** Worker heap cap = this + the largest LuaMemoryLimit of the snapshot (MiB). */
  heapBaseMb?: number;
  runtime?: Partial<RuntimeOptions>;
  logger?: Logger;
}

export interface ResolvedOptions {
  readonly host: string;
  readonly port: number;
  readonly workers: number;
  readonly queueLimit: number;
  readonly cpuLimitMs: number;
  readonly maxBodyBytes: number;
  readonly idleTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly trustedProxies: BlockList;
  readonly trustedProxyList: readonly string[];
  readonly schemeHeader: string;
  readonly portHeader: string;
  readonly requestLineHeader: string;
  readonly userHeader: string;
  readonly authTypeHeader: string;
  readonly apacheChecksAccess: boolean;
  readonly serverSoftware: string;
  readonly serverAddr: string | null;
  readonly serverSignature: SignatureMode | null;
  readonly heapBaseMb: number;
  readonly runtime: Partial<RuntimeOptions>;
  readonly logger: Logger;
}

export const DEFAULT_OPTIONS = {
  listen: '127.0.0.1:8070',
  workers: Math.max(1, os.availableParallelism()),
  queueLimit: 256,
  cpuLimitMs: 30_000,
  maxBodyBytes: 10 * 1024 * 1024,
  // Above the ttl=60 of deploy/apache/lwt-sidecar.conf, so Apache closes idle pooled connections first.
  idleTimeoutMs: 65_000,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
  stopTimeoutMs: 30_000,
  trustedProxies: ['loopback'],
  schemeHeader: 'X-Forwarded-Proto',
  portHeader: 'X-Forwarded-Client-Port',
  requestLineHeader: 'X-Forwarded-Request-Line',
  userHeader: DEFAULT_USER_HEADER,
  authTypeHeader: DEFAULT_AUTH_TYPE_HEADER,
  apacheChecksAccess: false,
  serverSoftware: 'Apache',
  heapBaseMb: 64,
} as const;

function intOption(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new SidecarError('LWT_OPTION_INVALID', `${name} must be an integer >= ${min} (got ${value})`);
  }
  return value;
}

/** `127.0.0.1:8070`, `[::1]:8070`, `8070` → host and port. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new SidecarError('LWT_OPTION_INVALID', `--listen must be HOST:PORT, [IPv6]:PORT or PORT (got '${value}')`);
  }
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

export function resolveOptions(o: SidecarOptions = {}): ResolvedOptions {
  const { host, port } = parseListen(o.listen ?? DEFAULT_OPTIONS.listen);
  const trustedProxyList = [...(o.trustedProxies ?? DEFAULT_OPTIONS.trustedProxies)];
  let trustedProxies: BlockList;
  try {
    trustedProxies = parseTrustedProxies(trustedProxyList);
  } catch (err) {
    throw new SidecarError('LWT_OPTION_INVALID', (err as Error).message);
  }
  const headerName = (name: string, v: string | undefined, d: string) => {
    const h = v ?? d;
    if (!/^[A-Za-z0-9-]+$/.test(h)) throw new SidecarError('LWT_OPTION_INVALID', `${name} must be a header name (got '${h}')`);
    return h.toLowerCase();
  };
  const sig = o.serverSignature ?? null;
  if (sig !== null && sig !== 'on' && sig !== 'off' && sig !== 'email') {
    throw new SidecarError('LWT_OPTION_INVALID', `--server-signature must be on, off or email (got '${String(sig)}')`);
  }
  return Object.freeze({
    host,
    port,
    workers: intOption('--workers', o.workers, DEFAULT_OPTIONS.workers, 1),
    queueLimit: intOption('--queue', o.queueLimit, DEFAULT_OPTIONS.queueLimit, 0),
    cpuLimitMs: intOption('--cpu-limit-ms', o.cpuLimitMs, o.runtime?.cpuLimitMs ?? DEFAULT_OPTIONS.cpuLimitMs, 1),
    maxBodyBytes: intOption('--max-body', o.maxBodyBytes, DEFAULT_OPTIONS.maxBodyBytes, 0),
    idleTimeoutMs: intOption('--idle-timeout-ms', o.idleTimeoutMs, DEFAULT_OPTIONS.idleTimeoutMs, 1),
    headersTimeoutMs: intOption('headersTimeoutMs', o.headersTimeoutMs, DEFAULT_OPTIONS.headersTimeoutMs, 1),
    requestTimeoutMs: intOption('requestTimeoutMs', o.requestTimeoutMs, DEFAULT_OPTIONS.requestTimeoutMs, 0),
    stopTimeoutMs: intOption('--stop-timeout-ms', o.stopTimeoutMs, DEFAULT_OPTIONS.stopTimeoutMs, 0),
    trustedProxies,
    trustedProxyList: Object.freeze(trustedProxyList),
    schemeHeader: headerName('--scheme-header', o.schemeHeader, DEFAULT_OPTIONS.schemeHeader),
    portHeader: headerName('--port-header', o.portHeader, DEFAULT_OPTIONS.portHeader),
    requestLineHeader: headerName('--request-line-header', o.requestLineHeader, DEFAULT_OPTIONS.requestLineHeader),
    userHeader: headerName('--user-header', o.userHeader, DEFAULT_OPTIONS.userHeader),
    authTypeHeader: headerName('--auth-type-header', o.authTypeHeader, DEFAULT_OPTIONS.authTypeHeader),
    apacheChecksAccess: o.apacheChecksAccess ?? DEFAULT_OPTIONS.apacheChecksAccess,
    serverSoftware: o.serverSoftware ?? DEFAULT_OPTIONS.serverSoftware,
    serverAddr: o.serverAddr ?? null,
    serverSignature: sig,
    heapBaseMb: intOption('heapBaseMb', o.heapBaseMb, DEFAULT_OPTIONS.heapBaseMb, 16),
    runtime: Object.freeze({ ...(o.runtime ?? {}) }),
    logger: o.logger ?? createLogger(),
  });
}

/** `10M`, `512K`, `1048576` → bytes (upper- or lower-case suffix). */
export function parseSize(name: string, value: string): number {
  const m = /^(\d+)([KkMmGg]?)$/.exec(value.trim());
  if (!m) throw new SidecarError('LWT_OPTION_INVALID', `${name} must be a size like 1048576, 512K or 10M (got '${value}')`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

/** The worker heap cap for a snapshot: room for the runtime plus one request at its LuaMemoryLimit. */
export function heapLimitMbFor(memoryLimits: readonly number[], baseMb: number): number {
  const largest = Math.max(64 * 1024 * 1024, ...memoryLimits);
  return baseMb + Math.ceil(largest / (1024 * 1024));
}
