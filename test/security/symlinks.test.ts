/**
 * Symbolic links and `Options`, asked of the real Apache: httpd's directory
 * walk refuses a link (403, AH00037) unless the Options of its directory
 * allow FollowSymLinks, or SymLinksIfOwnerMatch with one owner. A proxied URL
 * skips that walk, so the sidecar must refuse the same links. Apache here has
 * no mod_lwt: it serves the `.ws` files as static files, which is enough to
 * see which links it follows; the sidecar's resolution is compared with it.
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSnapshot } from '../../src/commands/common';
import { resolve } from '../../src/scopes';
import { startApache, type ApacheProcess } from '../helpers/apache';

/** Directory under www/ → its Options lines (and a nested directory's). */
const LAYOUT: Array<[string, string]> = [
  ['inherit', ''],
  ['minus', 'Options -FollowSymLinks'],
  ['none', 'Options None'],
  ['owner', 'Options SymLinksIfOwnerMatch'],
  ['owner-other', 'Options -FollowSymLinks +SymLinksIfOwnerMatch'],
  ['indexes', 'Options Indexes'],
  ['all', 'Options All'],
  ['none-then-plus', 'Options None'],
  ['none-then-plus/sub', 'Options +FollowSymLinks'],
  ['plus-then-abs', 'Options -FollowSymLinks'],
  ['plus-then-abs/sub', 'Options FollowSymLinks'],
  ['minus-then-nothing', 'Options -FollowSymLinks'],
  ['minus-then-nothing/sub', ''],
];

function makeLinkSite(): { dir: string; conf: string; urls: string[] } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-sec-links-')));
  // Apache started as root serves as www-data: it must be able to walk in.
  fs.chmodSync(dir, 0o755);
  const www = path.join(dir, 'www');
  fs.mkdirSync(path.join(dir, 'outside'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'outside', 't.ws'), 'outside\n');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(www, 'real.ws'), 'real\n');
  const foreign = path.join(www, 'foreign.ws');
  fs.writeFileSync(foreign, 'foreign\n');
  // A target owned by someone else, for SymLinksIfOwnerMatch (possible only as root).
  if (process.getuid?.() === 0) fs.chownSync(foreign, 65534, 65534);
  const urls: string[] = [];
  const sections: string[] = [];
  for (const [sub, options] of LAYOUT) {
    const d = path.join(www, sub);
    fs.mkdirSync(d, { recursive: true });
    const up = '../'.repeat(sub.split('/').length);
    fs.symlinkSync(`${up}real.ws`, path.join(d, 'link.ws'));
    fs.symlinkSync(`${up}foreign.ws`, path.join(d, 'foreign-link.ws'));
    fs.symlinkSync(`${up}../outside`, path.join(d, 'ldir'));
    fs.writeFileSync(path.join(d, 'plain.ws'), 'plain\n');
    for (const f of ['link.ws', 'foreign-link.ws', 'ldir/t.ws', 'plain.ws']) urls.push(`/${sub}/${f}`);
    if (options) sections.push(`<Directory ${d}>\n    ${options}\n</Directory>`);
  }
  const conf = path.join(dir, 'site.conf');
  fs.writeFileSync(conf, [
    'Listen 127.0.0.1:${LWT_PORT}',
    'LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so',
    'LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so',
    'LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so',
    'PidFile ${LWT_RUN}/apache2.pid',
    'ErrorLog ${LWT_RUN}/error.log',
    'User www-data',
    'Group www-data',
    'ServerName localhost',
    'TypesConfig /etc/mime.types',
    `DocumentRoot ${www}`,
    '<Directory />\n    Require all denied\n</Directory>',
    `<Directory ${www}>\n    Require all granted\n</Directory>`,
    '<IfModule mod_lwt.c>\n    AddHandler lwt-wsapi .ws\n</IfModule>',
    ...sections,
    '',
  ].join('\n'));
  return { dir, conf, urls };
}

function status(port: number, url: string): Promise<number> {
  return new Promise((res, rej) => {
    http.get({ host: '127.0.0.1', port, path: url, agent: false }, (r) => { r.resume(); res(r.statusCode!); }).on('error', rej);
  });
}

describe('security: symbolic links follow Options as httpd\'s directory walk does', function () {
  this.timeout(30_000);
  let site: ReturnType<typeof makeLinkSite>;
  let apache: ApacheProcess;
  before(async () => {
    site = makeLinkSite();
    apache = await startApache({ siteConf: site.conf, proxyConf: null });
  });
  after(async () => {
    await apache?.stop();
    fs.rmSync(site.dir, { recursive: true, force: true });
  });

  it('refuses exactly the links Apache refuses (403), for every Options combination', async () => {
    const snap = loadSnapshot({ configFile: apache.configFile });
    const mismatches: string[] = [];
    let refused = 0;
    for (const url of site.urls) {
      const byApache = await status(apache.port, url);
      const r = resolve(snap, { host: 'localhost', port: apache.port, path: url, clientIp: '127.0.0.1' });
      if (byApache === 403) refused++;
      if ((byApache === 403) !== (r.status === 403) || (byApache === 200 && r.status !== 200)) {
        mismatches.push(`${url}: apache ${byApache}, sidecar ${r.status} (${r.reason})`);
      }
    }
    assert.deepEqual(mismatches, []);
    // The layout really exercises refusals, not only links Apache follows.
    assert.ok(refused >= 10, `only ${refused} refusals`);
  });
});
