/**
 * Access decisions against Debian's apache2: the same rules, requests from two
 * loopback addresses (127.0.0.1 and 127.0.0.2), and checkAccess()/resolve()
 * must admit and refuse exactly the clients Apache does. For `Require
 * valid-user`/`user`, Apache authenticates Basic credentials itself (the rules
 * sit in <Directory>, which applies to its own CGI) and the sidecar is given
 * the user Apache would have forwarded.
 */

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { loadConfig } from '../../src/apache';
import { buildSnapshot, resolve } from '../../src/scopes';
import type { Snapshot } from '../../src/scopes/types';
import { Oracle } from './httpd-oracle';
import { removeSite, tempSite } from './helpers';

/** Directory name → the access directives inside its <Directory>. */
const RULES: Record<string, string> = {
  ip1: 'Require ip 127.0.0.1',
  ip2cidr: 'Require ip 127.0.0.2/32',
  partial: 'Require ip 127',
  netmask: 'Require ip 127.0.0.0/255.255.255.254',
  notip: '<RequireAll>\n Require all granted\n Require not ip 127.0.0.2\n</RequireAll>',
  any: '<RequireAny>\n Require ip 127.0.0.2\n Require ip 10.0.0.0/8\n</RequireAny>',
  none: '<RequireAll>\n Require local\n <RequireNone>\n  Require ip 127.0.0.1\n </RequireNone>\n</RequireAll>',
  local: 'Require local',
  orderAllow: 'Order allow,deny\nAllow from 127.0.0.1',
  orderDeny: 'Order deny,allow\nDeny from 127.0.0.2',
  mutual: 'Order mutual-failure\nAllow from 127.0.0.0/8\nDeny from 127.0.0.2',
  satisfyAny: 'Order allow,deny\nAllow from 127.0.0.1\nRequire ip 127.0.0.2\nSatisfy Any',
  satisfyAll: 'Order allow,deny\nAllow from 127.0.0.0/8\nRequire ip 127.0.0.2\nSatisfy All',
  'outer/merged': 'AuthMerging And\nRequire ip 127.0.0.0/8',
  'outer/inherits': 'SetEnv X 1',
  'outer/replaces': 'Require all granted',
  'legacyOuter/inner': 'Allow from 127.0.0.2',
  files: '<Files "only1.ws">\n Require ip 127.0.0.1\n</Files>',
};

const EXTRA = `
<Directory @ROOT@/www/outer>
    Require ip 127.0.0.1
</Directory>
<Directory @ROOT@/www/legacyOuter>
    Order allow,deny
    Deny from all
</Directory>
<Location /loc2>
    Require ip 127.0.0.2
</Location>
<Directory @ROOT@/www/loc2>
    Require ip 127.0.0.1
</Directory>
`;

const TARGETS = [...Object.keys(RULES).map((d) => `/${d}/a.ws`), '/files/only1.ws', '/loc2/a.ws'];

/**
 * mocha hooks for one oracle site: `targets` (paths under the document root)
 * created empty, apache2 started with the configuration `body(root)` gives,
 * and the sidecar's snapshot of the same configuration.
 */
function useOracleSite(targets: readonly string[], body: (root: string) => string) {
  const site = { root: '', oracle: undefined as unknown as Oracle, snap: undefined as unknown as Snapshot };
  before(async () => {
    site.root = tempSite(Object.fromEntries(targets.map((t) => [`www${t}`, ''])));
    site.oracle = await Oracle.start(site.root, body(site.root), targets.map((t) => `www${t}`));
    site.snap = buildSnapshot(loadConfig({ configFile: path.join(site.root, 'sidecar.conf'), serverRoot: site.root }));
  });
  after(async () => {
    await site.oracle?.close();
    if (site.root) removeSite(site.root);
  });
  return site;
}

