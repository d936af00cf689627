/**
 * The HTTPS path: Apache terminates TLS in the site's TLS virtual host
 * (fixtures/httpd-conf/site/sites/30-www-tls.conf, mod_ssl and a self-signed
 * certificate from deploy/stack.js) and forwards to the sidecar over plain
 * HTTP with the snippet's `X-Forwarded-Proto`. Under mod_lwt a script there
 * saw mod_ssl's HTTPS=on, REQUEST_SCHEME=https and the TLS port (mod_lwt.md
 * §7); the reference is the same Apache running the same script through
 * mod_cgi + Debian's wsapi.cgi, whose environment comes from the same calls.
 */

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { CGI_ORACLE, SITE_DIR, useApache, useStack, type TlsEndpoint } from '../helpers/apache';
import { tlsRequest, type TlsResponse } from '../helpers/tls-request';
import { get, parseEnvDump as parseDump, rawRequest, requestHead, type RawResponse } from './raw-http';

const WWW = path.join(SITE_DIR, 'www');
const ENV_SCRIPT = '/e2e/env.ws';


/** The client's headers besides Host: repeated, odd names, ones Apache must not export. */
const CLIENT_HEADERS: Array<[string, string]> = [
  ['User-Agent', 'lwt-e2e-tls/1.0'],
  ['Accept', 'text/plain'],
  ['Cookie', 'session=abc; secure=1'],
  ['X-Repeated', 'one'],
  ['X-Repeated', 'two'],
  ['X_Under_Score', 'dropped by Apache'],
  ['Authorization', 'Basic dXNlcjpwYXNz'],
  ['Proxy', 'http://httpoxy.example/'],
  ['X-Forwarded-For', '6.6.6.6'],
];

function tlsGet(server: Partial<TlsEndpoint>, target: string, host: string, extra: Array<[string, string]> = []): Promise<TlsResponse> {
  assert.ok(server.tlsPort && server.tlsCert, 'Apache was started without tls');
  const head = requestHead('GET', target, [['Host', host], ...extra]);
  return tlsRequest(server.tlsPort, head, { ca: server.tlsCert, servername: 'www.example.test' });
}

function tlsPost(server: Partial<TlsEndpoint>, target: string, host: string, body: string): Promise<TlsResponse> {
  assert.ok(server.tlsPort && server.tlsCert, 'Apache was started without tls');
  const head = requestHead('POST', target, [
    ['Host', host], ['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Length', String(body.length)],
  ]);
  return tlsRequest(server.tlsPort, head + body, { ca: server.tlsCert, servername: 'www.example.test' });
}

