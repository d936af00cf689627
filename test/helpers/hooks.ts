/**
 * mocha hooks for one long-lived process per suite: started in `before`, and
 * stopped in `after` whatever the tests did (undici's `after(() => close())`).
 * The returned object is filled in `before`.
 */

const HOOK_TIMEOUT_MS = 30_000;

export function useStarted<K extends string, P extends { stop(): Promise<unknown> }>(
  key: K, start: () => Promise<P>,
): { [k in K]: P } {
  const ctx = {} as { [k in K]: P };
  before(async function () {
    this.timeout(HOOK_TIMEOUT_MS);
    ctx[key] = await start();
  });
  after(async function () {
    this.timeout(HOOK_TIMEOUT_MS);
    await (ctx[key] as P | undefined)?.stop();
  });
  return ctx;
}
