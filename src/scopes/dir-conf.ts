/**
 * The per-directory record: what each module involved keeps for one section
 * (or for a server's defaults), and the pairwise merge httpd applies with each
 * module's merge_dir_config. A module whose directives a section does not use
 * has no record there and inherits the outer one unchanged, as in
 * ap_merge_per_dir_configs.
 */

import type { AccessRule } from './types';
import { mergeLua, type LuaConf } from './lua-settings';

export interface Origin {
  readonly file: string;
  readonly line: number;
}

export type EnvEntry = { readonly op: 'set'; readonly value: string } | { readonly op: 'pass' };

export interface LegacyConf {
  readonly order: 'allow,deny' | 'deny,allow' | 'mutual-failure';
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly satisfy: 'all' | 'any' | 'nospec';
}

/** httpd's allow_options_t bits the sidecar needs: the symbolic-link ones ap_directory_walk checks. */
export const OPT_SYM_LINKS = 1;
export const OPT_SYM_OWNER = 2;
/** No absolute `Options` in this section: merge its +/- modifiers onto the outer value. */
export const OPT_UNSET = 0x100;

/** core: `Options` as core_dir_config keeps it (opts, opts_add, opts_remove). */
export interface OptionsConf {
  readonly opts: number;
  readonly add: number;
  readonly remove: number;
}

/** create_core_dir_config for a server (2.4): FollowSymLinks unless a section says otherwise. */
export const SERVER_OPTIONS: OptionsConf = Object.freeze({ opts: OPT_UNSET | OPT_SYM_LINKS, add: 0, remove: 0 });

export interface DirConf {
  /** core: SetHandler, lower-cased as core_override_type does; `none` kept (it means "do not override"). */
  readonly setHandler?: { readonly value: string } & Origin;
  /** core: Options (only its symbolic-link bits). */
  readonly options?: OptionsConf;
  /** core: AcceptPathInfo. */
  readonly acceptPathInfo?: 'on' | 'off' | 'default';
  /** mod_dir: DirectoryIndex (`disabled` clears the list). */
  readonly directoryIndex?: readonly string[];
  /** mod_dir: DirectorySlash (unset means On). */
  readonly directorySlash?: boolean;
  /** mod_mime: extension (lower case, no dot) → handler, with where it was set. */
  readonly mimeHandlers?: ReadonlyMap<string, { readonly handler: string } & Origin>;
  /** mod_mime: RemoveHandler of this section; applied by the merge, never inherited. */
  readonly removeHandlers?: readonly string[];
  /** mod_lwt. */
  readonly lua: LuaConf;
  /** mod_env: SetEnv/PassEnv by name; UnsetEnv only removes what an outer scope set. */
  readonly env?: { readonly vars: ReadonlyMap<string, EnvEntry>; readonly unset: readonly string[] };
  /** mod_authz_core: AuthMerging and this section's Require rules (implicitly <RequireAny>). */
  readonly authz?: { readonly op: 'unset' | 'off' | 'and' | 'or'; readonly rule: AccessRule | null };
  /** mod_access_compat: no merge function, so a section that uses it replaces the whole record. */
  readonly legacy?: LegacyConf;
}

export const EMPTY_CONF: DirConf = Object.freeze({ lua: Object.freeze({}) });

function mergeMime(base: DirConf, add: DirConf): DirConf['mimeHandlers'] {
  if (!add.mimeHandlers && !add.removeHandlers) return base.mimeHandlers;
  const out = new Map(base.mimeHandlers ?? []);
  for (const [ext, h] of add.mimeHandlers ?? []) out.set(ext, h);
  // remove_items: RemoveHandler applies after this section's own AddHandlers.
  for (const ext of add.removeHandlers ?? []) out.delete(ext);
  return out;
}

function mergeEnv(base: DirConf, add: DirConf): DirConf['env'] {
  if (!add.env) return base.env;
  const vars = new Map(base.env?.vars ?? []);
  for (const name of add.env.unset) vars.delete(name);
  for (const [k, v] of add.env.vars) vars.set(k, v);
  return { vars, unset: [] };
}

/** merge_authz_core_dir_config: a section with Require replaces the outer rules unless AuthMerging And/Or. */
function mergeAuthz(base: DirConf, add: DirConf): DirConf['authz'] {
  const b = base.authz;
  const a = add.authz;
  if (!a) return b;
  if (!b) return a;
  if (a.op === 'unset' && !a.rule && b.rule) return b;
  if (a.op === 'off' || a.op === 'unset' || !(b.rule || a.rule)) return a;
  if (b.rule && a.rule) return { op: a.op, rule: { kind: a.op === 'and' ? 'all-of' : 'any-of', rules: [b.rule, a.rule] } };
  return { op: a.op, rule: b.rule ?? a.rule };
}

/** merge_core_dir_configs: +/- modifiers merge onto the outer value, an absolute `Options` replaces it. */
export function mergeOptions(base: OptionsConf, add: OptionsConf | undefined): OptionsConf {
  if (!add) return base;
  if (!(add.opts & OPT_UNSET)) return add;
  const plus = (base.add & ~add.remove) | add.add;
  const minus = (base.remove & ~add.add) | add.remove;
  return { opts: (base.opts & ~minus) | plus, add: plus, remove: minus };
}

export function mergeDirConf(base: DirConf, add: DirConf): DirConf {
  if (add === EMPTY_CONF) return base;
  if (base === EMPTY_CONF && !add.removeHandlers && !add.env?.unset.length) return add;
  const out: { -readonly [K in keyof DirConf]: DirConf[K] } = { lua: mergeLua(base.lua, add.lua) };
  const setHandler = add.setHandler ?? base.setHandler;
  if (setHandler) out.setHandler = setHandler;
  const options = add.options ? mergeOptions(base.options ?? SERVER_OPTIONS, add.options) : base.options;
  if (options) out.options = options;
  const api = add.acceptPathInfo ?? base.acceptPathInfo;
  if (api) out.acceptPathInfo = api;
  const di = add.directoryIndex ?? base.directoryIndex;
  if (di) out.directoryIndex = di;
  const slash = add.directorySlash ?? base.directorySlash;
  if (slash !== undefined) out.directorySlash = slash;
  const mime = mergeMime(base, add);
  if (mime) out.mimeHandlers = mime;
  const env = mergeEnv(base, add);
  if (env) out.env = env;
  const authz = mergeAuthz(base, add);
  if (authz) out.authz = authz;
  const legacy = add.legacy ?? base.legacy;
  if (legacy) out.legacy = legacy;
  return out;
}

/**
 * The access rule of a merged record: mod_access_compat runs as the access
 * checker and mod_authz_core after it; `Satisfy Any` lets either one admit
 * the client (ap_process_request_internal).
 */
export function accessRuleOf(conf: DirConf): AccessRule | null {
  const authz = conf.authz?.rule ?? null;
  const l = conf.legacy;
  if (!l) return authz;
  const legacy: AccessRule = { kind: 'legacy', order: l.order, allow: l.allow, deny: l.deny };
  if (l.satisfy === 'any') return authz === null ? null : { kind: 'any-of', rules: [legacy, authz] };
  return authz === null ? legacy : { kind: 'all-of', rules: [legacy, authz] };
}
