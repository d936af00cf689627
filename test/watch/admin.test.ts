import { strict as assert } from 'node:assert';
import { parseAdminAddress } from '../../src/watch/admin';

describe('watch/admin: --admin ADDR', () => {
  const accepted: Array<[string, string, number]> = [
    ['127.0.0.1:8071', '127.0.0.1', 8071],
    ['127.1.2.3:0', '127.1.2.3', 0],
    ['[::1]:8071', '::1', 8071],
    ['localhost:9000', 'localhost', 9000],
    ['8071', '127.0.0.1', 8071],
  ];
  for (const [value, host, port] of accepted) {
    it(`listens on ${host} port ${port} for ${value}`, () => {
      assert.deepEqual(parseAdminAddress(value), { host, port });
    });
  }

  const refused: Array<[string, RegExp]> = [
    ['0.0.0.0:8071', /must listen on loopback/],
    ['[::]:8071', /must listen on loopback/],
    ['192.168.1.10:8071', /must listen on loopback/],
    ['example.org:8071', /must listen on loopback/],
    ['127.0.0.1', /must be HOST:PORT/],
    ['127.0.0.1:70000', /must be HOST:PORT/],
    ['', /must be HOST:PORT/],
  ];
  for (const [value, message] of refused) {
    it(`refuses '${value}' with LWT_OPTION_INVALID naming --admin`, () => {
      assert.throws(() => parseAdminAddress(value), (e: { code?: string; message?: string }) =>
        e.code === 'LWT_OPTION_INVALID' && (e.message ?? '').startsWith('--admin ') && message.test(e.message ?? ''));
    });
  }
});
