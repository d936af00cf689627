/**
 * Virtual hosts as `apache2 -S` reports them, and the server resolve() picks
 * for a Host header, port and local address.
 */

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { resolve } from '../../src/scopes';
import type { Snapshot } from '../../src/scopes/types';
import { Oracle } from './httpd-oracle';
import { SITE, SITE_ENV, parseDumpVhosts, removeSite, snapshotFromText, snapshotOf, tempSite, type DumpedVhost } from './helpers';

function apacheS(root: string, conf: string, env: Record<string, string> = {}, extra: string[] = []): DumpedVhost[] {
  const r = spawnSync('apache2', ['-d', root, '-f', path.join(root, conf), ...extra, '-S'], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return parseDumpVhosts(r.stdout);
}

function portOf(address: string): number {
  const p = address.slice(address.lastIndexOf(':') + 1);
  return p === '*' ? 80 : Number(p);
}

/** Every vhost httpd lists is one of ours (same name, position, aliases), and each address group has the same default. */
function assertAgrees(snap: Snapshot, dumped: DumpedVhost[]): void {
  assert.ok(dumped.length > 0);
  const ours = snap.vhosts.filter((v) => !v.main);
  for (const d of dumped) {
    const v = ours.find((o) => o.file === d.file && o.line === d.line);
    assert.ok(v, `apache2 -S lists ${d.name} at ${d.file}:${d.line}`);
    assert.equal(v.serverName, d.name);
    // -S lists aliases (wildcards as "wild alias") under the "namevhost" lines only.
    if (!d.isDefault) assert.deepEqual([...v.aliases].sort(), [...d.aliases].sort());
    if (d.isDefault) {
      // A wildcard group's default serves connections to any other local address (TEST-NET here).
      const ip = d.address.startsWith('*') || d.address.startsWith('_default_') ? '192.0.2.1' : d.address.slice(0, d.address.lastIndexOf(':'));
      const r = resolve(snap, { host: 'no-such-name.invalid', port: portOf(d.address), path: '/', localAddress: ip });
      assert.equal(`${r.vhost?.file}:${r.vhost?.line}`, `${d.file}:${d.line}`, `default for ${d.address}`);
    }
  }
  const listed = new Set(dumped.map((d) => `${d.file}:${d.line}`));
  assert.deepEqual(ours.map((v) => `${v.file}:${v.line}`).filter((k) => !listed.has(k)), []);
}

describe('virtual hosts', () => {
  it('agree with apache2 -S on the fixture site', () => {
    const snap = snapshotOf(SITE, 'apache2.conf', SITE_ENV);
    assertAgrees(snap, apacheS(SITE, 'apache2.conf', SITE_ENV, ['-C', 'Define LWT_RUN /tmp']));
  });

  describe('on a tree with ports, addresses and defaults', () => {
    let root = '';
    let snap: Snapshot;
    const conf = [
      'ServerName main.test',
      'DocumentRoot @ROOT@/main',
      'Listen 127.0.0.1:18080',
      'Listen 127.0.0.1:18081',
      '<VirtualHost *:18080>',
      '  ServerName a.test',
      '  ServerAlias www.a.test *.wild.test',
      '  DocumentRoot @ROOT@/a',
      '</VirtualHost>',
      '<VirtualHost *:18080>',
      '  ServerName https://b.test:443',
      '  DocumentRoot @ROOT@/b',
      '</VirtualHost>',
      '<VirtualHost 127.0.0.1:18081>',
      '  ServerName ip.test',
      '  DocumentRoot @ROOT@/ip',
      '</VirtualHost>',
      '<VirtualHost _default_:18081>',
      '  ServerName fallback.test',
      '  DocumentRoot @ROOT@/fallback',
      '</VirtualHost>',
      '<VirtualHost *:18080>',
      '  DocumentRoot @ROOT@/noname',
      '</VirtualHost>',
    ].join('\n') + '\n';

    before(() => {
      root = tempSite({
        'httpd.conf': `LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\nLoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\nPidFile @ROOT@/httpd.pid\nDefaultRuntimeDir @ROOT@\nErrorLog @ROOT@/error.log\n${conf}`,
        'main/': '', 'a/': '', 'b/': '', 'ip/': '', 'fallback/': '', 'noname/': '',
      });
      snap = snapshotOf(root);
    });
    after(() => removeSite(root));

    it('lists the same virtual hosts and defaults as apache2 -S', () => {
      assertAgrees(snap, apacheS(root, 'httpd.conf'));
    });

    const picks: Array<[string | undefined, number, string | undefined, string]> = [
      ['a.test', 18080, undefined, 'a'],
      ['WWW.A.TEST.', 18080, undefined, 'a'],
      ['x.wild.test:18080', 18080, undefined, 'a'],
      ['b.test', 18080, undefined, 'b'],
      ['unknown.test', 18080, undefined, 'a'],
      [undefined, 18080, undefined, 'a'],
      ['ip.test', 18081, '127.0.0.1', 'ip'],
      ['fallback.test', 18081, '127.0.0.1', 'ip'],
      ['fallback.test', 18081, '127.0.0.2', 'fallback'],
      ['a.test', 9999, undefined, 'main'],
    ];
    for (const [host, port, local, want] of picks) {
      it(`picks ${want} for Host ${host ?? '(none)'} on port ${port}${local ? ` at ${local}` : ''}`, () => {
        const r = resolve(snap, { host, port, path: '/', localAddress: local });
        assert.equal(r.vhost?.documentRoot, path.join(root, want));
      });
    }

    it('gives a vhost without ServerName the main server\'s name', () => {
      assert.equal(snap.vhosts.find((v) => v.documentRoot.endsWith('/noname'))?.serverName, 'main.test');
    });
  });
});

describe('a port-specific virtual host beside a wildcard-port one with the same names', () => {
  let root = '';
  let snap: Snapshot;
  before(() => {
    root = tempSite({
      'httpd.conf': [
        'LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so',
        'LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so',
        'PidFile @ROOT@/httpd.pid', 'DefaultRuntimeDir @ROOT@', 'ErrorLog @ROOT@/error.log',
        'ServerName main.test', 'DocumentRoot @ROOT@/main', 'Listen 18090', 'Listen 18443',
        '<VirtualHost *:*>', '  ServerName www.example.test', '  DocumentRoot @ROOT@/any', '</VirtualHost>',
        '<VirtualHost *:18443>', '  ServerName www.example.test', '  DocumentRoot @ROOT@/tls', '</VirtualHost>',
      ].join('\n') + '\n',
      'main/': '', 'any/': '', 'tls/': '',
    });
    snap = snapshotOf(root);
  });
  after(() => removeSite(root));

  it('lists the same virtual hosts and defaults as apache2 -S', () => {
    assertAgrees(snap, apacheS(root, 'httpd.conf'));
  });

  // vhost.c: the connection's port picks the address group first, then the name within it.
  for (const [port, want] of [[18443, 'tls'], [18090, 'any']] as const) {
    it(`serves Host www.example.test on port ${port} from the ${want} host`, () => {
      const r = resolve(snap, { host: 'www.example.test', port, path: '/' });
      assert.equal(r.vhost?.documentRoot, path.join(root, want));
    });
  }
});

describe('virtual host selection agrees with apache2 answering on two local addresses', function () {
  this.timeout(30000);
  let root = '';
  let oracle: Oracle;
  let snap: Snapshot;
  const BODY = [
    'Listen 127.0.0.2:@PORT@',
    'DocumentRoot @ROOT@/main',
    'AddHandler lwt-wsapi .ws',
    '<Directory @ROOT@>', '  Require all granted', '</Directory>',
    '<VirtualHost 127.0.0.1:@PORT@>', '  ServerName ip.test', '  DocumentRoot @ROOT@/ip', '</VirtualHost>',
    '<VirtualHost 127.0.0.1:@PORT@>', '  ServerName ip2.test', '  DocumentRoot @ROOT@/ip2', '</VirtualHost>',
    '<VirtualHost *:@PORT@>', '  ServerName a.test', '  ServerAlias *.a.test', '  DocumentRoot @ROOT@/a', '</VirtualHost>',
    '<VirtualHost *:@PORT@>', '  ServerName b.test', '  DocumentRoot @ROOT@/b', '</VirtualHost>',
  ].join('\n') + '\n';
  const DIRS = ['main', 'ip', 'ip2', 'a', 'b'];

  before(async () => {
    const files: Record<string, string> = {};
    for (const d of DIRS) files[`${d}/x.ws`] = '';
    root = tempSite(files);
    oracle = await Oracle.start(root, BODY.split('@ROOT@').join(root), DIRS.map((d) => `${d}/x.ws`));
    snap = snapshotOf(root, 'sidecar.conf');
  });
  after(async () => {
    await oracle?.close();
    if (root) removeSite(root);
  });

  for (const to of ['127.0.0.1', '127.0.0.2']) {
    for (const host of ['ip.test', 'ip2.test', 'a.test', 'x.a.test', 'b.test', 'other.test']) {
      it(`Host ${host} on ${to}`, async () => {
        const a = await oracle.get('/x.ws', host, '127.0.0.1', to);
        assert.ok(a.cgi, `apache answered ${a.status}`);
        const r = resolve(snap, { host, port: oracle.port, path: '/x.ws', localAddress: to, clientIp: '127.0.0.1' });
        assert.equal(r.filename, a.cgi.filename);
      });
    }
  }
});

describe('the port a server gives a request whose Host has none (r->server->port)', () => {
  // Measured with Debian's apache2 2.4 and a CGI printing SERVER_PORT for `Host: <name>`:
  // ported → 8443, own-name → 80 (not the main server's 7777), nameless → 18931, main → 7777.
  it('is ServerName\'s port, else the first address\'s for a virtual host without a ServerName of its own', () => {
    const { snap, root } = snapshotFromText([
      'ServerName main.test:7777',
      '<VirtualHost *:18931>', '  ServerName ported.test:8443', '</VirtualHost>',
      '<VirtualHost *:18931>', '  ServerName own-name.test', '</VirtualHost>',
      '<VirtualHost *:18931>', '  ServerAlias nameless.test', '</VirtualHost>',
      '<VirtualHost *:*>', '  ServerAlias wild.test', '</VirtualHost>',
    ].join('\n') + '\n');
    try {
      assert.deepEqual(snap.vhosts.map((v) => [v.main ? 'main' : v.aliases[0] ?? v.serverName, v.hostlessPort]), [
        ['main', 7777], ['ported.test', 8443], ['own-name.test', null], ['nameless.test', 18931], ['wild.test', null],
      ]);
    } finally {
      removeSite(root);
    }
  });
});
