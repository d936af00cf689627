/**
 * `lwt-sidecar serve --config FILE [--listen 127.0.0.1:8070] [--workers N] [-D NAME]...`
 * Serves the requests Apache forwards with mod_proxy until SIGTERM/SIGINT
 * (graceful: in-flight requests finish, exit 0). SIGHUP reloads the
 * configuration, as `apachectl graceful` does for httpd.
 */

import { SidecarError, formatError } from '../errors';
import { createLogger, parseLogFormat, parseLogLevel } from '../log';
import { createSidecar, parseSize, DEFAULT_OPTIONS } from '../server';
import { startWatching } from '../watch';
import {
  CONFIG_OPTIONS, CONFIG_USAGE, loadOptionsFrom, loadSnapshot, parseCommandArgs, type CommandIO,
} from './common';

const OPTIONS = {
  ...CONFIG_OPTIONS,
  listen: { type: 'string', short: 'l' },
  workers: { type: 'string', short: 'w' },
  queue: { type: 'string' },
  'cpu-limit-ms': { type: 'string' },
  'max-body': { type: 'string' },
  'idle-timeout-ms': { type: 'string' },
  'stop-timeout-ms': { type: 'string' },
  'trusted-proxy': { type: 'string', multiple: true },
  'scheme-header': { type: 'string' },
  'port-header': { type: 'string' },
  'request-line-header': { type: 'string' },
  'user-header': { type: 'string' },
  'auth-type-header': { type: 'string' },
  'apache-checks-access': { type: 'boolean' },
  'server-software': { type: 'string' },
  'server-addr': { type: 'string' },
  'server-signature': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'log-file': { type: 'string' },
  'access-log': { type: 'string' },
  admin: { type: 'string' },
  'no-watch': { type: 'boolean' },
} as const;

/** Options and their descriptions, wrapped to the help width by optionColumns(). */
const OPTION_HELP: ReadonlyArray<readonly [string, string]> = [
  ['--listen HOST:PORT', `address to listen on (default ${DEFAULT_OPTIONS.listen}; loopback)`],
  ['--workers N', `Lua worker threads (default: one per core, ${DEFAULT_OPTIONS.workers} here)`],
  ['--queue N', `requests that may wait for a worker; more get 503 (default ${DEFAULT_OPTIONS.queueLimit})`],
  ['--cpu-limit-ms MS', `CPU time a request may spend in Lua (default ${DEFAULT_OPTIONS.cpuLimitMs})`],
  ['--max-body SIZE', 'largest request body, e.g. 10M; larger gets 413 (default 10M)'],
  ['--idle-timeout-ms MS', `keep-alive idle timeout; keep above Apache's ttl= (default ${DEFAULT_OPTIONS.idleTimeoutMs})`],
  ['--stop-timeout-ms MS', `on SIGTERM, how long in-flight requests may take to finish (default ${DEFAULT_OPTIONS.stopTimeoutMs})`],
  ['--trusted-proxy ADDR', "peer whose X-Forwarded-* headers are believed: IP, CIDR or 'loopback' (repeatable; default loopback)"],
  ['--scheme-header NAME', `header a trusted peer sets to http/https (default ${DEFAULT_OPTIONS.schemeHeader})`],
  ['--port-header NAME', `header a trusted peer sets to the client's port, for REMOTE_PORT (default ${DEFAULT_OPTIONS.portHeader})`],
  ['--request-line-header NAME', "header a trusted peer sets to httpd's THE_REQUEST, for the client's own REQUEST_URI "
    + `and SERVER_PROTOCOL (default ${DEFAULT_OPTIONS.requestLineHeader})`],
  ['--user-header NAME', `header a trusted peer sets to the user Apache authenticated, for REMOTE_USER (default ${DEFAULT_OPTIONS.userHeader})`],
  ['--auth-type-header NAME', `header a trusted peer sets to Apache's AuthType, for AUTH_TYPE (default ${DEFAULT_OPTIONS.authTypeHeader})`],
  ['--apache-checks-access', 'answer requests whose access rules the sidecar cannot check (Require group, env, expr, ...) '
    + 'instead of 403: Apache enforces them (Require valid-user and user are always checked)'],
  ['--server-software TEXT', `SERVER_SOFTWARE and the signature banner (default ${DEFAULT_OPTIONS.serverSoftware})`],
  ['--server-addr ADDR', "SERVER_ADDR (default: the local address of Apache's connection)"],
  ['--server-signature MODE', "on, off or email (default: the configuration's ServerSignature, else off)"],
  ['--log-level LEVEL', 'debug, info, notice, warn or error (default notice)'],
  ['--log-format FORMAT', 'text or json (default text)'],
  ['--log-file FILE', 'error log file (default stderr)'],
  ['--access-log FILE', 'write an access log (combined format) to FILE'],
  ['--admin HOST:PORT', 'loopback admin endpoint (GET /health, POST /reload)'],
  ['--no-watch', 'do not watch the configuration files (reload on SIGHUP or POST /reload)'],
];

const HELP_WIDTH = 100;

/** Every option's description in one column (the shared configuration options too), word-wrapped. */
function optionColumns(): string {
  const rows: Array<readonly [string, string]> = CONFIG_USAGE.split('\n').map((line) => {
    const m = /^\s+(\S.*?)\s{2,}(\S.*)$/.exec(line);
    return m ? [m[1]!, m[2]!] as const : [line.trim(), ''] as const;
  });
  rows.push(...OPTION_HELP);
  const column = 2 + Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const out: string[] = [];
  for (const [flag, text] of rows) {
    let line = `  ${flag}`.padEnd(column);
    let fresh = true;
    for (const word of text.split(' ')) {
      if (!fresh && line.length + 1 + word.length > HELP_WIDTH) {
        out.push(line);
        line = ''.padEnd(column);
        fresh = true;
      }
      line += fresh ? word : ` ${word}`;
      fresh = false;
    }
    out.push(line);
  }
  return out.join('\n');
}

