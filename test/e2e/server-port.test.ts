/**
 * SERVER_PORT and redirects when the client's Host has no port: httpd takes
 * the port of the server the request went to (ap_get_server_port), which is
 * ServerName's port, the first address's for a virtual host without a
 * ServerName of its own, else the scheme's default. Asked of the real Apache
 * running the same script through mod_cgi, with the same virtual hosts.
 */

import { strict as assert } from 'node:assert';
import { CGI_ORACLE, useApache, useStack } from '../helpers/apache';
import { parseEnvDump, rawRequest, requestHead } from './raw-http';

/** Virtual hosts added to the fixture site, after its own (which stay the default). */
const VHOSTS = [
  '<VirtualHost *:*>',
  '    ServerName ported.example.test:8443',
  '    DocumentRoot ${LWT_SITE}/www',
  '    <IfModule mod_lwt.c>',
  '        AddHandler lwt-wsapi .ws',
  '    </IfModule>',
  '</VirtualHost>',
  '<VirtualHost *:*>',
  '    ServerAlias nameless.example.test',
  '    DocumentRoot ${LWT_SITE}/www',
  '    <IfModule mod_lwt.c>',
  '        AddHandler lwt-wsapi .ws',
  '    </IfModule>',
  '</VirtualHost>',
];

describe('e2e: SERVER_PORT and redirects for a Host without a port, as Apache gives them', function () {
  this.timeout(30_000);
  const stack = useStack({ apache: { extra: VHOSTS } });
  const oracle = useApache({ ...CGI_ORACLE, extra: [...CGI_ORACLE.extra!, ...VHOSTS] });

  const ask = async (port: number, host: string, target: string) =>
    rawRequest(port, requestHead('GET', target, [['Host', host]]));

  for (const host of ['ported.example.test', 'ported.example.test:99', 'nameless.example.test', 'www.example.test']) {
    it(`Host: ${host}`, async () => {
      const a = parseEnvDump(await ask(stack.apache.port, host, '/e2e/env.ws'));
      const b = parseEnvDump(await ask(oracle.apache.port, host, '/e2e/env.ws'));
      for (const key of ['SERVER_NAME', 'SERVER_PORT', 'DOCUMENT_ROOT']) assert.equal(a.get(key), b.get(key), key);
    });
  }

  it('gives ServerName\'s port to the port SERVER_PORT shows (8443)', async () => {
    const a = parseEnvDump(await ask(stack.apache.port, 'ported.example.test', '/e2e/env.ws'));
    assert.equal(a.get('SERVER_PORT'), '8443');
  });

  it('redirects a directory without its slash to ServerName\'s port, as mod_dir does', async () => {
    const a = await ask(stack.apache.port, 'ported.example.test', '/app');
    const b = await ask(oracle.apache.port, 'ported.example.test', '/app');
    assert.equal(b.status, 301);
    assert.equal(a.status, 301);
    const location = (r: typeof a) => r.headers.find(([n]) => n.toLowerCase() === 'location')?.[1];
    assert.equal(location(a), 'http://ported.example.test:8443/app/');
    assert.equal(location(a), location(b));
  });
});
