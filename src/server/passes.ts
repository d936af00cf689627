/**
 * The passes that turn a forwarded request into a LuaJob, in pipeline order
 * (see pipeline.ts). Each reads the context filled by the passes before it.
 */

import { resolve } from '../scopes';
import type { Resolution, Snapshot } from '../scopes/types';
import { buildCgiEnv } from './cgi-env';
import { need, type Pass } from './context';
import { clientView, plainAddress, type ClientView } from './forwarded';
import { escapeHtml, serverSignature, type SignatureInfo } from './status';
import { parseTarget, type RequestTarget } from './target';

/** (a) Client address, scheme, Host and the headers the client sent, trusting only trusted peers. */
export const forwardedPass: Pass = (ctx) => {
  const sock = ctx.req.socket;
  ctx.client = clientView(ctx.req.rawHeaders, sock.remoteAddress ?? '', sock.remotePort ?? 0, {
    trustedProxies: ctx.opts.trustedProxies,
    schemeHeader: ctx.opts.schemeHeader,
    portHeader: ctx.opts.portHeader,
    requestLineHeader: ctx.opts.requestLineHeader,
    userHeader: ctx.opts.userHeader,
    authTypeHeader: ctx.opts.authTypeHeader,
  });
  return undefined;
};

/** (b) Decode and normalise the path ourselves; the query stays verbatim. */
export const targetPass: Pass = (ctx) => {
  const parsed = parseTarget(ctx.req.url ?? '/');
  if (!parsed.ok) {
    // A 404 here (encoded slash or NUL) is a missing file, not a bad request.
    return { status: parsed.status, reason: parsed.reason, level: 'info', ...(parsed.status === 400 ? { code: 'LWT_BAD_REQUEST' } : {}) };
  }
  ctx.target = parsed.target;
  return undefined;
};

/**
 * `Host: Name:port` → the lower-cased name and the port (httpd's
 * fix_hostname); `valid: false` for what httpd answers 400 to (characters
 * other than letters, digits, `-`, `_`, `.` outside an `[IPv6]` literal).
 */
export function splitHost(host: string | null): { name: string | null; port: number | null; valid: boolean } {
  if (host === null || host.trim() === '') return { name: null, port: null, valid: true };
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]*)(?::(\d{0,5}))?$/.exec(host.trim());
  if (!m || (m[2] !== undefined && m[2] !== '' && Number(m[2]) > 65535)) return { name: null, port: null, valid: false };
  const name = m[1]!.toLowerCase().replace(/\.$/, '');
  return { name: name === '' ? null : name, port: m[2] ? Number(m[2]) : null, valid: true };
}

/** (c) Resolve with the snapshot: only an existing file whose merged handler is lwt-wsapi goes on. */
export const resolvePass: Pass = (ctx) => {
  const client = need(ctx.client, 'client');
  const target = need(ctx.target, 'target');
  const { name, port, valid } = splitHost(client.host);
  if (!valid) return { status: 400, reason: `invalid Host header '${client.host}'`, level: 'info', code: 'LWT_BAD_REQUEST' };
  const defaultPort = client.scheme === 'https' ? 443 : 80;
  const r = resolve(ctx.snapshot, {
    ...(name !== null ? { host: client.host! } : {}),
    port: port ?? defaultPort,
    path: target.path,
    clientIp: client.address,
    ...(ctx.opts.serverAddr ? { serverIp: ctx.opts.serverAddr } : {}),
    user: client.user,
    unsupportedAccess: ctx.opts.apacheChecksAccess ? 'allow' : 'deny',
  });
  ctx.resolution = r;
  const vhost = r.vhost;
  // UseCanonicalName Off (httpd's default): SERVER_NAME/PORT come from the client's Host,
  // the port from the server (ap_get_server_port) when the Host has none.
  ctx.signature = {
    mode: ctx.opts.serverSignature ?? configSignature(ctx.snapshot),
    software: ctx.opts.serverSoftware,
    serverName: name ?? vhost?.serverName ?? 'localhost',
    serverPort: String(port ?? vhost?.hostlessPort ?? defaultPort),
    serverAdmin: vhost?.serverAdmin ?? '[no address given]',
  };
  if (r.status === 404) return { status: 404, reason: r.reason ?? 'not an lwt-wsapi script' };
  if (r.status === 301) {
    // fixup_dir declines for methods other than GET (and HEAD) when `redirect-carefully` is set (SetEnv; BrowserMatch is not read).
    const method = ctx.req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD' && r.env.set.some(([k]) => k === 'redirect-carefully')) {
      return { status: 404, reason: 'directory without a trailing slash: no redirect for this method (redirect-carefully)' };
    }
    return { status: 301, reason: r.reason ?? 'directory without a trailing slash' };
  }
  if (r.status === 200 && (r.handler !== 'lwt-wsapi' || r.filename === null)) {
    return { status: 404, reason: 'the merged handler is not lwt-wsapi' };
  }
  return undefined;
};

/**
 * The Location of mod_dir's DirectorySlash redirect: ap_construct_url over the
 * escaped path, the query appended when the request had one (even empty).
 * UseCanonicalName Off: the host is the client's Host (lower-cased, as
 * fix_hostname leaves r->hostname), the port the Host's, else the server's
 * (VHost.hostlessPort); the default port of the scheme is left out.
 */
