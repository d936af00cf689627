/**
 * A raw HTTP/1.1 client for the end-to-end tests: the request goes out byte
 * for byte as written (no path normalisation, repeated and odd headers kept,
 * `..`, `%2e`, NUL), and the response keeps every header line and the arrival
 * time of every piece of the body.
 */

import * as net from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly reason: string;
  /** Header lines in order, names as sent. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The body after removing chunked framing. */
  readonly body: Buffer;
  /** Body bytes received so far at each socket read (framing included), with its time (ms since the request was written). */
  readonly arrivals: ReadonlyArray<{ readonly atMs: number; readonly bodyBytes: number }>;
  /** ms from writing the request to the complete response. */
  readonly totalMs: number;
  /** The client port of the connection (REMOTE_PORT as the server saw it). */
  readonly localPort: number;
  header(name: string): string | undefined;
  headerAll(name: string): string[];
}

export interface RawOptions {
  /** A HEAD request: read until the server closes (send `Connection: close`); `body` is any byte after the head. */
  head?: boolean;
  timeoutMs?: number;
  /** Written after the request head, e.g. a chunked body in pieces. */
  bodyParts?: Array<string | Buffer>;
  /** Pause between bodyParts, to make the upload really arrive in pieces. */
  partDelayMs?: number;
}

/** Builds `METHOD target HTTP/1.1` + headers + CRLF CRLF; headers as [name, value] pairs, sent in order. */
export function requestHead(method: string, target: string, headers: Array<[string, string]>): string {
  return `${method} ${target} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
}

/** Sends `head` (+ body parts) on a new connection and reads one response. */
export function rawRequest(port: number, head: string | Buffer, opts: RawOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let start = 0;
    let localPort = 0;
    const arrivals: Array<{ atMs: number; bodyBytes: number }> = [];
    let headEnd = -1;
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`no complete response within ${opts.timeoutMs ?? 15000} ms; got:\n${buf.toString('latin1').slice(0, 500)}`)), opts.timeoutMs ?? 15000);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    const finish = (res: RawResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(res);
    };
    sock.on('connect', async () => {
      localPort = sock.localPort ?? 0;
      start = performance.now();
      sock.write(head);
      for (const part of opts.bodyParts ?? []) {
        if (opts.partDelayMs) await new Promise((r) => setTimeout(r, opts.partDelayMs));
        sock.write(part);
      }
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (headEnd < 0) headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd >= 0) arrivals.push({ atMs: performance.now() - start, bodyBytes: buf.length - headEnd - 4 });
      const res = tryParse(false);
      if (res) finish(res);
    });
    sock.on('end', () => {
      const res = tryParse(true);
      if (res) finish(res);
      else fail(new Error(`connection closed before a complete response:\n${buf.toString('latin1').slice(0, 500)}`));
    });
    sock.on('error', fail);

    function tryParse(ended: boolean): RawResponse | null {
      if (headEnd < 0) return null;
      const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
      if (!m) { fail(new Error(`bad status line: ${lines[0]}`)); return null; }
      const headers = lines.slice(1).map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i), l.slice(i + 1).trim()] as const;
      });
      const get = (n: string) => headers.filter(([k]) => k.toLowerCase() === n.toLowerCase()).map(([, v]) => v);
      const status = Number(m[1]);
      const raw = buf.subarray(headEnd + 4);
      let body: Buffer | null;
      // HEAD: whatever arrives until the server closes is a body that should not be there.
      if (opts.head) body = ended ? raw : null;
      else if (status === 204 || status === 304 || (status >= 100 && status < 200)) body = Buffer.alloc(0);
      else if (/chunked/i.test(get('transfer-encoding').join(','))) body = dechunk(raw);
      else if (get('content-length').length > 0) {
        const len = Number(get('content-length')[0]);
        body = raw.length >= len ? raw.subarray(0, len) : null;
      } else body = ended ? raw : null;
      if (body === null) return null;
      return {
        status, reason: m[2] ?? '', headers, body, arrivals, localPort,
        totalMs: performance.now() - start,
        header: (n) => get(n)[0],
        headerAll: get,
      };
    }
  });
}

/** The payload of a complete chunked body, or null while incomplete. */
export function dechunk(raw: Buffer): Buffer | null {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) return null;
    const size = parseInt(raw.subarray(pos, eol).toString('latin1').split(';')[0]!, 16);
    if (Number.isNaN(size)) throw new Error(`bad chunk size at ${pos}`);
    if (size === 0) {
      // `0` CRLF, optional trailers, then an empty line.
      return raw.indexOf('\r\n\r\n', eol) >= 0 ? Buffer.concat(out) : null;
    }
    if (raw.length < eol + 2 + size + 2) return null;
    out.push(raw.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}

/** GET with the usual headers (Host 127.0.0.1:port unless extra has one; no Connection header: keep-alive, as browsers send). */
export function get(port: number, target: string, extra: Array<[string, string]> = [], opts: RawOptions = {}): Promise<RawResponse> {
  const host: Array<[string, string]> = extra.some(([n]) => n.toLowerCase() === 'host') ? [] : [['Host', `127.0.0.1:${port}`]];
  return rawRequest(port, requestHead('GET', target, [...host, ['User-Agent', 'lwt-e2e'], ...extra]), opts);
}

/** `KEY=value` lines of www/e2e/env.ws (escaped `\n`, `\r`, `\\` undone), values as bytes (latin1 strings). */
export function parseEnvDump(res: { status: number; body: Buffer }): Map<string, string> {
  if (res.status !== 200) throw new Error(`env.ws answered ${res.status}: ${res.body.toString('latin1').slice(0, 800)}`);
  const out = new Map<string, string>();
  for (const line of res.body.toString('latin1').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).replace(/\\(n|r|\\)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\')));
  }
  return out;
}
