/**
 * Shared helpers for the Apache layer tests: fixture paths, temporary trees,
 * and running Debian's real apache2 as the oracle.
 */

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { removeTree, tempDir, writeTree } from '../helpers/tree';

export const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'httpd-conf');

export { removeTree };

/** Write `files` (relative path -> content) under a fresh temporary directory and return it. */
export function tempTree(files: Record<string, string>): string {
  const root = tempDir('lwt-apache-');
  writeTree(root, files);
  return root;
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
