/**
 * Access control that Apache no longer applies to proxied URLs: mod_authz_core's
 * `Require` and its containers, mod_authz_host's `ip`/`local`, and
 * mod_access_compat's `Order`/`Allow`/`Deny`/`Satisfy`. Parsing follows the
 * modules' command functions; evaluation follows apply_authz_sections (tri-state
 * granted/denied/neutral, `not` turning granted into denied and denied into
 * neutral) with a fourth value for what the sidecar cannot check.
 */

import { confError } from '../errors';
import type { Directive } from '../apache/types';
import type { AccessRule } from './types';
import { isLoopback, parseAddress, parseSubnet, sameAddress, subnetContains, type Subnet } from './ip';

/** Authorization providers the sidecar cannot evaluate: they need a user, a header, DNS or an expression. */
const UNCHECKABLE = 'host forward-dns valid-user user group env expr method file-owner file-group'.split(' ');

const CONTAINERS: Record<string, 'all-of' | 'any-of' | 'none-of'> = {
  requireall: 'all-of', requireany: 'any-of', requirenone: 'none-of',
};

export function isRequireContainer(key: string): boolean {
  return key in CONTAINERS;
}

function isNegative(rule: AccessRule): boolean {
  return rule.kind === 'none-of' || ((rule.kind === 'ip' || rule.kind === 'local') && rule.negate);
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
  const what = `Require ${d.rawArgs}`.trim();
  if (!UNCHECKABLE.includes(provider) && !provider.startsWith('ldap-') && !provider.startsWith('dbd-')) {
    return { kind: 'unsupported', what: `${what} (unknown authorization provider)`, file: d.file, line: d.line };
  }
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

/** G granted, D denied, N neutral, U cannot be decided by the sidecar. */
type Tri = 'G' | 'D' | 'N' | 'U';

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
}

function negate(t: Tri): Tri {
  return t === 'G' ? 'D' : t === 'D' ? 'N' : t;
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
    case 'legacy':
      return evalLegacy(rule, client);
    case 'unsupported':
      return 'U';
    case 'all-of': {
      let result: Tri = 'N';
      for (const r of rule.rules) {
        const t = evaluate(r, client);
        if (t === 'D') return 'D';
        if (t === 'U' || (t === 'G' && result === 'N')) result = t;
      }
      return result;
    }
    case 'any-of':
    case 'none-of': {
      let result: Tri = 'N';
      for (const r of rule.rules) {
        const t = evaluate(r, client);
        if (t === 'G') { result = 'G'; break; }
        if (t === 'U' || (t === 'D' && result === 'N')) result = t;
      }
      return rule.kind === 'none-of' ? negate(result) : result;
    }
  }
}

/**
 * Would httpd let this client in? `null` means no access directive applies
 * (granted, as mod_authz_core without directives). A neutral result is a
 * denial (authorize_user_core). 'unsupported' when the answer depends on
 * something the sidecar cannot check. `serverIp` makes `Require local` also
 * accept a client that connects from the server's own address.
 */
export function checkAccess(rule: AccessRule | null, clientIp: string, serverIp?: string): 'granted' | 'denied' | 'unsupported' {
  if (rule === null) return 'granted';
  const client: Client = { ip: parseAddress(clientIp), server: serverIp ? parseAddress(serverIp) : null };
  const t = evaluate(rule, client);
  return t === 'G' ? 'granted' : t === 'U' ? 'unsupported' : 'denied';
}
