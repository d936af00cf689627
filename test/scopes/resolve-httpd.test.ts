/**
 * resolve() against Debian's apache2 on the same configuration and files:
 * which file runs, its PATH_INFO and SCRIPT_NAME, which requests are refused.
 */

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../src/apache';
import { buildSnapshot, resolve } from '../../src/scopes';
import type { Snapshot } from '../../src/scopes/types';
import { Oracle, type OracleAnswer } from './httpd-oracle';
import { removeSite, tempSite } from './helpers';

const BODY = `
DocumentRoot @ROOT@/www
DirectoryIndex index.html index.ws
AddHandler lwt-wsapi .ws
SetEnv LWT_DEMO main
<Directory @ROOT@>
    Require all granted
</Directory>
<Directory @ROOT@/www/app>
    SetHandler lwt-wsapi
</Directory>
<Directory @ROOT@/www/app/static>
    SetHandler None
</Directory>
<Directory @ROOT@/www/multi>
    AddHandler lwt-wsapi .lws
</Directory>
<Directory @ROOT@/www/nofx>
    RemoveHandler .ws
</Directory>
<Directory @ROOT@/www/files>
    <Files "*.cgi">
        SetHandler lwt-wsapi
    </Files>
</Directory>
<DirectoryMatch "^@ROOT@/www/rx/[a-z]+/">
    SetHandler lwt-wsapi
</DirectoryMatch>
<DirectoryMatch "/q\\.d$">
    SetHandler lwt-wsapi
</DirectoryMatch>
<Directory @ROOT@/www/order>
    SetHandler lwt-wsapi
</Directory>
<Directory ~ "/www/order$">
    SetHandler None
</Directory>
<Directory @ROOT@/www/order/deep>
    SetHandler lwt-wsapi
</Directory>
<FilesMatch "\\.run$">
    SetHandler lwt-wsapi
</FilesMatch>
<Files "*.norun">
    SetHandler lwt-wsapi
</Files>
<Location /www-loc>
    SetHandler None
</Location>
<Location /loc>
    SetHandler lwt-wsapi
</Location>
<Location /app/nomore>
    SetHandler None
</Location>
<Directory @ROOT@/www/off>
    AcceptPathInfo Off
</Directory>
<Directory @ROOT@/www/private>
    Require all denied
</Directory>
<Directory @ROOT@/www/tenonly>
    Require ip 10.0.0.0/8
</Directory>
<Directory @ROOT@/www/legacy>
    Order deny,allow
    Deny from all
    Allow from 127.0.0.1
</Directory>
<Location /loc/locked>
    Require all denied
</Location>
<Directory @ROOT@/www/fprot>
    <Files "secret.ws">
        Require all denied
    </Files>
</Directory>
<Directory @ROOT@/www/idx>
    DirectoryIndex first.ws second.ws
</Directory>
<Directory @ROOT@/www/idx2>
    DirectoryIndex none.ws denied.ws second.ws
</Directory>
<Files denied.ws>
    Require all denied
</Files>
<Directory @ROOT@/www/app/noslash>
    DirectorySlash Off
</Directory>
<Directory @ROOT@/www/app/idx3>
    DirectoryIndex sub
</Directory>
Alias /al @ROOT@/aliased
AliasMatch ^/am/(.*)\\.x$ @ROOT@/aliased/$1.ws
<VirtualHost *:@PORT@>
    ServerName v1.test
    DocumentRoot @ROOT@/www
    <Directory @ROOT@/www/app>
        SetEnv LWT_DEMO v1
    </Directory>
</VirtualHost>
<VirtualHost 127.0.0.2:@PORT@>
    ServerName v1.test
    DocumentRoot @ROOT@/www3
</VirtualHost>
<VirtualHost *:@PORT@>
    ServerName v2.test
    ServerAlias *.v2.test
    DocumentRoot @ROOT@/www2
    AddHandler lwt-wsapi .lua
</VirtualHost>
`;

