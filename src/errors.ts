/**
 * The one error registry. `code` is the contract: errors cross postMessage
 * between worker threads and lose their class, so callers test `err.code`.
 * Never reuse a retired code; add new ones in the section of their area.
 */

export const ErrorCodes = {
  // --- options and command line -------------------------------------------
  LWT_OPTION_INVALID: 'an option has an invalid value',
  LWT_USAGE: 'the command line is not understood',

  // --- Apache configuration: text, includes, variables (src/apache) -------
  LWT_CONF_SYNTAX: 'a configuration line cannot be parsed',
  LWT_CONF_SECTION_UNCLOSED: 'a <Section> has no matching close',
  LWT_CONF_SECTION_MISMATCH: 'a </Section> closes a section that is not open',
  LWT_CONF_INCLUDE_MISSING: 'an Include target does not exist',
  LWT_CONF_INCLUDE_UNREADABLE: 'an included file cannot be read',
  LWT_CONF_INCLUDE_LOOP: 'an Include includes itself',
  LWT_CONF_VARIABLE: 'a ${VAR} reference is invalid',
  LWT_CONF_CONDITION: 'a conditional section is invalid',
  LWT_CONF_SERVER_ROOT: 'ServerRoot is not a directory',
  LWT_CONF_ENVVARS: 'the envvars file cannot be read',

  // --- semantic model and directive arguments (src/scopes) -----------------
  LWT_CONF_ARGS: 'a directive has the wrong number or kind of arguments',
  LWT_CONF_CONTEXT: 'a directive is not allowed in this context',
  LWT_CONF_REGEX: 'a regular expression cannot be compiled',
  LWT_CONF_LUA_PATH: 'a LuaPath/LuaCPath value is invalid',
  LWT_CONF_LUA_SIZE: 'a Lua size limit is invalid',
  LWT_CONF_ACCESS: 'an access-control directive is invalid',

  // --- Lua runtime (src/lua) ----------------------------------------------
  LWT_LUA_STATE: 'a Lua state cannot be created',
  LWT_LUA_CONNECTOR: 'the WSAPI connector cannot be loaded or run',
  LWT_LUA_RUNTIME: 'a Lua runtime error ended the request',
  LWT_LUA_MEMORY: 'the request exceeded LuaMemoryLimit',
  LWT_LUA_CPU: 'the request exceeded its CPU time limit',
  LWT_LUA_EXIT: 'the script called os.exit',
  LWT_LUA_C_MODULE: 'a C module cannot be loaded in the sidecar',

  // --- workers and server (src/workers, src/server) -----------------------
  LWT_WORKER_DIED: 'the worker running the request died',
  LWT_QUEUE_FULL: 'every worker is busy and the queue is full',
  LWT_BODY_TOO_LARGE: 'the request body exceeds the limit',
  LWT_BAD_REQUEST: 'the request cannot be mapped',
  LWT_CLOSED: 'the resource was closed',

  // --- reload (src/watch) --------------------------------------------------
  LWT_RELOAD_FAILED: 'a configuration reload failed; the last good generation keeps serving',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** The plain form of an error: what crosses postMessage and what --json prints. */
export interface ErrorShape {
  code: ErrorCode;
  message: string;
  file?: string;
  line?: number;
}

export class SidecarError extends Error implements ErrorShape {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly line?: number;

  constructor(code: ErrorCode, message: string, where?: { file?: string; line?: number }, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'SidecarError';
    this.code = code;
    if (where?.file !== undefined) this.file = where.file;
    if (where?.line !== undefined) this.line = where.line;
  }

  /** `file:line: message` for positional errors, the bare message otherwise. */
  override toString(): string {
    return formatError(this);
  }

  toJSON(): ErrorShape {
    return toShape(this);
  }
}

/** A configuration error at a position: prints as httpd-style `file:line: message`. */
export function confError(code: ErrorCode, message: string, file: string, line: number, cause?: unknown): SidecarError {
  return new SidecarError(code, message, { file, line }, cause);
}

export function formatError(e: { message: string; file?: string; line?: number }): string {
  if (e.file !== undefined && e.line !== undefined) return `${e.file}:${e.line}: ${e.message}`;
  if (e.file !== undefined) return `${e.file}: ${e.message}`;
  return e.message;
}

export function toShape(e: ErrorShape): ErrorShape {
  const out: ErrorShape = { code: e.code, message: e.message };
  if (e.file !== undefined) out.file = e.file;
  if (e.line !== undefined) out.line = e.line;
  return out;
}

export function isSidecarError(e: unknown): e is ErrorShape {
  return typeof e === 'object' && e !== null && typeof (e as ErrorShape).code === 'string'
    && (e as ErrorShape).code in ErrorCodes && typeof (e as ErrorShape).message === 'string';
}

/** A warning: an unsupported or suspicious construct that does not stop loading. */
export interface Diagnostic {
  message: string;
  file?: string;
  line?: number;
}
