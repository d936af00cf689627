/**
 * createSidecar: the HTTP/1.1 server Apache forwards lwt-wsapi requests to,
 * and its worker pool. The configuration snapshot is held here and captured
 * once per request; setSnapshot (the reload coordinator) swaps it without
 * touching the workers, which never see configuration.
 */

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SidecarError } from '../errors';
import type { Snapshot } from '../scopes/types';
import { WorkerPool, DEFAULT_POOL_OPTIONS } from '../workers';
import type { RequestContext } from './context';
import { heapLimitMbFor, resolveOptions, type ResolvedOptions, type SidecarOptions } from './options';
import { handleRequest } from './pipeline';

export { buildCgiEnv, headerEnvName, mergeHeaders, type CgiInput } from './cgi-env';
export { parseTarget, normalisePath, type RequestTarget } from './target';
export { resolveOptions, parseListen, parseSize, DEFAULT_OPTIONS, type SidecarOptions, type ResolvedOptions } from './options';
export { PIPELINE, handleRequest } from './pipeline';
export { statusLine, errorPage } from './status';

export interface Sidecar {
  readonly options: ResolvedOptions;
  /** Start listening; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Swap the configuration generation for requests that start from now on. */
  setSnapshot(snapshot: Snapshot): void;
  getSnapshot(): Snapshot;
  /** Stop accepting, finish in-flight requests (up to stopTimeoutMs), end the workers. Idempotent. */
  close(): Promise<void>;
  /** Close every connection and worker now. */
  destroy(): Promise<void>;
  stats(): { inFlight: number; requests: number; generation: number; workers: ReturnType<WorkerPool['stats']> };
}

function heapLimitFor(snapshot: Snapshot, baseMb: number): number {
  return heapLimitMbFor(snapshot.scopes.map((s) => s.memoryLimit), baseMb);
}

export function createSidecar(input: SidecarOptions & { snapshot: Snapshot }): Sidecar {
  const options = resolveOptions(input);
  const logger = options.logger;
  let snapshot = input.snapshot;
  const pool = new WorkerPool({
    ...DEFAULT_POOL_OPTIONS,
    workers: options.workers,
    queueLimit: options.queueLimit,
    runtime: { ...options.runtime, cpuLimitMs: options.cpuLimitMs },
    heapLimitMb: heapLimitFor(snapshot, options.heapBaseMb),
    onEvent: (level, message) => logger.log(level, message),
  });
  const server = http.createServer({
    keepAliveTimeout: options.idleTimeoutMs,
    headersTimeout: options.headersTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    // Node enforces headersTimeout/requestTimeout only when it sweeps
    // connections (every 30 s by default): sweep often enough that a slow
    // client is cut close to the timeout it was given.
    connectionsCheckingInterval: Math.min(5_000, options.headersTimeoutMs, options.requestTimeoutMs),
  });
  let nextId = 1;
  let requests = 0;
  let inFlight = 0;
  let closing: Promise<void> | null = null;
  let onIdle: (() => void) | null = null;

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse, expectsContinue: boolean) => {
    inFlight++;
    requests++;
    // Ids stay within Int32 range: the worker's abort flag is an Int32 slot.
    const id = nextId;
    nextId = nextId >= 0x7fffffff ? 1 : nextId + 1;
    const ctx: RequestContext = {
      id, req, res, opts: options, snapshot, pool, startedAt: performance.now(), expectsContinue, status: 0, bytesSent: 0,
    };
    // Once stopping, tell keep-alive clients (Apache) not to reuse this connection.
    if (closing) res.shouldKeepAlive = false;
    res.once('close', () => {
      inFlight--;
      logger.access({
        client: ctx.client?.address ?? req.socket.remoteAddress ?? '-',
        time: new Date(),
        method: req.method ?? '-',
        target: req.url ?? '-',
        protocol: `HTTP/${req.httpVersion}`,
        status: ctx.status || res.statusCode,
        bytes: ctx.bytesSent,
        referer: req.headers.referer,
        userAgent: req.headers['user-agent'],
        durationMs: performance.now() - ctx.startedAt,
      });
      if (closing) setImmediate(() => server.closeIdleConnections());
      if (inFlight === 0 && onIdle) onIdle();
    });
    void handleRequest(ctx);
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => onRequest(req, res, false));
  // Node would answer `100 Continue` at once; like httpd, send it only when the body is
  // read (bodyPass), so a 404, 403 or 413 goes out without inviting the body.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => onRequest(req, res, true));
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    logger.debug(`client error: ${err.code ?? ''} ${err.message}`);
    if (socket.writable && !socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  const sidecar: Sidecar = {
    options,
    listen() {
      return new Promise<AddressInfo>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) => {
          reject(new SidecarError('LWT_OPTION_INVALID', `cannot listen on ${options.host}:${options.port}: ${err.code ?? err.message}`));
        };
        server.once('error', onError);
        server.listen(options.port, options.host, () => {
          server.off('error', onError);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    setSnapshot(next) {
      snapshot = next;
      pool.setHeapLimitMb(heapLimitFor(next, options.heapBaseMb));
    },
    getSnapshot: () => snapshot,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => {
          if (!server.listening) { resolve(); return; }
          server.close(() => resolve());
        });
        server.closeIdleConnections();
        let drained = true;
        if (inFlight > 0) {
          drained = await new Promise<boolean>((resolve) => {
            onIdle = () => resolve(true);
            setTimeout(() => resolve(false), options.stopTimeoutMs).unref();
          });
        }
        if (!drained) logger.warn(`stopping with ${inFlight} requests still running after ${options.stopTimeoutMs} ms`);
        server.closeAllConnections();
        await stopped;
        await (drained ? pool.close() : pool.destroy());
      })();
      return closing;
    },
    async destroy() {
      closing ??= Promise.resolve();
      server.closeAllConnections();
      server.close();
      await pool.destroy();
    },
    stats: () => ({ inFlight, requests, generation: snapshot.generation, workers: pool.stats() }),
  };
  return sidecar;
}