const USAGE = `usage: lwt-sidecar serve --config FILE [options]

Serve the lwt-wsapi requests Apache forwards with mod_proxy (see deploy/apache/).

${optionColumns()}
`;

function int(values: Record<string, unknown>, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v)) {
    throw new SidecarError('LWT_OPTION_INVALID', `--${name} must be a non-negative integer (got '${String(v)}')`);
  }
  return Number(v);
}

/** SIGHUPs that arrive before the reloader exists wait for it; after stopping begins they are ignored. */
interface HupQueue {
  pending: boolean;
  reload: (() => void) | null;
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  // SIGHUP's default action ends the process, and start-up (loading, listening, the first
  // watch scan) takes a while: catch it from the first moment, as httpd does once started.
  const hups: HupQueue = { pending: false, reload: null };
  const hup = () => {
    if (hups.reload) hups.reload();
    else hups.pending = true;
  };
  process.on('SIGHUP', hup);
  try {
    return await serve(args, io, hups);
  } finally {
    process.off('SIGHUP', hup);
  }
}

async function serve(args: string[], io: CommandIO, hups: HupQueue): Promise<number> {
  const { values } = parseCommandArgs(args, OPTIONS, false);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const loadOptions = loadOptionsFrom(values);
  const logger = createLogger({
    level: parseLogLevel(values['log-level'] ?? 'notice'),
    format: parseLogFormat(values['log-format'] ?? 'text'),
    ...(values['log-file'] ? { file: values['log-file'] } : { stream: { write: (s: string) => io.stderr.write(s) } }),
    ...(values['access-log'] ? { accessFile: values['access-log'] } : {}),
  });
  const snapshot = loadSnapshot(loadOptions);
  const sig = values['server-signature'];
  const sidecar = createSidecar({
    snapshot,
    logger,
    ...(values.listen !== undefined ? { listen: values.listen } : {}),
    ...(values.workers !== undefined ? { workers: int(values, 'workers') } : {}),
    ...(values.queue !== undefined ? { queueLimit: int(values, 'queue') } : {}),
    ...(values['cpu-limit-ms'] !== undefined ? { cpuLimitMs: int(values, 'cpu-limit-ms') } : {}),
    ...(values['max-body'] !== undefined ? { maxBodyBytes: parseSize('--max-body', values['max-body']) } : {}),
    ...(values['idle-timeout-ms'] !== undefined ? { idleTimeoutMs: int(values, 'idle-timeout-ms') } : {}),
    ...(values['stop-timeout-ms'] !== undefined ? { stopTimeoutMs: int(values, 'stop-timeout-ms') } : {}),
    ...(values['trusted-proxy'] !== undefined ? { trustedProxies: values['trusted-proxy'] } : {}),
    ...(values['scheme-header'] !== undefined ? { schemeHeader: values['scheme-header'] } : {}),
    ...(values['port-header'] !== undefined ? { portHeader: values['port-header'] } : {}),
    ...(values['request-line-header'] !== undefined ? { requestLineHeader: values['request-line-header'] } : {}),
    ...(values['user-header'] !== undefined ? { userHeader: values['user-header'] } : {}),
    ...(values['auth-type-header'] !== undefined ? { authTypeHeader: values['auth-type-header'] } : {}),
    apacheChecksAccess: values['apache-checks-access'] === true,
    ...(values['server-software'] !== undefined ? { serverSoftware: values['server-software'] } : {}),
    ...(values['server-addr'] !== undefined ? { serverAddr: values['server-addr'] } : {}),
    ...(sig !== undefined ? { serverSignature: sig.toLowerCase() as 'on' | 'off' | 'email' } : {}),
  });

  let address;
  try {
    address = await sidecar.listen();
  } catch (err) {
    await sidecar.destroy();
    throw err;
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.notice(`listening on http://${host}:${address.port}, configuration ${snapshot.config.configFile} `
    + `(generation ${snapshot.generation}), ${snapshot.scopes.length} lwt-wsapi scopes, ${sidecar.options.workers} workers`);
  if (snapshot.scopes.length === 0) logger.warn(`${snapshot.config.configFile}: no lwt-wsapi scopes: every request will get 404`);
  for (const d of snapshot.unsupportedAccess) {
    logger.warn(`${formatError(d)}: ${sidecar.options.apacheChecksAccess
      ? 'not checked by the sidecar (--apache-checks-access: Apache enforces it)'
      : 'cannot be checked by the sidecar; requests it protects get 403'}`);
  }
  for (const w of snapshot.warnings) logger.info(`warning: ${formatError(w)}`);

  // Hot reload (src/watch): each valid generation is swapped into the server.
  let watching;
  try {
    watching = await startWatching({
      loadOptions,
      initial: snapshot,
      onSnapshot: (s) => sidecar.setSnapshot(s),
      log: logger,
      watch: values['no-watch'] !== true,
      ...(values.admin !== undefined ? { admin: values.admin } : {}),
    });
  } catch (err) {
    await sidecar.destroy();
    throw err;
  }
  const reloader = watching.reloader;
  hups.reload = () => {
    reloader.reload('SIGHUP').catch(() => { /* reported by the reloader */ });
  };
  if (hups.pending) {
    logger.notice('SIGHUP received during start-up: reloading now');
    hups.reload();
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.notice(`${signal}: stopping (finishing ${sidecar.stats().inFlight} requests in flight)`);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      hups.reload = () => undefined;
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await watching.close();
  await sidecar.close();
  logger.notice('stopped');
  await logger.close();
  return 0;
}
