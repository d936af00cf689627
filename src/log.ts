/**
 * The operator's logs: an error log (levels, text or JSON lines, stderr or a
 * file) and an optional access log in Apache's combined format. Lines are
 * written with one write call each so concurrent writers never interleave
 * within a line.
 */

import * as fs from 'node:fs';
import { SidecarError } from './errors';
import type { LogLevel } from './lua/types';

export type { LogLevel };
export type LogFormat = 'text' | 'json';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, notice: 30, warn: 40, error: 50 };
export const LOG_LEVELS = Object.keys(LEVEL_RANK) as LogLevel[];

/** Who a line is about; every field optional. */
export interface LogFields {
  client?: string;
  script?: string;
  [key: string]: string | number | boolean | undefined;
}

export interface Writable {
  write(s: string): unknown;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Error-log file; stderr when absent. */
  file?: string;
  /** Access-log file; no access log when absent. */
  accessFile?: string;
  /** Stream to write to instead of stderr/file (tests, CommandIO). */
  stream?: Writable;
}

/** One finished request, as the access log records it. */
export interface AccessEntry {
  client: string;
  time: Date;
  method: string;
  target: string;
  protocol: string;
  status: number;
  bytes: number;
  referer?: string;
  userAgent?: string;
  durationMs: number;
}

export interface Logger {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  notice(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  access(entry: AccessEntry): void;
  close(): Promise<void>;
}

export function parseLogLevel(value: string, option = '--log-level'): LogLevel {
  if ((LOG_LEVELS as string[]).includes(value)) return value as LogLevel;
  throw new SidecarError('LWT_OPTION_INVALID', `${option} must be one of ${LOG_LEVELS.join(', ')} (got '${value}')`);
}

export function parseLogFormat(value: string, option = '--log-format'): LogFormat {
  if (value === 'text' || value === 'json') return value;
  throw new SidecarError('LWT_OPTION_INVALID', `${option} must be text or json (got '${value}')`);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'notice';
  const format = opts.format ?? 'text';
  const min = LEVEL_RANK[level];
  const files: fs.WriteStream[] = [];
  const open = (file: string): Writable => {
    const s = fs.createWriteStream(file, { flags: 'a' });
    s.on('error', (err) => process.stderr.write(`lwt-sidecar: cannot write log ${file}: ${err.message}\n`));
    files.push(s);
    return s;
  };
  const out: Writable = opts.stream ?? (opts.file ? open(opts.file) : process.stderr);
  const accessOut: Writable | null = opts.accessFile ? open(opts.accessFile) : null;
  let closing: Promise<void> | null = null;

  const log = (lvl: LogLevel, message: string, fields?: LogFields): void => {
    if (LEVEL_RANK[lvl] < min) return;
    const time = new Date();
    if (format === 'json') {
      const rec: Record<string, unknown> = { time: time.toISOString(), level: lvl, message };
      if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) rec[k] = v;
      out.write(JSON.stringify(rec) + '\n');
      return;
    }
    // Text lines follow httpd's error-log layout: [time] [level] [client addr] message.
    let line = `[${time.toISOString()}] [${lvl}]`;
    if (fields?.client) line += ` [client ${oneLine(String(fields.client))}]`;
    line += ` ${oneLine(message)}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (k !== 'client' && v !== undefined) line += ` [${k}=${oneLine(String(v))}]`;
      }
    }
    out.write(line + '\n');
  };

  return {
    level,
    enabled: (lvl) => LEVEL_RANK[lvl] >= min,
    log,
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    notice: (m, f) => log('notice', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    access(e) {
      if (!accessOut) return;
      if (format === 'json') {
        accessOut.write(JSON.stringify({ ...e, time: e.time.toISOString() }) + '\n');
        return;
      }
      accessOut.write(formatCombined(e) + '\n');
    },
    close() {
      closing ??= Promise.all(files.map((s) => new Promise<void>((resolve) => s.end(resolve)))).then(() => undefined);
      return closing;
    },
  };
}

/** Apache's combined format: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" (plus %D µs at the end). */
export function formatCombined(e: AccessEntry): string {
  const q = (s: string | undefined) => (s === undefined || s === '' ? '-' : escapeLogValue(s));
  return `${e.client} - - [${clfTime(e.time)}] "${escapeLogValue(`${e.method} ${e.target} ${e.protocol}`)}" `
    + `${e.status} ${e.bytes === 0 ? '-' : e.bytes} "${q(e.referer)}" "${q(e.userAgent)}" ${Math.round(e.durationMs * 1000)}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function clfTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return `${p(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} `
    + `${sign}${p(Math.floor(abs / 60))}${p(abs % 60)}`;
}

/** httpd escapes quotes, backslashes and control characters in logged request data (ap_escape_logitem). */
function escapeLogValue(s: string): string {
  return s.replace(/[\\"\x00-\x1f\x7f]/g, (c) => {
    if (c === '"') return '\\"';
    if (c === '\\') return '\\\\';
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** Keep one record per line: a traceback's newlines become `\n`, as httpd's error log does. */
function oneLine(s: string): string {
  return s.includes('\n') || s.includes('\r') ? s.replace(/\r?\n/g, '\\n').replace(/\r/g, '\\r') : s;
}
