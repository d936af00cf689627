/**
 * Node fs errors as C Lua reports them: glibc's strerror text and the
 * numeric errno (Lua's io and LuaFileSystem return `nil, msg, errno`).
 * Node's own messages are libuv's ("illegal operation on a directory"),
 * which would make a migrated script print different bytes than under C Lua.
 */

import { constants } from 'node:os';

/** glibc 2.x strerror() for the errnos file code meets (Linux numbering). */
const GLIBC_STRERROR: Readonly<Record<number, string>> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  4: 'Interrupted system call',
  5: 'Input/output error',
  6: 'No such device or address',
  9: 'Bad file descriptor',
  11: 'Resource temporarily unavailable',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  14: 'Bad address',
  16: 'Device or resource busy',
  17: 'File exists',
  18: 'Invalid cross-device link',
  19: 'No such device',
  20: 'Not a directory',
  21: 'Is a directory',
  22: 'Invalid argument',
  23: 'Too many open files in system',
  24: 'Too many open files',
  25: 'Inappropriate ioctl for device',
  26: 'Text file busy',
  27: 'File too large',
  28: 'No space left on device',
  29: 'Illegal seek',
  30: 'Read-only file system',
  31: 'Too many links',
  32: 'Broken pipe',
  36: 'File name too long',
  37: 'No locks available',
  38: 'Function not implemented',
  39: 'Directory not empty',
  40: 'Too many levels of symbolic links',
  75: 'Value too large for defined data type',
  77: 'File descriptor in bad state',
  95: 'Operation not supported',
  122: 'Disk quota exceeded',
};

/** Codes Node's errno table lacks but the sidecar raises itself (EBADFD: mod_lwt's httpd.input without a body, mod_lwt.md §5.4). */
const EXTRA_CODES: Readonly<Record<string, number>> = { EBADFD: 77 };

export interface OsError {
  readonly errno: number;
  readonly message: string;
}

/** Map an exception from node:fs (or one a stream callback threw with a `code`) to errno + strerror. */
export function toOsError(e: unknown): OsError {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (typeof code === 'string') {
    const errno = (constants.errno as Record<string, number>)[code] ?? EXTRA_CODES[code];
    if (errno !== undefined) return { errno, message: strerror(errno) };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { errno: 5, message };
}

export function strerror(errno: number): string {
  return GLIBC_STRERROR[errno] ?? `Unknown error ${errno}`;
}

/** An Error carrying a POSIX code, for stream callbacks and internal checks. */
export function osError(code: string): Error & { code: string } {
  return Object.assign(new Error(code), { code });
}
