/**
 * One HTTP/1.1 request over TLS, written byte for byte as given (the Host
 * header and every other header exactly as the test says, none added), for
 * the end-to-end tests of an Apache TLS virtual host. The server's
 * certificate is checked against the one deploy/stack.js generated.
 */

import * as tls from 'node:tls';
import { dechunk } from '../e2e/raw-http';

export interface TlsResponse {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
  /** The client port of the connection (REMOTE_PORT as Apache saw it). */
  readonly localPort: number;
  /** The certificate's subject CN the server presented. */
  readonly peerCommonName: string;
  header(name: string): string | undefined;
}

export interface TlsRequestOptions {
  /** PEM certificate(s) to trust: the self-signed one of the test's Apache. */
  readonly ca: string;
  /** SNI name and the name the certificate must carry; default 127.0.0.1 (no SNI for an address). */
  readonly servername?: string;
  readonly timeoutMs?: number;
}

/**
 * `head` is the full request head (and body). The response ends at its
 * Content-Length, at the last chunk, or when the server closes.
 */
export function tlsRequest(port: number, head: string, opts: TlsRequestOptions): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({
      host: '127.0.0.1',
      port,
      ca: opts.ca,
      ...(opts.servername ? { servername: opts.servername } : {}),
    });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(new Error(`no response over TLS within ${opts.timeoutMs ?? 15000} ms`)), opts.timeoutMs ?? 15000);
    let localPort = 0;
    let peerCommonName = '';
    sock.on('secureConnect', () => {
      localPort = sock.localPort ?? 0;
      const cn = sock.getPeerCertificate().subject?.CN;
      peerCommonName = Array.isArray(cn) ? cn.join(',') : cn ?? '';
      sock.write(head, 'latin1');
    });
    let settled = false;
    const settle = (ended: boolean) => {
      if (settled) return;
      let res: TlsResponse | null;
      try {
        res = parse(Buffer.concat(chunks), localPort, peerCommonName, ended);
      } catch (err) {
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(err);
        return;
      }
      if (res === null) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(res);
    };
    sock.on('data', (d: Buffer) => { chunks.push(d); settle(false); });
    sock.on('error', (err) => { if (!settled) { settled = true; clearTimeout(timer); reject(err); } });
    sock.on('end', () => settle(true));
  });
}

/** The response once complete; null while more is to come; throws when it can never be. */
function parse(buf: Buffer, localPort: number, peerCommonName: string, ended: boolean): TlsResponse | null {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (ended) throw new Error(`incomplete response over TLS:\n${buf.toString('latin1').slice(0, 500)}`);
    return null;
  }
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw new Error(`bad status line over TLS: ${lines[0]}`);
  const headers = lines.slice(1).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()] as const;
  });
  const header = (n: string) => headers.find(([k]) => k.toLowerCase() === n.toLowerCase())?.[1];
  const raw = buf.subarray(headEnd + 4);
  const length = header('content-length');
  let body: Buffer | null;
  if (/chunked/i.test(header('transfer-encoding') ?? '')) body = dechunk(raw);
  else if (length !== undefined) body = raw.length >= Number(length) ? raw.subarray(0, Number(length)) : null;
  else body = ended ? raw : null;
  if (body === null) {
    if (ended) throw new Error(`the server closed before the end of the body:\n${buf.toString('latin1').slice(0, 500)}`);
    return null;
  }
  return { status: Number(m[1]), headers, body, localPort, peerCommonName, header };
}
