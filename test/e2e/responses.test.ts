/**
 * What the browser gets through the real Apache in front of the sidecar: the
 * responses mod_lwt gave (issue 4 §5) for the seed example, Orbit, statuses,
 * headers, bodies in and out, errors and a missing script.
 */

import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { useStack } from '../helpers/apache';
import { get, rawRequest, requestHead } from './raw-http';

describe('e2e: responses through Apache → sidecar', function () {
  this.timeout(30_000);
  const stack = useStack({ sidecarArgs: ['--workers', '2'] });
  const port = () => stack.apache.port;

  describe('the seed example (www/hello.ws)', () => {
    it('answers without PATH_INFO', async () => {
      const res = await get(port(), '/hello.ws');
      assert.equal(res.status, 200);
      assert.equal(res.header('content-type'), 'text/html');
      // A short, complete body goes out with Content-Length, not chunked.
      assert.equal(res.header('content-length'), '93');
      // WSAPI turns an empty PATH_INFO into "/".
      assert.equal(res.body.toString(), '<html><body><p>Hello Wsapi!</p><p>PATH_INFO: /</p><p>SCRIPT_NAME: /hello.ws</p></body></html>');
    });

    it('answers with PATH_INFO', async () => {
      const res = await get(port(), '/hello.ws/some/path');
      assert.equal(res.status, 200);
      assert.match(res.body.toString(), /<p>PATH_INFO: \/some\/path<\/p><p>SCRIPT_NAME: \/hello.ws<\/p>/);
    });

    it('decodes encoded characters in PATH_INFO and in the script name', async () => {
      const res = await get(port(), '/hell%6F.ws/a%20b/%7Euser/50%25');
      assert.equal(res.status, 200);
      assert.match(res.body.toString(), /<p>PATH_INFO: \/a b\/~user\/50%<\/p><p>SCRIPT_NAME: \/hello.ws<\/p>/);
    });

    it('resolves dot segments the way Apache does before choosing the script', async () => {
      const res = await get(port(), '/e2e/../hello.ws/x/./y');
      assert.equal(res.status, 200);
      assert.match(res.body.toString(), /PATH_INFO: \/x\/y</);
    });

    it('answers HEAD with the headers of GET and no body', async () => {
      const res = await rawRequest(port(), requestHead('HEAD', '/hello.ws', [['Host', '127.0.0.1'], ['Connection', 'close']]), { head: true });
      assert.equal(res.status, 200);
      assert.equal(res.header('content-type'), 'text/html');
      assert.equal(res.body.length, 0);
    });

    it('serves a Host of the second virtual host with its own scope (api.example.test, *.lua)', async () => {
      const res = await get(port(), '/status.lua', [['Host', 'api.example.test']]);
      assert.equal(res.status, 200);
      assert.equal(res.header('content-type'), 'application/json');
      assert.equal(res.body.toString(), '{"ok":true}\n');
    });

    it('serves a SetHandler scope with its LuaPath (www/app/index.ws, lib/greeting.lua)', async () => {
      const res = await get(port(), '/app/index.ws/p');
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'Hello from app/, PATH_INFO=/p\n');
    });
  });

  describe("Orbit's hello application (Debian lua-orbit)", () => {
    it('renders the index page', async () => {
      const res = await get(port(), '/e2e/orbit-hello.ws/');
      assert.equal(res.status, 200);
      assert.match(res.body.toString(), /<title>Hello<\/title>.*<p class="hello">Hello World!<\/p>/s);
    });

    it('dispatches a pattern route with a query parameter', async () => {
      const res = await get(port(), '/e2e/orbit-hello.ws/say/Bob?greeting=Hi%20');
      assert.equal(res.status, 200);
      assert.match(res.body.toString(), /<p class="hello">Hi Bob!<\/p>/);
    });
  });

  describe('statuses and headers', () => {
    for (const [code, reason] of [[201, 'Created'], [404, 'Not Found'], [500, 'Internal Server Error']] as const) {
      it(`passes status ${code} with Apache's reason phrase and the script's body`, async () => {
        const res = await get(port(), `/e2e/status.ws?code=${code}`);
        assert.equal(res.status, code);
        assert.equal(res.reason, reason);
        assert.equal(res.body.toString(), `status ${code}\n`);
      });
    }

    it('passes a 302 with its Location', async () => {
      const res = await get(port(), '/e2e/status.ws?code=302&location=/elsewhere');
      assert.equal(res.status, 302);
      assert.equal(res.header('location'), '/elsewhere');
    });

    it('takes the status from a Status: header line, as mod_lwt\'s output parser did', async () => {
      const res = await get(port(), '/e2e/status.ws?code=200&header=202');
      assert.equal(res.status, 202);
      assert.equal(res.reason, 'Accepted');
    });

    it('keeps repeated Set-Cookie headers and unusual header values', async () => {
      const res = await get(port(), '/e2e/headers.ws');
      assert.equal(res.status, 200);
      assert.deepEqual(res.headerAll('set-cookie'), ['a=1; Path=/', 'b=2; HttpOnly']);
      assert.equal(res.header('x-odd-value'), 'semi;colon, comma "quoted"');
      assert.equal(res.header('content-type'), 'text/plain; charset=utf-8');
      assert.equal(res.header('cache-control'), 'no-store');
    });
  });

  describe('request bodies', () => {
    it('passes a binary POST body sent with Content-Length', async () => {
      const body = randomBytes(200_000);
      const head = requestHead('POST', '/e2e/echo.ws', [['Host', '127.0.0.1'], ['Content-Type', 'application/octet-stream'], ['Content-Length', String(body.length)]]);
      const res = await rawRequest(port(), Buffer.concat([Buffer.from(head), body]));
      assert.equal(res.status, 200);
      const nl = res.body.indexOf('\n');
      assert.equal(res.body.subarray(0, nl).toString(), `POST ${body.length} application/octet-stream`);
      assert.ok(res.body.subarray(nl + 1).equals(body), 'echoed body differs');
    });

    for (const size of [5_000, 100_000]) {
      // Apache forwards a chunked upload of <= 16,000 bytes with Content-Length, larger ones chunked.
      it(`passes a chunked POST body of ${size} bytes sent in pieces`, async () => {
        const body = randomBytes(size);
        const pieces: Buffer[] = [];
        for (let i = 0; i < size; i += 7_000) {
          const part = body.subarray(i, i + 7_000);
          pieces.push(Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]));
        }
        pieces.push(Buffer.from('0\r\n\r\n'));
        const head = requestHead('POST', '/e2e/echo.ws', [['Host', '127.0.0.1'], ['Content-Type', 'application/x-test'], ['Transfer-Encoding', 'chunked']]);
        const res = await rawRequest(port(), head, { bodyParts: pieces, partDelayMs: 5 });
        assert.equal(res.status, 200);
        const nl = res.body.indexOf('\n');
        assert.equal(res.body.subarray(0, nl).toString(), `POST ${size} application/x-test`);
        assert.ok(res.body.subarray(nl + 1).equals(body), 'echoed body differs');
      });
    }
  });

  describe('a 1 MiB streamed response', () => {
    const expected = createHash('sha256');
    for (let i = 0; i < 64; i++) expected.update(Buffer.alloc(16384, 97 + (i % 26)));
    const digest = expected.digest('hex');

    it('arrives complete and in pieces, its first bytes before the last', async () => {
      // 64 chunks with 5 ms of CPU work before each: the script is still producing while the client reads.
      const res = await get(port(), '/e2e/stream.ws?spin=5');
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 1 << 20);
      assert.equal(createHash('sha256').update(res.body).digest('hex'), digest);
      // Streamed, not buffered into one Content-Length response.
      assert.equal(res.header('transfer-encoding'), 'chunked');
      const firstBody = res.arrivals.find((a) => a.bodyBytes > 0)!;
      const last = res.arrivals[res.arrivals.length - 1]!;
      assert.ok(firstBody.bodyBytes < (1 << 20) / 2, `first read already held ${firstBody.bodyBytes} body bytes`);
      assert.ok(firstBody.atMs < last.atMs, 'first body bytes did not arrive before the end');
      console.log(`      (first body bytes after ${firstBody.atMs.toFixed(1)} ms, complete after ${last.atMs.toFixed(1)} ms, ${res.arrivals.length} reads)`);
    });
  });

  describe('failing scripts', () => {
    it('answers a runtime error with WSAPI\'s 500 page and logs it as mod_lwt did', async () => {
      const res = await get(port(), '/e2e/runtime-error.ws');
      assert.equal(res.status, 500);
      assert.match(res.body.toString(), /WSAPI Error in Application/);
      assert.match(res.body.toString(), /e2e runtime failure nil/);
      await stack.sidecar.waitForOutput(/client 127\.0\.0\.1.*WSAPI error in application: .*e2e runtime failure nil/);
    });

    it('answers a syntax error with a 500 naming the line', async () => {
      const res = await get(port(), '/e2e/syntax-error.ws');
      assert.equal(res.status, 500);
      assert.match(res.body.toString(), /syntax-error\.ws:4: .*expected near 'end'/);
      const after = await get(port(), '/hello.ws');
      assert.equal(after.status, 200);
    });

    it('answers a missing script with 404', async () => {
      const res = await get(port(), '/e2e/no-such-script.ws/x');
      assert.equal(res.status, 404);
      assert.match(res.body.toString(), /Not Found/);
    });
  });
});