const SCRIPTS = [
  'www/hello.ws', 'www/app.ws.bak', 'www/app.bak.ws', 'www/.ws', 'www/UPPER.WS', 'www/app/run.lua', 'www/app/static/x.ws',
  'www/app/static/y.txt', 'www/multi/a.lws', 'www/multi/a.ws', 'www/multi/a.txt', 'www/nofx/c.ws', 'www/files/d.cgi',
  'www/files/d.txt', 'www/rx/sub/b.txt', 'www/rx/b.txt', 'www/q.d', 'www/order/o.txt', 'www/order/deep/o.txt',
  'www/e.run', 'www/e.norun.txt', 'www/loc/f.txt', 'www/off/g.ws', 'www/private/h.ws', 'www/tenonly/i.ws',
  'www/legacy/l.ws', 'aliased/j.ws', 'www/dir/index.ws', 'www2/k.lua', 'www/app/nomore/n.txt',
  'www/loc/locked/z.ws', 'www/fprot/secret.ws', 'www/fprot/open.ws', 'www/idx/second.ws',
  'www/idx/first.ws.txt', 'www3/hello.ws', 'www/idx2/denied.ws', 'www/idx2/second.ws',
];

const REQUESTS: Array<[string, string]> = [
  ['localhost', '/hello.ws'], ['localhost', '/hello.ws/x/y'], ['localhost', '/hello.ws/'], ['localhost', '/app.ws.bak'],
  ['localhost', '/app.bak.ws'], ['localhost', '/.ws'], ['localhost', '/UPPER.WS'], ['localhost', '/app/run.lua'],
  ['localhost', '/app/run.lua/p/q'], ['localhost', '/app/static/x.ws'], ['localhost', '/app/static/y.txt'],
  ['localhost', '/multi/a.lws'], ['localhost', '/multi/a.ws'], ['localhost', '/multi/a.txt'], ['localhost', '/nofx/c.ws'],
  ['localhost', '/files/d.cgi'], ['localhost', '/files/d.txt'], ['localhost', '/rx/sub/b.txt'], ['localhost', '/rx/b.txt'],
  ['localhost', '/q.d'], ['localhost', '/order/o.txt'], ['localhost', '/order/deep/o.txt'], ['localhost', '/e.run'],
  ['localhost', '/e.norun.txt'], ['localhost', '/loc/f.txt'], ['localhost', '/off/g.ws'], ['localhost', '/off/g.ws/pi'],
  ['localhost', '/private/h.ws'], ['localhost', '/tenonly/i.ws'], ['localhost', '/legacy/l.ws'], ['localhost', '/al/j.ws'],
  ['localhost', '/al/j.ws/more'], ['localhost', '/am/j.x'], ['localhost', '/dir/'], ['localhost', '/missing.ws'],
  ['localhost', '/missing.ws/x'], ['localhost', '/app/nomore/n.txt'], ['v1.test', '/app/run.lua'],
  ['x.v2.test', '/k.lua'], ['v2.test', '/k.lua/i'], ['v2.test', '/hello.ws'], ['unknown.test', '/hello.ws'],
  ['localhost', '/loc/locked/z.ws'], ['localhost', '/fprot/secret.ws'], ['localhost', '/fprot/open.ws/a%20b'],
 ['localhost', '/idx/'], ['localhost', '/idx2/'], ['localhost', '/al/'],
  // Directories without the slash: mod_dir's 301 inside lwt-wsapi scopes, query kept, path re-escaped.
  ['localhost', '/app/sub'], ['LocalHost', '/app/sub?x=1&y=%20'], ['localhost', '/app/sub?'], ['localhost', '/loc'],
  ['localhost', "/app/we%20ird;x,%C3%A9%5B1%5D$-_.+!*'():@&=~%22%3C%25"], ['localhost', '/al/sub?q'],
  ['localhost', '/app/idx3/'], ['localhost', '/app/idx3/?k=v'], ['localhost', '/dir'], ['localhost', '/app/static'],
  ['localhost', '/private'],
];

