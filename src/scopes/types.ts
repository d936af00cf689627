/**
 * An immutable configuration snapshot (one generation) and what resolving one
 * request against it yields. Built from a LoadedConfig by src/scopes; used by
 * the CLI (`check`, `resolve`), the server pipeline and the reload coordinator.
 */

import type { Diagnostic } from '../errors';
import type { LoadedConfig } from '../apache/types';

/** mod_lwt's per-directory settings after merging and defaults (mod_lwt.md §1). */
export interface LuaSettings {
  /** Stored form: entries rooted (relative ones joined to the section directory), `+` kept in front when given. null when unset. */
  readonly luaPath: string | null;
  readonly luaCPath: string | null;
  readonly errorOutput: boolean;
  readonly handler: string | null;
  readonly preHook: string | null;
  readonly postHook: string | null;
  readonly maxArgs: number;
  readonly argsLimit: number;
  readonly fileLimit: number;
  readonly memoryLimit: number;
}

/** SetEnv/UnsetEnv/PassEnv of the merged scope, applied in this order onto the CGI environment. */
export interface EnvOps {
  readonly set: ReadonlyArray<readonly [string, string]>;
  readonly unset: readonly string[];
  readonly pass: readonly string[];
}

/**
 * The merged access rule of the sections that apply to a file. Evaluated per
 * request against the client address and the user Apache authenticated by
 * `checkAccess` in src/scopes/access.ts.
 */
export type AccessRule =
  | { readonly kind: 'all'; readonly granted: boolean }
  | { readonly kind: 'ip'; readonly negate: boolean; readonly ranges: readonly string[] }
  | { readonly kind: 'local'; readonly negate: boolean }
  | { readonly kind: 'all-of' | 'any-of' | 'none-of'; readonly rules: readonly AccessRule[] }
  | { readonly kind: 'legacy'; readonly order: 'allow,deny' | 'deny,allow' | 'mutual-failure'; readonly allow: readonly string[]; readonly deny: readonly string[] }
  /** `Require [not] valid-user` (mod_authz_user): any user Apache authenticated and forwarded. */
  | { readonly kind: 'valid-user'; readonly negate: boolean; readonly file: string; readonly line: number }
  /** `Require [not] user NAME…` (mod_authz_user): one of these users, compared byte for byte. */
  | { readonly kind: 'user'; readonly negate: boolean; readonly users: readonly string[]; readonly file: string; readonly line: number }
  /**
   * Something the sidecar cannot check (Require group, env=, expr …). `needsUser`:
   * a provider that denies for want of a user (group, ldap-*, …), so it refuses
   * a request without one whatever --apache-checks-access says.
   */
  | { readonly kind: 'unsupported'; readonly what: string; readonly file: string; readonly line: number; readonly needsUser?: boolean };

export interface VHost {
  /** The host part of ServerName (`https://www.example.com:443` gives `www.example.com`). */
  readonly serverName: string | null;
  /** The port written in ServerName, if any (httpd uses it for SERVER_PORT with UseCanonicalName). */
  readonly serverPort?: number | null;
  /** The scheme written in ServerName, if any (`https`). */
  readonly serverScheme?: string | null;
  /**
   * httpd's r->server->port, which SERVER_PORT and redirects use when the
   * Host header has no port: the port of the server's own ServerName, or, for
   * a virtual host without a ServerName of its own, the port of its first
   * address. null: the scheme's default port.
   */
  readonly hostlessPort?: number | null;
  readonly aliases: readonly string[];
  /** As written: `*:80`, `127.0.0.1:8080`, `_default_:443`, `*`. */
  readonly addresses: readonly string[];
  readonly documentRoot: string;
  readonly serverAdmin: string | null;
  /** True for the main server (outside any <VirtualHost>). */
  readonly main: boolean;
  readonly file: string;
  readonly line: number;
}

/** One configuration section (or server/vhost level) that makes lwt-wsapi the handler. */
export interface Scope {
  /** `Directory`, `DirectoryMatch`, `Files`, `FilesMatch`, `Location`, `LocationMatch`, `VirtualHost`, `server`; with `~` written as the Match form. */
  readonly section: string;
  /** The section's argument (path, pattern or extension list); `*` for server level. */
  readonly pattern: string;
  /** `lwt-wsapi`, or for AddHandler `lwt-wsapi .ws .lua` (handler plus extensions). */
  readonly handler: string;
  /** Extensions for AddHandler scopes (with leading dot), empty for SetHandler. */
  readonly extensions: readonly string[];
  readonly luaPath: string | null;
  readonly luaCPath: string | null;
  readonly memoryLimit: number;
  /** serverName of the virtual host it belongs to, null for the main server. */
  readonly vhost: string | null;
  readonly file: string;
  readonly line: number;
}

export interface Snapshot {
  /** Increases by one with every configuration that was swapped in. */
  readonly generation: number;
  readonly loadedAt: Date;
  readonly config: LoadedConfig;
  readonly vhosts: readonly VHost[];
  readonly scopes: readonly Scope[];
  /** Scopes protected by rules the sidecar cannot check, listed at start-up. */
  readonly unsupportedAccess: readonly Diagnostic[];
  readonly warnings: readonly Diagnostic[];
}

export interface ResolveRequest {
  /** Host header value (with or without port); absent: the main server's name. */
  readonly host?: string;
  /** The port the client connected to on Apache (for vhost address matching); default 80. */
  readonly port?: number;
  /** The local address Apache accepted on, for IP-based vhosts; optional. */
  readonly localAddress?: string;
  /** Decoded, normalised URL path (starts with `/`, no `..`, no `//`). */
  readonly path: string;
  /** The client's address for access control; absent: only `Require all granted` admits. */
  readonly clientIp?: string;
  /** The server's own address, which `Require local` also accepts. */
  readonly serverIp?: string;
  /** The user Apache authenticated (REMOTE_USER from a trusted proxy), for `Require valid-user`/`user`; absent or null: none. */
  readonly user?: string | null;
  /** Rules the sidecar cannot check (Require group …): 'deny' (default, 403) or 'allow' (the operator says Apache checks them). */
  readonly unsupportedAccess?: 'deny' | 'allow';
}

export interface Resolution {
  /**
   * What the sidecar answers before running anything: 200 (run it), 301 (mod_dir's
   * DirectorySlash redirect of a directory in an lwt-wsapi scope, see `redirect`), 403 (denied), 404.
   */
  readonly status: 200 | 301 | 403 | 404;
  /** Why it is not 200, for logs and `resolve`. */
  readonly reason: string | null;
  readonly vhost: VHost | null;
  /** Absolute file name the URL maps to (even when 404 because it does not exist), or null. */
  readonly filename: string | null;
  /** Decoded trailing path after the file, '' when none. */
  readonly pathInfo: string;
  /** The URL part that names the file (r->uri minus path info). */
  readonly scriptName: string;
  /** The merged handler, null when none. */
  readonly handler: string | null;
  readonly lua: LuaSettings;
  readonly env: EnvOps;
  readonly access: AccessRule | null;
  readonly documentRoot: string;
  readonly contextPrefix: string;
  readonly contextDocumentRoot: string;
  /** PATH_TRANSLATED for path info: the filesystem mapping of pathInfo as a URL, '' when no path info. */
  readonly pathTranslated: string;
  /** The scope that set the handler, for logs. */
  readonly scope: { readonly file: string; readonly line: number } | null;
  /**
   * With status 301: the path mod_dir's fixup_dir redirects to, ap_escape_uri(r->uri) + `/`.
   * The server makes the Location of it with ap_construct_url (scheme, Host, port) and the query.
   */
  readonly redirect?: string;
}
