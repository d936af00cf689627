import * as assert from 'node:assert/strict';
import { normalisePath, parseTarget } from '../../src/server/target';

describe('server/target: decoding and normalising the request target', () => {
  const ok = (raw: string) => {
    const r = parseTarget(raw);
    assert.ok(r.ok, `${raw} should parse: ${JSON.stringify(r)}`);
    return r.target;
  };
  const refused = (raw: string) => {
    const r = parseTarget(raw);
    assert.ok(!r.ok, `${raw} should be refused`);
    return r.status;
  };

  it('decodes %XX in the path and keeps the query verbatim', () => {
    const t = ok('/app/hello.ws/a%20b%7E?x=%41&y=1+2');
    assert.equal(t.path, '/app/hello.ws/a b~');
    assert.equal(t.query, 'x=%41&y=1+2');
    assert.equal(t.raw, '/app/hello.ws/a%20b%7E?x=%41&y=1+2');
  });

  it('tells an empty query from no query', () => {
    assert.equal(ok('/a?').query, '');
    assert.equal(ok('/a').query, null);
  });

  it('decodes UTF-8 escapes as UTF-8 file names', () => {
    assert.equal(ok('/caf%C3%A9.ws').path, '/café.ws');
  });

  const table: Array<[string, string]> = [
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/a//b///c', '/a/b/c'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/%2e%2e/b', '/b'],
    ['/a/%2E/b', '/a/b'],
    ['/a/.../b', '/a/.../b'],
    ['/a/..b/c', '/a/..b/c'],
    ['/', '/'],
    ['//', '/'],
    ['/app/', '/app/'],
  ];
  for (const [raw, want] of table) {
    it(`normalises ${raw} to ${want}`, () => assert.equal(ok(raw).path, want));
  }

  it('answers 400 for .. above the root, encoded or not', () => {
    assert.equal(refused('/..'), 400);
    assert.equal(refused('/../etc/passwd'), 400);
    assert.equal(refused('/a/../../etc/passwd'), 400);
    assert.equal(refused('/%2e%2e/etc/passwd'), 400);
    assert.equal(refused('/a/%2E%2E/%2e%2e/x'), 400);
  });

  it('answers 404 for an encoded slash or NUL, as Apache with AllowEncodedSlashes Off', () => {
    assert.equal(refused('/app/..%2f..%2fetc/passwd'), 404);
    assert.equal(refused('/app/a%2Fb'), 404);
    assert.equal(refused('/app/a%00.ws'), 404);
  });

  it('answers 400 for a malformed escape or a target that is not a path', () => {
    assert.equal(refused('/a%zz'), 400);
    assert.equal(refused('/a%4'), 400);
    assert.equal(refused('*'), 400);
    assert.equal(refused('app/x'), 400);
  });

  it('accepts the absolute form and keeps only path and query', () => {
    const t = ok('http://example.com/app/x.ws?q=1');
    assert.equal(t.path, '/app/x.ws');
    assert.equal(t.query, 'q=1');
  });

  it('never lets a normalised path leave the root (property over random segments)', () => {
    const parts = ['a', '.', '..', '', '%2e', '%2e%2e', 'b.ws'];
    for (let i = 0; i < 2000; i++) {
      const n = 1 + Math.floor(Math.random() * 6);
      const segs = Array.from({ length: n }, () => parts[Math.floor(Math.random() * parts.length)]);
      const r = parseTarget('/' + segs.join('/'));
      if (!r.ok) continue;
      assert.ok(r.target.path.startsWith('/'));
      assert.ok(!r.target.path.split('/').includes('..'), r.target.path);
      assert.ok(!r.target.path.split('/').includes('.'), r.target.path);
      assert.ok(!r.target.path.includes('//'), r.target.path);
    }
  });

  it('normalisePath refuses a relative path', () => {
    assert.equal(normalisePath('a/b'), null);
  });
});
