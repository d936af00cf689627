/**
 * Shared helpers for the Apache layer tests: fixture paths, temporary trees,
 * and running Debian's real apache2 as the oracle.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'httpd-conf');

/** Write `files` (relative path -> content) under a fresh temporary directory and return it. */
export function tempTree(files: Record<string, string>): string {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-apache-')));
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
  return root;
}

export function removeTree(root: string): void {
  fs.rmSync(root, { recursive: true, force: true });
}

export interface HttpdRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** `apache2 -t` with extra arguments and environment; never throws on a non-zero exit. */
export function runHttpd(args: readonly string[], env: Record<string, string> = {}, command = 'apache2'): HttpdRun {
  const r = spawnSync(command, ['-t', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20000,
  });
  if (r.error !== undefined) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The files listed by `-D DUMP_INCLUDES`, in order. Each line is
 * `  (*) /main.conf` or, indented two spaces per include level, `(N) /file`
 * where N is a line number we do not compare (httpd prints the line of the
 * last Include it read, not always the one that included the file).
 */
export function parseDumpIncludes(stdout: string): Array<{ file: string; depth: number }> {
  const out: Array<{ file: string; depth: number }> = [];
  for (const line of stdout.split('\n')) {
    const m = /^( *)\((?:\*|\d+)\) (.+)$/.exec(line);
    if (m !== null) out.push({ file: m[2]!, depth: m[1]!.length / 2 - 1 });
  }
  return out;
}

/** The innermost `Syntax error on line N of FILE` in httpd's message. */
export function httpdErrorSite(stderr: string): { file: string; line: number } | undefined {
  let last: { file: string; line: number } | undefined;
  for (const m of stderr.matchAll(/Syntax error on line (\d+) of ([^:\n]+):/g)) {
    last = { file: m[2]!, line: Number(m[1]) };
  }
  return last;
}

/** Assert-friendly capture of a thrown error. */
export function thrown(fn: () => unknown): { code?: string; message: string; file?: string; line?: number } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string; file?: string; line?: number };
  }
  throw new Error('expected an error, none was thrown');
}
