/**
 * Options shared by the commands that read an Apache configuration, and the
 * one way they load it: text → directive tree (src/apache) → snapshot (src/scopes).
 */

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SidecarError } from '../errors';
import { loadConfig } from '../apache';
import { buildSnapshot } from '../scopes';
import { utf8Bytes } from '../server/cgi-env';
import type { LoadOptions } from '../apache/types';
import type { Snapshot } from '../scopes/types';

export interface CommandIO {
  stdout: { write(s: string | Uint8Array): unknown };
  stderr: { write(s: string | Uint8Array): unknown };
}

/** parseArgs options every configuration-reading command accepts. */
export const CONFIG_OPTIONS = {
  config: { type: 'string', short: 'f' },
  define: { type: 'string', short: 'D', multiple: true },
  'server-root': { type: 'string', short: 'd' },
  envvars: { type: 'string' },
  module: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const CONFIG_USAGE = [
  '  --config, -f FILE      the Apache configuration file to read (required)',
  '  -D NAME                define NAME for <IfDefine> (repeatable)',
  '  --server-root, -d DIR  ServerRoot before the file sets one',
  '  --envvars FILE         read `export NAME=value` lines (Debian: /etc/apache2/envvars) for ${VAR}',
  '  --module NAME          treat a module as loaded for <IfModule> (repeatable)',
].join('\n');

/** Parse argv strictly; unknown options are a usage error that names the option. */
export function parseCommandArgs<O extends ParseArgsConfig['options']>(args: string[], options: O, allowPositionals: boolean) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new SidecarError('LWT_USAGE', (err as Error).message);
  }
}

export function loadOptionsFrom(values: Record<string, unknown>): LoadOptions {
  const configFile = values.config;
  if (typeof configFile !== 'string' || configFile === '') {
    throw new SidecarError('LWT_USAGE', '--config FILE is required');
  }
  const opts: LoadOptions = { configFile };
  if (Array.isArray(values.define)) opts.defines = values.define as string[];
  if (typeof values['server-root'] === 'string') opts.serverRoot = values['server-root'];
  if (typeof values.envvars === 'string') opts.envvarsFile = values.envvars;
  if (Array.isArray(values.module)) opts.modules = values.module as string[];
  return opts;
}

export function loadSnapshot(opts: LoadOptions, generation = 1): Snapshot {
  return buildSnapshot(loadConfig(opts), generation);
}

/**
 * A name given for r->user (`--user`) or r->ap_auth_type (`--auth-type`), as
 * the UTF-8 bytes a forwarded header would carry (binary string); null when
 * the option is absent. An empty value is no user in httpd, and a header
 * cannot carry control characters, so neither could reach `serve`.
 */
export function authOption(option: string, value: unknown): string | null {
  if (value === undefined) return null;
  const text = String(value);
  if (text === '') throw new SidecarError('LWT_USAGE', `${option} must not be empty (leave the option out for a request without one)`);
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(text)) {
    throw new SidecarError('LWT_USAGE', `${option} must not contain control characters (a forwarded header cannot carry them)`);
  }
  return utf8Bytes(text);
}
