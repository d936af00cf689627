/**
 * Forwarded headers count only from a peer the sidecar was told to trust.
 * The sidecar trusts 127.0.0.1 only; the attacker connects from 127.0.0.2
 * (another loopback address, bound with localAddress) and forges everything
 * Apache would set: X-Forwarded-For/-Host/-Proto, the client-port and the
 * request-line headers. The same headers from 127.0.0.1 are the control.
 */

import * as assert from 'node:assert/strict';
import { envOf, get, makeSite, serve, type Served, type Site } from './helpers';

const TRUSTED = '127.0.0.1';
const ATTACKER = '127.0.0.2';

describe('security: forwarded headers', function () {
  this.timeout(30_000);
  let site: Site;
  let sidecar: Served;
  before(async () => {
    site = makeSite();
    sidecar = await serve(site, ['--workers', '2', '--trusted-proxy', TRUSTED]);
  });
  after(async () => {
    await sidecar?.stop();
    site?.remove();
  });

  const env = async (from: string, headers: Array<[string, string]>) => {
    const r = await get(sidecar.port, '/env.ws', headers, { localAddress: from });
    assert.equal(r.status, 200, r.raw);
    return envOf(r.body);
  };

  describe('from an untrusted peer', () => {
    it('keeps REMOTE_ADDR the peer\'s address whatever X-Forwarded-For says, and passes the header on as the client\'s own', async () => {
      const e = await env(ATTACKER, [['X-Forwarded-For', '10.1.2.3']]);
      assert.equal(e.REMOTE_ADDR, ATTACKER);
      assert.equal(e.HTTP_X_FORWARDED_FOR, '10.1.2.3');
    });

    it('refuses a directory limited to 10.1.2.0/24 despite a forged X-Forwarded-For in it', async () => {
      for (const xff of ['10.1.2.3', '127.0.0.1, 10.1.2.3', '10.1.2.3, 10.1.2.3']) {
        const r = await get(sidecar.port, '/lan/x.ws', [['X-Forwarded-For', xff]], { localAddress: ATTACKER });
        assert.equal(r.status, 403, xff);
        assert.ok(!r.raw.includes('LAN-RAN'));
      }
    });

    it('ignores X-Forwarded-Proto: https (no HTTPS, scheme http)', async () => {
      const e = await env(ATTACKER, [['X-Forwarded-Proto', 'https']]);
      assert.equal(e.REQUEST_SCHEME, 'http');
      assert.equal(e.HTTPS, '');
    });

    it('ignores X-Forwarded-Client-Port: REMOTE_PORT is the real port of the connection', async () => {
      const e = await env(ATTACKER, [['X-Forwarded-For', '10.1.2.3'], ['X-Forwarded-Client-Port', '1']]);
      assert.notEqual(e.REMOTE_PORT, '1');
      assert.ok(Number(e.REMOTE_PORT) > 1024, e.REMOTE_PORT);
    });

    it('ignores X-Forwarded-Request-Line: REQUEST_URI and SERVER_PROTOCOL are the request\'s own', async () => {
      const e = await env(ATTACKER, [['X-Forwarded-Request-Line', 'GET /forged?x HTTP/1.0']]);
      assert.equal(e.REQUEST_URI, '/env.ws');
      assert.equal(e.SERVER_PROTOCOL, 'HTTP/1.1');
    });

    it('ignores X-Forwarded-Host for choosing the virtual host', async () => {
      const e = await env(ATTACKER, [['X-Forwarded-Host', 'other.sec.test']]);
      assert.equal(e.SERVER_NAME, 'www.sec.test');
      assert.equal(e.HTTP_HOST, 'www.sec.test');
    });

    it('cannot pass as a client of another virtual host\'s network with Host plus X-Forwarded-For', async () => {
      const r = await get(sidecar.port, '/o.ws', [['Host', 'other.sec.test'], ['X-Forwarded-For', '192.0.2.7']], { localAddress: ATTACKER });
      assert.equal(r.status, 403);
      assert.ok(!r.raw.includes('OTHER-VHOST-RAN'));
    });
  });

  describe('from the trusted peer (the control: the same headers do count)', () => {
    it('takes the client address from the last X-Forwarded-For entry only', async () => {
      assert.equal((await env(TRUSTED, [['X-Forwarded-For', '10.1.2.3']])).REMOTE_ADDR, '10.1.2.3');
      const e = await env(TRUSTED, [['X-Forwarded-For', '10.1.2.3, 6.6.6.6']]);
      assert.equal(e.REMOTE_ADDR, '6.6.6.6');
      assert.equal(e.HTTP_X_FORWARDED_FOR, '10.1.2.3');
    });

    it('admits the forwarded client to 10.1.2.0/24 only when Apache\'s own (last) entry is in it', async () => {
      assert.match((await get(sidecar.port, '/lan/x.ws', [['X-Forwarded-For', '10.1.2.3']], { localAddress: TRUSTED })).body, /^LAN-RAN 10\.1\.2\.3/);
      assert.equal((await get(sidecar.port, '/lan/x.ws', [['X-Forwarded-For', '10.1.2.3, 6.6.6.6']], { localAddress: TRUSTED })).status, 403);
    });

    it('does not take an X_Forwarded_For header spelled with underscores as the forwarded address', async () => {
      assert.equal((await env(TRUSTED, [['X_Forwarded_For', '10.1.2.3']])).REMOTE_ADDR, TRUSTED);
    });

    it('keeps the peer\'s address when the last X-Forwarded-For entry is not an address', async () => {
      assert.equal((await env(TRUSTED, [['X-Forwarded-For', '10.1.2.3, not-an-ip']])).REMOTE_ADDR, TRUSTED);
    });
  });

  describe('the Host header', () => {
    it('selects another virtual host as Apache with ProxyPreserveHost would (noted: legitimate), whose own access rules still apply', async () => {
      const r = await get(sidecar.port, '/o.ws', [['Host', 'other.sec.test']], { localAddress: TRUSTED });
      assert.equal(r.status, 403);
      const ok = await get(sidecar.port, '/o.ws', [['Host', 'other.sec.test'], ['X-Forwarded-For', '192.0.2.7']], { localAddress: TRUSTED });
      assert.equal(ok.body, 'OTHER-VHOST-RAN');
    });

    it('answers 400 to a Host header httpd refuses', async () => {
      for (const host of ['a b', 'evil/../x', 'x\tz', 'host:99999']) {
        const r = await get(sidecar.port, '/ok.ws', [['Host', host]]);
        assert.equal(r.status, 400, host);
      }
    });
  });
});
