/**
 * `lwt-sidecar check`: read an Apache configuration the way httpd does and
 * show what the sidecar found: the files in reading order, the virtual hosts,
 * every lwt-wsapi scope with its effective Lua settings, and the warnings.
 * An invalid configuration throws a SidecarError, which cli.ts prints as
 * `file:line: message` with exit status 1.
 */

import { CONFIG_OPTIONS, CONFIG_USAGE, loadOptionsFrom, loadSnapshot, parseCommandArgs, type CommandIO } from './common';
import { SidecarError, formatError } from '../errors';
import { describeSnapshot } from '../scopes';

const OPTIONS = { ...CONFIG_OPTIONS, json: { type: 'boolean' } } as const;

const USAGE = [
  'usage: lwt-sidecar check --config FILE [-D NAME]... [--json]',
  '',
  CONFIG_USAGE,
  '  --json                 print one JSON object (see docs/cli-json.md)',
].join('\n') + '\n';

type Description = ReturnType<typeof describeSnapshot>;

function size(n: number): string {
  for (const [unit, f] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (n >= f && n % f === 0) return `${n / f}${unit}`;
  }
  return String(n);
}

function at(x: { file: string | null; line: number | null }): string {
  return x.file === null ? '' : x.line === null ? x.file : `${x.file}:${x.line}`;
}

export function formatText(d: Description): string {
  const out: string[] = [`Configuration ${d.configFile} (ServerRoot ${d.serverRoot})`, '', `Files read, in httpd's order (${d.files.length}):`];
  for (const f of d.files) out.push(`  ${f}`);
  out.push('', 'Virtual hosts:');
  for (const v of d.vhosts) {
    const where = v.main ? 'main server' : v.addresses.join(' ');
    const aliases = v.aliases.length ? ` (aliases: ${v.aliases.join(', ')})` : '';
    out.push(`  ${where.padEnd(14)} ${v.serverName ?? '(no ServerName)'}${aliases}`);
    out.push(`  ${''.padEnd(14)} DocumentRoot ${v.documentRoot}  ${at(v)}`);
  }
  out.push('', `lwt-wsapi scopes (${d.scopes.length}):`);
  if (d.scopes.length === 0) out.push('  none: no SetHandler or AddHandler names lwt-wsapi');
  for (const s of d.scopes) {
    const section = s.section === 'server' ? 'server config' : s.section === 'VirtualHost' ? `<VirtualHost ${s.pattern}>` : `<${s.section} ${s.pattern}>`;
    const how = s.extensions.length ? `AddHandler ${s.handler}` : `SetHandler ${s.handler}`;
    out.push(`  ${section}  ${how}  [${s.vhost ?? 'main server'}]  ${s.file}:${s.line}`);
    out.push(`      LuaPath ${s.luaPath ?? '(Lua default)'}; LuaCPath ${s.luaCPath ?? '(Lua default)'}; LuaMemoryLimit ${size(s.memoryLimit)}`);
  }
  if (d.unsupportedAccess.length) {
    out.push('', 'Access rules the sidecar cannot check (answered with 403 unless serve --apache-checks-access):');
    for (const u of d.unsupportedAccess) out.push(`  ${at(u)}: ${u.message}`);
  }
  if (d.warnings.length) {
    out.push('', `Warnings (${d.warnings.length}):`);
    for (const w of d.warnings) out.push(`  ${formatError({ message: w.message, file: w.file ?? undefined, line: w.line ?? undefined })}`);
  }
  return out.join('\n') + '\n';
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS, true);
  if (values.help) { io.stdout.write(USAGE); return 0; }
  if (positionals.length) throw new SidecarError('LWT_USAGE', `check takes no positional arguments (got '${positionals[0]}'); use --config FILE`);
  const snap = loadSnapshot(loadOptionsFrom(values));
  const d = describeSnapshot(snap);
  io.stdout.write(values.json ? JSON.stringify(d, null, 2) + '\n' : formatText(d));
  return 0;
}
