/**
 * REMOTE_USER and AUTH_TYPE for a script behind Apache's authentication, as
 * mod_lwt gave them (ap_add_common_vars: r->user, r->ap_auth_type; mod_lwt.md
 * §7). Apache authenticates the proxied URL (auth in a <Location> or <Proxy>
 * section) and the snippet passes the result on in X-Forwarded-User/-Auth-Type,
 * which a client cannot forge. The reference is real Apache running the same
 * script through mod_cgi behind the same <Location>. The sidecar checks the
 * site's `Require valid-user`/`user` against that user itself, also with
 * --apache-checks-access, so a <Directory> Apache skips still protects.
 */

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CGI_ORACLE, apacheBanner, useApache, useStack } from '../helpers/apache';
import { startSidecar } from '../helpers/sidecar';
import { rawRequest, requestHead, type RawResponse } from './raw-http';

const AUTH_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-auth-'));
const PASSWORDS = path.join(AUTH_DIR, 'htpasswd');
const ACCESS_LOG = path.join(AUTH_DIR, 'sidecar-access.log');
// WSAPI loads a script only when SCRIPT_NAME is part of its file name (wsapi/common.lua not_compatible).
const WHO_DIR = path.join(AUTH_DIR, 'who');

/** A script of this suite's own: the keys the forwarding headers could show up as. */
const WHO_SCRIPT = `
local KEYS = { "REMOTE_USER", "AUTH_TYPE", "HTTP_X_FORWARDED_USER", "HTTP_X_FORWARDED_AUTH_TYPE", "HTTP_AUTHORIZATION" }
return function(wsapi_env)
  local lines = {}
  for _, k in ipairs(KEYS) do lines[#lines + 1] = k .. "=" .. wsapi_env[k] .. "\\n" end
  return 200, { ["Content-Type"] = "text/plain" }, coroutine.wrap(function() coroutine.yield(table.concat(lines)) end)
end
`;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** mod_authn_file and mod_authn_anon are not among the modules deploy/stack.js loads. */
const AUTHN_MODULES = [
  '<IfModule !authn_file_module>',
  '    LoadModule authn_file_module /usr/lib/apache2/modules/mod_authn_file.so',
  '</IfModule>',
  '<IfModule !authn_anon_module>',
  '    LoadModule authn_anon_module /usr/lib/apache2/modules/mod_authn_anon.so',
  '</IfModule>',
];

function basicAuth(realm: string): string[] {
  return ['    AuthType Basic', `    AuthName "${realm}"`, `    AuthUserFile ${PASSWORDS}`, '    Require valid-user'];
}

/** Both servers: the script is protected where Apache checks a proxied URL too. */
const LOCATION_AUTH = ['<Location /e2e/env.ws>', ...basicAuth('lwt e2e'), '</Location>'];

/** /who/who.ws: an lwt-wsapi directory, open except below /who/who.ws/locked. */
const WHO_SITE = [
  `Alias /who ${WHO_DIR}`,
  `<Directory ${WHO_DIR}>`,
  '    Require all granted',
  '    <IfModule mod_lwt.c>',
  '        SetHandler lwt-wsapi',
  '    </IfModule>',
  '</Directory>',
  '<Location /who/who.ws/locked>', ...basicAuth('lwt who'), '</Location>',
  // mod_authn_anon's `Anonymous *` accepts any user name the client sends, bytes and all.
  '<Location /who/who.ws/anonymous>',
  '    AuthType Basic', '    AuthName "lwt anon"', '    AuthBasicProvider anon', '    Anonymous *',
  '    Anonymous_MustGiveEmail off', '    Anonymous_VerifyEmail off', '    Require valid-user',
  '</Location>',
  // Where mod_lwt-era configurations had it: Apache skips it for a proxied URL.
  `<Directory ${WHO_DIR}/dir>`, ...basicAuth('lwt dir'), '</Directory>',
  // The mod_lwt-era <Directory> kept, with authentication added where Apache applies it.
  `<Directory ${WHO_DIR}/both>`, ...basicAuth('lwt both'), '</Directory>',
  '<Location /who/both/>', ...basicAuth('lwt both'), '</Location>',
  // The user list stays in <Directory> (the sidecar checks it); Apache's <Proxy>, which the sidecar does not read, authenticates.
  `<Directory ${WHO_DIR}/users>`, '    Require user alice josé', '</Directory>',
  '<Proxy "${LWT_SIDECAR_URL}/who/users/*">', ...basicAuth('lwt users'), '</Proxy>',
];

