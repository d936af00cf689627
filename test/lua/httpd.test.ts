/**
 * The `httpd` module (mod_lwt.md §4, §5) inside a request state: run Lua code
 * with the registered `request` as its argument and look at what it returns,
 * writes and logs.
 */

import * as assert from 'node:assert/strict';
import { toJsString } from '../../src/lua/fengari';
import { jobFor, type CgiRequest } from '../helpers/oracle';
import { runInRequest, type InRequestRun } from '../helpers/httpd-state';
import type { LogLevel, LuaJob } from '../../src/lua/types';

interface Outcome {
  ok: boolean;
  values: string[];
  error: string;
  out: string;
  logs: Array<[LogLevel, string]>;
  record: InRequestRun['record'];
}

/** Run `code` as a chunk receiving (request, httpd); `register: false` runs it before the request exists. */
function lua51(code: string, req: Partial<CgiRequest> = {}, register: boolean | LuaJob = true): Outcome {
  const job = typeof register === 'object' ? register : jobFor({ script: 'hello.lua', ...req });
  const r = runInRequest(code, { job, register: register !== false });
  const error = r.error === null ? '' : toJsString(r.error);
  return { ok: r.ok, values: r.values.map((v) => toJsString(v)), error, out: r.out, logs: r.logs, record: r.record };
}

function values(code: string, req: Partial<CgiRequest> = {}, job?: LuaJob): string[] {
  const r = lua51(code, req, job ?? true);
  assert.equal(r.ok, true, r.error);
  return r.values;
}

