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
