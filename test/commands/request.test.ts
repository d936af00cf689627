/**
 * `lwt-sidecar request`: resolve a URL against a real Apache configuration,
 * run the script in-process and print the raw response like `curl -i`.
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../src/commands/request';
import { main } from '../../src/cli';
import { SCRIPTS, runOracle } from '../helpers/oracle';

const GROW_SCRIPT = path.join(SCRIPTS, 'grow.lua');

let dir = '';
let conf = '';

function site(): string {
  return [
    'ServerName localhost',
    'Listen 80',
    `DocumentRoot "${SCRIPTS}"`,
    `<Directory "${SCRIPTS}">`,
    '    AddHandler lwt-wsapi .lua',
    '    Require all granted',
    '</Directory>',
    `<Directory "${SCRIPTS}/iso">`,
    '    Require all denied',
    '</Directory>',
    '<Files "uselib.lua">',
    `    LuaPath "+${SCRIPTS}/lib/?.lua"`,
    '</Files>',
    '',
  ].join('\n');
}

async function request(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = {
    stdout: { write: (s: string | Uint8Array) => { out += typeof s === 'string' ? s : Buffer.from(s).toString('latin1'); } },
    stderr: { write: (s: string | Uint8Array) => { err += String(s); } },
  };
  const code = await main(['request', '--config', conf, ...args], io);
  return { code, out, err };
}

function split(raw: string): { head: string[]; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  return { head: raw.slice(0, end).split('\r\n'), body: raw.slice(end + 4) };
}

describe('lwt-sidecar request', () => {
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-request-'));
    conf = path.join(dir, 'site.conf');
    fs.writeFileSync(conf, site());
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints the seed example\'s response with status line, headers and body', async () => {
    const r = await request('http://localhost/hello.lua/a%20b?x=1');
    assert.equal(r.code, 0);
    const oracle = runOracle({ script: 'hello.lua', pathInfo: '/a b', query: 'x=1' });
    assert.equal(r.out, 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n'
      + `Content-Length: ${oracle.body.length}\r\n\r\n${oracle.body}`);
  });

  it('sends -X, -H and --data to the script as the CGI environment and body', async () => {
    const r = await request('-X', 'PUT', '-H', 'X-Test: yes', '--data', 'a=1', '/env.lua');
    const { head, body } = split(r.out);
    assert.equal(head[0], 'HTTP/1.1 200 OK');
    assert.match(body, /^REQUEST_METHOD=PUT$/m);
    assert.match(body, /^HTTP_X_TEST=yes$/m);
    assert.match(body, /^CONTENT_LENGTH=3$/m);
    assert.match(body, /^CONTENT_TYPE=application\/x-www-form-urlencoded$/m);
    assert.match(body, /^SCRIPT_FILENAME=.*\/env\.lua$/m);
  });

  it('prints no body for HEAD, as Apache', async () => {
    const r = await request('-X', 'HEAD', '/hello.lua');
    assert.ok(r.out.endsWith('\r\n\r\n'));
    assert.match(r.out, /^HTTP\/1\.1 200 OK\r\n/);
  });

  it('posts a form from --data @FILE (POST by default)', async () => {
    const file = path.join(dir, 'form.txt');
    fs.writeFileSync(file, 'name=from+file');
    const { body } = split((await request('--data', `@${file}`, '/form.lua?q=1')).out);
    assert.match(body, /^method=POST$/m);
    assert.match(body, /^POST: name=from file$/m);
    assert.match(body, /^GET: q=1$/m);
  });

  it('uses the merged LuaPath of the script\'s sections', async () => {
    assert.equal(split((await request('/uselib.lua')).out).body, 'hello, path');
  });

  it('prints Apache\'s 404 and 403 error documents and exits 0', async () => {
    const missing = await request('/missing.lua');
    assert.equal(missing.code, 0);
    assert.equal(split(missing.out).head[0], 'HTTP/1.1 404 Not Found');
    assert.match(split(missing.out).body, /<title>404 Not Found<\/title>/);
    const denied = await request('/iso/global.lua');
    assert.equal(split(denied.out).head[0], 'HTTP/1.1 403 Forbidden');
  });

  it('prints a 500 for a C-level failure and the log line on stderr', async () => {
    const r = await request('/bad/teapot.lua');
    assert.equal(r.code, 0);
    assert.equal(split(r.out).head[0], 'HTTP/1.1 500 Internal Server Error');
    assert.match(r.err, /\[lua:error\] Lua runtime error running '.*teapot\.lua'[^]* \[LWT_LUA_RUNTIME\]\n$/);
  });

  it('applies the LuaMemoryLimit of the script\'s directory, as serve does', async () => {
    const www = path.join(dir, 'limited');
    fs.mkdirSync(www);
    fs.copyFileSync(GROW_SCRIPT, path.join(www, 'grow.lua'));
    const limited = path.join(dir, 'limited.conf');
    const section = (limit: string) => [
      'ServerName localhost',
      'Listen 80',
      `DocumentRoot "${www}"`,
      `<Directory "${www}">`,
      '    AddHandler lwt-wsapi .lua',
      '    Require all granted',
      `    LuaMemoryLimit ${limit}`,
      '</Directory>',
      '',
    ].join('\n');
    fs.writeFileSync(limited, section('8M'));
    const r = await request('--config', limited, '/grow.lua');
    assert.equal(split(r.out).head[0], 'HTTP/1.1 500 Internal Server Error', r.out);
    assert.equal(r.err, `[lua:error] Lua memory allocation error running '${path.join(www, 'grow.lua')}': not enough memory [LWT_LUA_MEMORY]\n`);
    fs.writeFileSync(limited, section('256M'));
    assert.equal(split((await request('--config', limited, '/grow.lua')).out).body, 'kept 65536');
  });

  it('names LWT_BAD_REQUEST with the reason for a 400', async () => {
    const r = await request('/../../etc/passwd');
    assert.equal(split(r.out).head[0], 'HTTP/1.1 400 Bad Request');
    assert.equal(r.err, 'lwt-sidecar: the path climbs above the root [LWT_BAD_REQUEST]\n');
  });

  it('prints WSAPI\'s own 500 page for a script error', async () => {
    const r = await request('/bad/runtime.lua');
    assert.equal(split(r.out).head[0], 'HTTP/1.1 500 Internal Server Error');
    assert.match(split(r.out).body, /WSAPI Error in Application/);
  });

  it('exits 1 with a positional message on a configuration error', async () => {
    const bad = path.join(dir, 'bad.conf');
    fs.writeFileSync(bad, '<Directory /x>\nAddHandler lwt-wsapi .lua\n');
    let err = '';
    const code = await main(['request', '--config', bad, '/x.lua'], {
      stdout: { write: () => undefined },
      stderr: { write: (s: string | Uint8Array) => { err += String(s); } },
    });
    assert.equal(code, 1);
    assert.match(err, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: `));
  });

  it('refuses a missing URL with a usage error', async () => {
    await assert.rejects(run(['--config', conf], { stdout: { write: () => undefined }, stderr: { write: () => undefined } }), /exactly one URL/);
  });
});