describe('access control agrees with Debian\'s apache2 for clients 127.0.0.1 and 127.0.0.2', function () {
  this.timeout(30000);
  const site = useOracleSite(TARGETS, (root) => {
    let body = 'DocumentRoot @ROOT@/www\nAddHandler lwt-wsapi .ws\n' + EXTRA;
    for (const [dir, rules] of Object.entries(RULES)) body += `<Directory @ROOT@/www/${dir}>\n${rules}\n</Directory>\n`;
    return body.split('@ROOT@').join(root);
  });

  for (const target of TARGETS) {
    it(target, async () => {
      const got: string[] = [];
      const want: string[] = [];
      for (const from of ['127.0.0.1', '127.0.0.2']) {
        const a = await site.oracle.get(target, 'localhost', from);
        want.push(`${from} ${a.cgi ? 200 : a.status}`);
        got.push(`${from} ${resolve(site.snap, { path: target, clientIp: from, serverIp: '127.0.0.1' }).status}`);
      }
      assert.deepEqual(got, want);
    });
  }

  it('saw Apache both admit and refuse (the table is not trivial)', async () => {
    const seen = new Set<number>();
    for (const t of TARGETS) seen.add((await site.oracle.get(t, 'localhost', '127.0.0.2')).status);
    assert.ok(seen.has(200) && seen.has(403));
  });
});

/** Directory name → access directives behind `AuthType Basic` (users alice and bob in the password file). */
const USER_RULES: Record<string, string> = {
  validUser: 'Require valid-user',
  userList: 'Require user alice carol',
  caseSensitive: 'Require user Alice',
  notUser: '<RequireAll>\n Require valid-user\n Require not user bob\n</RequireAll>',
  ipOrUser: 'Require ip 127.0.0.2\nRequire user bob',
  ipAndUser: '<RequireAll>\n Require ip 127.0.0.1\n Require user alice bob\n</RequireAll>',
  noneUser: '<RequireAll>\n Require ip 127.0.0.0/8\n <RequireNone>\n  Require user bob\n </RequireNone>\n</RequireAll>',
  ipNotUser: '<RequireAll>\n Require ip 127.0.0.1\n Require not user bob\n</RequireAll>',
  satisfyAny: 'Order allow,deny\nAllow from 127.0.0.2\nRequire user alice\nSatisfy Any',
  satisfyAll: 'Order allow,deny\nAllow from 127.0.0.2\nRequire user alice\nSatisfy All',
};

