import * as assert from 'node:assert/strict';
import { buildCgiEnv } from '../../src/server/cgi-env';
import { clientView, parseRequestLine, parseTrustedProxies, splitLast } from '../../src/server/forwarded';
import { resolveOptions } from '../../src/server/options';

describe('server/forwarded: rebuilding what the client sent to Apache', () => {
  const opts = {
    trustedProxies: parseTrustedProxies(['loopback']),
    schemeHeader: 'x-forwarded-proto',
    portHeader: 'x-forwarded-client-port',
    requestLineHeader: 'x-forwarded-request-line',
  };
  const raw = (pairs: Array<[string, string]>) => pairs.flat();

  it('takes the client address from the last X-Forwarded-For entry of a trusted peer and hides Apache\'s additions', () => {
    const v = clientView(raw([
      ['Host', 'www.example.com'],
      ['X-Forwarded-For', '6.6.6.6, 203.0.113.7'],
      ['X-Forwarded-Host', 'www.example.com'],
      ['X-Forwarded-Server', 'www.example.com'],
      ['X-Forwarded-Proto', 'https'],
      ['Accept', '*/*'],
      ['Connection', 'Keep-Alive'],
    ]), '127.0.0.1', 40000, opts);
    assert.equal(v.trusted, true);
    assert.equal(v.address, '203.0.113.7');
    assert.equal(v.scheme, 'https');
    assert.equal(v.host, 'www.example.com');
    const names = v.headers.map(([n]) => n.toLowerCase());
    assert.ok(!names.includes('x-forwarded-server'));
    assert.ok(!names.includes('x-forwarded-proto'));
    assert.ok(!names.includes('x-forwarded-host'));
    assert.ok(!names.includes('connection'));
    // What the client itself sent stays.
    assert.deepEqual(v.headers.find(([n]) => n === 'X-Forwarded-For'), ['X-Forwarded-For', '6.6.6.6']);
  });

  it('drops X-Forwarded-For entirely when Apache\'s entry was the only one', () => {
    const v = clientView(raw([['Host', 'h'], ['X-Forwarded-For', '198.51.100.2']]), '::1', 1, opts);
    assert.equal(v.address, '198.51.100.2');
    assert.ok(!v.headers.some(([n]) => n.toLowerCase() === 'x-forwarded-for'));
  });

  it('believes nothing from an untrusted peer', () => {
    const v = clientView(raw([
      ['Host', 'victim'],
      ['X-Forwarded-For', '127.0.0.1'],
      ['X-Forwarded-Host', 'evil'],
      ['X-Forwarded-Proto', 'https'],
    ]), '192.0.2.9', 5555, opts);
    assert.equal(v.trusted, false);
    assert.equal(v.address, '192.0.2.9');
    assert.equal(v.port, 5555);
    assert.equal(v.scheme, 'http');
    assert.equal(v.host, 'victim');
    assert.equal(v.headers.length, 4);
  });

  it('uses the client Host from X-Forwarded-Host when ProxyPreserveHost is off', () => {
    const v = clientView(raw([['Host', '127.0.0.1:8070'], ['X-Forwarded-Host', 'site.example:8080'], ['X-Forwarded-For', '10.0.0.1']]), '127.0.0.1', 1, opts);
    assert.equal(v.host, 'site.example:8080');
    assert.deepEqual(v.headers.find(([n]) => n === 'Host'), ['Host', 'site.example:8080']);
  });

  it('treats an IPv4-mapped loopback peer as loopback', () => {
    const v = clientView(raw([['X-Forwarded-For', '10.1.2.3']]), '::ffff:127.0.0.1', 1, opts);
    assert.equal(v.trusted, true);
    assert.equal(v.address, '10.1.2.3');
  });

  it('reads the client port only from the trusted port header', () => {
    const v = clientView(raw([['X-Forwarded-For', '10.1.2.3'], ['X-Forwarded-Client-Port', '51234']]), '127.0.0.1', 1, opts);
    assert.equal(v.port, 51234);
    assert.ok(!v.headers.some(([n]) => n.toLowerCase() === 'x-forwarded-client-port'));
  });

  it('reads the client\'s request line (THE_REQUEST) only from a trusted peer', () => {
    const h = raw([['X-Forwarded-Request-Line', 'GET /app/%7Ex.lua?q=%41 HTTP/2.0']]);
    assert.deepEqual(clientView(h, '127.0.0.1', 1, opts).requestLine, { method: 'GET', target: '/app/%7Ex.lua?q=%41', protocol: 'HTTP/2.0' });
    assert.equal(clientView(h, '192.0.2.1', 1, opts).requestLine, null);
    assert.equal(parseRequestLine('GET /x'), null);
    assert.equal(parseRequestLine('GET /x HTTP/1.1\r\nX: y'), null);
  });

  it('accepts CIDR ranges and refuses nonsense in --trusted-proxy', () => {
    const list = parseTrustedProxies(['10.0.0.0/8', '2001:db8::1']);
    assert.equal(clientView(raw([['X-Forwarded-For', '1.2.3.4']]), '10.9.9.9', 1, { ...opts, trustedProxies: list }).address, '1.2.3.4');
    assert.equal(clientView(raw([['X-Forwarded-For', '1.2.3.4']]), '127.0.0.1', 1, { ...opts, trustedProxies: list }).address, '127.0.0.1');
    assert.throws(() => parseTrustedProxies(['not-an-ip']), /--trusted-proxy/);
  });

  it('splitLast separates Apache\'s appended entry', () => {
    assert.deepEqual(splitLast('a, b,c'), { before: 'a, b', last: 'c' });
    assert.deepEqual(splitLast('c'), { before: null, last: 'c' });
  });

  describe('the user Apache authenticated (REMOTE_USER, AUTH_TYPE)', () => {
    const names = (v: { headers: ReadonlyArray<readonly [string, string]> }) => v.headers.map(([n]) => n.toLowerCase());

    it('takes the user and auth type from a trusted peer and hides the headers from the script', () => {
      const v = clientView(raw([
        ['Host', 'h'], ['Authorization', 'Basic YWxpY2U6czNjcmV0'],
        ['X-Forwarded-User', 'alice'], ['X-Forwarded-Auth-Type', 'Basic'], ['X-Forwarded-For', '10.1.2.3'],
      ]), '127.0.0.1', 1, opts);
      assert.equal(v.user, 'alice');
      assert.equal(v.authType, 'Basic');
      assert.deepEqual(names(v), ['host', 'authorization']);
    });

    it('never believes them from an untrusted peer: they stay the client\'s headers', () => {
      const v = clientView(raw([['X-Forwarded-User', 'admin'], ['X-Forwarded-Auth-Type', 'Basic']]), '192.0.2.9', 1, opts);
      assert.equal(v.user, null);
      assert.equal(v.authType, null);
      assert.deepEqual(names(v), ['x-forwarded-user', 'x-forwarded-auth-type']);
    });

    it('has no user when the trusted Apache sent none, or an empty one (mod_headers\' `set` of an empty expr)', () => {
      const none = clientView(raw([['Host', 'h'], ['X-Forwarded-For', '10.1.2.3']]), '127.0.0.1', 1, opts);
      assert.equal(none.user, null);
      assert.equal(none.authType, null);
      const empty = clientView(raw([['X-Forwarded-User', ''], ['X-Forwarded-Auth-Type', '']]), '127.0.0.1', 1, opts);
      assert.equal(empty.user, null);
      assert.equal(empty.authType, null);
      assert.deepEqual(names(empty), []);
    });

    it('believes no user when the header is repeated: Apache\'s `set` sends one copy', () => {
      const v = clientView(raw([['X-Forwarded-User', 'alice'], ['x-forwarded-user', 'mallory']]), '127.0.0.1', 1, opts);
      assert.equal(v.user, null);
      assert.deepEqual(names(v), []);
    });

    it('does not take a client\'s `X_Forwarded_User` (which Apache passes through) for the header', () => {
      const v = clientView(raw([['X_Forwarded_User', 'mallory'], ['X-Forwarded-For', '10.1.2.3']]), '127.0.0.1', 1, opts);
      assert.equal(v.user, null);
      assert.deepEqual(names(v), ['x_forwarded_user']);
    });

    it('reads the names chosen with --user-header / --auth-type-header, and only those', () => {
      const o = resolveOptions({ userHeader: 'X-Remote-User', authTypeHeader: 'X-Remote-Auth' });
      const fwd = { ...opts, userHeader: o.userHeader, authTypeHeader: o.authTypeHeader };
      const v = clientView(raw([['X-Remote-User', 'bob'], ['X-Remote-Auth', 'Digest'], ['X-Forwarded-User', 'mallory']]), '127.0.0.1', 1, fwd);
      assert.equal(v.user, 'bob');
      assert.equal(v.authType, 'Digest');
      assert.deepEqual(names(v), ['x-forwarded-user']);
      assert.throws(() => resolveOptions({ userHeader: 'X User' }), /--user-header must be a header name/);
      assert.equal(resolveOptions({}).userHeader, 'x-forwarded-user');
      assert.equal(resolveOptions({}).authTypeHeader, 'x-forwarded-auth-type');
    });

    it('gives the script REMOTE_USER/AUTH_TYPE from a trusted Apache, and from a client only its own HTTP_ headers', () => {
      const env = (peer: string) => {
        const v = clientView(raw([['Host', 'h'], ['X-Forwarded-User', 'alice'], ['X-Forwarded-Auth-Type', 'Basic']]), peer, 1, opts);
        return buildCgiEnv({
          method: 'GET', protocol: 'HTTP/1.1', requestUri: '/a.ws', query: null, scriptName: '/a.ws', pathInfo: '',
          pathTranslated: '', filename: '/w/a.ws', documentRoot: '/w', contextPrefix: '', contextDocumentRoot: '/w',
          scheme: v.scheme, serverName: 'h', serverPort: '80', serverAddr: '127.0.0.1', serverAdmin: '', serverSoftware: 'Apache',
          serverSignature: '', remoteAddr: v.address, remotePort: v.port, remoteUser: v.user, authType: v.authType,
          headers: v.headers, envOps: { set: [], unset: [], pass: [] }, processEnv: {},
        });
      };
      const viaApache = env('127.0.0.1');
      assert.equal(viaApache.REMOTE_USER, 'alice');
      assert.equal(viaApache.AUTH_TYPE, 'Basic');
      assert.ok(!('HTTP_X_FORWARDED_USER' in viaApache));
      assert.ok(!('HTTP_X_FORWARDED_AUTH_TYPE' in viaApache));
      const direct = env('192.0.2.9');
      assert.ok(!('REMOTE_USER' in direct));
      assert.ok(!('AUTH_TYPE' in direct));
      assert.equal(direct.HTTP_X_FORWARDED_USER, 'alice');
    });
  });
});
