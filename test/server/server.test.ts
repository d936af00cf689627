import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { request, startSidecar, SITE, type Running } from './helpers';

function envOf(body: Buffer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of body.toString().split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
  }
  return env;
}

describe('server: the sidecar over HTTP with real Lua', function () {
  this.timeout(30_000);
  let run: Running;
  before(async () => { run = await startSidecar(); });
  after(async () => { await run.sidecar.close(); });

  it('answers the seed example with PATH_INFO, a Content-Length and Apache\'s status line', async () => {
    const r = await request(run.port, '/app/hello.lua/extra%20x?q=1');
    assert.equal(r.status, 200);
    assert.equal(r.reason, 'OK');
    assert.equal(r.headers['content-type'], 'text/html');
    assert.equal(r.headers['content-length'], String(r.body.length));
    assert.equal(r.body.toString(),
      '<html><body><p>Hello Wsapi!</p><p>PATH_INFO: /extra x</p><p>SCRIPT_NAME: /app/hello.lua</p></body></html>');
  });

  it('answers HEAD with the headers and no body', async () => {
    const r = await request(run.port, '/app/hello.lua', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.ok(Number(r.headers['content-length']) > 0);
    assert.equal(r.body.length, 0);
  });

  it('answers 404 with Apache\'s page for a missing script', async () => {
    const r = await request(run.port, '/app/missing.lua');
    assert.equal(r.status, 404);
    assert.equal(r.headers['content-type'], 'text/html; charset=iso-8859-1');
    assert.match(r.body.toString(), /<title>404 Not Found<\/title>[\s\S]*The requested URL was not found on this server/);
  });

  it('never reads or runs a .lua file outside the lwt-wsapi scopes', async () => {
    const r = await request(run.port, '/static/source.lua');
    assert.equal(r.status, 404);
    assert.ok(!r.body.toString().includes('SOURCE-OF-A-FILE'));
  });

  it('enforces the <Directory> rules Apache skips for proxied URLs', async () => {
    const denied = await request(run.port, '/app/private/secret.lua');
    assert.equal(denied.status, 403);
    assert.ok(!denied.body.toString().includes('SECRET-RAN'));
    const unsupported = await request(run.port, '/app/auth/member.lua');
    assert.equal(unsupported.status, 403);
  });

  it('checks Require ip against the client address a trusted proxy forwarded', async () => {
    const direct = await request(run.port, '/app/local/who.lua');
    assert.equal(direct.status, 403);
    const proxied = await request(run.port, '/app/local/who.lua', { headers: { 'X-Forwarded-For': '10.1.2.3' } });
    assert.equal(proxied.status, 200);
    assert.equal(proxied.body.toString(), 'hello 10.1.2.3');
  });

  const traversals: Array<[string, number]> = [
    ['/app/../static/source.lua', 404],
    ['/app/%2e%2e/static/source.lua', 404],
    ['/app/..%2fstatic/source.lua', 404],
    ['/app/%2e%2e/%2e%2e/%2e%2e/etc/passwd', 400],
    ['/../../etc/passwd', 400],
    ['/app/hello.lua%00.txt', 404],
    ['/app/private/../private/secret.lua', 403],
  ];
  for (const [target, status] of traversals) {
    it(`refuses the traversal ${target} with ${status}`, async () => {
      const r = await request(run.port, target);
      assert.equal(r.status, status);
      assert.ok(!/SOURCE-OF-A-FILE|SECRET-RAN|root:/.test(r.body.toString()));
    });
  }

  it('gives the script the CGI environment of the request the client sent to Apache', async () => {
    const r = await request(run.port, '/app/env.lua/p%20i?a=%41&b', {
      headers: {
        Host: 'www.example.com:8080',
        'X-Forwarded-For': '6.6.6.6, 203.0.113.9',
        'X-Forwarded-Host': 'www.example.com:8080',
        'X-Forwarded-Server': 'localhost',
        'X-Forwarded-Proto': 'https',
        'X-Repeat': ['one', 'two'],
        X_Under: 'dropped',
        Authorization: 'Basic c2VjcmV0',
        'X-Names': 'HTTP_X_FORWARDED_FOR HTTP_X_FORWARDED_HOST HTTP_X_FORWARDED_SERVER HTTP_X_FORWARDED_PROTO '
          + 'HTTP_AUTHORIZATION HTTP_X_REPEAT HTTP_X_UNDER',
      },
    });
    assert.equal(r.status, 200);
    const env = envOf(r.body);
    assert.equal(env.REMOTE_ADDR, '203.0.113.9');
    assert.equal(env.HTTP_X_FORWARDED_FOR, '6.6.6.6');
    // Missing keys read as empty strings in the WSAPI env.
    assert.equal(env.HTTP_X_FORWARDED_HOST, '');
    assert.equal(env.HTTP_X_FORWARDED_SERVER, '');
    assert.equal(env.HTTP_X_FORWARDED_PROTO, '');
    assert.equal(env.HTTP_AUTHORIZATION, '');
    assert.equal(env.HTTP_X_REPEAT, 'one, two');
    assert.equal(env.HTTP_X_UNDER, '');
    assert.equal(env.HTTP_HOST, 'www.example.com:8080');
    assert.equal(env.SERVER_NAME, 'www.example.com');
    assert.equal(env.SERVER_PORT, '8080');
    assert.equal(env.REQUEST_SCHEME, 'https');
    assert.equal(env.HTTPS, 'on');
    assert.equal(env.SCRIPT_NAME, '/app/env.lua');
    assert.equal(env.PATH_INFO, '/p i');
    assert.equal(env.QUERY_STRING, 'a=%41&b');
    assert.equal(env.REQUEST_URI, '/app/env.lua/p%20i?a=%41&b');
    assert.equal(env.REQUEST_METHOD, 'GET');
    assert.equal(env.SCRIPT_FILENAME, `${SITE}/app/env.lua`);
    assert.equal(env.DOCUMENT_ROOT, SITE);
    assert.equal(env.SERVER_ADMIN, 'webmaster@localhost');
    assert.equal(env.SERVER_SOFTWARE, 'Apache');
    assert.equal(env.GATEWAY_INTERFACE, 'CGI/1.1');
    assert.equal(env.SERVER_PROTOCOL, 'HTTP/1.1');
  });

  it('takes REQUEST_URI and SERVER_PROTOCOL from the request line a trusted Apache passes on', async () => {
    const r = await request(run.port, '/app/env.lua/~x?a=%41', {
      headers: { 'X-Forwarded-For': '192.0.2.1', 'X-Forwarded-Request-Line': 'GET /app/env.lua/%7Ex?a=%41 HTTP/2.0' },
    });
    const env = envOf(r.body);
    assert.equal(env.REQUEST_URI, '/app/env.lua/%7Ex?a=%41');
    assert.equal(env.SERVER_PROTOCOL, 'HTTP/2.0');
    assert.equal(env.PATH_INFO, '/~x');
  });

  it('passes POST bodies with Content-Length and chunked, and keeps repeated response headers', async () => {
    for (const chunked of [false, true]) {
      const r = await request(run.port, '/app/cookies.lua', {
        method: 'POST', body: 'name=value&x=1', chunked,
        headers: chunked ? {} : { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(r.status, 201);
      assert.equal(r.reason, 'Created');
      assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
      // Under mod_lwt a chunked body has no CONTENT_LENGTH, so WSAPI reads nothing.
      assert.equal(r.body.toString(), chunked ? 'got 0 bytes: ' : 'got 14 bytes: name=value&x=1');
    }
  });

  it('shows WSAPI\'s 500 page for an application error and logs it with client and script', async () => {
    const r = await request(run.port, '/app/broken.lua');
    assert.equal(r.status, 500);
    assert.match(r.body.toString(), /boom from the application/);
    const line = run.logs.find((l) => l.includes('WSAPI error in application'));
    assert.ok(line, run.logs.join(''));
    assert.match(line!, /\[client 127\.0\.0\.1\]/);
    assert.match(line!, /broken\.lua/);
  });

  it('streams a 1 MiB body chunked: the first bytes arrive while the script still runs', async () => {
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: run.port, path: '/app/stream.lua', agent: false }, (res) => {
        const hash = createHash('sha256');
        let size = 0;
        let busyAtFirstByte: number | null = null;
        res.on('data', (c: Buffer) => {
          busyAtFirstByte ??= run.sidecar.stats().workers.busy;
          hash.update(c);
          size += c.length;
        });
        res.on('end', () => {
          try {
            assert.equal(res.headers['content-length'], undefined);
            assert.equal(res.headers['transfer-encoding'], 'chunked');
            assert.equal(busyAtFirstByte, 1);
            assert.equal(size, 1024 * 1024);
            const want = createHash('sha256');
            for (let i = 1; i <= 64; i++) want.update(Buffer.alloc(16384, 65 + (i % 26)));
            assert.equal(hash.digest('hex'), want.digest('hex'));
            resolve();
          } catch (e) { reject(e); }
        });
      }).on('error', reject);
    });
  });

  it('frees the worker when the client goes away mid-stream', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: run.port, path: '/app/stream.lua', agent: false }, (res) => {
        res.once('data', () => { req.destroy(); resolve(); });
      });
      req.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'ECONNRESET') reject(e); });
    });
    const deadline = Date.now() + 10_000;
    while (run.sidecar.stats().workers.busy > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(run.sidecar.stats().workers.busy, 0);
    assert.equal(run.sidecar.stats().inFlight, 0);
    assert.equal((await request(run.port, '/app/hello.lua')).status, 200);
  });

  for (const kind of ['value', 'name']) {
    it(`answers 500 as httpd does when a script sets a response header it would refuse (${kind}), and keeps serving`, async () => {
      const r = await request(run.port, `/app/badheader.lua?${kind}`);
      assert.equal(r.status, 500);
      assert.match(r.body.toString(), /<title>500 Internal Server Error<\/title>/);
      assert.ok(!('x-bad' in r.headers));
      assert.ok(run.logs.some((l) => /\[error\].*Response header.*contains invalid characters, aborting request/.test(l)), run.logs.join(''));
      assert.equal((await request(run.port, '/app/hello.lua')).status, 200);
    });
  }

  it('rejects a body larger than maxBodyBytes with 413', async () => {
    const small = await startSidecar({ maxBodyBytes: 10 });
    try {
      const r = await request(small.port, '/app/cookies.lua', { method: 'POST', body: 'x'.repeat(11) });
      assert.equal(r.status, 413);
      const c = await request(small.port, '/app/cookies.lua', { method: 'POST', body: 'x'.repeat(100), chunked: true });
      assert.equal(c.status, 413);
      const ok = await request(small.port, '/app/cookies.lua', { method: 'POST', body: 'x'.repeat(10) });
      assert.equal(ok.status, 201);
      const logged = small.logs.filter((l) => / 413: /.test(l));
      assert.equal(logged.length, 2, small.logs.join(''));
      assert.match(logged[0]!, /\[error\] \[client 127\.0\.0\.1\] 413: the request body \(11 bytes\) exceeds 10 bytes \[LWT_BODY_TOO_LARGE\] \[script=.*cookies\.lua\]\n$/);
      assert.match(logged[1]!, /\[error\] \[client 127\.0\.0\.1\] 413: the request body exceeds 10 bytes \[LWT_BODY_TOO_LARGE\] \[script=.*cookies\.lua\]\n$/);
    } finally {
      await small.sidecar.close();
    }
  });
});

