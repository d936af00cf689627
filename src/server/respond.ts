/**
 * (g)+(h) Dispatch the job to the pool and write what the worker produces:
 * Apache's status lines, headers in order with repeats kept, `text/html` by
 * default (mod_lwt set it before running the script), Content-Length when the
 * whole body arrived with the worker's `done`, chunked streaming otherwise,
 * acknowledging bytes to the worker only once the socket took them.
 */

import type { ServerResponse } from 'node:http';
import type { ErrorShape } from '../errors';
import type { OutputMessage } from '../workers';
import { need, type Reply, type RequestContext } from './context';
import { directoryLocation } from './passes';
import { errorPage, statusLine, type SignatureInfo } from './status';

// Framing is the sidecar's: a script's own copies would contradict what is sent.
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

const FALLBACK_SIGNATURE: SignatureInfo = { mode: 'off', software: 'Apache', serverName: 'localhost', serverPort: '80', serverAdmin: '[no address given]' };

function log(ctx: RequestContext, level: 'debug' | 'info' | 'notice' | 'warn' | 'error', message: string): void {
  const script = ctx.resolution?.filename;
  ctx.opts.logger.log(level, message, {
    client: ctx.client?.address ?? ctx.req.socket.remoteAddress,
    ...(script && !message.includes(script) ? { script } : {}),
  });
}

/** Apache's error document for an early stop, or for a job that failed before anything was sent. */
export function sendError(ctx: RequestContext, reply: Reply): void {
  log(ctx, reply.level ?? 'debug', `${reply.status}: ${reply.reason}${reply.code ? ` [${reply.code}]` : ''}`);
  const res = ctx.res;
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  // mod_dir's DirectorySlash redirect (resolvePass): Location first, as Apache sends it.
  const r = ctx.resolution;
  const location = reply.status === 301 && r?.redirect !== undefined && ctx.client && ctx.target
    ? directoryLocation(ctx.client, ctx.target, r) : '';
  const page = errorPage(reply.status, ctx.req.method ?? 'GET', ctx.signature ?? { ...FALLBACK_SIGNATURE, software: ctx.opts.serverSoftware }, location);
  const { status, reason } = statusLine(reply.status);
  const body = Buffer.from(page, 'latin1');
  const headers: Record<string, string | number> = {
    ...(location ? { Location: location } : {}),
    'Content-Length': body.length,
    'Content-Type': 'text/html; charset=iso-8859-1',
  };
  // The request body was not read: do not leave it in the connection.
  if (reply.status === 413 || reply.status === 400) headers.Connection = 'close';
  res.writeHead(status, reason, headers);
  ctx.status = status;
  ctx.bytesSent = ctx.req.method === 'HEAD' ? 0 : body.length;
  res.end(body);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field content: VCHAR, obs-text, SP and HTAB (httpd's ap_scan_http_field_content).
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** httpd's check_headers (http_filters.c): the log line for the first header it would refuse, or null. */
export function invalidHeader(headers: ReadonlyArray<readonly [string, string]>): string | null {
  for (const [name, value] of headers) {
    if (!TOKEN.test(name)) return `Response header name '${name}' contains invalid characters, aborting request`;
    if (BAD_VALUE.test(value)) return `Response header '${name}' value of '${value}' contains invalid characters, aborting request`;
  }
  return null;
}

function headerArray(headers: ReadonlyArray<readonly [string, string]>, extra: Array<[string, string]>): string[] {
  const flat: string[] = [];
  let hasType = false;
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    if (FRAMING.has(key)) continue;
    if (key === 'content-type') hasType = true;
    flat.push(name, value);
  }
  if (!hasType) flat.push('Content-Type', 'text/html');
  for (const [n, v] of extra) flat.push(n, v);
  return flat;
}

/** Run the job and write its response; resolves when the response is finished or abandoned. */
export function dispatch(ctx: RequestContext): Promise<void> {
  const job = need(ctx.job, 'job');
  const res = ctx.res;
  const head = ctx.req.method === 'HEAD';
  return new Promise<void>((resolveDone) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      resolveDone();
    };
    const fail = (error: ErrorShape) => {
      // In mod_lwt's words (mod_lwt.md §3): these end the Lua run from outside it.
      const kind = error.code === 'LWT_LUA_MEMORY' ? 'Lua memory allocation error' : 'Lua runtime error';
      log(ctx, 'error', `${kind} running '${job.filename}': ${error.message} [${error.code}]`);
      failResponse(ctx, res);
      finish();
    };
    let handle: ReturnType<typeof ctx.pool.run>;
    const onClose = () => {
      if (!res.writableFinished) handle?.abort();
      finish();
    };
    const write = (msg: OutputMessage) => {
      for (const [level, message] of msg.logs) log(ctx, level, message);
      if (res.destroyed) return;
      if (msg.done && !msg.done.ok && !res.headersSent) {
        // mod_lwt's C-level failure before anything reached the client: Apache's 500 page.
        ctx.status = 500;
        failResponse(ctx, res);
        return;
      }
      if (msg.head && !res.headersSent) {
        // Node would throw at writeHead; httpd answers 500 (AH02429/AH02430) and so do we.
        const refused = invalidHeader(msg.head.headers);
        if (refused !== null) {
          log(ctx, 'error', refused.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
          if (!msg.done) handle.abort();
          sendError(ctx, { status: 500, reason: 'invalid response header' });
          return;
        }
        const { status, reason } = statusLine(msg.head.status);
        const extra: Array<[string, string]> = [];
        // 204 and 304 carry no body (RFC 9110), so no length either.
        if (msg.done && status !== 204 && status !== 304) extra.push(['Content-Length', String(msg.bytes)]);
        ctx.status = status;
        res.writeHead(status, reason, headerArray(msg.head.headers, extra));
      }
      if (!head) ctx.bytesSent += msg.bytes;
      if (msg.done) {
        if (!res.headersSent) res.writeHead(200, 'OK', headerArray([], [['Content-Length', '0']]));
        const parts: Uint8Array[] = head ? [] : [...msg.chunks];
        // Already streaming: Apache appends its error document to the partial output.
        if (!msg.done.ok && !head) parts.push(Buffer.from(errorPage(500, ctx.req.method ?? 'GET', ctx.signature ?? FALLBACK_SIGNATURE), 'latin1'));
        // One write for the common short response: headers and body leave in one segment.
        res.end(parts.length === 1 ? parts[0] : parts.length > 1 ? Buffer.concat(parts) : undefined);
        return;
      }
      let room = true;
      if (!head) for (const chunk of msg.chunks) room = res.write(chunk);
      if (room) handle.ack(msg.bytes);
      else res.once('drain', () => handle.ack(msg.bytes));
    };
    res.on('close', onClose);
    res.on('finish', finish);
    try {
      handle = ctx.pool.run(job, { output: write, failed: fail });
    } catch (err) {
      const e = err as ErrorShape;
      res.off('close', onClose);
      sendError(ctx, { status: 503, reason: `${e.code}: ${e.message}`, level: 'warn' });
      finish();
    }
  });
}

function failResponse(ctx: RequestContext, res: ServerResponse): void {
  if (!res.headersSent) {
    sendError(ctx, { status: 500, reason: 'the script failed', level: 'debug' });
    return;
  }
  if (!res.writableEnded) {
    if (ctx.req.method !== 'HEAD') res.write(errorPage(500, ctx.req.method ?? 'GET', ctx.signature ?? FALLBACK_SIGNATURE));
    res.end();
  }
}