describe('httpd module', () => {
  describe('escapes', () => {
    it('escape_uri keeps unreserved bytes, uses upper-case hex and stops at NUL', () => {
      assert.deepEqual(values('return httpd.escape_uri("a b/ü~-._?&="), httpd.escape_uri("x\\0y")'), ['a%20b%2F%C3%BC~-._%3F%26%3D', 'x']);
    });
    it("escape_xml escapes & < > \" but not '", () => {
      assert.deepEqual(values(`return httpd.escape_xml([[<a href="x">'&'</a>]])`), [`&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;`]);
    });
    it('escape_js escapes the C escapes and quotes only', () => {
      assert.deepEqual(values('return httpd.escape_js("a\\b\\t\\n\\v\\f\\r\\"\'\\\\</\\1")'), ['a\\b\\t\\n\\v\\f\\r\\"\\\'\\\\</\x01']);
    });
  });

  describe('APR tables', () => {
    const headers = { 'X-One': '1', Cookie: 'a=1' };
    it('look keys up case-insensitively and iterate in insertion order with duplicates', () => {
      assert.deepEqual(values(`
        local t = request.headers_out
        t.Foo = "a"; httpd.add_header("X-Dup", "1"); httpd.add_header("x-dup", "2")
        local seen = {}
        for k, v in pairs(request.headers_out) do seen[#seen + 1] = k .. "=" .. v end
        local seen2 = {}
        for k, v in httpd.pairs(request.headers_out) do seen2[#seen2 + 1] = k .. "=" .. v end
        return request.headers_in["x-one"], request.headers_in.COOKIE, table.concat(seen, ","), table.concat(seen2, ",")`, { headers }),
      ['1', 'a=1', 'Foo=a,X-Dup=1,x-dup=2', 'Foo=a,X-Dup=1,x-dup=2']);
    });
    it('set replaces every duplicate in place, nil removes them, tostring names the type', () => {
      assert.deepEqual(values(`
        httpd.add_header("A", "1"); httpd.add_header("B", "2"); httpd.add_header("a", "3")
        local t = request.headers_out
        t.a = "x"
        local s = {}
        for k, v in pairs(t) do s[#s + 1] = k .. "=" .. v end
        t.B = nil
        local n = 0
        for _ in pairs(t) do n = n + 1 end
        local ok, err = pcall(function () t.c = true end)
        return table.concat(s, ","), n, tostring(t):sub(1, 10), ok, err:match("string expected") ~= nil`),
      ['A=x,B=2', '1', 'APR table ', 'false', 'true']);
    });
    it('is a new wrapper on every access of a request field', () => {
      assert.deepEqual(values('return request.headers_in == request.headers_in, rawequal(request.env, request.env)'), ['false', 'false']);
    });
  });

  describe('the request userdata', () => {
    it('exposes mod_lwt\'s fields and nil for unknown ones', () => {
      assert.deepEqual(values(`
        return request.uri, request.method, request.path, request.path_info, request.args, request.filename,
          request.filedir, request.status, request.hostname, tostring(request.body), tostring(request.nope),
          request.env.SCRIPT_NAME, tostring(request):match("^request %(0x%x+%)$") ~= nil`,
      { pathInfo: '/p', query: 'x=1' }),
      ['/hello.lua/p?x=1', 'GET', '/hello.lua/p', '/p', 'x=1', jobFor({ script: 'hello.lua' }).filename,
        jobFor({ script: 'hello.lua' }).filename.replace(/hello\.lua$/, ''), '200', 'localhost', 'nil', 'nil', '/hello.lua', 'true']);
    });
    it('gives paths as UTF-8 bytes and env/header values byte for byte (binary strings)', () => {
      const job = jobFor({ script: 'hello.lua', pathInfo: '/cé' });
      assert.deepEqual(values(`return request.path_info == "/c\\195\\169", request.env.PATH_INFO == "/c\\195\\169",
        request.env.X_BYTES == "\\195\\169\\255", request.headers_in["X-Raw"] == "\\233"`, {}, {
        ...job, env: { ...job.env, X_BYTES: '\xC3\xA9\xFF' }, request: { ...job.request, headersIn: [['X-Raw', '\xE9']] },
      }), ['true', 'true', 'true', 'true']);
    });
    it('is read-only', () => {
      const r = lua51('request.status = 404');
      assert.equal(r.ok, false);
      assert.match(r.error, /attempt to index|userdata/);
    });
    it('reflects set_status in request.status', () => {
      assert.deepEqual(values('httpd.set_status(201); return request.status'), ['201']);
    });
  });

  describe('set_status', () => {
    for (const bad of ['99', '600']) {
      it(`rejects ${bad}`, () => {
        const r = lua51(`httpd.set_status(${bad})`);
        assert.match(r.error, new RegExp(`invalid status \\(expected \\[100,599\\], got ${bad}\\)`));
      });
    }
    it('needs a number', () => {
      assert.match(lua51('httpd.set_status("x")').error, /number expected/);
    });
    it('raises "no request record" before the request exists', () => {
      assert.match(lua51('httpd.set_status(200)', {}, false).error, /no request record/);
    });
  });

  it('set_content_type and add_header (err list) reach the record', () => {
    const r = lua51('httpd.set_content_type("text/plain"); httpd.add_header("X-A", "1", true); httpd.add_header("X-B", "2")');
    assert.equal(r.record.contentType, 'text/plain');
    assert.deepEqual(r.record.errHeadersOut.entries, [['X-A', '1']]);
    assert.deepEqual(r.record.headersOut.entries, [['X-B', '2']]);
  });

  it('write and output:write go to the response in order', () => {
    assert.equal(lua51('httpd.write("a", 1, 2.5); httpd.output:write("b")').out, 'a12.5b');
  });

  it('read reads the request body through httpd.input', () => {
    assert.deepEqual(values('return httpd.read(3), httpd.input:read("*a")', { method: 'POST', body: 'abcdef' }), ['abc', 'def']);
  });

  it('debug/notice/err log at their levels', () => {
    const r = lua51('httpd.debug("d"); httpd.notice("n"); httpd.err("e")');
    assert.deepEqual(r.logs, [['debug', 'd'], ['notice', 'n'], ['error', 'e']]);
  });

  describe('dates and cookies', () => {
    it('date formats RFC 1123 in UTC and time parses all three HTTP forms', () => {
      assert.deepEqual(values(`
        return httpd.date(784111777), httpd.time("Sun, 06 Nov 1994 08:49:37 GMT"),
          httpd.time("Sunday, 06-Nov-94 08:49:37 GMT"), httpd.time("  Sun Nov  6 08:49:37 1994 "),
          tostring(httpd.time("Sun, 06 Foo 1994 08:49:37 GMT")), tostring(httpd.date(nil))`),
      ['Sun, 06 Nov 1994 08:49:37 GMT', '784111777', '784111777', '784111777', 'nil', 'nil']);
    });
    it('date and os.date("!...") are UTC whatever the sidecar\'s time zone', () => {
      const tz = process.env.TZ;
      process.env.TZ = 'America/New_York';
      try {
        assert.deepEqual(values('return httpd.date(784111777), os.date("!%H:%M", 0), os.date("%H:%M", 0)'),
          ['Sun, 06 Nov 1994 08:49:37 GMT', '00:00', '19:00']);
      } finally {
        if (tz === undefined) delete process.env.TZ;
        else process.env.TZ = tz;
      }
    });
    it('core.time needs every field', () => {
      assert.match(lua51('return httpd.core.time{ year = 2000 }').error, /field 'month' missing/);
    });
    it('add_cookie builds Set-Cookie on err_headers_out and validates name and value', () => {
      const r = lua51(`
        httpd.add_cookie("a", "1", 784111777, "/p", "example.org", true, true)
        httpd.add_cookie("b")
        local _, e1 = pcall(httpd.add_cookie, "bad name", "x")
        local _, e2 = pcall(httpd.add_cookie, "ok", "bad;value")
        return e1, e2`);
      assert.deepEqual(r.record.errHeadersOut.entries, [
        ['Set-Cookie', 'a=1; Expires=Sun, 06 Nov 1994 08:49:37 GMT; Path=/p; Domain=example.org; Secure; HttpOnly'],
        ['Set-Cookie', 'b='],
      ]);
      assert.match(r.values[0]!, /httpd\.lua:\d+: bad name/);
      assert.match(r.values[1]!, /httpd\.lua:\d+: bad value/);
    });
    it('cookie finds the first value by exact name, quoted or not', () => {
      assert.deepEqual(values('return httpd.cookie(request, "b"), httpd.cookie(request, "c"), tostring(httpd.cookie(request, "B"))',
        { headers: { Cookie: 'a=1; b=two; c="three"' } }), ['two', 'three', 'nil']);
    });
  });

  it('redirect sets an http:// Location from the Host header and returns the status', () => {
    const r = lua51('return httpd.redirect(request, "/next", 302)', { headers: { Host: 'example.org:8080' } });
    assert.deepEqual(r.values, ['302']);
    assert.deepEqual(r.record.errHeadersOut.entries, [['Location', 'http://example.org:8080/next']]);
  });

  it('dump writes tables as HTML tables, marks repeats and escapes', () => {
    const r = lua51('local t = { "<x>" }; t.self = t; httpd.dump({ t }); httpd.dump(1.5); httpd.dump("&")');
    const inner = ['<tr><td>1</td><td>"&lt;x&gt;"<td></tr>\r\n', '<tr><td>self</td><td>(recursion)<td></tr>\r\n'];
    const rows = r.out.slice(0, -'1.5"&amp;"'.length);
    assert.equal(r.out.slice(rows.length), '1.5"&amp;"');
    assert.ok([inner.join(''), inner.reverse().join('')].some((i) => rows === '<table><tablebody>\r\n<tr><td>1</td><td><table><tablebody>\r\n'
      + i + '</tablebody></table>\r\n<td></tr>\r\n</tablebody></table>\r\n'), rows);
  });

  it('match tries patterns in turn and turns position captures into nil', () => {
    assert.deepEqual(values(`
      local a, b, c = httpd.match("/user/42", "^/post/(%d+)$", "^/user/()(%d+)$")
      return tostring(a), b, tostring(c), tostring(httpd.match(nil, "^(x)")), select("#", httpd.match("/a", "^/(a)()"))`),
    ['nil', '42', 'nil', 'nil', '2']);
  });

  describe('defer', () => {
    it('needs a function', () => {
      assert.match(lua51('httpd.defer(1)').error, /function expected/);
    });
  });
});
