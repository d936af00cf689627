/**
 * Access control that Apache no longer applies to proxied URLs: mod_authz_core's
 * `Require` and its containers, mod_authz_host's `ip`/`local`, and
 * mod_access_compat's `Order`/`Allow`/`Deny`/`Satisfy`, and mod_authz_user's
 * `valid-user`/`user` against the user Apache authenticated and forwarded.
 * Parsing follows the modules' command functions; evaluation follows
 * apply_authz_sections (granted/denied/denied-no-user/neutral, `not` turning
 * granted into denied and either denial into neutral) with a fifth value for
 * what the sidecar cannot check.
 */

import { confError } from '../errors';
import type { Directive } from '../apache/types';
import type { AccessRule } from './types';
import { isLoopback, parseAddress, parseSubnet, sameAddress, subnetContains, type Subnet } from './ip';

/** Authorization providers the sidecar cannot evaluate: they need groups, a header, DNS or an expression. */
const UNCHECKABLE = 'host forward-dns user group env expr method file-owner file-group'.split(' ');

/**
 * Providers that answer AUTHZ_DENIED_NO_USER without r->user (measured with
 * Apache 2.4.71: 401 without credentials), before looking at anything else.
 */
const NEED_USER = 'user group dbm-group dbd-group file-owner file-group ldap-user ldap-group ldap-dn ldap-attribute ldap-filter'.split(' ');

const CONTAINERS: Record<string, 'all-of' | 'any-of' | 'none-of'> = {
  requireall: 'all-of', requireany: 'any-of', requirenone: 'none-of',
};

export function isRequireContainer(key: string): boolean {
  return key in CONTAINERS;
}

function isNegative(rule: AccessRule): boolean {
  return rule.kind === 'none-of' || ('negate' in rule && rule.negate);
}

function containerName(kind: 'all-of' | 'any-of' | 'none-of'): string {
  return kind === 'all-of' ? '<RequireAll>' : kind === 'any-of' ? '<RequireAny>' : '<RequireNone>';
}

/** One `Require [not] provider args…` line. */
export function parseRequire(d: Directive): AccessRule {
  const args = [...d.args];
  let negate = false;
  if (args[0]?.toLowerCase() === 'not') { negate = true; args.shift(); }
  const provider = args.shift()?.toLowerCase();
  if (provider === undefined) throw confError('LWT_CONF_ARGS', 'Require takes at least one argument', d.file, d.line);
  if (provider === 'all') {
    const v = args.join(' ').toLowerCase();
    if (v !== 'granted' && v !== 'denied') {
      throw confError('LWT_CONF_ACCESS', "Require all must be followed by 'granted' or 'denied'", d.file, d.line);
    }
    const rule: AccessRule = { kind: 'all', granted: v === 'granted' };
    return negate ? { kind: 'none-of', rules: [rule] } : rule;
  }
  if (provider === 'ip') {
    if (args.length === 0) throw confError('LWT_CONF_ACCESS', "Require ip requires an argument", d.file, d.line);
    for (const a of args) {
      if (!parseSubnet(a)) throw confError('LWT_CONF_ACCESS', `ip address '${a}' appears to be invalid`, d.file, d.line);
    }
    return { kind: 'ip', negate, ranges: args };
  }
  if (provider === 'local') return { kind: 'local', negate };
  // mod_authz_user; `user` arguments are an ap_expr string, checkable only without %{…}.
  if (provider === 'valid-user') return { kind: 'valid-user', negate, file: d.file, line: d.line };
  if (provider === 'user' && !args.some((a) => a.includes('%{'))) return { kind: 'user', negate, users: args, file: d.file, line: d.line };
  const what = `Require ${d.rawArgs}`.trim();
  if (!UNCHECKABLE.includes(provider) && !NEED_USER.includes(provider) && !provider.startsWith('ldap-') && !provider.startsWith('dbd-')) {
    return { kind: 'unsupported', what: `${what} (unknown authorization provider)`, file: d.file, line: d.line };
  }
  // Negated, denied-no-user turns neutral: nothing the sidecar can use.
  if (NEED_USER.includes(provider) && !negate) return { kind: 'unsupported', what, file: d.file, line: d.line, needsUser: true };
  return { kind: 'unsupported', what, file: d.file, line: d.line };
}

/** mod_authz_core refuses a negative rule in an OR context: it could never grant. */
export function checkNegativeInOr(rule: AccessRule, d: Directive, parent: 'all-of' | 'any-of' | 'none-of'): void {
  if (isNegative(rule) && parent !== 'all-of') {
    const name = d.children ? `<${d.name}>` : 'Require';
    throw confError('LWT_CONF_ACCESS', `negative ${name} directive has no effect in ${containerName(parent)} directive`, d.file, d.line);
  }
}

/** httpd's authz_core_check_section: a section made only of negative rules can never grant. */
export function checkHasPositive(rules: readonly AccessRule[], where: string, file: string, line: number): void {
  if (!rules.some((r) => !isNegative(r))) {
    throw confError('LWT_CONF_ACCESS', `${where} directive contains only negative authorization directives`, file, line);
  }
}

