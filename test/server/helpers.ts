/** Shared set-up for the server tests: a generated site configuration, a real sidecar on port 0, a raw HTTP client. */

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSnapshot } from '../../src/commands/common';
import { createLogger } from '../../src/log';
import { createSidecar, type Sidecar, type SidecarOptions } from '../../src/server';
import type { Snapshot } from '../../src/scopes/types';

export const SITE = path.resolve(__dirname, '../../../test/server/fixtures/site');

/** Write the test site's httpd.conf with absolute paths into a temp directory. */
export function siteConfig(): { file: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-server-'));
  const text = fs.readFileSync(path.join(SITE, 'httpd.conf.in'), 'utf8').replace(/@SITE@/g, SITE);
  const file = path.join(dir, 'httpd.conf');
  fs.writeFileSync(file, text);
  return { file, dir };
}

export function siteSnapshot(): Snapshot {
  const { file, dir } = siteConfig();
  try {
    return loadSnapshot({ configFile: file });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface Running {
  sidecar: Sidecar;
  port: number;
  logs: string[];
}

export async function startSidecar(opts: Partial<SidecarOptions> = {}): Promise<Running> {
  const logs: string[] = [];
  const logger = createLogger({ level: 'info', stream: { write: (s: string) => logs.push(s) } });
  const sidecar = createSidecar({ listen: '127.0.0.1:0', workers: 2, logger, ...opts, snapshot: siteSnapshot() });
  const addr = await sidecar.listen();
  return { sidecar, port: addr.port, logs };
}

export interface Reply {
  status: number;
  reason: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export function request(port: number, target: string, opts: { method?: string; headers?: Record<string, string | string[]>; body?: Buffer | string; chunked?: boolean } = {}): Promise<Reply> {
  const headers = { ...(opts.headers ?? {}) };
  if (opts.body !== undefined && !opts.chunked) headers['Content-Length'] = String(Buffer.byteLength(opts.body));
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, reason: res.statusMessage!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) {
      if (opts.chunked) {
        const b = Buffer.from(opts.body);
        const half = Math.floor(b.length / 2);
        req.write(b.subarray(0, half));
        req.write(b.subarray(half));
      } else req.write(opts.body);
    }
    req.end();
  });
}