const AUTH_MODULES = ['authn_core', 'authn_file', 'auth_basic', 'authz_user']
  .map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`).join('\n');

const CREDENTIALS: Record<string, string | null> = { none: null, alice: 'alice:pw-a', bob: 'bob:pw-b' };

/** GET through apache2 from `from`, with Basic credentials; 200 only when the CGI ran. */
function getAs(port: number, target: string, from: string, credentials: string | null): Promise<number> {
  const headers: Record<string, string> = { Host: 'localhost' };
  if (credentials) headers.Authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, headers, agent: false, localAddress: from }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(res.statusCode === 200 && !body.startsWith('CGI\n') ? -1 : res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Require valid-user and user agree with Debian\'s apache2 authenticating Basic credentials', function () {
  this.timeout(30000);
  const targets = Object.keys(USER_RULES).map((d) => `/${d}/a.ws`);
  const site = useOracleSite(targets, (root) => {
    const passwords = path.join(root, 'htpasswd');
    execFileSync('htpasswd', ['-bc', passwords, 'alice', 'pw-a'], { stdio: 'pipe' });
    execFileSync('htpasswd', ['-b', passwords, 'bob', 'pw-b'], { stdio: 'pipe' });
    // Apache reads it as www-data.
    fs.chmodSync(passwords, 0o644);
    let body = `${AUTH_MODULES}\nDocumentRoot ${root}/www\nAddHandler lwt-wsapi .ws\n`;
    for (const [dir, rules] of Object.entries(USER_RULES)) {
      body += `<Directory ${root}/www/${dir}>\nAuthType Basic\nAuthName "${dir}"\nAuthUserFile ${passwords}\n${rules}\n</Directory>\n`;
    }
    return body;
  });

  for (const target of targets) {
    it(`${target}: ${USER_RULES[target.split('/')[1]!]!.replace(/\n\s*/g, '; ')}`, async () => {
      const got: string[] = [];
      const want: string[] = [];
      for (const from of ['127.0.0.1', '127.0.0.2']) {
        for (const [who, credentials] of Object.entries(CREDENTIALS)) {
          // httpd asks for credentials (401) where the sidecar, which cannot, refuses (403).
          const status = await getAs(site.oracle.port, target, from, credentials);
          want.push(`${from} ${who} ${status === 401 ? 403 : status}`);
          const user = credentials === null ? null : who;
          got.push(`${from} ${who} ${resolve(site.snap, { path: target, clientIp: from, serverIp: '127.0.0.1', user }).status}`);
        }
      }
      assert.deepEqual(got, want);
    });
  }

  it('saw Apache grant, ask for credentials and refuse (the table is not trivial)', async () => {
    const seen = new Set<number>();
    for (const t of targets) {
      for (const c of Object.values(CREDENTIALS)) seen.add(await getAs(site.oracle.port, t, '127.0.0.2', c));
    }
    assert.deepEqual([...seen].sort(), [200, 401, 403]);
  });
});

/** Providers the sidecar cannot evaluate but that, like valid-user, deny for want of a user. */
const NEED_USER: Record<string, string> = {
  group: 'Require group staff',
  dbmGroup: 'Require dbm-group staff',
  dbdGroup: 'Require dbd-group staff',
  fileOwner: 'Require file-owner',
  fileGroup: 'Require file-group',
  ldapUser: 'Require ldap-user alice',
  ldapGroup: 'Require ldap-group cn=staff',
  ldapDn: 'Require ldap-dn cn=alice',
  ldapAttribute: 'Require ldap-attribute employeeType=staff',
  ldapFilter: 'Require ldap-filter (employeeType=staff)',
  groupAndIp: '<RequireAll>\n Require ip 127.0.0.1\n Require group staff\n</RequireAll>',
};

const NEED_USER_MODULES = ['authn_core', 'authn_file', 'auth_basic', 'authz_user', 'authz_groupfile', 'authz_dbm', 'authz_owner',
  'dbd', 'authz_dbd', 'ldap', 'authnz_ldap'].map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`).join('\n');

describe('providers that need a user refuse a request without one, where Apache asks for credentials', function () {
  this.timeout(30000);
  const targets = Object.keys(NEED_USER).map((d) => `/${d}/a.ws`);
  const site = useOracleSite(targets, (root) => {
    fs.writeFileSync(path.join(root, 'groups'), 'staff: alice\n');
    let body = `${NEED_USER_MODULES}\nDocumentRoot ${root}/www\nAddHandler lwt-wsapi .ws\n`;
    for (const [dir, rules] of Object.entries(NEED_USER)) {
      body += `<Directory ${root}/www/${dir}>\nAuthType Basic\nAuthName "${dir}"\nAuthUserFile ${root}/groups\nAuthGroupFile ${root}/groups\n${rules}\n</Directory>\n`;
    }
    return body;
  });

  for (const target of targets) {
    it(`${target}: ${NEED_USER[target.split('/')[1]!]!.replace(/\n\s*/g, '; ')}`, async () => {
      const got: string[] = [];
      const want: string[] = [];
      for (const from of ['127.0.0.1', '127.0.0.2']) {
        want.push(`${from} ${await getAs(site.oracle.port, target, from, null)}`);
        // Even with --apache-checks-access: Apache never asks for credentials on a proxied URL's <Directory>.
        const r = resolve(site.snap, { path: target, clientIp: from, serverIp: '127.0.0.1', unsupportedAccess: 'allow' });
        got.push(`${from} ${r.status === 403 && r.reason?.includes('needs a user authenticated by Apache') ? 401 : r.status}`);
      }
      assert.deepEqual(got, want);
    });
  }
});
