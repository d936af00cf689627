import * as assert from 'node:assert/strict';
import { heapLimitMbFor, parseListen, parseSize, resolveOptions } from '../../src/server/options';

describe('server/options: validated once, frozen, units in the names', () => {
  it('defaults to loopback, one worker per core and a keep-alive timeout above Apache\'s ttl=60', () => {
    const o = resolveOptions({});
    assert.equal(o.host, '127.0.0.1');
    assert.equal(o.port, 8070);
    assert.ok(o.workers >= 1);
    assert.ok(o.idleTimeoutMs > 60_000);
    assert.equal(o.schemeHeader, 'x-forwarded-proto');
    assert.ok(Object.isFrozen(o));
  });

  it('parses --listen forms', () => {
    assert.deepEqual(parseListen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
    assert.deepEqual(parseListen('[::1]:8070'), { host: '::1', port: 8070 });
    assert.deepEqual(parseListen('9000'), { host: '127.0.0.1', port: 9000 });
    assert.throws(() => parseListen('host:70000'), /--listen must be HOST:PORT/);
  });

  it('names the option and the fix for a bad value', () => {
    assert.throws(() => resolveOptions({ workers: 0 }), (e: { code: string; message: string }) =>
      e.code === 'LWT_OPTION_INVALID' && /--workers must be an integer >= 1 \(got 0\)/.test(e.message));
    assert.throws(() => resolveOptions({ cpuLimitMs: 1.5 }), /--cpu-limit-ms must be an integer/);
    assert.throws(() => resolveOptions({ trustedProxies: ['somewhere'] }), /--trusted-proxy must be an IP address, a CIDR range or 'loopback'/);
    assert.throws(() => resolveOptions({ schemeHeader: 'X Proto' }), /--scheme-header must be a header name/);
  });

  it('reads sizes with K/M/G suffixes', () => {
    assert.equal(parseSize('--max-body', '10M'), 10 * 1024 * 1024);
    assert.equal(parseSize('--max-body', '512k'), 512 * 1024);
    assert.equal(parseSize('--max-body', '100'), 100);
    assert.throws(() => parseSize('--max-body', '1.5M'), /--max-body must be a size/);
  });

  it('sizes the worker heap from the largest LuaMemoryLimit plus a base', () => {
    assert.equal(heapLimitMbFor([], 64), 128);
    assert.equal(heapLimitMbFor([1024 * 1024], 64), 128);
    assert.equal(heapLimitMbFor([256 * 1024 * 1024 + 1], 64), 64 + 257);
  });
});
