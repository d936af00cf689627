/**
 * The request pipeline: an explicit, ordered list of small passes over one
 * RequestContext (node-http-proxy's `passes/`). A pass returns a Reply to
 * stop with an Apache error document; the last step runs the script.
 */

import type { Reply, RequestContext, Pass } from './context';
import { accessPass, bodyPass, forwardedPass, jobPass, resolvePass, targetPass } from './passes';
import { dispatch, sendError } from './respond';

export const PIPELINE: readonly Pass[] = Object.freeze([
  forwardedPass, // (a) client address, scheme, Host, headers the client sent
  targetPass, // (b) decode + normalise the path; refuse traversal
  resolvePass, // (c) snapshot → file, PATH_INFO, handler (404 unless lwt-wsapi)
  accessPass, // (d) <Directory>/<Files> access rules Apache skips for proxied URLs (403)
  bodyPass, // (e) bounded request body (413)
  jobPass, // (f) CGI environment → LuaJob
]);

/** Run the passes, then (g) dispatch to the pool and (h) write the response. */
export async function handleRequest(ctx: RequestContext, passes: readonly Pass[] = PIPELINE): Promise<void> {
  try {
    for (const pass of passes) {
      let reply: Reply | undefined | Promise<Reply | undefined> = pass(ctx);
      if (reply instanceof Promise) reply = await reply;
      if (reply) {
        sendError(ctx, reply);
        return;
      }
    }
    await dispatch(ctx);
  } catch (err) {
    // A bug in the sidecar, not in the script: log it with its stack, answer 500.
    ctx.opts.logger.error(`internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    sendError(ctx, { status: 500, reason: 'internal error' });
  }
}
