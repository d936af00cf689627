/**
 * The one typed context every pass of the request pipeline reads and fills
 * (node-http-proxy's passes over a shared request). Fields are filled in
 * pipeline order; a pass may only read what an earlier pass set.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode } from '../errors';
import type { LuaJob } from '../lua/types';
import type { Resolution, Snapshot } from '../scopes/types';
import type { WorkerPool } from '../workers';
import type { ClientView } from './forwarded';
import type { ResolvedOptions } from './options';
import type { SignatureInfo } from './status';
import type { RequestTarget } from './target';

/** What a pass returns to end the request early with an Apache error document. */
export interface Reply {
  readonly status: number;
  /** Why, for the log (never shown to the client). */
  readonly reason: string;
  /** Log the reason at this level (default: debug). */
  readonly level?: 'debug' | 'info' | 'warn' | 'error';
  /** The registry code, logged after the reason as ` [CODE]` (as respond.ts logs a failed job). */
  readonly code?: ErrorCode;
}

export interface RequestContext {
  readonly id: number;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly opts: ResolvedOptions;
  /** Captured once at request start: one configuration generation from start to end. */
  readonly snapshot: Snapshot;
  readonly pool: WorkerPool;
  readonly startedAt: number;
  /** The client sent `Expect: 100-continue` and waits for `100 Continue` before its body. */
  readonly expectsContinue: boolean;
  client?: ClientView;
  target?: RequestTarget;
  resolution?: Resolution;
  /** For SERVER_SIGNATURE and error documents. */
  signature?: SignatureInfo;
  body?: Uint8Array;
  job?: LuaJob;
  /** What was sent, for the access log. */
  status: number;
  bytesSent: number;
}

/** One step of the pipeline: undefined to go on, a Reply to stop. */
export type Pass = (ctx: RequestContext) => Reply | undefined | Promise<Reply | undefined>;

/** Fields a pass relies on, with a clear failure if the pipeline order is wrong. */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`request pipeline: ${what} is not set yet`);
  return value;
}
