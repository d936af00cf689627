/**
 * Lua 5.1 is the oracle: run a script through Debian's /usr/bin/wsapi.cgi
 * under lua5.1 with a CGI environment, and the same request through the
 * sidecar's runRequest, and give both answers in one normal form.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runRequest, ChunkCache, DEFAULT_RUNTIME_OPTIONS } from '../../src/lua';
import type { LogLevel, LuaJob, RunResult, RuntimeOptions } from '../../src/lua/types';

export const SCRIPTS = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'lua', 'scripts');

export interface CgiRequest {
  /** Script path relative to fixtures/lua/scripts (the document root). */
  script: string;
  method?: string;
  pathInfo?: string;
  query?: string;
  body?: string;
  contentType?: string;
  /** Request headers, exported as HTTP_* as Apache does. */
  headers?: Record<string, string>;
  /** Extra CGI variables. */
  env?: Record<string, string>;
}

export interface Normalised {
  status: number;
  /** Lower-cased names, sorted by name (WSAPI emits a headers table with pairs(): hash order). */
  headers: Array<[string, string]>;
  body: string;
}

/** The CGI environment Apache would give the script (mod_lwt.md §7), for a request under SCRIPTS. */
export function cgiEnv(req: CgiRequest): Record<string, string> {
  const scriptName = `/${req.script}`;
  const query = req.query ?? '';
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'Apache',
    SERVER_NAME: 'localhost',
    SERVER_ADDR: '127.0.0.1',
    SERVER_PORT: '80',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '40000',
    REQUEST_SCHEME: 'http',
    DOCUMENT_ROOT: SCRIPTS,
    CONTEXT_DOCUMENT_ROOT: SCRIPTS,
    CONTEXT_PREFIX: '',
    REQUEST_METHOD: req.method ?? 'GET',
    QUERY_STRING: query,
    REQUEST_URI: scriptName + (req.pathInfo ?? '') + (query ? `?${query}` : ''),
    SCRIPT_NAME: scriptName,
    SCRIPT_FILENAME: path.join(SCRIPTS, req.script),
    HTTP_HOST: 'localhost',
  };
  if (req.pathInfo) {
    env.PATH_INFO = req.pathInfo;
    env.PATH_TRANSLATED = SCRIPTS + req.pathInfo;
  }
  if (req.body !== undefined) {
    env.CONTENT_LENGTH = String(Buffer.byteLength(req.body));
    env.CONTENT_TYPE = req.contentType ?? 'application/x-www-form-urlencoded';
  }
  for (const [k, v] of Object.entries(req.headers ?? {})) env[`HTTP_${k.toUpperCase().replace(/-/g, '_')}`] = v;
  return { ...env, ...req.env };
}

function normalise(status: number, headers: Array<[string, string]>, body: string): Normalised {
  const lower = headers.map(([k, v]) => [k.toLowerCase(), v] as [string, string]);
  // Apache gives a response without Content-Type mod_lwt's default, text/html.
  if (!lower.some(([k]) => k === 'content-type')) lower.push(['content-type', 'text/html']);
  lower.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { status, headers: lower, body };
}

/** Parse wsapi.cgi's CGI output: `Status: ...` and header lines, CRLF, body. */
export function parseCgiOutput(out: Buffer): Normalised {
  const text = out.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no header block in CGI output: ${JSON.stringify(text.slice(0, 200))}`);
  let status = 200;
  const headers: Array<[string, string]> = [];
  for (const line of text.slice(0, end).split('\r\n')) {
    const m = /^([^:]+): (.*)$/.exec(line);
    if (!m) throw new Error(`bad CGI header line ${JSON.stringify(line)}`);
    if (m[1]!.toLowerCase() === 'status') status = parseInt(m[2]!, 10);
    else headers.push([m[1]!, m[2]!]);
  }
  return normalise(status, headers, text.slice(end + 4));
}

export interface OracleAnswer extends Normalised {
  stderr: string;
}

export function runOracle(req: CgiRequest): OracleAnswer {
  // The body comes from a file: a script that never reads stdin would make a pipe write fail with EPIPE.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-oracle-'));
  const bodyFile = path.join(dir, 'body');
  fs.writeFileSync(bodyFile, req.body ?? '', 'latin1');
  const fd = fs.openSync(bodyFile, 'r');
  try {
    const r = spawnSync('/usr/bin/wsapi.cgi', [], { env: cgiEnv(req), stdio: [fd, 'pipe', 'pipe'], cwd: '/', timeout: 10_000 });
    if (r.error) throw r.error;
    return { ...parseCgiOutput(r.stdout), stderr: r.stderr.toString('latin1') };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** LuaJob env values are binary strings: the UTF-8 bytes wsapi.cgi gets from the same (text) environment. */
const binary = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

export function jobFor(req: CgiRequest, id = 1): LuaJob {
  const text = cgiEnv(req);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(text)) env[k] = binary(v);
  const headersIn: Array<[string, string]> = Object.entries(req.headers ?? {}).map(([k, v]) => [k, binary(v)]);
  if (!headersIn.some(([k]) => k.toLowerCase() === 'host')) headersIn.unshift(['Host', 'localhost']);
  return {
    id,
    filename: text.SCRIPT_FILENAME!,
    env,
    luaPath: null,
    luaCPath: null,
    memoryLimit: 64 * 1024 * 1024,
    request: {
      uri: text.REQUEST_URI!,
      protocol: 'HTTP/1.1',
      hostname: 'localhost',
      path: text.SCRIPT_NAME! + (req.pathInfo ?? ''),
      pathInfo: req.pathInfo ?? '',
      args: req.query ?? null,
      method: text.REQUEST_METHOD!,
      filename: text.SCRIPT_FILENAME!,
      localIp: '127.0.0.1',
      remoteIp: '127.0.0.1',
      headersIn,
    },
    body: new Uint8Array(Buffer.from(req.body ?? '', 'latin1')),
  };
}

export interface SidecarAnswer extends Normalised {
  result: RunResult;
  logs: Array<[LogLevel, string]>;
  /** Raw header list as given to sink.head(). */
  rawHeaders: Array<[string, string]>;
}

export const sharedCache = new ChunkCache();

export function runSidecar(req: CgiRequest | LuaJob, opts: RuntimeOptions = DEFAULT_RUNTIME_OPTIONS, cache = sharedCache): SidecarAnswer {
  const job = 'script' in req ? jobFor(req) : req;
  let status = 0;
  let rawHeaders: Array<[string, string]> = [];
  const chunks: Buffer[] = [];
  const logs: Array<[LogLevel, string]> = [];
  const result = runRequest(job, {
    head(s, h) {
      status = s;
      rawHeaders = h.map(([k, v]) => [k, v]);
    },
    body(c) {
      chunks.push(Buffer.from(c));
    },
    log(level, message) {
      logs.push([level, message]);
    },
  }, opts, cache);
  const n = normalise(status, rawHeaders, Buffer.concat(chunks).toString('latin1'));
  return { ...n, result, logs, rawHeaders };
}