describe('resolve agrees with Debian\'s apache2 (mod_cgi standing in for mod_lwt)', function () {
  this.timeout(30000);
  let root = '';
  let oracle: Oracle;
  let snap: Snapshot;
  const redirected: string[] = [];

  before(async () => {
    const files: Record<string, string> = { 'www2/': '' };
    for (const s of SCRIPTS) files[s] = '';
    files['www/page.html'] = 'static\n';
    files['www/idx/first.ws/'] = '';
    for (const d of ['app/sub', 'app/noslash', 'app/idx3/sub', 'loc', 'private', `app/we ird;x,é[1]$-_.+!*'():@&=~"<%`]) files[`www/${d}/`] = '';
    files['aliased/sub/'] = '';
    root = tempSite(files);
    oracle = await Oracle.start(root, BODY.split('@ROOT@').join(root), SCRIPTS);
    snap = buildSnapshot(loadConfig({ configFile: path.join(root, 'sidecar.conf'), serverRoot: root }));
  });

  after(async () => {
    await oracle?.close();
    if (root) removeSite(root);
  });

  for (const [host, target] of REQUESTS) {
    it(`${host} ${target}`, async () => {
      const want: OracleAnswer = await oracle.get(target, host);
      const q = target.indexOf('?');
      // The oracle runs cgi-script where the sidecar would run lwt-wsapi.
      const r = resolve(snap, { host, port: oracle.port, path: decodeURIComponent(q < 0 ? target : target.slice(0, q)), clientIp: '127.0.0.1', localAddress: '127.0.0.1' });
      if (want.status === 301 && r.handler === 'lwt-wsapi') {
        assert.equal(r.status, 301, `apache redirected to ${want.location}; sidecar: ${r.status} ${r.reason}`);
        // The Host without a port: ap_construct_url gives the lower-cased host and the path; the server adds the query.
        assert.equal(`http://${host.toLowerCase()}${r.redirect}${q < 0 ? '' : target.slice(q)}`, want.location);
        redirected.push(target);
      } else if (want.cgi) {
        assert.equal(r.status, 200, `apache ran ${want.cgi.filename}; sidecar: ${r.reason}`);
        assert.equal(r.filename, want.cgi.filename);
        assert.equal(r.pathInfo, want.cgi.pathInfo);
        assert.equal(r.scriptName, want.cgi.scriptName);
        const demo = r.env.set.find(([k]) => k === 'LWT_DEMO')?.[1] ?? '';
        assert.equal(demo, want.cgi.env);
        assert.deepEqual([r.pathTranslated, r.documentRoot, r.contextPrefix, r.contextDocumentRoot],
          [want.cgi.pathTranslated, want.cgi.documentRoot, want.cgi.contextPrefix, want.cgi.contextDocumentRoot]);
      } else if (want.status === 403) {
        // Access is checked before the handler runs; outside lwt-wsapi the sidecar says 404 and reveals nothing.
        assert.ok(r.status === 403 || (r.status === 404 && r.handler !== 'lwt-wsapi'), `apache 403; sidecar ${r.status} ${r.reason}`);
      } else {
        assert.equal(r.status, 404, `apache ${want.status}; sidecar ${r.status} ${r.reason}`);
        if (want.status === 200) assert.notEqual(r.handler, 'lwt-wsapi', 'apache served it as a static file');
      }
    });
  }

  it('compared every directory redirect inside an lwt-wsapi scope with apache2\'s Location', () => {
    assert.deepEqual(redirected, ['/app/sub', '/app/sub?x=1&y=%20', '/app/sub?', '/loc', REQUESTS.find(([, t]) => t.includes('ird'))![1], '/app/idx3/', '/app/idx3/?k=v']);
  });

  it('neither redirects a directory under DirectorySlash Off (apache2 then runs the handler on it)', async () => {
    const want = await oracle.get('/app/noslash');
    assert.notEqual(want.status, 301);
    assert.equal(want.location, undefined);
    const r = resolve(snap, { host: 'localhost', port: oracle.port, path: '/app/noslash', clientIp: '127.0.0.1' });
    assert.equal(r.status, 404);
    assert.equal(r.redirect, undefined);
    assert.match(r.reason ?? '', /DirectorySlash Off/);
  });

  it('really served the scripts it ran from files on disk', () => {
    assert.ok(fs.existsSync(path.join(root, 'www/hello.ws')));
  });
});
