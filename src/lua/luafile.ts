/**
 * A C-stdio-like stream under Lua's FILE* handles: buffered reads (chunks,
 * never one byte per syscall), buffered writes with setvbuf's three modes,
 * and a logical position kept across both, so `r+`/`w+`/`a+` files can mix
 * reads, writes and seeks as with glibc (which needs an fseek between them;
 * we switch direction automatically). Backed by a file descriptor (node:fs,
 * sync) or by JS callbacks (httpd.input over the request body, httpd.output to
 * the response sink, the captured standard files). Knows nothing of Lua.
 */

import * as fs from 'node:fs';
import type { StateContext } from './context';
import { osError } from './oserror';

/**
 * A path a script gave, made absolute against the state's working directory
 * by plain joining, not normalising: the kernel must see "." and ".." as the
 * C calls did (rmdir(".") is EINVAL, "link/.." follows the link). "" stays
 * invalid (ENOENT) as it is for the C calls.
 */
export function statePath(ctx: StateContext, name: Uint8Array): Buffer {
  // The C calls see a C string: a Lua string with NUL names only what comes before it.
  const nul = name.indexOf(0);
  const p = nul >= 0 ? name.subarray(0, nul) : name;
  if (p.length === 0) throw osError('ENOENT');
  // Bytes, not a decoded string: a Lua path may be any byte sequence.
  // A view, not a copy: Lua strings are never mutated, and fs copies the path itself.
  if (p[0] === 47 /* '/' */) return Buffer.from(p.buffer, p.byteOffset, p.length);
  return Buffer.concat([Buffer.from(ctx.cwd.endsWith('/') ? ctx.cwd : `${ctx.cwd}/`), p]);
}

export type BufferMode = 'no' | 'full' | 'line';

/** Callbacks behind a non-fd stream. A callback may throw an Error with a POSIX `code` (e.g. 'EBADFD'); Lua sees `nil, strerror, errno`. */
export interface StreamCallbacks {
  /** Up to maxBytes more bytes; null (or empty) at end of input. */
  read?: (maxBytes: number) => Uint8Array | null;
  write?: (bytes: Uint8Array) => void;
  close?: () => void;
}

export interface FdSpec {
  fd: number;
  readable: boolean;
  writable: boolean;
  append: boolean;
}

const READ_CHUNK = 65536;
/** glibc's BUFSIZ: when a fully buffered write reaches the file. */
const DEFAULT_WRITE_BUFFER = 8192;
const EMPTY = new Uint8Array(0);
const LF = 10;

export class FileStream {
  closed = false;
  /** Standard files refuse close() (Lua's io_noclose). */
  noClose = false;
  private bufMode: BufferMode;
  private bufSize = DEFAULT_WRITE_BUFFER;
  private rbuf: Uint8Array = EMPTY;
  private rpos = 0;
  private rend = 0;
  private wparts: Uint8Array[] = [];
  private wlen = 0;
  /** fd offset of the byte after the read buffer (reading) or where the write buffer goes (writing). */
  private offset = 0;
  private seekable: boolean;
  private ownBuf: Buffer | null = null;

  private constructor(
    private readonly fdSpec: FdSpec | null,
    private readonly cb: StreamCallbacks | null,
    mode: BufferMode,
  ) {
    this.bufMode = mode;
    this.seekable = fdSpec !== null;
  }

  static fromFd(spec: FdSpec): FileStream {
    return new FileStream(spec, null, 'full');
  }

  /** Callback streams default to unbuffered (mod_lwt's httpd.output called ap_rwrite for every write, mod_lwt.md §5.4). */
  static fromCallbacks(cb: StreamCallbacks, mode: BufferMode = 'no'): FileStream {
    return new FileStream(null, cb, mode);
  }

  get hasFd(): boolean {
    return this.fdSpec !== null;
  }

  get canRead(): boolean {
    return this.fdSpec !== null ? this.fdSpec.readable : this.cb?.read !== undefined;
  }

  get canWrite(): boolean {
    return this.fdSpec !== null ? this.fdSpec.writable : this.cb?.write !== undefined;
  }

  // ---- reading -------------------------------------------------------

  /** One line; the newline is kept when keepNewline. null at end of file with nothing read. */
  readLine(keepNewline: boolean): Uint8Array | null {
    this.beginRead();
    const parts: Uint8Array[] = [];
    for (;;) {
      if (this.rpos === this.rend && !this.fill()) break;
      const nl = indexOfByte(this.rbuf, LF, this.rpos, this.rend);
      if (nl >= 0) {
        parts.push(this.rbuf.subarray(this.rpos, keepNewline ? nl + 1 : nl));
        this.rpos = nl + 1;
        return concat(parts);
      }
      // The next fill reuses the buffer: keep a copy of a partial line.
      parts.push(this.rbuf.slice(this.rpos, this.rend));
      this.rpos = this.rend;
    }
    return parts.length === 0 ? null : concat(parts);
  }

  /** Everything up to end of file ("" at EOF, never null). */
  readAll(): Uint8Array {
    this.beginRead();
    const parts: Uint8Array[] = [this.rbuf.slice(this.rpos, this.rend)];
    this.rpos = this.rend;
    if (this.fdSpec !== null && this.seekable) {
      // A regular file's remainder in one read of size+1: coming up short is EOF, so no extra probe or chunk buffer.
      // Files that grow, pipes and /proc (size 0) continue chunk by chunk below.
      const st = fs.fstatSync(this.fdSpec.fd);
      const want = st.size - this.offset + 1;
      if (st.isFile() && want > 0) {
        const big = Buffer.allocUnsafe(want);
        let got = 0;
        while (got < want) {
          const n = this.rawRead(big, got, want - got);
          if (n === 0) break;
          got += n;
        }
        parts.push(big.subarray(0, got));
        if (got < want) return concat(parts);
      }
    }
    while (this.fill()) {
      parts.push(this.rbuf.slice(this.rpos, this.rend));
      this.rpos = this.rend;
    }
    return concat(parts);
  }