export function directoryLocation(client: Pick<ClientView, 'scheme' | 'host'>, target: RequestTarget, r: Resolution): string {
  const { name, port } = splitHost(client.host);
  const defaultPort = client.scheme === 'https' ? 443 : 80;
  const p = port ?? r.vhost?.hostlessPort ?? defaultPort;
  let host = name ?? r.vhost?.serverName ?? 'localhost';
  // ap_get_server_name_for_url: an IPv6 literal goes in brackets.
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  const query = target.query !== null ? `?${target.query}` : '';
  return `${client.scheme}://${host}${p === defaultPort ? '' : `:${p}`}${r.redirect ?? target.path}${query}`;
}

/**
 * (d) The access rules Apache no longer applies to a proxied URL, evaluated by
 * resolve() against the client address and the user a trusted Apache
 * forwarded (src/scopes/access.ts). A rule the sidecar cannot evaluate is
 * refused unless the operator says Apache checks it (--apache-checks-access).
 * Logged as httpd's AH01630 line.
 */
export const accessPass: Pass = (ctx) => {
  const r = need(ctx.resolution, 'resolution');
  if (r.status !== 403) return undefined;
  return { status: 403, reason: `client denied by server configuration: ${r.filename ?? ctx.target?.path} (${r.reason ?? 'denied'})`, level: 'error' };
};

/** (e) The whole request body, bounded by maxBodyBytes (413 beyond). */
export const bodyPass: Pass = async (ctx) => {
  const req = ctx.req;
  const max = ctx.opts.maxBodyBytes;
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) {
    return { status: 413, reason: `the request body (${declared} bytes) exceeds ${max} bytes`, level: 'error', code: 'LWT_BODY_TOO_LARGE' };
  }
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) {
    ctx.body = new Uint8Array(0);
    return undefined;
  }
  // httpd's HTTP_IN filter sends `100 Continue` on the first read of the body, never before.
  if (ctx.expectsContinue) ctx.res.writeContinue();
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > max) {
        tooLarge = true;
        break;
      }
      chunks.push(chunk);
    }
  } catch (err) {
    return { status: 400, reason: `the request body could not be read: ${(err as Error).message}`, level: 'info', code: 'LWT_BAD_REQUEST' };
  }
  if (tooLarge) return { status: 413, reason: `the request body exceeds ${max} bytes`, level: 'error', code: 'LWT_BODY_TOO_LARGE' };
  const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  ctx.body = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return undefined;
};

/** (f) The CGI environment and the self-contained job a worker runs. */
export const jobPass: Pass = (ctx) => {
  const client = need(ctx.client, 'client');
  const target = need(ctx.target, 'target');
  const r = need(ctx.resolution, 'resolution');
  const sig = need(ctx.signature, 'signature');
  const req = ctx.req;
  const filename = r.filename!;
  const serverAddr = ctx.opts.serverAddr ?? plainAddress(req.socket.localAddress ?? '');
  // Apache re-encodes the path it forwards and speaks HTTP/1.1 to the sidecar; the
  // request line a trusted Apache passes on (THE_REQUEST) has the client's own.
  const line = client.requestLine;
  const protocol = line?.protocol ?? `HTTP/${req.httpVersion}`;
  const requestUri = line?.target ?? target.raw;
  const env = buildCgiEnv({
    method: req.method ?? 'GET',
    protocol,
    requestUri,
    query: target.query,
    scriptName: r.scriptName,
    pathInfo: r.pathInfo,
    pathTranslated: r.pathTranslated,
    filename,
    documentRoot: r.documentRoot,
    contextPrefix: r.contextPrefix,
    contextDocumentRoot: r.contextDocumentRoot,
    scheme: client.scheme,
    serverName: escapeHtml(sig.serverName),
    serverPort: sig.serverPort,
    serverAddr,
    serverAdmin: sig.serverAdmin,
    serverSoftware: ctx.opts.serverSoftware,
    serverSignature: serverSignature(sig),
    remoteAddr: client.address,
    remotePort: client.port,
    remoteUser: client.user,
    authType: client.authType,
    headers: client.headers,
    envOps: r.env,
    processEnv: process.env,
  });
  ctx.job = {
    id: ctx.id,
    filename,
    env,
    luaPath: r.lua.luaPath,
    luaCPath: r.lua.luaCPath,
    memoryLimit: r.lua.memoryLimit,
    request: {
      uri: requestUri,
      protocol,
      hostname: splitHost(client.host).name,
      path: target.path,
      pathInfo: r.pathInfo,
      args: target.query,
      method: req.method ?? 'GET',
      filename,
      localIp: serverAddr,
      remoteIp: client.address,
      headersIn: client.headers,
    },
    body: ctx.body ?? new Uint8Array(0),
  };
  return undefined;
};

const signatureCache = new WeakMap<Snapshot, SignatureInfo['mode']>();

/** The server-level ServerSignature of the configuration (httpd's default: Off). */
export function configSignature(snapshot: Snapshot): SignatureInfo['mode'] {
  let mode = signatureCache.get(snapshot);
  if (mode === undefined) {
    mode = 'off';
    for (const d of snapshot.config.tree) {
      if (d.key !== 'serversignature' || d.children) continue;
      const v = (d.args[0] ?? '').toLowerCase();
      mode = v === 'on' ? 'on' : v === 'email' ? 'email' : 'off';
    }
    signatureCache.set(snapshot, mode);
  }
  return mode;
}
