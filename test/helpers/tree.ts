/** Temporary file trees on disk, one per test (HOUSE-STYLE: fixtures on disk, temp directories per test). */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A fresh directory under the system temp dir, by its real path (macOS and some CI mount /tmp through a link). */
export function tempDir(prefix: string): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

/** Write `files` (relative path → content; a trailing `/` makes an empty directory) under `root`. */
export function writeTree(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(root, rel);
    if (rel.endsWith('/')) {
      fs.mkdirSync(p, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
}

export function removeTree(root: string): void {
  fs.rmSync(root, { recursive: true, force: true });
}
