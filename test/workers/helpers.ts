import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { ErrorShape } from '../../src/errors';
import type { LuaJob } from '../../src/lua/types';
import { DEFAULT_POOL_OPTIONS, WorkerPool, type OutputMessage, type PoolOptions } from '../../src/workers';

export const APP = path.resolve(__dirname, '../../../test/server/fixtures/site/app');
export const OWN_FIXTURES = path.resolve(__dirname, '../../../test/workers/fixtures');

let nextId = 1;
/** A GET job for `script` in the server's fixture site, or an absolute path. */
export function job(script: string, memoryLimit = 64 * 1024 * 1024): LuaJob {
  const filename = path.resolve(APP, script);
  // WSAPI finds the script from DOCUMENT_ROOT + SCRIPT_NAME: the script's folder is the one URL segment.
  const uri = `/${path.basename(path.dirname(filename))}/${path.basename(filename)}`;
  return {
    id: nextId++,
    filename,
    env: {
      SCRIPT_NAME: uri, SCRIPT_FILENAME: filename, REQUEST_METHOD: 'GET', QUERY_STRING: '',
      PATH_INFO: '', SERVER_NAME: 'localhost', SERVER_PORT: '80', DOCUMENT_ROOT: path.dirname(path.dirname(filename)),
    },
    luaPath: null,
    luaCPath: null,
    memoryLimit,
    request: {
      uri, protocol: 'HTTP/1.1', hostname: 'localhost', path: uri, pathInfo: '',
      args: null, method: 'GET', filename, localIp: '127.0.0.1', remoteIp: '127.0.0.1', headersIn: [],
    },
    body: new Uint8Array(0),
  };
}

export interface Outcome {
  status?: number;
  body: Buffer;
  ok?: boolean;
  /** The failure: the worker's (failed) or the runtime's (done with ok false). */
  error?: ErrorShape;
  logs: string[];
}

/** Run a job to its end, acknowledging output at once (a fast client). */
export function runToEnd(pool: WorkerPool, j: LuaJob): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const out: Outcome = { body: Buffer.alloc(0), logs: [] };
    const handle = pool.run(j, {
      output(msg: OutputMessage) {
        if (msg.head) out.status = msg.head.status;
        for (const c of msg.chunks) chunks.push(Buffer.from(c));
        for (const [, m] of msg.logs) out.logs.push(m);
        if (msg.done) {
          out.ok = msg.done.ok;
          if (msg.done.error) out.error = msg.done.error;
          out.body = Buffer.concat(chunks);
          resolve(out);
        } else handle.ack(msg.bytes);
      },
      failed(error) {
        out.error = error;
        out.body = Buffer.concat(chunks);
        resolve(out);
      },
    });
  });
}

export function makePool(over: Partial<PoolOptions>): WorkerPool {
  return new WorkerPool({ ...DEFAULT_POOL_OPTIONS, workers: 2, runtime: { cpuLimitMs: 30_000 }, ...over });
}

/** The pool's private view of a worker, for tests that must know where a job went. */
export interface SlotView {
  readonly worker: Worker;
  readonly flow: Int32Array;
  readonly heapLimitMb: number;
  readonly task: { readonly job: LuaJob } | null;
  readonly next: { readonly job: LuaJob } | null;
  readonly ready: boolean;
}

export function slotsOf(pool: WorkerPool): SlotView[] {
  return [...(pool as unknown as { slots: Set<SlotView> }).slots];
}

/** Poll until `cond` holds; fail with `what` after `ms`. */
export async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
