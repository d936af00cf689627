import * as assert from 'node:assert/strict';
import { PIPELINE } from '../../src/server/pipeline';
import { accessPass, bodyPass, forwardedPass, jobPass, resolvePass, splitHost, targetPass } from '../../src/server/passes';
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

    it('keeps going through every pass for a good request', async () => {
      const r = await request(run.port, '/app/hello.lua', { headers: { Host: 'LOCALHOST.' } });
      assert.equal(r.status, 200);
    });
  });
});
