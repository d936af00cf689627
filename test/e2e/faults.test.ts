/**
 * Faults seen through the real Apache (issue 4, "How it is checked"): a slow
 * script does not hold up others, a runaway or allocating script is stopped
 * alone, and SIGTERM lets the request in flight finish. Ordering only, no
 * timing thresholds.
 */

import { strict as assert } from 'node:assert';
import { useStack } from '../helpers/apache';
import { startSidecar, type SidecarProcess } from '../helpers/sidecar';
import { get, type RawResponse } from './raw-http';

const later = <T>(ms: number, f: () => Promise<T>) => new Promise<T>((resolve, reject) => setTimeout(() => f().then(resolve, reject), ms));

describe('e2e: faults through Apache', function () {
  this.timeout(30_000);

  describe('with two workers and a 1 s CPU limit', () => {
    const stack = useStack({ sidecarArgs: ['--workers', '2', '--cpu-limit-ms', '1000'] });

    it('answers a fast request while a 2 s script runs', async () => {
      const order: string[] = [];
      const slow = get(stack.apache.port, '/e2e/slow.ws?ms=2000').then((r) => { order.push('slow'); return r; });
      const fast = later(200, () => get(stack.apache.port, '/hello.ws')).then((r) => { order.push('fast'); return r; });
      const [s, f] = await Promise.all([slow, fast]);
      // The 2 s script exceeds the 1 s limit or finishes; either way the fast one came first.
      assert.equal(f.status, 200);
      assert.ok([200, 500, 503].includes(s.status), `slow: ${s.status}`);
      assert.deepEqual(order, ['fast', 'slow']);
    });

    it('stops a `while true do pcall(...) end` script and answers the next request', async () => {
      const res = await get(stack.apache.port, '/e2e/pcall-loop.ws');
      assert.ok(res.status >= 500, `runaway script answered ${res.status}`);
      const next = await get(stack.apache.port, '/hello.ws');
      assert.equal(next.status, 200);
    });
  });

  describe('a script that allocates without bound', () => {
    // The CPU limit only bounds the test if the memory limit does not work.
    const stack = useStack({ sidecarArgs: ['--workers', '2', '--cpu-limit-ms', '3000'] });

    it('fails alone under the site\'s LuaMemoryLimit (32M); requests around it succeed', async () => {
      const [bad, good] = await Promise.all([
        get(stack.apache.port, '/e2e/alloc.ws', [], { timeoutMs: 20_000 }),
        later(100, () => get(stack.apache.port, '/hello.ws')),
      ]);
      assert.ok(bad.status >= 500, `allocating script answered ${bad.status}`);
      assert.equal(good.status, 200);
      const log = await stack.sidecar.waitForOutput(/alloc\.ws/);
      assert.match(log.split('\n').filter((l) => l.includes('alloc.ws')).join('\n'), /memory/i);
      const next = await get(stack.apache.port, '/hello.ws');
      assert.equal(next.status, 200);
    });
  });

  describe('SIGTERM', () => {
    const stack = useStack({ sidecarArgs: ['--workers', '2'] });
    let restarted: SidecarProcess | undefined;
    after(async () => { await restarted?.stop(); });

    it('completes the request in flight, then exits 0; Apache then answers 503', async () => {
      const inFlight: Promise<RawResponse> = get(stack.apache.port, '/e2e/slow.ws?ms=1500');
      // Wait until the sidecar has the request, then ask it to stop.
      await new Promise((r) => setTimeout(r, 400));
      const exited = stack.sidecar.stop('SIGTERM');
      const res = await inFlight;
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'slow done\n');
      assert.deepEqual(await exited, { code: 0, signal: null });
      const down = await get(stack.apache.port, '/hello.ws');
      assert.equal(down.status, 503);
    });

    it('is used again at once when restarted on the same port (retry=0 in the snippet)', async () => {
      restarted = await startSidecar({ config: stack.apache.configFile, port: stack.sidecar.port });
      const res = await get(stack.apache.port, '/hello.ws');
      assert.equal(res.status, 200);
    });
  });
});