describe('e2e: HTTPS through an Apache TLS virtual host', function () {
  this.timeout(30_000);
  const oracle = useApache({ ...CGI_ORACLE, tls: true });
  // With mod_ssl loaded Apache's banner (ServerTokens Full) names OpenSSL too:
  // the operator passes the banner Apache really sends, as docs/deploy.md says.
  let banner = '';
  before(async () => {
    banner = (await get(oracle.apache.port, '/')).header('server') ?? '';
  });
  const stack = useStack({ sidecarArgs: () => ['--workers', '2', '--server-software', banner], apache: { tls: true } });

  it('serves the seed example over TLS with the site\'s certificate', async () => {
    const res = await tlsGet(stack.apache, '/hello.ws/x', `127.0.0.1:${stack.apache.tlsPort}`);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.peerCommonName, 'www.example.test');
    assert.match(banner, /^Apache\/\S+ .*OpenSSL\//);
    assert.match(res.body.toString(), /<p>Hello Wsapi!<\/p><p>PATH_INFO: \/x<\/p><p>SCRIPT_NAME: \/hello\.ws<\/p>/);
    const app = await tlsGet(stack.apache, '/app/index.ws/p', `www.example.test:${stack.apache.tlsPort}`);
    assert.equal(app.status, 200, app.body.toString());
    assert.equal(app.body.toString(), 'Hello from app/, PATH_INFO=/p\n');
  });

  it('gives the script HTTPS=on, REQUEST_SCHEME=https, the TLS port and the TLS virtual host', async () => {
    const port = stack.apache.tlsPort!;
    const env = parseDump(await tlsGet(stack.apache, `${ENV_SCRIPT}/a?b=1`, `127.0.0.1:${port}`));
    const expected: Record<string, string> = {
      HTTPS: 'on',
      REQUEST_SCHEME: 'https',
      SERVER_PORT: String(port),
      SERVER_NAME: '127.0.0.1',
      // sites/30-www-tls.conf, not the `*:*` www.example.test: httpd prefers the virtual host of the connection's port.
      SERVER_ADMIN: 'tls-admin@example.test',
      DOCUMENT_ROOT: WWW,
      SCRIPT_NAME: ENV_SCRIPT,
      PATH_INFO: '/a',
      QUERY_STRING: 'b=1',
      HTTP_HOST: `127.0.0.1:${port}`,
      HTTP_X_FORWARDED_PROTO: '',
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(env.get(key), value, key);
  });

  it('applies the TLS virtual host\'s own sections: its <Directory> SetEnv and access rules', async () => {
    const host = `www.example.test:${stack.apache.tlsPort}`;
    const env = parseDump(await tlsGet(stack.apache, '/app/env.ws/x', host));
    assert.equal(env.get('LWT_DEMO'), 'app-tls');
    assert.equal(env.get('SCRIPT_NAME'), '/app/env.ws');
    assert.equal((await tlsGet(stack.apache, '/private/secret.ws', host)).status, 403);
    assert.equal((await tlsGet(oracle.apache, '/private/secret.ws', host)).status, 403);
  });

  it('matches, key by key, what real Apache gives the same script through mod_cgi over TLS', async () => {
    const host = `www.example.test:${stack.apache.tlsPort}`;
    const refHost = `www.example.test:${oracle.apache.tlsPort}`;
    const target = `${ENV_SCRIPT}/p%20q?x=%41&y`;
    const viaSidecar = await tlsGet(stack.apache, target, host, CLIENT_HEADERS);
    const viaCgi = await tlsGet(oracle.apache, target, refHost, CLIENT_HEADERS);
    const env = parseDump(viaSidecar);
    const ref = parseDump(viaCgi);
    assert.equal(ref.get('HTTPS'), 'on');
    assert.equal(ref.get('REMOTE_PORT'), String(viaCgi.localPort));
    assert.equal(env.get('REMOTE_PORT'), String(viaSidecar.localPort));
    // Each Apache listens on its own TLS port (SERVER_PORT, HTTP_HOST) and saw its own client connection.
    const portless = (v: string | undefined, port: number | undefined) => v?.replace(String(port), 'TLS_PORT');
    const differences: string[] = [];
    for (const [key, value] of ref) {
      if (key === 'REMOTE_PORT') continue;
      const mine = portless(env.get(key), stack.apache.tlsPort);
      if (mine !== portless(value, oracle.apache.tlsPort)) differences.push(`${key}: sidecar ${JSON.stringify(env.get(key))}, Apache ${JSON.stringify(value)}`);
    }
    assert.deepEqual(differences, []);
    assert.equal(env.size, ref.size);
  });

  it('gives SERVER_PORT 443 for a Host without a port, as Apache does for https (ap_default_port)', async () => {
    const env = parseDump(await tlsGet(stack.apache, ENV_SCRIPT, 'www.example.test'));
    const ref = parseDump(await tlsGet(oracle.apache, ENV_SCRIPT, 'www.example.test'));
    for (const key of ['SERVER_PORT', 'SERVER_NAME', 'HTTPS', 'REQUEST_SCHEME', 'HTTP_HOST', 'REQUEST_URI']) {
      assert.equal(env.get(key), ref.get(key), key);
    }
    assert.equal(env.get('SERVER_PORT'), '443');
  });

  it('passes a POST body over TLS as Apache passes it to mod_cgi', async () => {
    const body = 'name=caf%C3%A9&blob=' + 'x'.repeat(20_000);
    const a = parseDump(await tlsPost(stack.apache, ENV_SCRIPT, `127.0.0.1:${stack.apache.tlsPort}`, body));
    const b = parseDump(await tlsPost(oracle.apache, ENV_SCRIPT, `127.0.0.1:${oracle.apache.tlsPort}`, body));
    assert.equal(a.get('BODY'), body);
    for (const key of ['BODY', 'CONTENT_LENGTH', 'CONTENT_TYPE', 'REQUEST_METHOD', 'HTTPS', 'REQUEST_SCHEME']) assert.equal(a.get(key), b.get(key), key);
  });

  it('keeps the plain virtual host plain: no HTTPS, scheme http, its own port and ServerAdmin', async () => {
    const send = (port: number) => rawRequest(port, requestHead('GET', ENV_SCRIPT, [['Host', `127.0.0.1:${port}`], ['Connection', 'close']]));
    const env = parseDump(await send(stack.apache.port));
    const ref = parseDump(await send(oracle.apache.port));
    assert.equal(env.get('HTTPS'), '');
    assert.equal(env.get('REQUEST_SCHEME'), 'http');
    assert.equal(env.get('SERVER_PORT'), String(stack.apache.port));
    assert.equal(env.get('SERVER_ADMIN'), 'admin@example.test');
    for (const key of ['HTTPS', 'REQUEST_SCHEME', 'SERVER_ADMIN', 'SERVER_NAME', 'DOCUMENT_ROOT']) assert.equal(env.get(key), ref.get(key), key);
  });

  it('does not let a plain-http client claim https with its own X-Forwarded-Proto', async () => {
    const res: RawResponse = await rawRequest(stack.apache.port, requestHead('GET', ENV_SCRIPT, [
      ['Host', `127.0.0.1:${stack.apache.port}`], ['X-Forwarded-Proto', 'https'], ['X_Forwarded_Proto', 'https'], ['Connection', 'close'],
    ]));
    const env = parseDump(res);
    assert.equal(env.get('HTTPS'), '');
    assert.equal(env.get('REQUEST_SCHEME'), 'http');
    assert.equal(env.get('SERVER_PORT'), String(stack.apache.port));
    // The snippet's `RequestHeader set` replaced the client's copy; the sidecar then removed Apache's.
    assert.equal(env.get('HTTP_X_FORWARDED_PROTO'), '');
  });

  it('does not let a TLS client take https away with X-Forwarded-Proto: http', async () => {
    const env = parseDump(await tlsGet(stack.apache, ENV_SCRIPT, `127.0.0.1:${stack.apache.tlsPort}`, [['X-Forwarded-Proto', 'http']]));
    assert.equal(env.get('HTTPS'), 'on');
    assert.equal(env.get('REQUEST_SCHEME'), 'https');
    assert.equal(env.get('HTTP_X_FORWARDED_PROTO'), '');
  });
});
