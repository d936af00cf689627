import * as assert from 'node:assert/strict';
import { PIPELINE } from '../../src/server/pipeline';
import { accessPass, bodyPass, directoryLocation, forwardedPass, jobPass, resolvePass, splitHost, targetPass } from '../../src/server/passes';
import type { ClientView } from '../../src/server/forwarded';
import type { Resolution, VHost } from '../../src/scopes/types';
import type { RequestContext } from '../../src/server/context';
import { removeSite, snapshotFromText } from '../scopes/helpers';
import { request, startSidecar, type Running } from './helpers';

describe('server/passes: the request pipeline', () => {
  it('runs its passes in the documented order', () => {
    assert.deepEqual(PIPELINE, [forwardedPass, targetPass, resolvePass, accessPass, bodyPass, jobPass]);
  });

  const hosts: Array<[string | null, ReturnType<typeof splitHost>]> = [
    ['www.Example.COM', { name: 'www.example.com', port: null, valid: true }],
    ['www.example.com.:8080', { name: 'www.example.com', port: 8080, valid: true }],
    ['[::1]:80', { name: '[::1]', port: 80, valid: true }],
    ['127.0.0.1', { name: '127.0.0.1', port: null, valid: true }],
    [null, { name: null, port: null, valid: true }],
    ['evil/../x', { name: null, port: null, valid: false }],
    ['a b', { name: null, port: null, valid: false }],
    ['host:99999', { name: null, port: null, valid: false }],
  ];
  for (const [host, want] of hosts) {
    it(`reads Host ${JSON.stringify(host)} as httpd does`, () => assert.deepEqual(splitHost(host), want));
  }

  describe("the Location of mod_dir's redirect (ap_construct_url, UseCanonicalName Off)", () => {
    const vhost = { serverName: 'www.example.test', serverPort: null } as unknown as VHost;
    const at = (scheme: 'http' | 'https', host: string | null, query: string | null, v: VHost | null = vhost) => directoryLocation(
      { scheme, host } as ClientView,
      { raw: '', path: '/d', query },
      { redirect: '/d%20x/', vhost: v } as unknown as Resolution,
    );
    const cases: Array<[string, string, string]> = [
      [at('http', 'Example.COM', null), "the client's Host, lower-cased, no default port", 'http://example.com/d%20x/'],
      [at('http', 'example.com:80', 'a=1&b'), 'port 80 left out for http, the query kept verbatim', 'http://example.com/d%20x/?a=1&b'],
      [at('http', 'example.com:443', ''), 'port 443 kept for http, an empty query kept as `?`', 'http://example.com:443/d%20x/?'],
      [at('https', 'example.com:443', null), 'port 443 left out for https', 'https://example.com/d%20x/'],
      [at('https', 'example.com:8443', 'q'), 'another port kept', 'https://example.com:8443/d%20x/?q'],
      [at('http', '[::1]:8080', null), 'an IPv6 literal in brackets', 'http://[::1]:8080/d%20x/'],
      [at('http', null, null), 'no Host: the virtual host\'s ServerName', 'http://www.example.test/d%20x/'],
      [at('http', 'h', null, { serverName: 'h', serverPort: 8080, hostlessPort: 8080 } as unknown as VHost), 'a Host without port: the server\'s port (ServerName\'s)', 'http://h:8080/d%20x/'],
    ];
    for (const [got, what, want] of cases) it(what, () => assert.equal(got, want));

    it('is not sent for methods other than GET and HEAD when SetEnv redirect-carefully applies (apache2 answers POST 404)', () => {
      const { snap, root } = snapshotFromText('DocumentRoot @ROOT@/www\n<Directory @ROOT@/www/app>\n  SetHandler lwt-wsapi\n  SetEnv redirect-carefully 1\n</Directory>\n', { 'www/app/d/': '' });
      try {
        const ctx = (method: string) => ({
          req: { method }, snapshot: snap, opts: { serverSoftware: 'Apache', apacheChecksAccess: false },
          client: { host: 'h', scheme: 'http', address: '127.0.0.1', user: null }, target: { raw: '/app/d', path: '/app/d', query: null },
        }) as unknown as RequestContext;
        assert.deepEqual(['POST', 'PUT', 'GET', 'HEAD'].map((m) => (resolvePass(ctx(m)) as { status: number }).status), [404, 404, 301, 301]);
      } finally {
        removeSite(root);
      }
    });
  });

  describe('over HTTP', function () {
    this.timeout(30_000);
    let run: Running;
    before(async () => { run = await startSidecar({ workers: 1 }); });
    after(async () => { await run.sidecar.close(); });

    it('answers 400 to a Host header httpd would refuse, without running anything', async () => {
      const r = await request(run.port, '/app/hello.lua', { headers: { Host: 'evil/../x' } });
      assert.equal(r.status, 400);
      assert.match(r.body.toString(), /<title>400 Bad Request<\/title>/);
      assert.ok(run.logs.some((l) => /\[info\] \[client 127\.0\.0\.1\] 400: invalid Host header 'evil\/\.\.\/x' \[LWT_BAD_REQUEST\]\n$/.test(l)), run.logs.join(''));
    });

    it('logs a target above the root with its 400 and LWT_BAD_REQUEST', async () => {
      const r = await request(run.port, '/app/%2e%2e/%2e%2e/%2e%2e/etc/passwd');
      assert.equal(r.status, 400);
      assert.ok(run.logs.some((l) => / 400: the path climbs above the root \[LWT_BAD_REQUEST\]\n$/.test(l)), run.logs.join(''));
    });

    it('checks Require valid-user against the user a trusted proxy forwarded, and logs why it refuses without one', async () => {
      const none = await request(run.port, '/app/auth/member.lua');
      assert.equal(none.status, 403);
      assert.ok(run.logs.some((l) => /\[error\] \[client 127\.0\.0\.1\] 403: client denied by server configuration: \S+\/app\/auth\/member\.lua \(Require valid-user \(\S+httpd\.conf:13\) needs a user authenticated by Apache: put AuthType and Require in a <Location> or <Proxy> section\)\n$/.test(l)), run.logs.join(''));
      const member = await request(run.port, '/app/auth/member.lua', { headers: { 'X-Forwarded-User': 'alice' } });
      assert.equal(member.status, 200);
      assert.equal(member.body.toString(), 'SECRET-RAN');
    });

    it('redirects a directory of the lwt-wsapi scope without its slash with Apache\'s 301 page', async () => {
      const headers = { 'X-Forwarded-User': 'alice', Host: 'WWW.Example.TEST:8443', 'X-Forwarded-Proto': 'https' };
      const r = await request(run.port, '/app/auth?x=1&y=<b>', { headers });
      assert.equal(r.status, 301);
      assert.equal(r.reason, 'Moved Permanently');
      const location = 'https://www.example.test:8443/app/auth/?x=1&y=<b>';
      assert.equal(r.headers.location, location);
      assert.equal(r.headers['content-type'], 'text/html; charset=iso-8859-1');
      assert.equal(r.body.toString('latin1'), '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n'
        + '<html><head>\n<title>301 Moved Permanently</title>\n</head><body>\n<h1>Moved Permanently</h1>\n'
        + '<p>The document has moved <a href="https://www.example.test:8443/app/auth/?x=1&amp;y=&lt;b&gt;">here</a>.</p>\n</body></html>\n');
      assert.equal(Number(r.headers['content-length']), r.body.length);
      const head = await request(run.port, '/app/auth', { method: 'HEAD', headers: { ...headers, 'X-Forwarded-Proto': 'http' } });
      assert.deepEqual([head.status, head.headers.location, head.body.length], [301, 'http://www.example.test:8443/app/auth/', 0]);
    });

    it('answers 403, not a redirect, for a directory the client may not open', async () => {
      const r = await request(run.port, '/app/auth');
      assert.equal(r.status, 403);
      assert.equal(r.headers.location, undefined);
    });

    it('keeps going through every pass for a good request', async () => {
      const r = await request(run.port, '/app/hello.lua', { headers: { Host: 'LOCALHOST.' } });
      assert.equal(r.status, 200);
    });
  });
});
