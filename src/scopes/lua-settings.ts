/**
 * mod_lwt's directives: parsing as its command functions do (mod_lwt.md §1),
 * the pairwise merge ("the more specific scope wins if it set the value",
 * §1.2) and the defaults filled in at request time (§1.1).
 */

import * as path from 'node:path';
import { confError } from '../errors';
import type { Directive } from '../apache/types';
import type { LuaSettings } from './types';

/** The per-directory record of mod_lwt: undefined = unset (strings NULL, numbers −1, flag 0). */
export interface LuaConf {
  readonly luaPath?: string;
  readonly luaCPath?: string;
  readonly errorOutput?: boolean;
  readonly handler?: string;
  readonly preHook?: string;
  readonly postHook?: string;
  readonly maxArgs?: number;
  readonly argsLimit?: number;
  readonly fileLimit?: number;
  readonly memoryLimit?: number;
}

export const LUA_DEFAULTS = {
  errorOutput: true,
  maxArgs: 256,
  argsLimit: 1024 * 1024,
  fileLimit: 8 * 1024 * 1024,
  memoryLimit: 64 * 1024 * 1024,
} as const;

/**
 * The directory a relative entry is rooted at: httpd's cmd->path for the
 * section (`<Directory /x>` gives `/x/`, other sections their pattern), null
 * at server and virtual-host level.
 */
export type SectionRoot = string | null;

/**
 * Root one path entry like mod_lwt: absolute entries are kept (mod_lwt stripped
 * their leading slash, which only worked because httpd's cwd is `/`; the sidecar
 * keeps them absolute, mod_lwt.md §10.1), relative ones join the section's
 * directory with a normalising merge, and relative at server level is an error.
 */
function rootEntry(entry: string, root: SectionRoot, d: Directive, message: string): string {
  if (entry.startsWith('/')) return path.posix.normalize(entry);
  if (root === null) throw confError('LWT_CONF_LUA_PATH', message, d.file, d.line);
  const joined = path.posix.join(root, entry);
  return joined;
}

/** LuaPath/LuaCPath (§1.3): optional `+`, split on `;`, empty pieces dropped, each piece rooted. */
export function parseLuaPath(value: string, root: SectionRoot, d: Directive): string {
  const message = `${d.name} requires a Lua path`;
  let rest = value;
  const plus = rest.startsWith('+');
  if (plus) rest = rest.slice(1);
  const pieces = rest.split(';').filter((p) => p !== '').map((p) => rootEntry(p, root, d, message));
  if (pieces.length === 0) throw confError('LWT_CONF_LUA_PATH', message, d.file, d.line);
  return (plus ? '+' : '') + pieces.join(';');
}

/** LuaHandler/LuaPreHook/LuaPostHook (§1.5): one path rooted like a LuaPath piece. */
export function parseLuaFile(value: string, root: SectionRoot, d: Directive): string {
  const message = `${d.name} requires a file path`;
  if (value === '') throw confError('LWT_CONF_LUA_PATH', message, d.file, d.line);
  return rootEntry(value, root, d, message);
}

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 * 1024, G: 1024 * 1024 * 1024 };

/** Sizes (§1.4): base-10 digits, optional upper-case K/M/G directly after, nothing else. */
export function parseLuaSize(value: string, d: Directive): number {
  const m = /^[ \t]*\+?([0-9]+)([KMG]?)$/.exec(value);
  if (!m) throw confError('LWT_CONF_LUA_SIZE', `${d.name} requires a non-negative integer`, d.file, d.line);
  const n = Number(m[1]) * SIZE_UNITS[m[2]];
  if (!Number.isSafeInteger(n)) throw confError('LWT_CONF_LUA_SIZE', `${d.name} requires a non-negative integer`, d.file, d.line);
  return n;
}

/** LuaMaxArgs: strtol over the whole string, ≥ 0, no suffix. */
export function parseLuaCount(value: string, d: Directive): number {
  const m = /^[ \t]*([+-]?[0-9]+)$/.exec(value);
  const n = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(n) || n < 0) {
    throw confError('LWT_CONF_LUA_SIZE', `${d.name} requires a non-negative integer`, d.file, d.line);
  }
  return n === 0 ? 0 : n;
}

/** FLAG directives: httpd's own check, case-insensitive On/Off. */
export function parseFlag(value: string, d: Directive): boolean {
  const v = value.toLowerCase();
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw confError('LWT_CONF_ARGS', `${d.name} must be On or Off`, d.file, d.line);
}

export function mergeLua(base: LuaConf, add: LuaConf): LuaConf {
  if (Object.keys(add).length === 0) return base;
  if (Object.keys(base).length === 0) return add;
  return { ...base, ...add };
}

/** The request-time view: unset numbers take the table defaults, unset LuaErrorOutput counts as On. */
export function luaSettingsOf(conf: LuaConf): LuaSettings {
  return Object.freeze({
    luaPath: conf.luaPath ?? null,
    luaCPath: conf.luaCPath ?? null,
    errorOutput: conf.errorOutput ?? LUA_DEFAULTS.errorOutput,
    handler: conf.handler ?? null,
    preHook: conf.preHook ?? null,
    postHook: conf.postHook ?? null,
    maxArgs: conf.maxArgs ?? LUA_DEFAULTS.maxArgs,
    argsLimit: conf.argsLimit ?? LUA_DEFAULTS.argsLimit,
    fileLimit: conf.fileLimit ?? LUA_DEFAULTS.fileLimit,
    memoryLimit: conf.memoryLimit ?? LUA_DEFAULTS.memoryLimit,
  });
}
