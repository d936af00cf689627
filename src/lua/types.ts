/**
 * What one request hands to the Lua runtime, and how the runtime hands the
 * response back. A job is plain data (it crosses postMessage to a worker);
 * the sink is called synchronously while the script runs.
 */

import type { ErrorShape } from '../errors';

export type LogLevel = 'debug' | 'info' | 'notice' | 'warn' | 'error';

/** The `request` userdata of mod_lwt (mod_lwt.md §4), as plain data. */
export interface LuaRequestInfo {
  /** Raw request target, query included (REQUEST_URI). */
  readonly uri: string;
  readonly protocol: string;
  readonly hostname: string | null;
  /** Decoded URL path including path info (r->uri). Text: Lua sees its UTF-8 bytes (as for filename, pathInfo, hostname). */
  readonly path: string;
  readonly pathInfo: string;
  /** Raw query string, null when the URL has no `?`. */
  readonly args: string | null;
  readonly method: string;
  readonly filename: string;
  readonly localIp: string | null;
  readonly remoteIp: string | null;
  /** Request headers in arrival order, duplicates kept. */
  readonly headersIn: ReadonlyArray<readonly [string, string]>;
}

export interface LuaJob {
  readonly id: number;
  /** The file to run: its merged handler is lwt-wsapi (checked before a job exists). */
  readonly filename: string;
  /**
   * The CGI environment (mod_lwt.md §7), one value per key. Values are binary
   * strings (one char per byte, as Node's HTTP parser gives header values):
   * Lua sees exactly those bytes. Values decoded as text (PATH_INFO,
   * SCRIPT_NAME, SCRIPT_FILENAME, PATH_TRANSLATED, config values) must be
   * stored as their UTF-8 bytes: Buffer.from(s, 'utf8').toString('latin1').
   * The same holds for request.headersIn values.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Merged LuaPath/LuaCPath in stored form (`+` prefix kept), null when unset. */
  readonly luaPath: string | null;
  readonly luaCPath: string | null;
  /** LuaMemoryLimit in bytes. */
  readonly memoryLimit: number;
  readonly request: LuaRequestInfo;
  /** The whole request body (bounded before a job is made). */
  readonly body: Uint8Array;
}

/** Per-process runtime options (validated once, frozen). */
export interface RuntimeOptions {
  /** Lua 5.1 default package.path / cpath that `+` entries are appended to. */
  readonly defaultPath: string;
  readonly defaultCPath: string;
  /** Abort a request after this much CPU time in Lua (count hook + sentinel). */
  readonly cpuLimitMs: number;
  /** Share compiled chunks across states, keyed by file identity and mtime. */
  readonly chunkCache: boolean;
  /**
   * Log mod_lwt's `Request statistics [...]` line at info level after each
   * request (mod_lwt.md §3.4). Off when the log level hides info: measuring
   * CPU time costs a getrusage per request. Absent means on.
   */
  readonly logStatistics?: boolean;
}

/** Receives the response while the script runs. */
export interface ResponseSink {
  /** Called once, before the first body byte or at the end: status and headers (Content-Type included, duplicates kept; names and values are binary strings, the bytes the script gave, as Node writes header strings). */
  head(status: number, headers: ReadonlyArray<readonly [string, string]>): void;
  body(chunk: Uint8Array): void;
  log(level: LogLevel, message: string): void;
}

export interface RunResult {
  /** False for mod_lwt's C-level failures (the handler returned 500). WSAPI's own 500 page is ok: true. */
  readonly ok: boolean;
  /** Final status (what head() got, or 500 when ok is false and head() was never called). */
  readonly status: number;
  /** Whether head() was called. */
  readonly headSent: boolean;
  readonly error?: ErrorShape;
}
