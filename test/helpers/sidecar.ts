/**
 * `node bin/lwt-sidecar serve` as a child process for the end-to-end tests:
 * started on a free loopback port (deploy/stack.js), ready when its start-up
 * line names the listen address, stopped with SIGTERM (graceful) in `after`.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { useStarted } from './hooks';

const ROOT = path.resolve(__dirname, '..', '..', '..');
// deploy/stack.js: plain JavaScript shared with the demo and test/helpers/apache.ts.
const stack: { startSidecar(opts: SidecarStartOptions): Promise<SidecarProcess> } = require(path.join(ROOT, 'deploy', 'stack.js'));

export interface SidecarStartOptions {
  /** The Apache configuration the sidecar reads; default the bundled site. */
  config?: string;
  /** Extra `serve` arguments (`--workers 2`, `--cpu-limit-ms 500`, …). */
  args?: string[];
  env?: Record<string, string>;
  port?: number;
  timeoutMs?: number;
}

export interface SidecarProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Everything it printed so far (start-up line, logs). */
  output(): string;
  /** Resolves the output once it matches (logs are written asynchronously); rejects after timeoutMs (default 5 s). */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends the signal once (default SIGTERM) and resolves how it exited. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: string | null }>;
}

export async function startSidecar(opts: SidecarStartOptions = {}): Promise<SidecarProcess> {
  const cli = path.join(ROOT, 'dist', 'src', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: build first (npx tsc -p tsconfig.json)`);
  return stack.startSidecar(opts);
}

/** mocha hooks for a sidecar alone (requests sent straight to it, no Apache). */
export function useSidecar(opts: SidecarStartOptions = {}): { sidecar: SidecarProcess } {
  return useStarted('sidecar', () => startSidecar(opts));
}
