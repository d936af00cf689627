/**
 * `lwt-sidecar request`: resolve a URL against a real Apache configuration,
 * run the script in-process and print the raw response like `curl -i`.
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../src/commands/request';
import { main } from '../../src/cli';
import { SCRIPTS, runOracle } from '../helpers/oracle';
import { useSidecar } from '../helpers/sidecar';

const GROW_SCRIPT = path.join(SCRIPTS, 'grow.lua');
const AUTH_CONF = path.resolve(SCRIPTS, '..', '..', 'httpd-conf', 'user-auth', 'httpd.conf');

let dir = '';
let conf = '';

function site(): string {
  return [
    'ServerName localhost',
    'Listen 80',
    `DocumentRoot "${SCRIPTS}"`,
    `<Directory "${SCRIPTS}">`,
    '    AddHandler lwt-wsapi .lua',
    '    Require all granted',
    '</Directory>',
    `<Directory "${SCRIPTS}/iso">`,
    '    Require all denied',
    '</Directory>',
    '<Files "uselib.lua">',
    `    LuaPath "+${SCRIPTS}/lib/?.lua"`,
    '</Files>',
    '',
  ].join('\n');
}

async function request(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = {
    stdout: { write: (s: string | Uint8Array) => { out += typeof s === 'string' ? s : Buffer.from(s).toString('latin1'); } },
    stderr: { write: (s: string | Uint8Array) => { err += String(s); } },
  };
  const code = await main(['request', '--config', conf, ...args], io);
  return { code, out, err };
}

function split(raw: string): { head: string[]; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  return { head: raw.slice(0, end).split('\r\n'), body: raw.slice(end + 4) };
}

describe('lwt-sidecar request', () => {
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-request-'));
    conf = path.join(dir, 'site.conf');
    fs.writeFileSync(conf, site());
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints the seed example\'s response with status line, headers and body', async () => {
    const r = await request('http://localhost/hello.lua/a%20b?x=1');
    assert.equal(r.code, 0);
    const oracle = runOracle({ script: 'hello.lua', pathInfo: '/a b', query: 'x=1' });
    assert.equal(r.out, 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n'
      + `Content-Length: ${oracle.body.length}\r\n\r\n${oracle.body}`);
  });

  it('sends -X, -H and --data to the script as the CGI environment and body', async () => {
    const r = await request('-X', 'PUT', '-H', 'X-Test: yes', '--data', 'a=1', '/env.lua');
    const { head, body } = split(r.out);
    assert.equal(head[0], 'HTTP/1.1 200 OK');
    assert.match(body, /^REQUEST_METHOD=PUT$/m);
    assert.match(body, /^HTTP_X_TEST=yes$/m);
    assert.match(body, /^CONTENT_LENGTH=3$/m);
    assert.match(body, /^CONTENT_TYPE=application\/x-www-form-urlencoded$/m);
    assert.match(body, /^SCRIPT_FILENAME=.*\/env\.lua$/m);
  });

  it('prints no body for HEAD, as Apache', async () => {
    const r = await request('-X', 'HEAD', '/hello.lua');
    assert.ok(r.out.endsWith('\r\n\r\n'));
    assert.match(r.out, /^HTTP\/1\.1 200 OK\r\n/);
  });

  it('posts a form from --data @FILE (POST by default)', async () => {
    const file = path.join(dir, 'form.txt');
    fs.writeFileSync(file, 'name=from+file');
    const { body } = split((await request('--data', `@${file}`, '/form.lua?q=1')).out);
    assert.match(body, /^method=POST$/m);
    assert.match(body, /^POST: name=from file$/m);
    assert.match(body, /^GET: q=1$/m);
  });

  it('uses the merged LuaPath of the script\'s sections', async () => {
    assert.equal(split((await request('/uselib.lua')).out).body, 'hello, path');
  });

  it('prints Apache\'s 404 and 403 error documents and exits 0', async () => {
    const missing = await request('/missing.lua');
    assert.equal(missing.code, 0);
    assert.equal(split(missing.out).head[0], 'HTTP/1.1 404 Not Found');
    assert.match(split(missing.out).body, /<title>404 Not Found<\/title>/);
    const denied = await request('/iso/global.lua');
    assert.equal(split(denied.out).head[0], 'HTTP/1.1 403 Forbidden');
  });

  it('prints a 500 for a C-level failure and the log line on stderr', async () => {
    const r = await request('/bad/teapot.lua');
    assert.equal(r.code, 0);
    assert.equal(split(r.out).head[0], 'HTTP/1.1 500 Internal Server Error');
    assert.match(r.err, /\[lua:error\] Lua runtime error running '.*teapot\.lua'[^]* \[LWT_LUA_RUNTIME\]\n$/);
  });

  it('applies the LuaMemoryLimit of the script\'s directory, as serve does', async () => {
    const www = path.join(dir, 'limited');
    fs.mkdirSync(www);
    fs.copyFileSync(GROW_SCRIPT, path.join(www, 'grow.lua'));
    const limited = path.join(dir, 'limited.conf');
    const section = (limit: string) => [
      'ServerName localhost',
      'Listen 80',
      `DocumentRoot "${www}"`,
      `<Directory "${www}">`,
      '    AddHandler lwt-wsapi .lua',
      '    Require all granted',
      `    LuaMemoryLimit ${limit}`,
      '</Directory>',
      '',
    ].join('\n');
    fs.writeFileSync(limited, section('8M'));
    const r = await request('--config', limited, '/grow.lua');
    assert.equal(split(r.out).head[0], 'HTTP/1.1 500 Internal Server Error', r.out);
    assert.equal(r.err, `[lua:error] Lua memory allocation error running '${path.join(www, 'grow.lua')}': not enough memory [LWT_LUA_MEMORY]\n`);
    fs.writeFileSync(limited, section('256M'));
    assert.equal(split((await request('--config', limited, '/grow.lua')).out).body, 'kept 65536');
  });

  it('names LWT_BAD_REQUEST with the reason for a 400', async () => {
    const r = await request('/../../etc/passwd');
    assert.equal(split(r.out).head[0], 'HTTP/1.1 400 Bad Request');
    assert.equal(r.err, 'lwt-sidecar: the path climbs above the root [LWT_BAD_REQUEST]\n');
  });

  it('prints WSAPI\'s own 500 page for a script error', async () => {
    const r = await request('/bad/runtime.lua');
    assert.equal(split(r.out).head[0], 'HTTP/1.1 500 Internal Server Error');
    assert.match(split(r.out).body, /WSAPI Error in Application/);
  });

  it('exits 1 with a positional message on a configuration error', async () => {
    const bad = path.join(dir, 'bad.conf');
    fs.writeFileSync(bad, '<Directory /x>\nAddHandler lwt-wsapi .lua\n');
    let err = '';
    const code = await main(['request', '--config', bad, '/x.lua'], {
      stdout: { write: () => undefined },
      stderr: { write: (s: string | Uint8Array) => { err += String(s); } },
    });
    assert.equal(code, 1);
    assert.match(err, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: `));
  });

  it('refuses a missing URL with a usage error', async () => {
    await assert.rejects(run(['--config', conf], { stdout: { write: () => undefined }, stderr: { write: () => undefined } }), /exactly one URL/);
  });

  it("answers a directory of a SetHandler scope without its slash with mod_dir's 301 and Location", async () => {
    const slashConf = path.join(dir, 'slash.conf');
    fs.writeFileSync(slashConf, [
      'ServerName localhost', 'Listen 80', `DocumentRoot "${SCRIPTS}"`,
      `<Directory "${SCRIPTS}/data">`, '    SetHandler lwt-wsapi', '    Require all granted', '</Directory>', '',
    ].join('\n'));
    let out = '';
    const io = { stdout: { write: (x: string | Uint8Array) => { out += typeof x === 'string' ? x : Buffer.from(x).toString('latin1'); } }, stderr: { write: () => undefined } };
    assert.equal(await main(['request', '--config', slashConf, 'http://www.example.test:8080/data?x=1'], io), 0);
    const head = out.split('\r\n\r\n')[0]!.split('\r\n');
    assert.equal(head[0], 'HTTP/1.1 301 Moved Permanently');
    assert.ok(head.includes('Location: http://www.example.test:8080/data/?x=1'), head.join('\n'));
    assert.match(out, /The document has moved <a href="http:\/\/www\.example\.test:8080\/data\/\?x=1">here<\/a>/);
  });

  describe('--user and --auth-type', () => {
    // Require valid-user below /env.lua/members, Require user alice josé below /env.lua/staff; env.lua dumps the environment.
    const asUser = (...args: string[]) => request('--config', AUTH_CONF, ...args);

    it('runs the script as the user Apache authenticated, with AUTH_TYPE Basic by default', async () => {
      const r = await asUser('--user', 'alice', '/env.lua/staff');
      const { head, body } = split(r.out);
      assert.equal(head[0], 'HTTP/1.1 200 OK', r.err);
      assert.match(body, /^REMOTE_USER=alice$/m);
      assert.match(body, /^AUTH_TYPE=Basic$/m);
    });

    it('takes the AuthType from --auth-type', async () => {
      const { head, body } = split((await asUser('--user', 'bob', '--auth-type', 'Digest', '/env.lua/members/x')).out);
      assert.equal(head[0], 'HTTP/1.1 200 OK');
      assert.match(body, /^REMOTE_USER=bob$/m);
      assert.match(body, /^AUTH_TYPE=Digest$/m);
    });

    it('passes a non-ASCII user name as its UTF-8 bytes, as the forwarded header carries it', async () => {
      const { head, body } = split((await asUser('--user', 'josé', '/env.lua/staff')).out);
      assert.equal(head[0], 'HTTP/1.1 200 OK');
      assert.match(body, new RegExp(`^REMOTE_USER=${Buffer.from('josé', 'utf8').toString('latin1')}$`, 'm'));
    });

    it('sets neither variable without --user', async () => {
      const { head, body } = split((await asUser('/env.lua/open')).out);
      assert.equal(head[0], 'HTTP/1.1 200 OK');
      assert.match(body, /^REMOTE_USER=$/m);
      assert.match(body, /^AUTH_TYPE=$/m);
    });

    const refusals: Array<[string[], RegExp]> = [
      [['/env.lua/members/x'], /^lwt-sidecar: Require valid-user \(.*:\d+\) needs a user authenticated by Apache/],
      [['/env.lua/staff'], /^lwt-sidecar: Require user alice josé \(.*:\d+\) needs a user authenticated by Apache/],
      [['--user', 'bob', '/env.lua/staff'], /^lwt-sidecar: access denied by the configuration$/m],
    ];
    for (const [args, reason] of refusals) {
      it(`answers 403 for ${args.join(' ')}`, async () => {
        const r = await asUser(...args);
        assert.equal(r.code, 0);
        assert.equal(split(r.out).head[0], 'HTTP/1.1 403 Forbidden');
        assert.match(r.err, reason);
      });
    }

    describe('agrees with serve given the same user by a trusted Apache', () => {
      const ctx = useSidecar({ config: AUTH_CONF, args: ['--workers', '1'] });
      const who = (body: string) => body.split('\n').filter((l) => /^(REMOTE_USER|AUTH_TYPE)=/.test(l));
      const cases: Array<[string | null, string | null, string]> = [
        [null, null, '/env.lua/open'], [null, null, '/env.lua/members/x'], ['alice', 'Basic', '/env.lua/members/x'],
        ['bob', 'Digest', '/env.lua/staff'], ['alice', 'Basic', '/env.lua/staff'],
      ];
      for (const [user, authType, url] of cases) {
        it(`${user ?? 'no user'} ${url}`, async () => {
          const forwarded: Record<string, string> = user === null ? {} : { 'X-Forwarded-User': user, 'X-Forwarded-Auth-Type': authType! };
          const served = await fetch(ctx.sidecar.url + url, { headers: forwarded });
          const servedBody = await served.text();
          const local = await asUser(...(user === null ? [] : ['--user', user, '--auth-type', authType!]), url);
          const { head, body } = split(local.out);
          assert.equal(head[0], `HTTP/1.1 ${served.status} ${served.statusText}`);
          if (served.status === 200) assert.deepEqual(who(body), who(servedBody));
        });
      }
    });

    it('refuses --auth-type without --user, and an empty --user', async () => {
      const noUser = await asUser('--auth-type', 'Basic', '/env.lua/open');
      assert.equal(noUser.code, 1);
      assert.equal(noUser.out, '');
      assert.match(noUser.err, /^lwt-sidecar: --auth-type needs --user/);
      const empty = await asUser('--user', '', '/env.lua/open');
      assert.equal(empty.code, 1);
      assert.match(empty.err, /^lwt-sidecar: --user must not be empty/);
    });
  });
});