/** Send a request head with `Expect: 100-continue`, then `body` once `100 Continue` arrives; resolves with every byte received until the server closes (Connection: close). */
function expectContinue(port: number, target: string, length: number, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (body !== undefined && got === 'HTTP/1.1 100 Continue\r\n\r\n') sock.write(body);
    });
    sock.on('close', () => resolve(got));
    sock.on('error', reject);
    sock.write(`POST ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
  });
}

describe('server: Expect: 100-continue', function () {
  this.timeout(30_000);
  let run: Running;
  before(async () => { run = await startSidecar({ maxBodyBytes: 10 }); });
  after(async () => { await run.sidecar.close(); });

  it('answers 413 to a Content-Length above maxBodyBytes without sending 100 Continue', async () => {
    const got = await expectContinue(run.port, '/app/cookies.lua', 1_000_000);
    assert.match(got, /^HTTP\/1\.1 413 Request Entity Too Large\r\n/);
    assert.doesNotMatch(got, /100 Continue/);
  });

  it('sends no 100 Continue before a 404 for a missing script', async () => {
    const got = await expectContinue(run.port, '/app/missing.lua', 5);
    assert.match(got, /^HTTP\/1\.1 404 /);
    assert.doesNotMatch(got, /100 Continue/);
  });

  it('invites a body within the limit with 100 Continue, then runs the script', async () => {
    const got = await expectContinue(run.port, '/app/cookies.lua', 5, 'a=b&c');
    assert.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 Created\r\n/);
  });
});

describe('server: limits seen from HTTP', function () {
  this.timeout(30_000);

  it('answers 503 when the worker is busy and the queue is full', async () => {
    const s = await startSidecar({ workers: 1, queueLimit: 0 });
    try {
      const slow = request(s.port, '/app/slow.lua');
      await new Promise((r) => setTimeout(r, 200));
      const r = await request(s.port, '/app/hello.lua');
      assert.equal(r.status, 503);
      assert.match(r.body.toString(), /Service Unavailable/);
      assert.equal((await slow).status, 200);
    } finally {
      await s.sidecar.close();
    }
  });

  it('answers 500 with Apache\'s page when a runaway script is stopped, then serves the next request', async () => {
    const s = await startSidecar({ workers: 1, cpuLimitMs: 300 });
    try {
      const r = await request(s.port, '/app/spin.lua');
      assert.equal(r.status, 500);
      assert.match(r.body.toString(), /<title>500 Internal Server Error<\/title>/);
      assert.ok(s.logs.some((l) => /\[error\] \[client 127\.0\.0\.1\] Lua runtime error running '.*spin\.lua': CPU time limit exceeded \[LWT_LUA_CPU\]\n$/.test(l)), s.logs.join(''));
      assert.equal((await request(s.port, '/app/hello.lua')).status, 200);
    } finally {
      await s.sidecar.close();
    }
  });

  it('fails a script past its LuaMemoryLimit (16M in httpd.conf) alone with mod_lwt\'s memory error, then serves the next', async () => {
    const s = await startSidecar({ workers: 1 });
    try {
      const r = await request(s.port, '/app/strings.lua');
      assert.equal(r.status, 500);
      assert.match(r.body.toString(), /<title>500 Internal Server Error<\/title>/);
      const line = s.logs.find((l) => l.includes('strings.lua')) ?? '';
      assert.ok(line.endsWith(`[error] [client 127.0.0.1] Lua memory allocation error running '${SITE}/app/strings.lua': not enough memory [LWT_LUA_MEMORY]\n`), s.logs.join(''));
      assert.equal((await request(s.port, '/app/hello.lua')).status, 200);
      assert.equal(s.sidecar.stats().workers.workers, 1);
    } finally {
      await s.sidecar.close();
    }
  });

  it('close() lets an in-flight request finish and returns one promise', async () => {
    const s = await startSidecar({ workers: 1 });
    const slow = request(s.port, '/app/slow.lua');
    await new Promise((r) => setTimeout(r, 200));
    const c = s.sidecar.close();
    assert.equal(s.sidecar.close(), c);
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'slow done');
    await c;
  });
});