/** The line of `Require valid-user` in the section that opens with `opening`, in Apache's generated configuration. */
function requireLine(configFile: string, opening: string): number {
  const lines = fs.readFileSync(configFile, 'utf8').split('\n');
  const start = lines.indexOf(opening);
  assert.ok(start >= 0, `no '${opening}' in ${configFile}`);
  return lines.findIndex((l, i) => i > start && /^\s*Require valid-user$/.test(l)) + 1;
}

/** `KEY=value` lines of www/e2e/env.ws (the dumper environment.test.ts reads) or of WHO_SCRIPT. */
function parseDump(res: RawResponse): Map<string, string> {
  assert.equal(res.status, 200, `the script answered ${res.status}: ${res.body.toString('latin1').slice(0, 500)}`);
  const out = new Map<string, string>();
  for (const line of res.body.toString('latin1').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

function send(port: number, target: string, headers: Array<[string, string]> = []): Promise<RawResponse> {
  return rawRequest(port, requestHead('GET', target, [['Host', 'www.example.test:8080'], ...headers]));
}

/** Resolves once the sidecar's access log names `marker` (it is written asynchronously). */
async function accessLogWith(marker: string): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const log = fs.existsSync(ACCESS_LOG) ? fs.readFileSync(ACCESS_LOG, 'utf8') : '';
    if (log.includes(marker)) return log;
    if (Date.now() > deadline) throw new Error(`the sidecar's access log has no '${marker}' after 5 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('e2e: REMOTE_USER and AUTH_TYPE of a request Apache authenticated', function () {
  this.timeout(30_000);
  before(() => {
    execFileSync('htpasswd', ['-bc', PASSWORDS, 'alice', 's3cret'], { stdio: 'pipe' });
    execFileSync('htpasswd', ['-b', PASSWORDS, 'josé', 'pw'], { stdio: 'pipe' });
    execFileSync('htpasswd', ['-b', PASSWORDS, 'bob', 'b0b'], { stdio: 'pipe' });
    fs.mkdirSync(WHO_DIR);
    fs.writeFileSync(path.join(WHO_DIR, 'who.ws'), WHO_SCRIPT);
    for (const dir of ['dir', 'both', 'users']) {
      fs.mkdirSync(path.join(WHO_DIR, dir));
      fs.writeFileSync(path.join(WHO_DIR, dir, 'who.ws'), WHO_SCRIPT);
    }
    // Apache started as root reads the file as www-data.
    fs.chmodSync(AUTH_DIR, 0o755);
    fs.chmodSync(PASSWORDS, 0o644);
  });
  after(() => fs.rmSync(AUTH_DIR, { recursive: true, force: true }));

  const banner = (() => { try { return apacheBanner(); } catch { return 'apache2 missing'; } })();
  const stack = useStack({
    // --apache-checks-access as an operator relying on Apache would run it: valid-user/user are checked all the same.
    sidecarArgs: ['--workers', '2', '--server-software', banner, '--apache-checks-access', '--access-log', ACCESS_LOG],
    apache: {
      extra: [
        ...AUTHN_MODULES,
        ...LOCATION_AUTH,
        ...WHO_SITE,
        // A <Proxy> section matches the backend URL: it applies to proxied requests only.
        '<Proxy "${LWT_SIDECAR_URL}/app/env.ws/in-proxy/*">', ...basicAuth('lwt proxy'), '</Proxy>',
      ],
    },
  });
  const oracle = useApache({ ...CGI_ORACLE, extra: [...CGI_ORACLE.extra!, ...AUTHN_MODULES, ...LOCATION_AUTH] });

  it('gives the script the user and AuthType Apache authenticated, key by key as mod_cgi does', async () => {
    const headers: Array<[string, string]> = [['Authorization', basic('alice', 's3cret')], ['Accept', '*/*']];
    const viaSidecar = await send(stack.apache.port, '/e2e/env.ws/p?q=1', headers);
    const viaCgi = await send(oracle.apache.port, '/e2e/env.ws/p?q=1', headers);
    const env = parseDump(viaSidecar);
    const ref = parseDump(viaCgi);
    assert.equal(ref.get('REMOTE_USER'), 'alice');
    assert.equal(ref.get('AUTH_TYPE'), 'Basic');
    assert.equal(env.get('REMOTE_USER'), 'alice');
    assert.equal(env.get('AUTH_TYPE'), 'Basic');
    // The credentials themselves stay hidden (CGIPassAuth Off), as under mod_cgi and mod_lwt.
    assert.equal(env.get('HTTP_AUTHORIZATION'), '');
    const differences: string[] = [];
    for (const [key, value] of ref) {
      if (key === 'REMOTE_PORT') continue;
      if (env.get(key) !== value) differences.push(`${key}: sidecar ${JSON.stringify(env.get(key))}, Apache ${JSON.stringify(value)}`);
    }
    assert.deepEqual(differences, []);
  });

  it('passes a non-ASCII user name as the bytes Apache has, like mod_cgi', async () => {
    // Basic credentials are bytes: the UTF-8 of `josé` here.
    const credentials = `Basic ${Buffer.from('josé:pw', 'utf8').toString('base64')}`;
    const env = parseDump(await send(stack.apache.port, '/e2e/env.ws', [['Authorization', credentials]]));
    const ref = parseDump(await send(oracle.apache.port, '/e2e/env.ws', [['Authorization', credentials]]));
    assert.equal(ref.get('REMOTE_USER'), Buffer.from('josé', 'utf8').toString('latin1'));
    assert.equal(env.get('REMOTE_USER'), ref.get('REMOTE_USER'));
  });

  it('keeps Apache\'s user when the client also sends X-Forwarded-User, and hides the headers', async () => {
    const env = parseDump(await send(stack.apache.port, '/who/who.ws/locked', [
      ['Authorization', basic('alice', 's3cret')], ['X-Forwarded-User', 'admin'], ['x-forwarded-auth-type', 'Forged'],
    ]));
    assert.deepEqual(Object.fromEntries(env), {
      REMOTE_USER: 'alice', AUTH_TYPE: 'Basic', HTTP_X_FORWARDED_USER: '', HTTP_X_FORWARDED_AUTH_TYPE: '', HTTP_AUTHORIZATION: '',
    });
  });

  it('passes no user name with control characters, which mod_proxy would write out as header lines', async () => {
    const anonymous = (user: string) => send(stack.apache.port, '/who/who.ws/anonymous', [['Authorization', basic(user, 'x')]]);
    assert.equal(parseDump(await anonymous('guest\tone')).get('REMOTE_USER'), 'guest\tone');
    // Basic splits at the first colon: this user is `guest\r\nX-Injected`, a line of its own on the wire.
    // Without the name the sidecar has no user for the <Location>'s `Require valid-user`: refused, not run.
    const refused = await anonymous('guest\r\nX-Injected: 1');
    assert.equal(refused.status, 403);
    assert.doesNotMatch(refused.body.toString('latin1'), /REMOTE_USER=|X-Injected/);
    await stack.sidecar.waitForOutput(/who\.ws \(Require valid-user \(\S+:\d+\) needs a user authenticated by Apache/);
  });

  it('answers a wrong or missing password with Apache\'s 401, which never reaches the sidecar', async () => {
    const wrong = await send(stack.apache.port, '/e2e/env.ws?marker=wrong-password', [['Authorization', basic('alice', 'nope')]]);
    const missing = await send(stack.apache.port, '/e2e/env.ws?marker=no-password', [['X-Forwarded-User', 'alice']]);
    for (const res of [wrong, missing]) {
      assert.equal(res.status, 401);
      assert.equal(res.header('WWW-Authenticate'), 'Basic realm="lwt e2e"');
      assert.doesNotMatch(res.body.toString('latin1'), /REMOTE_USER=/);
    }
    // A request that did go through, sent after them, is logged; the refused ones are not.
    parseDump(await send(stack.apache.port, '/e2e/env.ws?marker=let-through', [['Authorization', basic('alice', 's3cret')]]));
    const log = await accessLogWith('marker=let-through');
    assert.doesNotMatch(log, /marker=wrong-password|marker=no-password/);
    assert.match(stack.apache.errorLog(), /user alice: authentication failure for "\/e2e\/env\.ws": Password Mismatch/);
  });

  it('does not believe a client\'s X-Forwarded-User or X-Forwarded-Auth-Type on a URL without authentication', async () => {
    const forged: Array<[string, string]> = [
      ['X-Forwarded-User', 'admin'], ['X-Forwarded-Auth-Type', 'Basic'], ['X_Forwarded_User', 'admin'],
      ['Authorization', basic('alice', 's3cret')],
    ];
    // Apache removed both headers (the snippet's `unset`): the script sees neither a user nor the client's copies.
    assert.deepEqual(Object.fromEntries(parseDump(await send(stack.apache.port, '/who/who.ws', forged))), {
      REMOTE_USER: '', AUTH_TYPE: '', HTTP_X_FORWARDED_USER: '', HTTP_X_FORWARDED_AUTH_TYPE: '', HTTP_AUTHORIZATION: '',
    });
    const env = parseDump(await send(stack.apache.port, '/app/env.ws', forged));
    assert.equal(env.get('REMOTE_USER'), '');
    assert.equal(env.get('AUTH_TYPE'), '');
    assert.equal(env.get('LWT_DEMO'), 'app');
  });

  it('believes X-Forwarded-User only from a --trusted-proxy peer', async () => {
    const forged: Array<[string, string]> = [['X-Forwarded-User', 'admin'], ['X-Forwarded-Auth-Type', 'Basic']];
    // The same configuration, served by a sidecar that trusts another address than this client's.
    const strict = await startSidecar({
      config: stack.apache.configFile, args: ['--workers', '1', '--apache-checks-access', '--trusted-proxy', '192.0.2.1'],
    });
    try {
      // Not believed, and left as the client's own headers, as every X-Forwarded-* from an untrusted peer.
      assert.deepEqual(Object.fromEntries(parseDump(await send(strict.port, '/who/who.ws', forged))), {
        REMOTE_USER: '', AUTH_TYPE: '', HTTP_X_FORWARDED_USER: 'admin', HTTP_X_FORWARDED_AUTH_TYPE: 'Basic', HTTP_AUTHORIZATION: '',
      });
    } finally {
      await strict.stop();
    }
    // The stack's sidecar trusts loopback (the default): what --trusted-proxy must keep to Apache alone.
    assert.equal(parseDump(await send(stack.sidecar.port, '/who/who.ws', forged)).get('REMOTE_USER'), 'admin');
  });

  it('passes the user of a <Proxy> section\'s authentication too', async () => {
    assert.equal((await send(stack.apache.port, '/app/env.ws/in-proxy/x')).status, 401);
    const env = parseDump(await send(stack.apache.port, '/app/env.ws/in-proxy/x', [['Authorization', basic('alice', 's3cret')]]));
    assert.equal(env.get('REMOTE_USER'), 'alice');
    assert.equal(env.get('AUTH_TYPE'), 'Basic');
    assert.equal(env.get('PATH_INFO'), '/in-proxy/x');
  });

  it('refuses a <Directory> `Require valid-user` Apache skips, with --apache-checks-access, and logs why', async () => {
    // Apache asks for nothing here (a proxied URL skips <Directory>), so no user is forwarded.
    const res = await send(stack.apache.port, '/who/dir/who.ws', [['Authorization', basic('alice', 's3cret')]]);
    assert.equal(res.status, 403);
    assert.doesNotMatch(res.body.toString('latin1'), /REMOTE_USER=/);
    const line = requireLine(stack.apache.configFile, `<Directory ${WHO_DIR}/dir>`);
    const where = `${stack.apache.configFile}:${line}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const log = await stack.sidecar.waitForOutput(new RegExp(`client denied by server configuration: \\S*/who/dir/who\\.ws `
      + `\\(Require valid-user \\(${where}\\) needs a user authenticated by Apache: put AuthType and Require in a <Location> or <Proxy> section\\)`));
    // One line, at error level, for this request.
    assert.equal(log.split('\n').filter((l) => l.includes('/who/dir/who.ws (Require valid-user')).length, 1);
  });

  it('admits the user Apache authenticated in a <Location> to a <Directory> `Require valid-user`', async () => {
    assert.equal((await send(stack.apache.port, '/who/both/who.ws')).status, 401);
    const env = parseDump(await send(stack.apache.port, '/who/both/who.ws', [['Authorization', basic('alice', 's3cret')]]));
    assert.equal(env.get('REMOTE_USER'), 'alice');
    assert.equal(env.get('AUTH_TYPE'), 'Basic');
    // The sidecar checks it itself: straight to it, no user is no entry, and a trusted peer's user is.
    assert.equal((await send(stack.sidecar.port, '/who/both/who.ws')).status, 403);
    assert.equal(parseDump(await send(stack.sidecar.port, '/who/both/who.ws', [['X-Forwarded-User', 'carol']])).get('REMOTE_USER'), 'carol');
  });

  it('admits only the listed users of a <Directory> `Require user`, byte for byte', async () => {
    const as = (user: string, password: string) => send(stack.apache.port, '/who/users/who.ws',
      [['Authorization', `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`]]);
    assert.equal(parseDump(await as('alice', 's3cret')).get('REMOTE_USER'), 'alice');
    assert.equal(parseDump(await as('josé', 'pw')).get('REMOTE_USER'), Buffer.from('josé', 'utf8').toString('latin1'));
    // Apache's <Proxy> lets any valid user through; the sidecar refuses bob, and never runs the script for him.
    const bob = await as('bob', 'b0b');
    assert.equal(bob.status, 403);
    assert.doesNotMatch(bob.body.toString('latin1'), /REMOTE_USER=/);
    assert.equal((await send(stack.apache.port, '/who/users/who.ws')).status, 401);
  });
});
