import * as assert from 'node:assert/strict';
import { buildCgiEnv, headerEnvName, type CgiInput } from '../../src/server/cgi-env';

const base: CgiInput = {
  method: 'GET',
  protocol: 'HTTP/1.1',
  requestUri: '/app.ws/a%20b?x=1',
  query: 'x=1',
  scriptName: '/app.ws',
  pathInfo: '/a b',
  pathTranslated: '/var/www/a b',
  filename: '/var/www/app.ws',
  documentRoot: '/var/www',
  contextPrefix: '',
  contextDocumentRoot: '/var/www',
  scheme: 'http',
  serverName: 'www.example.com',
  serverPort: '80',
  serverAddr: '127.0.0.1',
  serverAdmin: 'webmaster@localhost',
  serverSoftware: 'Apache',
  serverSignature: '',
  remoteAddr: '203.0.113.7',
  remotePort: 51234,
  headers: [['Host', 'www.example.com'], ['Accept', 'text/html']],
  envOps: { set: [], unset: [], pass: [] },
  processEnv: { PATH: '/usr/bin:/bin' },
};

describe('server/cgi-env: the CGI environment mod_lwt gave (mod_lwt.md §7)', () => {
  it('matches the reference\'s worked example', () => {
    const env = buildCgiEnv(base);
    assert.equal(env.SCRIPT_NAME, '/app.ws');
    assert.equal(env.PATH_INFO, '/a b');
    assert.equal(env.PATH_TRANSLATED, '/var/www/a b');
    assert.equal(env.SCRIPT_FILENAME, '/var/www/app.ws');
    assert.equal(env.QUERY_STRING, 'x=1');
    assert.equal(env.REQUEST_URI, '/app.ws/a%20b?x=1');
    assert.equal(env.GATEWAY_INTERFACE, 'CGI/1.1');
    assert.equal(env.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.equal(env.REQUEST_SCHEME, 'http');
    assert.equal(env.REMOTE_ADDR, '203.0.113.7');
    assert.equal(env.REMOTE_PORT, '51234');
    assert.equal(env.HTTP_HOST, 'www.example.com');
    assert.equal(env.HTTP_ACCEPT, 'text/html');
    assert.equal(env.PATH, '/usr/bin:/bin');
    assert.equal(env.SERVER_SIGNATURE, '');
    assert.ok(!('HTTPS' in env));
  });

  it('omits PATH_INFO and PATH_TRANSLATED without path info, and keeps QUERY_STRING present', () => {
    const env = buildCgiEnv({ ...base, pathInfo: '', pathTranslated: '', query: null });
    assert.ok(!('PATH_INFO' in env));
    assert.ok(!('PATH_TRANSLATED' in env));
    assert.equal(env.QUERY_STRING, '');
  });

  it('joins repeated headers with ", " in arrival order, names compared case-insensitively', () => {
    const env = buildCgiEnv({ ...base, headers: [['X-Multi', 'a'], ['x-multi', 'b'], ['X-MULTI', 'c']] });
    assert.equal(env.HTTP_X_MULTI, 'a, b, c');
  });

  it('drops headers whose names have characters other than letters, digits and hyphens', () => {
    const env = buildCgiEnv({ ...base, headers: [['X_Under', '1'], ['X.Dot', '2'], ['X-Ok-1', '3']] });
    assert.ok(!Object.keys(env).some((k) => k.includes('UNDER') || k.includes('DOT')));
    assert.equal(env.HTTP_X_OK_1, '3');
    assert.equal(headerEnvName('X_Under'), null);
  });

  it('withholds credentials and the Proxy header, and maps Content-Type/Length without HTTP_', () => {
    const env = buildCgiEnv({
      ...base,
      headers: [['Authorization', 'Basic eA=='], ['Proxy-Authorization', 'x'], ['Proxy', 'http://evil'],
        ['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Length', '3']],
    });
    assert.ok(!('HTTP_AUTHORIZATION' in env));
    assert.ok(!('HTTP_PROXY_AUTHORIZATION' in env));
    assert.ok(!('HTTP_PROXY' in env));
    assert.equal(env.CONTENT_TYPE, 'application/x-www-form-urlencoded');
    assert.equal(env.CONTENT_LENGTH, '3');
    assert.ok(!('HTTP_CONTENT_TYPE' in env));
  });

  it('sets REMOTE_USER and AUTH_TYPE only when Apache authenticated someone (ap_add_common_vars)', () => {
    const env = buildCgiEnv({ ...base, remoteUser: 'alice', authType: 'Basic' });
    assert.equal(env.REMOTE_USER, 'alice');
    assert.equal(env.AUTH_TYPE, 'Basic');
    for (const input of [base, { ...base, remoteUser: null, authType: null }, { ...base, remoteUser: '', authType: '' }]) {
      const none = buildCgiEnv(input);
      assert.ok(!('REMOTE_USER' in none));
      assert.ok(!('AUTH_TYPE' in none));
    }
  });

  it('keeps a user name as the bytes Apache sent (no second encoding)', () => {
    const env = buildCgiEnv({ ...base, remoteUser: Buffer.from('josé', 'utf8').toString('latin1'), authType: 'Basic' });
    assert.equal(Buffer.from(env.REMOTE_USER!, 'latin1').toString('utf8'), 'josé');
  });

  it('lets the authenticated user win over a SetEnv REMOTE_USER, and keeps the SetEnv one without a user', () => {
    const envOps = { set: [['REMOTE_USER', 'fixed']] as const, unset: [], pass: [] };
    assert.equal(buildCgiEnv({ ...base, envOps, remoteUser: 'alice' }).REMOTE_USER, 'alice');
    assert.equal(buildCgiEnv({ ...base, envOps }).REMOTE_USER, 'fixed');
  });

  it('sets HTTPS=on for https', () => {
    const env = buildCgiEnv({ ...base, scheme: 'https', serverPort: '443' });
    assert.equal(env.HTTPS, 'on');
    assert.equal(env.REQUEST_SCHEME, 'https');
  });

  it('applies SetEnv, UnsetEnv and PassEnv, and lets httpd\'s own variables win over SetEnv', () => {
    const env = buildCgiEnv({
      ...base,
      envOps: { set: [['APP_MODE', 'prod'], ['GONE', 'x'], ['SERVER_NAME', 'spoofed'], ['PATH', '/opt/bin']], unset: ['GONE'], pass: ['HOME_DIR'] },
      processEnv: { PATH: '/usr/bin', HOME_DIR: '/home/www' },
    });
    assert.equal(env.APP_MODE, 'prod');
    assert.ok(!('GONE' in env));
    assert.equal(env.HOME_DIR, '/home/www');
    assert.equal(env.SERVER_NAME, 'www.example.com');
    // An existing subprocess_env PATH is kept (ap_add_common_vars).
    assert.equal(env.PATH, '/opt/bin');
  });

  describe('bytes: Lua sees what Apache gave (raw UTF-8), never text re-encoded', () => {
    const bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

    it('stores values decoded as text (path, file names, roots, SetEnv, PassEnv) as their UTF-8 bytes', () => {
      const env = buildCgiEnv({
        ...base,
        scriptName: '/dé/app.ws',
        pathInfo: '/a b/cé',
        pathTranslated: '/var/wé/a b/cé',
        filename: '/var/wé/dé/app.ws',
        documentRoot: '/var/wé',
        contextPrefix: '/dé',
        contextDocumentRoot: '/srv/dé',
        serverAdmin: 'wébmaster@localhost',
        envOps: { set: [['GREETING', 'grüß']], unset: [], pass: ['FROM_PROCESS'] },
        processEnv: { PATH: '/opt/bïn', FROM_PROCESS: 'naïve' },
      });
      assert.equal(env.SCRIPT_NAME, bytes('/dé/app.ws'));
      assert.equal(env.PATH_INFO, bytes('/a b/cé'));
      assert.equal(env.PATH_INFO, '/a b/c\xc3\xa9');
      assert.equal(env.PATH_TRANSLATED, bytes('/var/wé/a b/cé'));
      assert.equal(env.SCRIPT_FILENAME, bytes('/var/wé/dé/app.ws'));
      assert.equal(env.DOCUMENT_ROOT, bytes('/var/wé'));
      assert.equal(env.CONTEXT_PREFIX, bytes('/dé'));
      assert.equal(env.CONTEXT_DOCUMENT_ROOT, bytes('/srv/dé'));
      assert.equal(env.SERVER_ADMIN, bytes('wébmaster@localhost'));
      assert.equal(env.GREETING, bytes('grüß'));
      assert.equal(env.FROM_PROCESS, bytes('naïve'));
      assert.equal(env.PATH, bytes('/opt/bïn'));
    });

    it('keeps header values, REQUEST_URI and QUERY_STRING as the bytes received (no second encoding)', () => {
      const env = buildCgiEnv({
        ...base,
        requestUri: `/app.ws?q=${bytes('é')}`,
        query: `q=${bytes('é')}`,
        headers: [['X-UTF8', bytes('café')], ['Content-Type', bytes('text/plain; name=é')]],
      });
      assert.equal(env.HTTP_X_UTF8, 'caf\xc3\xa9');
      assert.equal(env.CONTENT_TYPE, bytes('text/plain; name=é'));
      assert.equal(env.REQUEST_URI, '/app.ws?q=\xc3\xa9');
      assert.equal(env.QUERY_STRING, 'q=\xc3\xa9');
    });

    it('has every value in one-byte form', () => {
      const env = buildCgiEnv({ ...base, pathInfo: '/€', pathTranslated: '/var/www/€', envOps: { set: [['X', '😀']], unset: [], pass: [] } });
      for (const [k, v] of Object.entries(env)) assert.ok(/^[\x00-\xff]*$/.test(v), `${k} has a character above 0xff`);
    });
  });
});
