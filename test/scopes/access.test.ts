import { strict as assert } from 'node:assert';
import { checkAccess } from '../../src/scopes';
import type { AccessRule, Snapshot } from '../../src/scopes/types';
import { res, removeSite, snapshotFromText } from './helpers';
import { thrown } from '../helpers/thrown';

/** Build a site whose <Directory @ROOT@/www> holds `body`, and give the merged access rule of /a.ws. */
function withRules(body: string, outer = ''): { snap: Snapshot; root: string; rule: AccessRule | null } {
  const { snap, root } = snapshotFromText(
    `DocumentRoot @ROOT@/www\nAddHandler lwt-wsapi .ws\n<Directory @ROOT@>\n${outer}\n</Directory>\n<Directory @ROOT@/www>\n${body}\n</Directory>\n`,
    { 'www/a.ws': '' },
  );
  return { snap, root, rule: res(snap, '/a.ws').access };
}

function verdicts(body: string, clients: string[], outer = ''): string[] {
  const { root, rule } = withRules(body, outer);
  removeSite(root);
  return clients.map((c) => checkAccess(rule, c));
}

describe('access control (mod_authz_core, mod_authz_host, mod_access_compat)', () => {
  describe('checkAccess on Require ip', () => {
    const table: Array<[string, string, 'granted' | 'denied']> = [
      ['10.1.2.3', '10.1.2.3', 'granted'],
      ['10.1.2.3', '10.1.2.4', 'denied'],
      ['10.1', '10.1.200.7', 'granted'],
      ['10.1', '10.10.0.1', 'denied'],
      ['192.168.0.0/16', '192.168.44.1', 'granted'],
      ['192.168.0.0/16', '192.169.0.1', 'denied'],
      ['172.16.0.0/255.240.0.0', '172.31.255.255', 'granted'],
      ['172.16.0.0/255.240.0.0', '172.32.0.1', 'denied'],
      ['2001:db8::/32', '2001:db8:1::5', 'granted'],
      ['2001:db8::/32', '2001:db9::5', 'denied'],
      ['2001:db8::1', '2001:0db8:0:0:0:0:0:1', 'granted'],
      ['::1', '::1', 'granted'],
      ['10.0.0.0/8', '::ffff:10.9.8.7', 'granted'],
      ['10.0.0.0/8', '2001:db8::1', 'denied'],
    ];
    for (const [range, client, want] of table) {
      it(`Require ip ${range} ${want === 'granted' ? 'admits' : 'refuses'} ${client}`, () => {
        assert.equal(checkAccess({ kind: 'ip', negate: false, ranges: [range] }, client), want);
      });
    }

    it('Require local admits loopback and the server\'s own address only', () => {
      const local: AccessRule = { kind: 'local', negate: false };
      assert.deepEqual(['127.0.0.1', '127.5.5.5', '::1', '::ffff:127.0.0.1', '10.0.0.1'].map((c) => checkAccess(local, c)),
        ['granted', 'granted', 'granted', 'granted', 'denied']);
      assert.equal(checkAccess(local, '10.0.0.1', '10.0.0.1'), 'granted');
    });

    it('grants when no access directive applies (null rule)', () => {
      assert.equal(checkAccess(null, '203.0.113.9'), 'granted');
    });
  });

  describe('rules read from sections', () => {
    it('treats several Require lines as <RequireAny>', () => {
      assert.deepEqual(verdicts('Require ip 10.0.0.0/8\nRequire ip 192.168.1.1', ['10.2.3.4', '192.168.1.1', '8.8.8.8']),
        ['granted', 'granted', 'denied']);
    });

    it('combines <RequireAll> with Require not', () => {
      const body = '<RequireAll>\n Require ip 10.0.0.0/8\n Require not ip 10.66.0.0/16\n</RequireAll>';
      assert.deepEqual(verdicts(body, ['10.1.1.1', '10.66.1.1', '8.8.8.8']), ['granted', 'denied', 'denied']);
    });

    it('denies through <RequireNone> inside <RequireAll>', () => {
      const body = '<RequireAll>\n Require all granted\n <RequireNone>\n  Require ip 192.0.2.0/24\n </RequireNone>\n</RequireAll>';
      assert.deepEqual(verdicts(body, ['192.0.2.5', '198.51.100.1']), ['denied', 'granted']);
    });

    it('lets an inner Require replace the outer one (AuthMerging Off)', () => {
      assert.deepEqual(verdicts('Require all granted', ['8.8.8.8'], 'Require all denied'), ['granted']);
    });

    it('inherits the outer Require when the inner section has none', () => {
      assert.deepEqual(verdicts('SetEnv X 1', ['8.8.8.8', '127.0.0.1'], 'Require local'), ['denied', 'granted']);
    });

    it('combines with AuthMerging And', () => {
      assert.deepEqual(verdicts('AuthMerging And\nRequire ip 10.0.0.0/8', ['10.0.0.1', '10.0.0.2'], 'Require ip 10.0.0.1'),
        ['granted', 'denied']);
    });

    it('reports Require valid-user as unsupported, and lists it with file:line', () => {
      const { snap, root, rule } = withRules('Require valid-user');
      removeSite(root);
      assert.equal(checkAccess(rule, '127.0.0.1'), 'unsupported');
      assert.deepEqual(snap.unsupportedAccess.map((d) => [d.message, d.line]), [['Require valid-user', 7]]);
    });

    it('decides without the unsupported part when the rest settles it', () => {
      assert.deepEqual(verdicts('Require ip 10.0.0.0/8\nRequire valid-user', ['10.0.0.1', '8.8.8.8']), ['granted', 'unsupported']);
    });

    it('answers 403 for an unsupported rule unless the operator says Apache checks it', () => {
      const { snap, root } = withRules('Require user alice');
      try {
        assert.equal(res(snap, '/a.ws').status, 403);
        assert.equal(res(snap, '/a.ws', { unsupportedAccess: 'allow' }).status, 200);
      } finally {
        removeSite(root);
      }
    });
  });

  describe('legacy Order/Allow/Deny', () => {
    it('Order deny,allow: allowed unless denied and not allowed', () => {
      assert.deepEqual(verdicts('Order deny,allow\nDeny from all\nAllow from 10.1', ['10.1.0.9', '10.2.0.9']), ['granted', 'denied']);
    });

    it('Order allow,deny: denied unless allowed and not denied', () => {
      assert.deepEqual(verdicts('Order allow,deny\nAllow from 10.0.0.0/8\nDeny from 10.9.0.0/16', ['10.1.0.1', '10.9.0.1', '8.8.8.8']),
        ['granted', 'denied', 'denied']);
    });

    it('Order mutual-failure: only allowed and not denied', () => {
      assert.deepEqual(verdicts('Order mutual-failure\nAllow from 10.0.0.0/8\nDeny from 10.9.0.0/16', ['10.1.0.1', '10.9.0.1']),
        ['granted', 'denied']);
    });

    it('Satisfy All needs both the legacy rule and Require', () => {
      assert.deepEqual(verdicts('Order allow,deny\nAllow from 10.0.0.0/8\nRequire ip 10.1.0.0/16', ['10.1.0.1', '10.2.0.1']),
        ['granted', 'denied']);
    });

    it('Satisfy Any admits on either', () => {
      assert.deepEqual(verdicts('Order allow,deny\nAllow from 10.0.0.0/8\nRequire ip 192.168.0.0/16\nSatisfy Any', ['10.2.0.1', '192.168.1.1', '8.8.8.8']),
        ['granted', 'granted', 'denied']);
    });

    it('replaces the whole legacy record in an inner section (mod_access_compat has no merge)', () => {
      assert.deepEqual(verdicts('Allow from 10.0.0.0/8', ['8.8.8.8'], 'Order allow,deny\nDeny from all'), ['granted']);
    });

    it('lists Allow from a host name as something it cannot check', () => {
      const { snap, root, rule } = withRules('Order allow,deny\nAllow from example.org');
      removeSite(root);
      assert.equal(checkAccess(rule, '8.8.8.8'), 'unsupported');
      assert.deepEqual(snap.unsupportedAccess.map((d) => d.message), ['Allow from example.org']);
    });
  });

  describe('configuration errors, as mod_authz_core reports them', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['a negative Require alone', 'Require not ip 10.0.0.1', /negative Require directive has no effect in <RequireAny> directive/],
      ['a negative rule in <RequireAny>', '<RequireAny>\n Require ip 10.0.0.1\n Require not ip 10.0.0.2\n</RequireAny>', /negative Require directive has no effect/],
      ['<RequireAll> with only negative rules', '<RequireAll>\n Require not ip 10.0.0.2\n</RequireAll>', /contains only negative authorization directives/],
      ['an invalid address', 'Require ip 10.0.0.300', /ip address '10\.0\.0\.300' appears to be invalid/],
      ['Require all with a wrong word', 'Require all maybe', /Require all must be followed by 'granted' or 'denied'/],
      ['Allow without from', 'Allow 10.0.0.1', /allow and deny must be followed by 'from'/],
    ];
    for (const [name, body, msg] of cases) {
      it(`refuses ${name} with file:line`, () => {
        const e = thrown(() => withRules(body));
        assert.equal(e.code, 'LWT_CONF_ACCESS');
        assert.match(e.message, msg);
        assert.ok(e.file?.endsWith('httpd.conf'));
        assert.ok(e.line !== undefined && e.line >= 6);
      });
    }

    it('refuses Require at server level', () => {
      const e = thrown(() => snapshotFromText('Require all granted\n'));
      assert.equal(e.code, 'LWT_CONF_CONTEXT');
      assert.equal(e.message, 'Require not allowed here');
      assert.equal(e.line, 1);
    });
  });
});