/** `<RequireAll|RequireAny|RequireNone>` with nested Require lines and containers. */
export function parseContainer(d: Directive, onOther: (child: Directive) => void): AccessRule {
  const kind = CONTAINERS[d.key];
  const rules: AccessRule[] = [];
  for (const c of d.children ?? []) {
    let rule: AccessRule;
    if (c.key === 'require') rule = parseRequire(c);
    else if (isRequireContainer(c.key)) rule = parseContainer(c, onOther);
    else { onOther(c); continue; }
    checkNegativeInOr(rule, c, kind);
    rules.push(rule);
  }
  if (rules.length === 0) {
    throw confError('LWT_CONF_ACCESS', `${containerName(kind)} directive contains no authorization directives`, d.file, d.line);
  }
  checkHasPositive(rules, containerName(kind), d.file, d.line);
  return { kind, rules };
}

/** mod_access_compat's `Allow from`/`Deny from` host list entry, checked as allow_cmd does. */
export function checkAllowEntry(entry: string, d: Directive): 'checkable' | 'unsupported' {
  const low = entry.toLowerCase();
  if (low === 'all') return 'checkable';
  if (low.startsWith('env=')) return 'unsupported';
  if (entry.includes('/')) {
    if (!parseSubnet(entry)) throw confError('LWT_CONF_ACCESS', 'An IP address was expected', d.file, d.line);
    return 'checkable';
  }
  if (parseSubnet(entry)) return 'checkable';
  if (entry.includes('#')) throw confError('LWT_CONF_ACCESS', 'No comments are allowed here', d.file, d.line);
  return 'unsupported';
}

// ---------------------------------------------------------------- evaluation

/**
 * G granted, D denied, DU denied for want of a user (AUTHZ_DENIED_NO_USER: a
 * user may change it), N neutral, U cannot be decided by the sidecar.
 */
type Tri = 'G' | 'D' | 'DU' | 'N' | 'U';

export type UserRule = Extract<AccessRule, { kind: 'valid-user' | 'user' }>;

/** A rule that can refuse for want of a user: valid-user, user, or an unsupported provider with `needsUser`. */
export type NeedsUserRule = UserRule | Extract<AccessRule, { kind: 'unsupported' }>;

const subnetCache = new WeakMap<object, Subnet[]>();

function subnetsOf(key: object, entries: readonly string[]): Subnet[] {
  let nets = subnetCache.get(key);
  if (!nets) {
    nets = entries.map((e) => parseSubnet(e)).filter((n): n is Subnet => n !== null);
    subnetCache.set(key, nets);
  }
  return nets;
}

interface Client {
  ip: { family: 4 | 6; bytes: Uint8Array } | null;
  server: { family: 4 | 6; bytes: Uint8Array } | null;
  /** r->user as the header carried it: bytes as latin1 characters. */
  user: string | null;
  /** The rule a 'DU' result comes from, valid right after evaluate() returned 'DU'. */
  noUser: NeedsUserRule | null;
}

/** apply_authz_sections on a negated section: granted → denied, denied (with or without user) → neutral. */
function negate(t: Tri): Tri {
  return t === 'G' ? 'D' : t === 'D' || t === 'DU' ? 'N' : t;
}

const userBytesCache = new WeakMap<object, readonly string[]>();

/** authz_user compares r->user with strcmp: the configuration's UTF-8 bytes against the header's bytes. */
function userBytes(rule: Extract<AccessRule, { kind: 'user' }>): readonly string[] {
  let names = userBytesCache.get(rule);
  if (!names) {
    names = rule.users.map((u) => Buffer.from(u, 'utf8').toString('latin1'));
    userBytesCache.set(rule, names);
  }
  return names;
}

/** validuser/user_check_authorization: no r->user gives AUTHZ_DENIED_NO_USER. */
function evalUser(rule: UserRule, client: Client): Tri {
  let t: Tri;
  if (client.user === null) {
    t = 'DU';
    client.noUser = rule;
  } else {
    t = rule.kind === 'valid-user' || userBytes(rule).includes(client.user) ? 'G' : 'D';
  }
  return rule.negate ? negate(t) : t;
}

function inList(entries: readonly string[], key: object, client: Client): boolean | 'U' {
  let unknown = false;
  for (const e of entries) {
    const low = e.toLowerCase();
    if (low === 'all') return true;
    if (!parseSubnet(e)) { unknown = true; continue; }
  }
  if (client.ip && subnetsOf(key, entries).some((n) => subnetContains(n, client.ip!))) return true;
  return unknown ? 'U' : false;
}

function decideLegacy(order: string, allow: boolean, deny: boolean): boolean {
  if (order === 'allow,deny') return allow && !deny;
  if (order === 'deny,allow') return allow || !deny;
  return allow && !deny;
}

