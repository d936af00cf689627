/**
 * The CGI environment mod_lwt gave a script (mod_lwt.md §7): mod_env's
 * SetEnv/UnsetEnv/PassEnv first, then httpd's ap_add_common_vars and
 * ap_add_cgi_vars, whose values win over SetEnv for the same name (they are
 * overlaid with APR_OVERLAP_TABLES_SET). One value per key.
 */

import type { EnvOps } from '../scopes/types';

/**
 * Values are of two kinds. `headers`, `requestUri` and `query` are binary
 * strings as Node's HTTP parser gives them (one char per byte). Everything
 * else was decoded as text (the %-decoded path, file names, configuration
 * values, the process environment) and is stored as its UTF-8 bytes, so a
 * script sees the bytes Apache gave it (LuaJob.env).
 */
export interface CgiInput {
  readonly method: string;
  /** `HTTP/1.1` */
  readonly protocol: string;
  /** REQUEST_URI: the target as received. */
  readonly requestUri: string;
  readonly query: string | null;
  readonly scriptName: string;
  /** Decoded path info, '' when none. */
  readonly pathInfo: string;
  readonly pathTranslated: string;
  readonly filename: string;
  readonly documentRoot: string;
  readonly contextPrefix: string;
  readonly contextDocumentRoot: string;
  readonly scheme: 'http' | 'https';
  readonly serverName: string;
  readonly serverPort: string;
  readonly serverAddr: string;
  readonly serverAdmin: string;
  readonly serverSoftware: string;
  readonly serverSignature: string;
  readonly remoteAddr: string;
  /** 0 when unknown (a proxied request whose Apache did not send the port). */
  readonly remotePort: number;
  /**
   * REMOTE_USER and AUTH_TYPE: httpd's r->user and r->ap_auth_type, which a
   * trusted Apache passes on after authenticating (forwarded.ts); binary
   * strings like the headers. Absent or null: the key is absent (§7).
   */
  readonly remoteUser?: string | null;
  readonly authType?: string | null;
  /** Request headers as the client sent them, duplicates kept. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly envOps: EnvOps;
  /** The sidecar's own environment (PATH, LD_LIBRARY_PATH, PassEnv). */
  readonly processEnv: Readonly<Record<string, string | undefined>>;
}

/** Text → its UTF-8 bytes as a binary string (the form of LuaJob.env values). */
export function utf8Bytes(text: string): string {
  // Pure ASCII is the common case and maps to itself.
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

/** httpd's http2env: HTTP_ + upper case, `-` → `_`; any other character drops the header (2.4). */
export function headerEnvName(name: string): string | null {
  if (!/^[A-Za-z0-9-]+$/.test(name)) return null;
  return 'HTTP_' + name.toUpperCase().replace(/-/g, '_');
}

/**
 * Request headers as httpd's headers_in holds them: one entry per name
 * (case-insensitive), repeated headers merged with ", " in arrival order
 * (ap_get_mime_headers compresses with APR_OVERLAP_TABLES_MERGE).
 */
export function mergeHeaders(headers: ReadonlyArray<readonly [string, string]>): Array<[string, string]> {
  const byKey = new Map<string, [string, string]>();
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    const seen = byKey.get(key);
    if (seen) seen[1] = `${seen[1]}, ${value}`;
    else byKey.set(key, [name, value]);
  }
  return [...byKey.values()];
}

// Withheld by ap_add_common_vars: credentials (CGIPassAuth Off) and `Proxy` (httpoxy, 2.4.24+).
const WITHHELD = new Set(['authorization', 'proxy-authorization', 'proxy']);

export function buildCgiEnv(input: CgiInput): Record<string, string> {
  const env: Record<string, string> = Object.create(null);
  const ops = input.envOps;
  for (const [k, v] of ops.set) env[k] = utf8Bytes(v);
  for (const k of ops.unset) delete env[k];
  for (const k of ops.pass) {
    const v = input.processEnv[k];
    if (v !== undefined) env[k] = utf8Bytes(v);
  }

  const cgi: Record<string, string> = Object.create(null);
  for (const [name, value] of mergeHeaders(input.headers)) {
    const key = name.toLowerCase();
    if (key === 'content-type') cgi.CONTENT_TYPE = value;
    else if (key === 'content-length') cgi.CONTENT_LENGTH = value;
    else if (!WITHHELD.has(key)) {
      const envName = headerEnvName(name);
      if (envName !== null && !(envName in cgi)) cgi[envName] = value;
    }
  }
  // An existing subprocess_env PATH (SetEnv PATH) wins over the server's.
  cgi.PATH = env.PATH ?? utf8Bytes(input.processEnv.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  const ldPath = input.processEnv.LD_LIBRARY_PATH;
  if (ldPath !== undefined) cgi.LD_LIBRARY_PATH = utf8Bytes(ldPath);
  cgi.SERVER_SIGNATURE = utf8Bytes(input.serverSignature);
  cgi.SERVER_SOFTWARE = utf8Bytes(input.serverSoftware);
  cgi.SERVER_NAME = utf8Bytes(input.serverName);
  cgi.SERVER_ADDR = input.serverAddr;
  cgi.SERVER_PORT = input.serverPort;
  cgi.REMOTE_ADDR = input.remoteAddr;
  cgi.DOCUMENT_ROOT = utf8Bytes(input.documentRoot);
  cgi.REQUEST_SCHEME = input.scheme;
  cgi.CONTEXT_PREFIX = utf8Bytes(input.contextPrefix);
  cgi.CONTEXT_DOCUMENT_ROOT = utf8Bytes(input.contextDocumentRoot);
  cgi.SERVER_ADMIN = utf8Bytes(input.serverAdmin);
  cgi.SCRIPT_FILENAME = utf8Bytes(input.filename);
  if (input.remotePort > 0) cgi.REMOTE_PORT = String(input.remotePort);
  // ap_add_common_vars: REMOTE_USER only `if (r->user)`, AUTH_TYPE only `if (r->ap_auth_type)`.
  if (input.remoteUser) cgi.REMOTE_USER = input.remoteUser;
  if (input.authType) cgi.AUTH_TYPE = input.authType;
  // mod_ssl's fixup sets HTTPS=on; Apache terminated TLS, the trusted scheme header says so.
  if (input.scheme === 'https') cgi.HTTPS = 'on';

  cgi.GATEWAY_INTERFACE = 'CGI/1.1';
  cgi.SERVER_PROTOCOL = input.protocol;
  cgi.REQUEST_METHOD = input.method;
  cgi.QUERY_STRING = input.query ?? '';
  cgi.REQUEST_URI = input.requestUri;
  cgi.SCRIPT_NAME = utf8Bytes(input.scriptName);
  if (input.pathInfo !== '') {
    cgi.PATH_INFO = utf8Bytes(input.pathInfo);
    cgi.PATH_TRANSLATED = utf8Bytes(input.pathTranslated);
  }
  return Object.assign(env, cgi);
}