  /** Up to n bytes; null at end of file. */
  readChars(n: number): Uint8Array | null {
    this.beginRead();
    const parts: Uint8Array[] = [];
    let want = n;
    while (want > 0) {
      if (this.rpos === this.rend && !this.fill()) break;
      const take = Math.min(want, this.rend - this.rpos);
      parts.push(this.rbuf.slice(this.rpos, this.rpos + take));
      this.rpos += take;
      want -= take;
    }
    return parts.length === 0 ? null : concat(parts);
  }

  /** read(0): whether more input exists. */
  atEof(): boolean {
    this.beginRead();
    return this.rpos === this.rend && !this.fill();
  }

  /** Next byte without consuming it, -1 at EOF (for read("n")). */
  peekByte(): number {
    this.beginRead();
    if (this.rpos === this.rend && !this.fill()) return -1;
    return this.rbuf[this.rpos];
  }

  skipByte(): void {
    this.rpos++;
  }

  // ---- writing -------------------------------------------------------

  write(bytes: Uint8Array): void {
    this.checkOpen();
    if (!this.canWrite) throw osError('EBADF');
    if (this.rpos < this.rend) {
      // Switching from reading to writing: the write lands where reading stopped.
      this.offset -= this.rend - this.rpos;
      this.rpos = this.rend = 0;
    }
    if (bytes.length === 0) return;
    this.wparts.push(bytes);
    this.wlen += bytes.length;
    if (
      this.bufMode === 'no' ||
      (this.bufMode === 'full' && this.wlen >= this.bufSize) ||
      (this.bufMode === 'line' && bytes.includes(LF))
    ) {
      this.flush();
    }
  }

  flush(): void {
    if (this.wlen === 0) return;
    const data = concat(this.wparts);
    this.wparts = [];
    this.wlen = 0;
    if (this.cb !== null) {
      this.cb.write?.(data);
      return;
    }
    const spec = this.fdSpec as FdSpec;
    let done = 0;
    while (done < data.length) {
      done += fs.writeSync(spec.fd, data, done, data.length - done, spec.append || !this.seekable ? null : this.offset + done);
    }
    this.offset = spec.append && this.seekable ? fs.fstatSync(spec.fd).size : this.offset + done;
  }

  // ---- position, buffering, closing ---------------------------------

  /** fseek + ftell: the new absolute position. */
  seek(whence: 'set' | 'cur' | 'end', off: number): number {
    this.checkOpen();
    if (!this.seekable || this.fdSpec === null) throw osError('ESPIPE');
    this.flush();
    const base =
      whence === 'set' ? 0 : whence === 'cur' ? this.offset - (this.rend - this.rpos) : fs.fstatSync(this.fdSpec.fd).size;
    const target = base + off;
    if (target < 0) throw osError('EINVAL');
    this.offset = target;
    this.rpos = this.rend = 0;
    return target;
  }

  setvbuf(mode: BufferMode, size: number): void {
    this.checkOpen();
    this.flush();
    this.bufMode = mode;
    if (size > 0) this.bufSize = size;
  }

  /** Flushes, then releases the fd or tells the callbacks. A flush error is thrown after the fd is released (as fclose does). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    let failure: unknown = null;
    try {
      this.flush();
    } catch (e) {
      failure = e;
    }
    this.rbuf = EMPTY;
    this.rpos = this.rend = 0;
    if (this.fdSpec !== null) fs.closeSync(this.fdSpec.fd);
    else this.cb?.close?.();
    if (failure !== null) throw failure;
  }

  private checkOpen(): void {
    if (this.closed) throw osError('EBADF');
  }

  private beginRead(): void {
    this.checkOpen();
    if (!this.canRead) throw osError('EBADF');
    this.flush();
  }

  /** Refill an empty read buffer; false at EOF. */
  private fill(): boolean {
    if (this.cb !== null) {
      const chunk = this.cb.read?.(READ_CHUNK) ?? null;
      if (chunk === null || chunk.length === 0) return false;
      this.rbuf = chunk;
      this.rpos = 0;
      this.rend = chunk.length;
      return true;
    }
    if (this.ownBuf === null) this.ownBuf = Buffer.allocUnsafe(READ_CHUNK);
    const n = this.rawRead(this.ownBuf, 0, READ_CHUNK);
    this.rbuf = this.ownBuf;
    this.rpos = 0;
    this.rend = n;
    return n > 0;
  }

  private rawRead(into: Uint8Array, at: number, len: number): number {
    const fd = (this.fdSpec as FdSpec).fd;
    let n: number;
    try {
      n = fs.readSync(fd, into, at, len, this.seekable ? this.offset : null);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ESPIPE') throw e;
      // A pipe or terminal opened by name: read sequentially.
      this.seekable = false;
      n = fs.readSync(fd, into, at, len, null);
    }
    this.offset += n;
    return n;
  }
}

function indexOfByte(buf: Uint8Array, byte: number, from: number, to: number): number {
  const i = buf.indexOf(byte, from);
  return i >= 0 && i < to ? i : -1;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const nonEmpty = parts.length === 1 ? parts : parts.filter((p) => p.length > 0);
  if (nonEmpty.length === 0) return EMPTY;
  if (nonEmpty.length === 1) return nonEmpty[0];
  return Buffer.concat(nonEmpty);
}
