/**
 * The security suite's set-up: a copy of fixtures/security/site in a temp
 * directory (with the symbolic links the probes need, made here so that git
 * never has to keep them), the real `lwt-sidecar serve` on it as a child
 * process with stdout and stderr kept apart, and a raw HTTP/1.1 client that
 * sends bytes exactly as written, from a chosen loopback address.
 */

import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'lwt-sidecar');
const FIXTURE = path.join(ROOT, 'fixtures', 'security', 'site');

/** Text that only files the sidecar must never run or serve produce or contain. */
export const MARKERS = [
  'OUTSIDE-RAN', 'DENIED-RAN', 'OTHER-VHOST-RAN', 'LAN-RAN', 'PLAIN-LUA-SOURCE-MARKER', 'SECRET-TEXT-MARKER',
  'DIR-INDEX-MARKER', 'root:x:0:0', 'ServerName',
];

export interface Site {
  readonly dir: string;
  readonly config: string;
  remove(): void;
}

/** The fixture site copied to a temp directory, plus its symbolic links. */
export function makeSite(): Site {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-sec-')));
  fs.cpSync(FIXTURE, dir, { recursive: true });
  // git keeps no empty folders: the folders that hold only links are made here.
  const link = (target: string, at: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, at)), { recursive: true });
    fs.symlinkSync(target, path.join(dir, at));
  };
  link('../outside/secret.ws', 'www/link-out.ws'); // a script name pointing outside the DocumentRoot
  link('plain.lua', 'www/link-plain.ws'); // a script name pointing at a file no handler applies to
  link('ok.ws', 'www/link-ok.lua'); // a non-script name pointing at a script
  link('../outside', 'www/linkdir'); // a directory pointing outside the DocumentRoot
  link('../ok.ws', 'www/nofollow/link.ws'); // under Options -FollowSymLinks
  link('../../outside', 'www/nofollow/linkdir');
  fs.copyFileSync(path.join(dir, 'www', 'ok.ws'), path.join(dir, 'www', 'nofollow', 'real.ws'));
  return { dir, config: path.join(dir, 'security.conf'), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface Served {
  readonly port: number;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr matches (logs are written asynchronously); rejects after timeoutMs. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  /** True while the process runs. */
  running(): boolean;
  stop(): Promise<void>;
}

/** `lwt-sidecar serve` on the site, on a free loopback port; extra args and environment as given. */
export function serve(site: Site, args: string[] = [], env: Record<string, string> = {}): Promise<Served> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--config', site.config, ...(args.includes('--listen') ? [] : ['--listen', '127.0.0.1:0']), '--no-watch', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SEC_SITE: site.dir, ...env },
  });
  let out = '';
  let err = '';
  let exited = false;
  child.once('exit', () => { exited = true; });
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no start-up line:\n${out}${err}`)); }, 15_000);
    const poll = setInterval(() => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out + err);
      if (m) {
        clearTimeout(timer);
        clearInterval(poll);
        resolve({
          port: Number(m[1]),
          pid: child.pid!,
          stdout: () => out,
          stderr: () => err,
          running: () => !exited,
          waitForLog(re, timeoutMs = 5000) {
            const deadline = Date.now() + timeoutMs;
            return new Promise((res, rej) => {
              const check = () => {
                if (re.test(err)) res(err);
                else if (Date.now() > deadline) rej(new Error(`no log line matching ${re}:\n${err.slice(-2000)}`));
                else setTimeout(check, 25);
              };
              check();
            });
          },
          stop: () => new Promise((res) => {
            if (exited) { res(); return; }
            const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => { clearTimeout(kill); res(); });
            child.kill('SIGTERM');
          }),
        });
      } else if (exited) {
        clearTimeout(timer);
        clearInterval(poll);
        reject(new Error(`serve exited before listening:\n${out}${err}`));
      }
    }, 20);
  });
}

export interface Exchange {
  /** Everything the server sent before it closed the connection (latin1). */
  readonly raw: string;
  /** Status of the first response, 0 when none arrived. */
  readonly status: number;
  /** Header block of the first response. */
  readonly head: string;
  /** What follows the first header block (the body, maybe more responses). */
  readonly body: string;
  /** Number of HTTP responses in `raw`. */
  readonly responses: number;
}

/**
 * Writes `bytes` on a new connection (from `localAddress` when given) and
 * collects everything until the server closes it, or until timeoutMs.
 */
export function exchange(port: number, bytes: string | Buffer, opts: { localAddress?: string; timeoutMs?: number } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      const head = end < 0 ? raw : raw.slice(0, end);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
      resolve({
        raw, head, status: m ? Number(m[1]) : 0, body: end < 0 ? '' : raw.slice(end + 4),
        responses: (raw.match(/(^|\r\n|\n)HTTP\/1\.[01] \d{3}/g) ?? []).length,
      });
    };
    const timer = setTimeout(done, opts.timeoutMs ?? 10_000);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('close', done);
    sock.on('error', done);
  });
}

/** `GET target` with Host, closing the connection after the response. */
export function get(port: number, target: string, headers: Array<[string, string]> = [], opts: { localAddress?: string; method?: string } = {}): Promise<Exchange> {
  const hasHost = headers.some(([n]) => n.toLowerCase() === 'host');
  const lines = [...(hasHost ? [] : [['Host', 'www.sec.test'] as [string, string]]), ...headers, ['Connection', 'close'] as [string, string]];
  return exchange(port, `${opts.method ?? 'GET'} ${target} HTTP/1.1\r\n${lines.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`, opts);
}

/** `KEY=value` lines of www/env.ws. */
export function envOf(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of body.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** The status is a refusal and the body holds none of the markers. */
export function assertNothingExposed(r: Exchange, what: string): void {
  assert.ok([400, 403, 404, 405, 501].includes(r.status), `${what}: status ${r.status}\n${r.raw.slice(0, 300)}`);
  for (const m of MARKERS) assert.ok(!r.raw.includes(m), `${what}: the response contains ${JSON.stringify(m)}`);
}

/** A fresh copy of the site served by `lwt-sidecar serve` for a describe block; both end after it. */
export function useServedSite(args: string[] = ['--workers', '2']): { readonly site: Site; readonly sidecar: Served } {
  const ref: { site?: Site; sidecar?: Served } = {};
  before(async () => {
    ref.site = makeSite();
    ref.sidecar = await serve(ref.site, args);
  });
  after(async () => {
    await ref.sidecar?.stop();
    ref.site?.remove();
  });
  return {
    get site() { return ref.site!; },
    get sidecar() { return ref.sidecar!; },
  };
}
