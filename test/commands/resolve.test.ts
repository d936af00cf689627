/**
 * `lwt-sidecar resolve`, run as a user runs it, on the fixture site.
 */

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { cli, SITE } from '../scopes/helpers';
const CONF = path.join(SITE, 'apache2.conf');

function json(...args: string[]) {
  const r = cli(['resolve', '--config', CONF, '--json', ...args]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('lwt-sidecar resolve', () => {
  it('resolves the seed example with PATH_INFO, a query string and percent-encoding', () => {
    const d = json('/hello.ws/a%20b?x=1&y=%2F');
    assert.equal(d.status, 200);
    assert.equal(d.vhost.serverName, 'www.example.test');
    assert.equal(d.filename, path.join(SITE, 'www/hello.ws'));
    assert.equal(d.pathInfo, '/a b');
    assert.equal(d.scriptName, '/hello.ws');
    assert.equal(d.handler, 'lwt-wsapi');
    assert.equal(d.luaPath, null);
    assert.equal(d.luaCPath, null);
  });

  it('uses the host of an absolute URL, or --host, to pick the virtual host', () => {
    assert.equal(json('http://api.example.test/status.lua').luaPath, '/usr/share/lua/5.1/?.lua');
    assert.equal(json('--host', 'api.example.test', '/status.lua').vhost.serverName, 'api.example.test');
  });

  it('resolves a directory to its DirectoryIndex script with the directory\'s LuaPath', () => {
    const d = json('/app/');
    assert.deepEqual([d.status, d.scriptName, d.luaPath], [200, '/app/index.ws', `+${SITE}/www/app/lib/?.lua`]);
  });

  const refusals: Array<[string, number, RegExp]> = [
    ['/private/secret.ws', 403, /access denied/],
    ['/app/lib/greeting.lua', 403, /access denied/],
    ['/plain.lua', 404, /not an lwt-wsapi request/],
    ['/missing.ws', 404, /does not exist/],
    ['/a%2Fb.ws', 404, /encoded slash/],
    ['/%2e%2e/%2e%2e/etc/passwd', 404, /./],
    ['/x%00.ws', 404, /./],
  ];
  for (const [url, status, reason] of refusals) {
    it(`answers ${status} for ${url}`, () => {
      const d = json(url);
      assert.equal(d.status, status);
      assert.match(d.reason, reason);
    });
  }

  it('checks access for --client-ip', () => {
    assert.equal(json('--host', 'api.example.test', '--client-ip', '192.0.2.7', '/status.lua').status, 403);
    assert.equal(json('--host', 'api.example.test', '--client-ip', '::1', '/status.lua').status, 200);
  });

  it('prints a readable table by default', () => {
    const r = cli(['resolve', '--config', CONF, '/tools/info.ws/x']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^status\s+200$/m);
    assert.match(r.stdout, /^PATH_INFO\s+\/x$/m);
    assert.match(r.stdout, /^SCRIPT_NAME\s+\/tools\/info\.ws$/m);
  });

  it('refuses a missing URL as a usage error', () => {
    const r = cli(['resolve', '--config', CONF]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /resolve takes exactly one URL/);
  });
});

describe('lwt-sidecar resolve --user', () => {
  // Require valid-user below /env.lua/members, Require user alice josé below /env.lua/staff.
  const AUTH_CONF = path.resolve(SITE, '..', 'user-auth', 'httpd.conf');
  const authJson = (...args: string[]) => {
    const r = cli(['resolve', '--config', AUTH_CONF, '--json', ...args]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  const cases: Array<[string, string | null, 200 | 403, RegExp | null]> = [
    ['/env.lua/members/x', null, 403, /^Require valid-user \(.*httpd\.conf:\d+\) needs a user authenticated by Apache/],
    ['/env.lua/members/x', 'alice', 200, null],
    ['/env.lua/members/x', 'bob', 200, null],
    ['/env.lua/staff', null, 403, /^Require user alice josé \(.*httpd\.conf:\d+\) needs a user authenticated by Apache/],
    ['/env.lua/staff', 'alice', 200, null],
    ['/env.lua/staff', 'josé', 200, null],
    ['/env.lua/staff', 'bob', 403, /^access denied by the configuration$/],
    ['/env.lua/staff', 'Alice', 403, /^access denied by the configuration$/],
  ];
  for (const [url, user, status, reason] of cases) {
    it(`answers ${status} for ${url} ${user === null ? 'without a user' : `as ${user}`}`, () => {
      const d = authJson(...(user === null ? [] : ['--user', user]), url);
      assert.equal(d.status, status, d.reason);
      assert.equal(d.accessVerdict, status === 200 ? 'granted' : 'denied');
      if (reason) assert.match(d.reason, reason);
      else assert.equal(d.reason, null);
      assert.equal(d.request.user, user);
    });
  }

  it('keeps every key and echoes the request it resolved', () => {
    const plain = authJson('/env.lua/staff');
    const d = authJson('--user', 'alice', '--client-ip', '192.0.2.7', 'http://localhost:8080/env.lua/staff?q=1');
    for (const key of Object.keys(plain)) assert.ok(key in d, key);
    assert.deepEqual(d.request, {
      url: 'http://localhost:8080/env.lua/staff?q=1', host: 'localhost', port: 8080, path: '/env.lua/staff', clientIp: '192.0.2.7', user: 'alice',
    });
    assert.deepEqual(plain.request, { url: '/env.lua/staff', host: null, port: 80, path: '/env.lua/staff', clientIp: '127.0.0.1', user: null });
  });

  it('does not let a user open what the client address may not', () => {
    assert.equal(json('--host', 'api.example.test', '--client-ip', '192.0.2.7', '--user', 'alice', '/status.lua').status, 403);
  });

  it('shows the user in the table', () => {
    const r = cli(['resolve', '--config', AUTH_CONF, '--user', 'alice', '/env.lua/staff']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^status\s+200$/m);
    assert.match(r.stdout, /^user\s+alice$/m);
    assert.match(r.stdout, /^access\s+granted$/m);
  });

  it('refuses an empty --user as a usage error', () => {
    const r = cli(['resolve', '--config', AUTH_CONF, '--user', '', '/env.lua/staff']);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^lwt-sidecar: --user must not be empty/);
  });
});
