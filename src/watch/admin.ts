/**
 * The admin endpoint: loopback only, on its own port, so that it is never
 * reachable through Apache's ProxyPass and needs no authentication.
 *   GET  /health  the live generation, its files, and why the files on disk do
 *                 not load when they do not ("degraded": still serving).
 *   POST /reload  reload now, as SIGHUP does; answers the outcome.
 */

import * as http from 'node:http';
import * as net from 'node:net';
import { SidecarError, formatError, type ErrorShape } from '../errors';
import type { Reloader, ReloadResult } from './reloader';
import { summarizeDiff } from './diff';

export interface AdminAddress {
  readonly host: string;
  readonly port: number;
}

/** `127.0.0.1:8071`, `[::1]:8071`, `localhost:8071` or a bare port (then 127.0.0.1). */
export function parseAdminAddress(value: string, option = '--admin'): AdminAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SidecarError('LWT_OPTION_INVALID', `${option} must be HOST:PORT on loopback, e.g. 127.0.0.1:8071 (got '${value}')`);
  }
  const host = m[1] || m[2] || '127.0.0.1';
  if (!isLoopback(host)) {
    throw new SidecarError('LWT_OPTION_INVALID',
      `${option} must listen on loopback (127.0.0.1, ::1 or localhost), not '${host}': the endpoint has no authentication`);
  }
  return { host, port };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return net.isIPv6(host) && (host === '::1' || /^::ffff:127\./i.test(host));
}

export interface HealthErrorShape extends ErrorShape {
  /** `file:line: message`, as the log prints it. */
  readonly text: string;
}

export interface Health {
  readonly status: 'ok' | 'degraded';
  readonly generation: number;
  readonly loadedAt: string;
  readonly configFile: string;
  readonly watching: boolean;
  /** The include closure of the live generation: the files a change to which reloads. */
  readonly files: readonly string[];
  readonly watchedDirectories: readonly string[];
  readonly scopes: number;
  readonly vhosts: number;
  readonly reloads: number;
  readonly failedReloads: number;
  readonly lastReloadError: HealthErrorShape | null;
}

export interface AdminOptions {
  readonly address: AdminAddress;
  readonly reloader: Reloader;
  /** The directories under watch, or null when watching is off (--no-watch). */
  readonly watchedDirectories: () => readonly string[] | null;
}

export function health(reloader: Reloader, watched: readonly string[] | null): Health {
  const s = reloader.current();
  const err = reloader.lastError;
  return {
    status: err ? 'degraded' : 'ok',
    generation: s.generation,
    loadedAt: s.loadedAt.toISOString(),
    configFile: s.config.configFile,
    watching: watched !== null,
    files: s.config.files,
    watchedDirectories: watched ?? [],
    scopes: s.scopes.length,
    vhosts: s.vhosts.length,
    reloads: reloader.stats.reloads,
    failedReloads: reloader.stats.failures,
    lastReloadError: err ? { ...err, text: formatError(err) } : null,
  };
}

function reloadBody(r: ReloadResult): object {
  if (r.ok) {
    return { ok: true, generation: r.generation, durationMs: r.timings.totalMs, changes: summarizeDiff(r.diff) };
  }
  return { ok: false, generation: r.generation, error: { ...r.error, text: formatError(r.error) } };
}

export class AdminServer {
  private readonly server: http.Server;
  private closing: Promise<void> | null = null;

  private constructor(server: http.Server) {
    this.server = server;
  }

  static start(opts: AdminOptions): Promise<AdminServer> {
    const server = http.createServer((req, res) => handle(opts, req, res));
    server.keepAliveTimeout = 5_000;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.address.port, opts.address.host, () => {
        server.off('error', reject);
        resolve(new AdminServer(server));
      });
    });
  }

  /** The bound address (the real port when 0 was asked). */
  address(): AdminAddress {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  url(): string {
    const { host, port } = this.address();
    return `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  }

  /** Idempotent; open keep-alive connections are closed too. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = new Promise((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    }
    return this.closing;
  }
}

function send(res: http.ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function handle(opts: AdminOptions, req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  // The request body is never used; drain it so keep-alive connections stay usable.
  req.resume();
  if (path === '/health') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    return send(res, 200, health(opts.reloader, opts.watchedDirectories()));
  }
  if (path === '/reload') {
    if (req.method !== 'POST') return send(res, 405, { error: 'method not allowed' }, { allow: 'POST' });
    opts.reloader.reload('admin /reload').then(
      (r) => send(res, r.ok ? 200 : 422, reloadBody(r)),
      (err: Error) => send(res, 503, { ok: false, error: { code: 'LWT_CLOSED', message: err.message } }),
    );
    return;
  }
  send(res, 404, { error: 'not found', paths: ['/health', '/reload'] });
}
