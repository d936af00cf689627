/**
 * `lwt-sidecar request`: resolve one URL with the configuration engine, run
 * it in-process through the Lua runtime, and print the raw HTTP response the
 * way `curl -i` shows it. The way to try a script without Apache.
 * `--user`/`--auth-type` stand for what a trusted Apache forwards after
 * authenticating the request: access is decided and REMOTE_USER/AUTH_TYPE
 * are set as `serve` does with them.
 */

import * as fs from 'node:fs';
import { authOption, CONFIG_OPTIONS, CONFIG_USAGE, loadOptionsFrom, loadSnapshot, parseCommandArgs, type CommandIO } from './common';
import { SidecarError } from '../errors';
import { resolve } from '../scopes';
import { parseTarget } from '../server/target';
import { directoryLocation } from '../server/passes';
import { errorPage, statusLine, type SignatureInfo } from '../server/status';
import { buildCgiEnv, mergeHeaders, utf8Bytes } from '../server/cgi-env';
import { runRequest, ChunkCache, DEFAULT_RUNTIME_OPTIONS } from '../lua';
import type { LuaJob } from '../lua/types';
import type { Resolution } from '../scopes/types';

const OPTIONS = {
  ...CONFIG_OPTIONS,
  host: { type: 'string' },
  request: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  data: { type: 'string' },
  user: { type: 'string' },
  'auth-type': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

const USAGE = [
  'usage: lwt-sidecar request --config FILE [--host NAME] [-X METHOD] [-H "Name: value"]... [--data TEXT|@FILE]',
  '                           [--user NAME [--auth-type TYPE]] URL',
  '',
  CONFIG_USAGE,
  '  --host NAME            the Host header (default: the URL\'s host, else the main server\'s name)',
  '  -X, --request METHOD   the request method (default GET, or POST with --data)',
  '  -H, --header "N: v"    a request header (repeatable)',
  '  --data TEXT|@FILE      the request body',
  '  --user NAME            run as a request Apache authenticated as NAME: Require valid-user/user',
  '                         are checked against it, the script sees REMOTE_USER (default: no user)',
  '  --auth-type TYPE       the AuthType Apache used, the script\'s AUTH_TYPE (default Basic; needs --user)',
  '  -v, --verbose          also print info and debug log lines (print output, request statistics)',
].join('\n') + '\n';

const CLIENT = { ip: '127.0.0.1', port: 54321 };

interface Parsed {
  method: string;
  /** r->user and r->ap_auth_type as a trusted Apache forwards them (binary strings); null: none. */
  user: string | null;
  authType: string | null;
  headers: Array<[string, string]>;
  body: Uint8Array;
  host: string | null;
  port: number;
  target: string;
}

function parseRequest(values: Record<string, unknown>, url: string): Parsed {
  const headers: Array<[string, string]> = [];
  for (const h of (values.header as string[] | undefined) ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new SidecarError('LWT_USAGE', `-H "${h}": a header must look like "Name: value"`);
    headers.push([h.slice(0, colon).trim(), h.slice(colon + 1).trim()]);
  }
  let body = new Uint8Array(0);
  const data = values.data as string | undefined;
  if (data !== undefined) {
    try {
      body = data.startsWith('@') ? new Uint8Array(fs.readFileSync(data.slice(1))) : new Uint8Array(Buffer.from(data));
    } catch (err) {
      throw new SidecarError('LWT_USAGE', `--data ${data}: ${(err as Error).message}`);
    }
    if (!headers.some(([k]) => k.toLowerCase() === 'content-type')) headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
    headers.push(['Content-Length', String(body.length)]);
  }
  const abs = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#:]*)(?::(\d+))?/.exec(url);
  const hostHeader = headers.find(([k]) => k.toLowerCase() === 'host')?.[1];
  const host = (values.host as string | undefined) ?? hostHeader ?? (abs?.[2] || null);
  if (host !== null && hostHeader === undefined) headers.unshift(['Host', host]);
  const method = (values.request as string | undefined) ?? (data !== undefined ? 'POST' : 'GET');
  const user = authOption('--user', values.user);
  // httpd sets r->ap_auth_type only while authenticating, and the script runs only once that found a user.
  if (user === null && values['auth-type'] !== undefined) {
    throw new SidecarError('LWT_USAGE', '--auth-type needs --user: Apache sets AUTH_TYPE only for a request it authenticated');
  }
  const authType = user === null ? null : authOption('--auth-type', values['auth-type'] ?? 'Basic');
  return { method, user, authType, headers, body, host: host === null ? null : host.replace(/:\d+$/, ''), port: abs?.[3] ? Number(abs[3]) : 80, target: url };
}

function signature(req: Parsed, res: Resolution | null): SignatureInfo {
  return {
    mode: 'off',
    software: 'Apache',
    serverName: res?.vhost?.serverName ?? req.host ?? 'localhost',
    serverPort: String(req.port),
    serverAdmin: res?.vhost?.serverAdmin ?? '[no address given]',
  };
}

function printResponse(io: CommandIO, status: number, headers: ReadonlyArray<readonly [string, string]>, body: Uint8Array, method = 'GET'): void {
  const line = statusLine(status);
  const out = [`HTTP/1.1 ${line.status} ${line.reason}`];
  for (const [k, v] of headers) out.push(`${k}: ${v}`);
  if (!headers.some(([k]) => k.toLowerCase() === 'content-length')) out.push(`Content-Length: ${body.length}`);
  io.stdout.write(out.join('\r\n') + '\r\n\r\n');
  // Apache sends no body for HEAD (mod_lwt.md §2).
  if (method !== 'HEAD') io.stdout.write(body);
}

function printError(io: CommandIO, status: number, req: Parsed, res: Resolution | null, location = ''): void {
  const page = Buffer.from(errorPage(status, req.method, signature(req, res), location), 'latin1');
  const headers: Array<[string, string]> = location ? [['Location', location]] : [];
  printResponse(io, status, [...headers, ['Content-Type', 'text/html; charset=iso-8859-1']], page, req.method);
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS, true);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new SidecarError('LWT_USAGE', `exactly one URL is required\n${USAGE}`);
  const req = parseRequest(values, positionals[0]!);
  const snapshot = loadSnapshot(loadOptionsFrom(values));

  const parsed = parseTarget(req.target);
  if (!parsed.ok) {
    io.stderr.write(`lwt-sidecar: ${parsed.reason}${parsed.status === 400 ? ' [LWT_BAD_REQUEST]' : ''}\n`);
    printError(io, parsed.status, req, null);
    return 0;
  }
  const res = resolve(snapshot, {
    ...(req.host !== null ? { host: req.host } : {}),
    port: req.port,
    path: parsed.target.path,
    clientIp: CLIENT.ip,
    serverIp: '127.0.0.1',
    user: req.user,
  });
  if (res.status !== 200 || res.filename === null) {
    if (res.reason) io.stderr.write(`lwt-sidecar: ${res.reason}\n`);
    // mod_dir's redirect, as serve builds it (http: the command has no TLS).
    const host = req.host === null ? null : req.port === 80 ? req.host : `${req.host}:${req.port}`;
    const location = res.status === 301 && res.redirect ? directoryLocation({ scheme: 'http', host }, parsed.target, res) : '';
    printError(io, res.status === 200 ? 404 : res.status, req, res, location);
    return 0;
  }
  if (res.handler !== 'lwt-wsapi') {
    io.stderr.write(`lwt-sidecar: ${res.filename} is not handled by lwt-wsapi (handler: ${res.handler ?? 'none'}); Apache would serve it itself\n`);
    printError(io, 404, req, res);
    return 0;
  }

  // Typed on the command line, the target and headers are text; buildCgiEnv takes them
  // as the bytes a client would have sent (CgiInput).
  const headers = req.headers.map(([k, v]) => [k, utf8Bytes(v)] as [string, string]);
  const env = buildCgiEnv({
    method: req.method,
    protocol: 'HTTP/1.1',
    requestUri: utf8Bytes(parsed.target.raw),
    query: parsed.target.query === null ? null : utf8Bytes(parsed.target.query),
    scriptName: res.scriptName,
    pathInfo: res.pathInfo,
    pathTranslated: res.pathTranslated,
    filename: res.filename,
    documentRoot: res.documentRoot,
    contextPrefix: res.contextPrefix,
    contextDocumentRoot: res.contextDocumentRoot,
    scheme: 'http',
    serverName: res.vhost?.serverName ?? req.host ?? 'localhost',
    serverPort: String(req.port),
    serverAddr: '127.0.0.1',
    serverAdmin: res.vhost?.serverAdmin ?? '[no address given]',
    serverSoftware: 'Apache',
    serverSignature: '',
    remoteAddr: CLIENT.ip,
    remotePort: CLIENT.port,
    remoteUser: req.user,
    authType: req.authType,
    headers,
    envOps: res.env,
    processEnv: process.env,
  });
  const job: LuaJob = {
    id: 1,
    filename: res.filename,
    env,
    luaPath: res.lua.luaPath,
    luaCPath: res.lua.luaCPath,
    memoryLimit: res.lua.memoryLimit,
    request: {
      uri: parsed.target.raw,
      protocol: 'HTTP/1.1',
      hostname: req.host,
      path: parsed.target.path,
      pathInfo: res.pathInfo,
      args: parsed.target.query,
      method: req.method,
      filename: res.filename,
      localIp: '127.0.0.1',
      remoteIp: CLIENT.ip,
      headersIn: mergeHeaders(headers),
    },
    body: req.body,
  };
  let head: { status: number; headers: ReadonlyArray<readonly [string, string]> } | null = null;
  const chunks: Uint8Array[] = [];
  const result = runRequest(job, {
    head: (status, headers) => { head = { status, headers }; },
    body: (chunk) => { chunks.push(chunk); },
    log: (level, message) => {
      if (values.verbose || (level !== 'info' && level !== 'debug')) io.stderr.write(`[lua:${level}] ${message}\n`);
    },
  }, { ...DEFAULT_RUNTIME_OPTIONS, logStatistics: values.verbose === true }, new ChunkCache());

  const sent = head as { status: number; headers: ReadonlyArray<readonly [string, string]> } | null;
  if (!result.ok && sent === null) {
    printError(io, 500, req, res);
    return 0;
  }
  const body = Buffer.concat(chunks);
  if (!result.ok) {
    // Apache appends its error document to output already flushed (mod_lwt.md §3).
    const page = Buffer.from(errorPage(500, req.method, signature(req, res)), 'latin1');
    printResponse(io, sent!.status, sent!.headers, Buffer.concat([body, page]), req.method);
    return 0;
  }
  printResponse(io, sent!.status, sent!.headers, body, req.method);
  return 0;
}
