/**
 * The HTTP side under attack: request smuggling, oversized headers and
 * bodies, slow clients, response header injection by a script, and the
 * default listen address.
 */

import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { resolveOptions } from '../../src/server';
import { exchange, get, makeSite, serve, type Served, type Site } from './helpers';

describe('security: HTTP', function () {
  this.timeout(30_000);
  let site: Site;
  let sidecar: Served;
  before(async () => {
    site = makeSite();
    sidecar = await serve(site, ['--workers', '2', '--max-body', '1K']);
  });
  after(async () => {
    await sidecar?.stop();
    site?.remove();
  });

  const stillServes = async () => {
    const next = await get(sidecar.port, '/ok.ws');
    assert.equal(next.body, 'OK', `the sidecar stopped serving:\n${sidecar.stderr().slice(-3000)}`);
  };

  describe('request smuggling', () => {
    const smuggled = 'GET /denied/x.ws HTTP/1.1\r\nHost: www.sec.test\r\n\r\n';

    it('refuses Content-Length together with Transfer-Encoding, and never answers the request hidden behind', async () => {
      const r = await exchange(sidecar.port,
        `POST /ok.ws HTTP/1.1\r\nHost: www.sec.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`);
      assert.equal(r.status, 400);
      assert.equal(r.responses, 1, r.raw);
    });

    it('refuses two different Content-Length headers', async () => {
      const r = await exchange(sidecar.port,
        `POST /ok.ws HTTP/1.1\r\nHost: www.sec.test\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd${smuggled}`);
      assert.equal(r.status, 400);
      assert.equal(r.responses, 1, r.raw);
    });

    it('refuses a repeated Content-Length header even with equal values', async () => {
      const r = await exchange(sidecar.port,
        `POST /ok.ws HTTP/1.1\r\nHost: www.sec.test\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd${smuggled}`);
      assert.equal(r.status, 400);
      assert.equal(r.responses, 1, r.raw);
    });

    for (const te of ['xchunked', 'chunked, identity', 'identity', ' chunked\x0b']) {
      it(`refuses Transfer-Encoding: ${JSON.stringify(te)}`, async () => {
        const r = await exchange(sidecar.port, `POST /ok.ws HTTP/1.1\r\nHost: www.sec.test\r\nTransfer-Encoding: ${te}\r\n\r\n0\r\n\r\n${smuggled}`);
        assert.equal(r.status, 400, r.raw);
        assert.equal(r.responses, 1, r.raw);
      });
    }

    it('refuses a bare LF or an obsolete folded line in the header block', async () => {
      const folded = await exchange(sidecar.port, 'GET /ok.ws HTTP/1.1\r\nHost: www.sec.test\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
      assert.ok(folded.status === 400 || folded.body === 'OK', folded.raw);
      assert.equal(folded.responses, 1);
      await stillServes();
    });
  });

  describe('sizes', () => {
    it('answers 431 to a header block larger than the server accepts, and keeps serving', async () => {
      const r = await get(sidecar.port, '/ok.ws', [['X-Big', 'a'.repeat(100_000)]]);
      assert.ok(r.status === 431 || r.status === 400, r.raw.slice(0, 200));
      await stillServes();
    });

    it('answers 413 to a declared body above --max-body without reading it', async () => {
      const r = await exchange(sidecar.port, 'POST /ok.ws HTTP/1.1\r\nHost: www.sec.test\r\nContent-Length: 1000000000\r\n\r\nabc');
      assert.equal(r.status, 413);
    });

    it('answers 413 to a chunked body that grows above --max-body', async () => {
      const chunk = 'x'.repeat(600);
      const body = `258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`;
      const r = await exchange(sidecar.port, `POST /ok.ws HTTP/1.1\r\nHost: www.sec.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`);
      assert.equal(r.status, 413);
      await stillServes();
    });
  });

  describe('slow clients', () => {
    it('keeps serving while 300 connections send their headers a byte at a time (slowloris)', async () => {
      const socks: net.Socket[] = [];
      try {
        for (let i = 0; i < 300; i++) {
          const s = net.connect(sidecar.port, '127.0.0.1');
          s.on('error', () => undefined);
          s.write('GET /ok.ws HTTP/1.1\r\nHost: www.sec.test\r\nX-Slow: ');
          socks.push(s);
        }
        await new Promise((r) => setTimeout(r, 300));
        for (const s of socks) s.write('a');
        await stillServes();
      } finally {
        for (const s of socks) s.destroy();
      }
    });
  });

  describe('response headers from a script', () => {
    // mod_lwt parsed WSAPI's CGI-style header block (mod_lwt.md §6.4): a CRLF inside a value a script
    // returns starts a new header line there too. What must never happen is a second response, or a
    // header the HTTP framing would read differently.
    for (const kind of ['value', 'lf', 'name', 'list', 'status']) {
      it(`keeps one well-formed response when a script puts CR/LF in a header (${kind})`, async () => {
        const r = await get(sidecar.port, `/sandbox/header.ws?${kind}`);
        assert.equal(r.responses, 1, r.raw);
        assert.ok(r.status === 200 || r.status === 500, r.raw);
        for (const line of r.head.split('\r\n').slice(1)) assert.match(line, /^[!#$%&'*+.^_`|~0-9A-Za-z-]+: [^\r\n]*$/, line);
        await stillServes();
      });
    }

    it('keeps %0d%0a from the query string encoded in an echoed header', async () => {
      const r = await get(sidecar.port, '/sandbox/header.ws?query&a%0d%0aX-Injected:%201');
      assert.ok(!/\r\nX-Injected:/i.test(r.head), r.head);
      assert.match(r.head, /\r\nX-Echo: query&a%0d%0aX-Injected:%201/);
    });

    it('passes UTF-8 bytes in a header value through as bytes', async () => {
      const r = await get(sidecar.port, '/sandbox/header.ws?euro');
      assert.equal(r.status, 200);
      assert.ok(r.head.includes('X-Name: price \xe2\x82\xac 5'), r.head);
    });

    // httpd's check_headers (http_filters.c, AH02429/AH02430) answers 500 when a response header
    // name is not a token or a value holds a control character; the sidecar must not die instead.
    // Each probe gets its own sidecar, so that one crash does not hide the next.
    for (const kind of ['control', 'direct', 'direct_name', 'direct_type']) {
      it(`answers 500 and keeps serving when a script sets an invalid response header (${kind})`, async () => {
        const own = await serve(site, ['--workers', '1']);
        try {
          const r = await get(own.port, `/sandbox/header.ws?${kind}`);
          const next = await get(own.port, '/ok.ws');
          assert.equal(next.body, 'OK', `the sidecar stopped serving:\n${own.stderr().slice(-1500)}`);
          assert.equal(r.status, 500, r.raw);
          assert.ok(!/\r\nX-Injected:/i.test(r.head), r.head);
        } finally {
          await own.stop();
        }
      });
    }
  });
});

describe('security: the error log', function () {
  this.timeout(30_000);
  it('keeps one record per line when a client puts %0a in the path (no forged log lines, at any level)', async () => {
    const site = makeSite();
    const s = await serve(site, ['--workers', '1', '--log-level', 'debug']);
    try {
      const forged = '%5b2026-01-01T00:00:00.000Z%5d%20%5berror%5d%20FORGED';
      for (const target of [`/nofollow/x%0a${forged}.ws`, `/denied/x%0a${forged}.ws`, `/plain%0d%0a${forged}.lua`]) {
        await get(s.port, target);
      }
      await s.waitForLog(/FORGED[\s\S]*FORGED[\s\S]*FORGED/);
      for (const line of s.stderr().split('\n')) assert.ok(!line.startsWith('[2026-01-01'), `forged log line: ${line}`);
    } finally {
      await s.stop();
      site.remove();
    }
  });
});

describe('security: the listen address', function () {
  this.timeout(30_000);
  it('defaults to 127.0.0.1:8070', () => {
    const o = resolveOptions({});
    assert.equal(o.host, '127.0.0.1');
    assert.equal(o.port, 8070);
  });

  it('binds to loopback when --listen names only a port', async () => {
    const site = makeSite();
    const s = await serve(site, ['--workers', '1', '--listen', '0']);
    try {
      assert.match(s.stdout() + s.stderr(), /listening on http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      await s.stop();
      site.remove();
    }
  });
});
