import * as assert from 'node:assert/strict';
import { clientView, parseRequestLine, parseTrustedProxies, splitLast } from '../../src/server/forwarded';

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
});
