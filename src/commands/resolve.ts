/**
 * `lwt-sidecar resolve`: show what the sidecar would do with one request
 * before running anything: the virtual host, the file, PATH_INFO,
 * SCRIPT_NAME, the merged handler and Lua settings, or why it is not an
 * lwt-wsapi request. The URL is decoded and normalised as the server does;
 * `--user` stands for the user a trusted Apache authenticated and forwarded.
 */

import { authOption, CONFIG_OPTIONS, CONFIG_USAGE, loadOptionsFrom, loadSnapshot, parseCommandArgs, type CommandIO } from './common';
import { SidecarError } from '../errors';
import { checkAccess, describeResolution, resolve } from '../scopes';
import { parseTarget } from '../server/target';

const OPTIONS = {
  ...CONFIG_OPTIONS,
  host: { type: 'string' },
  port: { type: 'string' },
  'client-ip': { type: 'string' },
  user: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const USAGE = [
  'usage: lwt-sidecar resolve --config FILE [--host NAME] [--port N] [--client-ip IP] [--user NAME] URL [--json]',
  '',
  CONFIG_USAGE,
  '  --host NAME            the Host header (default: the URL\'s host, else none: the default virtual host)',
  '  --port N               the port the client connected to on Apache (default: the URL\'s, else 80)',
  '  --client-ip IP         the client address for access rules (default 127.0.0.1)',
  '  --user NAME            the user Apache authenticated, for Require valid-user/user (default: none)',
  '  --json                 print one JSON object (see docs/cli-json.md)',
].join('\n') + '\n';

/** The request as resolved: `user` is the user Apache authenticated, null for none. */
interface RequestEcho {
  url: string;
  host: string | null;
  port: number;
  path: string | null;
  clientIp: string;
  user: string | null;
}

type Description = ReturnType<typeof describeResolution> & { request: RequestEcho };

export function formatText(d: Description): string {
  const rows: Array<[string, string]> = [['status', `${d.status}${d.reason ? ` (${d.reason})` : ''}`]];
  if (d.vhost) rows.push(['virtual host', `${d.vhost.main ? 'main server ' : ''}${d.vhost.serverName ?? '(no ServerName)'}  ${d.vhost.file}:${d.vhost.line}`]);
  rows.push(
    ['file name', d.filename ?? '-'],
    ['PATH_INFO', d.pathInfo],
    ['SCRIPT_NAME', d.scriptName],
    ['handler', `${d.handler ?? '(none)'}${d.scope ? `  set at ${d.scope.file}:${d.scope.line}` : ''}`],
    ['LuaPath', d.luaPath ?? '(Lua default)'],
    ['LuaCPath', d.luaCPath ?? '(Lua default)'],
    ['LuaMemoryLimit', String(d.lua.memoryLimit)],
  );
  if (d.redirect !== null) rows.push(['redirect', d.redirect]);
  if (d.request.user !== null) rows.push(['user', d.request.user]);
  if (d.accessVerdict !== null && d.access !== null) rows.push(['access', d.accessVerdict]);
  for (const [k, v] of d.env.set) rows.push(['SetEnv', `${k}=${v}`]);
  for (const k of d.env.pass) rows.push(['PassEnv', k]);
  return rows.map(([k, v]) => `${k.padEnd(15)}${v}`).join('\n') + '\n';
}

function portOf(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new SidecarError('LWT_USAGE', `--port must be a port number from 1 to 65535 (got '${text}')`);
  }
  return Number(text);
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS, true);
  if (values.help) { io.stdout.write(USAGE); return 0; }
  if (positionals.length !== 1) throw new SidecarError('LWT_USAGE', `resolve takes exactly one URL (got ${positionals.length})\n${USAGE}`);
  const url = positionals[0];
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(\[[^\]]*\]|[^/?#:]*)(?::([0-9]+))?/.exec(url);
  const host = values.host ?? (abs?.[1] || undefined);
  const port = values.port !== undefined ? portOf(values.port) : abs?.[2] ? portOf(abs[2]) : 80;
  const clientIp = values['client-ip'] ?? '127.0.0.1';
  const user = authOption('--user', values.user);
  const snap = loadSnapshot(loadOptionsFrom(values));
  const target = parseTarget(url);
  // A target httpd refuses (bad escape, %2F, NUL, `..` above the root) never reaches a handler: 404 here.
  const path = target.ok ? target.target.path : '\0';
  const res = resolve(snap, { host, port, path, clientIp, user });
  const request: RequestEcho = {
    url, host: host ?? null, port, path: target.ok ? target.target.path : null, clientIp, user: values.user ?? null,
  };
  // describeResolution decides for no user; the verdict must match the status resolve() gave this user.
  const accessVerdict = checkAccess(res.access, clientIp, undefined, user);
  const d: Description = { ...describeResolution(res, clientIp), accessVerdict, request };
  if (!target.ok) d.reason = `${target.reason} (Apache answers ${target.status})`;
  io.stdout.write(values.json ? JSON.stringify(d, null, 2) + '\n' : formatText(d));
  return 0;
}
