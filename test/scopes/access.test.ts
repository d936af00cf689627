import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { checkAccess } from '../../src/scopes';
import { decideAccess } from '../../src/scopes/access';
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

    it('reports Require group as unsupported, and lists it with file:line', () => {
      const { snap, root, rule } = withRules('Require group staff');
      removeSite(root);
      assert.equal(checkAccess(rule, '127.0.0.1', undefined, 'alice'), 'unsupported');
      assert.deepEqual(snap.unsupportedAccess.map((d) => [d.message, d.line]), [['Require group staff', 7]]);
    });

    it('decides without the unsupported part when the rest settles it', () => {
      assert.deepEqual(verdicts('Require ip 10.0.0.0/8\nRequire env FOO', ['10.0.0.1', '8.8.8.8']), ['granted', 'unsupported']);
    });

    it('answers 403 for an unsupported rule unless the operator says Apache checks it', () => {
      const { snap, root } = withRules('Require env FOO');
      try {
        assert.equal(res(snap, '/a.ws').status, 403);
        assert.equal(res(snap, '/a.ws', { unsupportedAccess: 'allow' }).status, 200);
      } finally {
        removeSite(root);
      }
    });
  });

  describe('Require valid-user and Require user, against the user Apache forwarded (mod_authz_user)', () => {
    /** checkAccess for each [client, user] pair; '' stands for no forwarded user. */
    function withUsers(body: string, cases: Array<[string, string]>): string[] {
      const { root, rule } = withRules(body);
      removeSite(root);
      return cases.map(([ip, user]) => checkAccess(rule, ip, undefined, user === '' ? null : user));
    }

    it('Require valid-user admits any forwarded user and refuses a request without one', () => {
      assert.deepEqual(withUsers('Require valid-user', [['8.8.8.8', 'alice'], ['8.8.8.8', 'x'], ['8.8.8.8', '']]),
        ['granted', 'granted', 'denied']);
    });

    it('Require user admits only the listed users, compared exactly and case-sensitively', () => {
      assert.deepEqual(withUsers('Require user alice "bob smith"', [['8.8.8.8', 'alice'], ['8.8.8.8', 'bob smith'], ['8.8.8.8', 'Alice'],
        ['8.8.8.8', 'bob'], ['8.8.8.8', 'alice '], ['8.8.8.8', '']]),
      ['granted', 'granted', 'denied', 'denied', 'denied', 'denied']);
    });

    it('compares a non-ASCII name as httpd does, byte for byte with the UTF-8 of the configuration', () => {
      // The header carries r->user's bytes; Node reads them as latin1 characters.
      const utf8 = Buffer.from('josé', 'utf8').toString('latin1');
      assert.deepEqual(withUsers('Require user josé', [['8.8.8.8', utf8], ['8.8.8.8', 'josé']]), ['granted', 'denied']);
    });

    it('no longer lists valid-user or user as unsupported; a user list with %{…} stays unsupported', () => {
      const { snap, root, rule } = withRules('Require valid-user\nRequire user alice\nRequire user %{REMOTE_ADDR}');
      removeSite(root);
      assert.deepEqual(snap.unsupportedAccess.map((d) => [d.message, d.line]), [['Require user %{REMOTE_ADDR}', 9]]);
      const open = withRules('Require user alice\nRequire user %{REMOTE_ADDR}');
      removeSite(open.root);
      // Without a user neither can grant (authz_user answers AUTHZ_DENIED_NO_USER first).
      assert.deepEqual([null, 'bob', 'alice'].map((u) => checkAccess(open.rule, '8.8.8.8', undefined, u)), ['denied', 'unsupported', 'granted']);
    });

    it('checks them whether or not the operator says Apache checks access', () => {
      const { snap, root } = withRules('Require valid-user');
      try {
        for (const unsupportedAccess of ['deny', 'allow'] as const) {
          assert.equal(res(snap, '/a.ws', { unsupportedAccess }).status, 403);
          assert.equal(res(snap, '/a.ws', { unsupportedAccess, user: 'alice' }).status, 200);
        }
      } finally {
        removeSite(root);
      }
    });

    it('says why a request without a user is refused, naming the rule and its file:line', () => {
      const { snap, root, rule } = withRules('<RequireAll>\n Require ip 10.0.0.0/8\n Require not user mallory\n Require valid-user\n</RequireAll>');
      try {
        const d = decideAccess(rule, '10.0.0.1');
        assert.equal(d.verdict, 'denied');
        assert.deepEqual([d.needsUser?.kind, d.needsUser?.line], ['valid-user', 10]);
        const r = res(snap, '/a.ws', { clientIp: '10.0.0.1' });
        assert.equal(r.status, 403);
        assert.equal(r.reason, `Require valid-user (${path.join(root, 'httpd.conf')}:10) needs a user authenticated by Apache: `
          + 'put AuthType and Require in a <Location> or <Proxy> section');
        // A denial a user could not change says nothing about users.
        assert.equal(decideAccess(rule, '8.8.8.8').needsUser, null);
        assert.equal(res(snap, '/a.ws', { clientIp: '8.8.8.8' }).reason, 'access denied by the configuration');
      } finally {
        removeSite(root);
      }
    });

    it('negates Require not user inside <RequireAll>: the named user is refused, others admitted', () => {
      const body = '<RequireAll>\n Require valid-user\n Require not user mallory eve\n</RequireAll>';
      assert.deepEqual(withUsers(body, [['8.8.8.8', 'alice'], ['8.8.8.8', 'mallory'], ['8.8.8.8', 'eve'], ['8.8.8.8', '']]),
        ['granted', 'denied', 'denied', 'denied']);
    });

    it('negates through <RequireNone>; without a user the negated rule is neutral, so the address alone admits', () => {
      // authorize_userless grants before any authentication: a user is never asked for, nor refused.
      const body = '<RequireAll>\n Require ip 10.0.0.0/8\n <RequireNone>\n  Require user mallory\n </RequireNone>\n</RequireAll>';
      assert.deepEqual(withUsers(body, [['10.0.0.1', ''], ['10.0.0.1', 'mallory'], ['10.0.0.1', 'alice'], ['8.8.8.8', 'alice']]),
        ['granted', 'granted', 'granted', 'denied']);
    });

    it('asks for a user only when the address rules leave it open (mixed with Require ip)', () => {
      assert.deepEqual(withUsers('Require ip 10.0.0.0/8\nRequire user alice', [['10.0.0.1', ''], ['8.8.8.8', ''], ['8.8.8.8', 'alice'], ['8.8.8.8', 'bob']]),
        ['granted', 'denied', 'granted', 'denied']);
      const all = '<RequireAll>\n Require ip 10.0.0.0/8\n Require user alice\n</RequireAll>';
      assert.deepEqual(withUsers(all, [['10.0.0.1', 'alice'], ['10.0.0.1', 'bob'], ['10.0.0.1', ''], ['8.8.8.8', 'alice']]),
        ['granted', 'denied', 'denied', 'denied']);
    });

    it('refuses a request without a user even beside a rule it cannot check, when the user is required (<RequireAll>)', () => {
      const body = '<RequireAll>\n Require valid-user\n Require group staff\n</RequireAll>';
      assert.deepEqual(withUsers(body, [['8.8.8.8', ''], ['8.8.8.8', 'alice']]), ['denied', 'unsupported']);
    });

    it('combines with Order/Allow under Satisfy Any', () => {
      const body = 'Order allow,deny\nAllow from 10.0.0.0/8\nRequire valid-user\nSatisfy Any';
      assert.deepEqual(withUsers(body, [['10.0.0.1', ''], ['8.8.8.8', ''], ['8.8.8.8', 'alice']]), ['granted', 'denied', 'granted']);
    });

    it('refuses Require group without a forwarded user, also when Apache is said to check it (AUTHZ_DENIED_NO_USER)', () => {
      const { snap, root, rule } = withRules('Require group staff');
      try {
        assert.deepEqual(snap.unsupportedAccess.map((d) => d.message), ['Require group staff']);
        const none = res(snap, '/a.ws', { unsupportedAccess: 'allow' });
        assert.equal(none.status, 403);
        assert.match(none.reason ?? '', /^Require group staff \(\S+:7\) needs a user authenticated by Apache/);
        // With a user, whether it is in the group is Apache's to say.
        assert.equal(checkAccess(rule, '8.8.8.8', undefined, 'alice'), 'unsupported');
        assert.equal(res(snap, '/a.ws', { unsupportedAccess: 'allow', user: 'alice' }).status, 200);
        assert.equal(res(snap, '/a.ws', { user: 'alice' }).status, 403);
      } finally {
        removeSite(root);
      }
    });

    it('leaves a negated group rule unsupported, never a denial for want of a user', () => {
      const body = '<RequireAll>\n Require ip 10.0.0.0/8\n Require not group banned\n</RequireAll>';
      assert.deepEqual(withUsers(body, [['10.0.0.1', ''], ['10.0.0.1', 'alice'], ['8.8.8.8', '']]), ['unsupported', 'unsupported', 'denied']);
    });

    it('refuses Require not user alone, as mod_authz_core does', () => {
      const e = thrown(() => withRules('Require not user mallory'));
      assert.equal(e.code, 'LWT_CONF_ACCESS');
      assert.match(e.message, /negative Require directive has no effect in <RequireAny> directive/);
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
