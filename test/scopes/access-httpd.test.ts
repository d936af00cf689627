/**
 * Access decisions against Debian's apache2: the same rules, requests from two
 * loopback addresses (127.0.0.1 and 127.0.0.2), and checkAccess()/resolve()
 * must admit and refuse exactly the clients Apache does.
 */

import { strict as assert } from 'node:assert';
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

describe('access control agrees with Debian\'s apache2 for clients 127.0.0.1 and 127.0.0.2', function () {
  this.timeout(30000);
  let root = '';
  let oracle: Oracle;
  let snap: Snapshot;

  before(async () => {
    const files: Record<string, string> = {};
    for (const t of TARGETS) files[`www${t}`] = '';
    root = tempSite(files);
    let body = 'DocumentRoot @ROOT@/www\nAddHandler lwt-wsapi .ws\n' + EXTRA;
    for (const [dir, rules] of Object.entries(RULES)) body += `<Directory @ROOT@/www/${dir}>\n${rules}\n</Directory>\n`;
    body = body.split('@ROOT@').join(root);
    oracle = await Oracle.start(root, body, TARGETS.map((t) => `www${t}`));
    snap = buildSnapshot(loadConfig({ configFile: path.join(root, 'sidecar.conf'), serverRoot: root }));
  });

  after(async () => {
    await oracle?.close();
    if (root) removeSite(root);
  });

  for (const target of TARGETS) {
    it(target, async () => {
      const got: string[] = [];
      const want: string[] = [];
      for (const from of ['127.0.0.1', '127.0.0.2']) {
        const a = await oracle.get(target, 'localhost', from);
        want.push(`${from} ${a.cgi ? 200 : a.status}`);
        got.push(`${from} ${resolve(snap, { path: target, clientIp: from, serverIp: '127.0.0.1' }).status}`);
      }
      assert.deepEqual(got, want);
    });
  }

  it('saw Apache both admit and refuse (the table is not trivial)', async () => {
    const seen = new Set<number>();
    for (const t of TARGETS) seen.add((await oracle.get(t, 'localhost', '127.0.0.2')).status);
    assert.ok(seen.has(200) && seen.has(403));
  });
});