/** check_dir_access; an entry the sidecar cannot test (host name, env=) only matters when it could change the outcome. */
function evalLegacy(rule: Extract<AccessRule, { kind: 'legacy' }>, client: Client): Tri {
  const allow = inList(rule.allow, rule.allow, client);
  const deny = inList(rule.deny, rule.deny, client);
  const outcomes = new Set<boolean>();
  for (const a of allow === 'U' ? [true, false] : [allow]) {
    for (const dn of deny === 'U' ? [true, false] : [deny]) outcomes.add(decideLegacy(rule.order, a, dn));
  }
  if (outcomes.size > 1) return 'U';
  return outcomes.has(true) ? 'G' : 'D';
}

function evaluate(rule: AccessRule, client: Client): Tri {
  switch (rule.kind) {
    case 'all':
      return rule.granted ? 'G' : 'D';
    case 'ip': {
      const hit = client.ip !== null && subnetsOf(rule, rule.ranges).some((n) => subnetContains(n, client.ip!));
      const t: Tri = hit ? 'G' : 'D';
      return rule.negate ? negate(t) : t;
    }
    case 'local': {
      const hit = client.ip !== null && (isLoopback(client.ip) || (client.server !== null && sameAddress(client.ip, client.server)));
      const t: Tri = hit ? 'G' : 'D';
      return rule.negate ? negate(t) : t;
    }
    case 'valid-user':
    case 'user':
      return evalUser(rule, client);
    case 'legacy':
      return evalLegacy(rule, client);
    case 'unsupported':
      if (rule.needsUser && client.user === null) {
        client.noUser = rule;
        return 'DU';
      }
      return 'U';
    case 'all-of': {
      // AND: a denial ends it; denied-no-user outranks granted (and an unknown, which can only deny further).
      let result: Tri = 'N';
      let noUser: NeedsUserRule | null = null;
      for (const r of rule.rules) {
        const t = evaluate(r, client);
        if (t === 'D') return 'D';
        if (t === 'DU') { if (result !== 'DU') { result = 'DU'; noUser = client.noUser; } }
        else if (t === 'U') { if (result !== 'DU') result = 'U'; }
        else if (t === 'G' && result === 'N') result = 'G';
      }
      client.noUser = noUser;
      return result;
    }
    case 'any-of':
    case 'none-of': {
      // OR: a grant ends it; denied-no-user outranks denied; an unknown could still grant.
      let result: Tri = 'N';
      let noUser: NeedsUserRule | null = null;
      for (const r of rule.rules) {
        const t = evaluate(r, client);
        if (t === 'G') { result = 'G'; break; }
        if (t === 'U') result = 'U';
        else if (t === 'DU') { if (result === 'N' || result === 'D') { result = 'DU'; noUser = client.noUser; } }
        else if (t === 'D' && result === 'N') result = 'D';
      }
      client.noUser = noUser;
      return rule.kind === 'none-of' ? negate(result) : result;
    }
  }
}

export type AccessVerdict = 'granted' | 'denied' | 'unsupported';

export interface AccessDecision {
  readonly verdict: AccessVerdict;
  /** Denied because no user was forwarded while this rule (`Require valid-user`, `user`, `group` …) could have granted. */
  readonly needsUser: NeedsUserRule | null;
}

/**
 * Would httpd let this client in? `null` means no access directive applies
 * (granted, as mod_authz_core without directives). A neutral result is a
 * denial (authorize_user_core), and so is denied-no-user: httpd would answer
 * 401 and ask for credentials, which the sidecar cannot do. 'unsupported' when
 * the answer depends on something the sidecar cannot check. `serverIp` makes
 * `Require local` also accept a client that connects from the server's own
 * address; `user` is the user Apache authenticated (null or absent: none).
 */
export function decideAccess(rule: AccessRule | null, clientIp: string, serverIp?: string, user?: string | null): AccessDecision {
  if (rule === null) return { verdict: 'granted', needsUser: null };
  const client: Client = { ip: parseAddress(clientIp), server: serverIp ? parseAddress(serverIp) : null, user: null, noUser: null };
  // httpd decides without a user first (authorize_userless) and authenticates only
  // on denied-no-user, so `Require not user` cannot refuse a client already let in.
  let t = evaluate(rule, client);
  if ((t === 'DU' || t === 'U') && user) {
    client.user = user;
    const withUser = evaluate(rule, client);
    // An unknown rule left open: the user settles it only by granting (a user rule beside it in an OR).
    t = t === 'DU' || withUser === 'G' ? withUser : 'U';
  }
  const verdict: AccessVerdict = t === 'G' ? 'granted' : t === 'U' ? 'unsupported' : 'denied';
  return { verdict, needsUser: t === 'DU' ? client.noUser : null };
}

/** decideAccess's verdict alone. */
export function checkAccess(rule: AccessRule | null, clientIp: string, serverIp?: string, user?: string | null): AccessVerdict {
  return decideAccess(rule, clientIp, serverIp, user).verdict;
}

/** The log reason for a `needsUser` denial: which rule, and where authentication belongs. */
export function needsUserReason(rule: NeedsUserRule): string {
  const what = rule.kind === 'valid-user' ? 'Require valid-user' : rule.kind === 'user' ? `Require user ${rule.users.join(' ')}` : rule.what;
  return `${what} (${rule.file}:${rule.line}) needs a user authenticated by Apache: `
    + 'put AuthType and Require in a <Location> or <Proxy> section';
}
