/**
 * Debian's real apache2 for the end-to-end tests, started by deploy/stack.js
 * (the same code deploy/demo.sh and the e2e benchmark run): its own
 * configuration in a temporary directory (the bundled site, then
 * deploy/apache/lwt-sidecar.conf), a free loopback port, its own process group,
 * stopped in mocha's `after`. A missing apache2 fails the suite, never skips it.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { useStarted } from './hooks';
import { startSidecar, type SidecarProcess, type SidecarStartOptions } from './sidecar';

export const ROOT = path.resolve(__dirname, '..', '..', '..');

export interface ApacheOptions {
  /** Base URL of the sidecar, for `Define LWT_SIDECAR_URL`. */
  sidecarUrl?: string;
  /** The site's apache2.conf; default fixtures/httpd-conf/site/apache2.conf. */
  siteConf?: string;
  /** The proxy snippet; default deploy/apache/lwt-sidecar.conf, null for none. */
  proxyConf?: string | null;
  /** Directives placed before the snippet (ProxyPass exclusions) and after it. */
  before?: string[];
  extra?: string[];
  port?: number;
  timeoutMs?: number;
  /** Also serve the site's TLS virtual host (sites/30-www-tls.conf): mod_ssl, a self-signed certificate, a second port. */
  tls?: boolean;
  tlsPort?: number;
}

/** What an Apache started with `tls` adds. */
export interface TlsEndpoint {
  readonly tlsUrl: string;
  readonly tlsPort: number;
  /** The self-signed certificate (PEM), for a client's `ca`. */
  readonly tlsCert: string;
}

export interface PreparedApache extends Partial<TlsEndpoint> {
  readonly dir: string;
  readonly configFile: string;
  readonly port: number;
  readonly url: string;
}

export interface ApacheProcess extends Partial<TlsEndpoint> {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly configFile: string;
  readonly pid: number;
  errorLog(): string;
  accessLog(): string;
  output(): string;
  stop(keepDir?: boolean): Promise<{ code: number | null; signal: string | null }>;
}

interface StackModule {
  ROOT: string;
  SITE_CONF: string;
  PROXY_CONF: string;
  APACHE_BIN: string;
  freePort(): Promise<number>;
  apacheConfig(opts: ApacheOptions & { dir: string; port: number }): string;
  prepareApache(opts?: ApacheOptions): Promise<PreparedApache>;
  startApache(opts?: ApacheOptions | PreparedApache): Promise<ApacheProcess>;
  startSidecar(opts?: SidecarStartOptions): Promise<SidecarProcess>;
  killAllOnSignals(): void;
}

// deploy/ is plain JavaScript shared with the demo; it is not compiled.
export const stack: StackModule = require(path.join(ROOT, 'deploy', 'stack.js'));
stack.killAllOnSignals();

export const SITE_DIR = path.dirname(stack.SITE_CONF);

function requireApache(): void {
  try {
    fs.accessSync(stack.APACHE_BIN, fs.constants.X_OK);
  } catch {
    throw new Error(`${stack.APACHE_BIN} is missing: the end-to-end tests need Debian's apache2 (scripts/install-debian-packages.sh)`);
  }
}

export async function startApache(opts: ApacheOptions | PreparedApache = {}): Promise<ApacheProcess> {
  requireApache();
  return stack.startApache(opts);
}

/** The banner Apache sends (`Server:` and SERVER_SOFTWARE with the default ServerTokens Full). */
export function apacheBanner(): string {
  requireApache();
  const out = require('node:child_process').execFileSync(stack.APACHE_BIN, ['-v'], { encoding: 'utf8' }) as string;
  const m = /Server version:\s*(.+)/.exec(out);
  if (!m) throw new Error(`cannot read the version from '${stack.APACHE_BIN} -v': ${out}`);
  return m[1]!.trim();
}

export interface Stack {
  apache: ApacheProcess;
  sidecar: SidecarProcess;
}

export interface StackOptions {
  /** Extra `lwt-sidecar serve` arguments; a function is called in `before`, after earlier hooks ran. */
  sidecarArgs?: string[] | (() => string[]);
  apache?: Omit<ApacheOptions, 'sidecarUrl'>;
}

/**
 * Registers mocha hooks that start the sidecar, then Apache in front of it,
 * and stop both after the suite. The sidecar reads Apache's own generated
 * configuration (the site plus the proxy snippet), as an operator points it
 * at /etc/apache2/apache2.conf. The returned object is filled in `before`.
 */
export function useStack(opts: StackOptions = {}): Stack {
  const ctx = {} as Stack;
  before(async function () {
    this.timeout(30_000);
    requireApache();
    const sidecarPort = await stack.freePort();
    const prepared = await stack.prepareApache({ ...opts.apache, sidecarUrl: `http://127.0.0.1:${sidecarPort}` });
    const args = typeof opts.sidecarArgs === 'function' ? opts.sidecarArgs() : opts.sidecarArgs ?? [];
    ctx.sidecar = await startSidecar({ config: prepared.configFile, port: sidecarPort, args });
    ctx.apache = await startApache(prepared);
  });
  after(async function () {
    this.timeout(30_000);
    await ctx.apache?.stop();
    await ctx.sidecar?.stop();
  });
  return ctx;
}

/** mocha hooks for an Apache alone (the mod_cgi oracle, a static baseline). */
export function useApache(opts: ApacheOptions = {}): { apache: ApacheProcess } {
  return useStarted('apache', () => startApache(opts));
}

/**
 * The reference server: the same site on plain Apache, where the e2e fixture
 * scripts (www/e2e/*.ws, with a `#!/usr/bin/wsapi.cgi` line) run through
 * mod_cgi and Debian's wsapi.cgi. mod_cgi builds the environment with the same
 * ap_add_common_vars/ap_add_cgi_vars mod_lwt called (mod_lwt.md §7).
 */
export const CGI_ORACLE: ApacheOptions = {
  proxyConf: null,
  extra: [
    '<Directory ${LWT_SITE}/www/e2e>',
    '    Options +ExecCGI',
    '    AddHandler cgi-script .ws',
    '</Directory>',
  ],
};
