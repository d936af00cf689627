import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run as serveCommand } from '../../src/commands/serve';
import { request, siteConfig } from './helpers';

const BIN = path.resolve(__dirname, '../../../bin/lwt-sidecar');

/** Start `lwt-sidecar serve` and wait for its start-up line. */
function serve(args: string[]): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no start-up line:\n${out}`)), 15_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}:\n${out}`)); });
  });
}

describe('commands/serve: the lwt-sidecar serve process', function () {
  this.timeout(30_000);
  let conf: { file: string; dir: string };
  let child: ChildProcess | null = null;
  before(() => { conf = siteConfig(); });
  afterEach(() => { if (child && child.exitCode === null) child.kill('SIGKILL'); child = null; });
  after(() => fs.rmSync(conf.dir, { recursive: true, force: true }));

  it('prints the start-up line with address, configuration, scopes and workers, and lists unsupported access scopes', async () => {
    const s = await serve(['--config', conf.file, '--listen', '127.0.0.1:0', '--workers', '1', '--no-watch']);
    child = s.child;
    await new Promise((r) => setTimeout(r, 100));
    assert.match(s.output(), new RegExp(`configuration ${conf.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(generation 1\\), 1 lwt-wsapi scopes, 1 workers`));
    assert.match(s.output(), /httpd\.conf:22: Require group staff: cannot be checked by the sidecar/);
    // Checked against the user Apache forwards, so not listed.
    assert.doesNotMatch(s.output(), /Require valid-user/);
    assert.equal((await request(s.port, '/app/hello.lua')).status, 200);
  });

  it('finishes a request in flight on SIGTERM, then exits 0', async () => {
    const s = await serve(['--config', conf.file, '--listen', '127.0.0.1:0', '--workers', '1', '--no-watch']);
    child = s.child;
    const exited = new Promise<number | null>((r) => s.child.on('exit', (code) => r(code)));
    const slow = request(s.port, '/app/slow.lua');
    await new Promise((r) => setTimeout(r, 300));
    s.child.kill('SIGTERM');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'slow done');
    assert.equal(await exited, 0);
    assert.match(s.output(), /SIGTERM: stopping \(finishing 1 requests in flight\)/);
  });

  it('reloads the configuration on SIGHUP: the next request uses the new generation', async () => {
    const own = siteConfig();
    try {
      const s = await serve(['--config', own.file, '--listen', '127.0.0.1:0', '--workers', '1', '--no-watch']);
      child = s.child;
      assert.equal((await request(s.port, '/app/hello.lua')).status, 200);
      fs.appendFileSync(own.file, '<Files "hello.lua">\n    Require all denied\n</Files>\n');
      s.child.kill('SIGHUP');
      for (let i = 0; i < 200 && !/generation 2 live/.test(s.output()); i++) await new Promise((r) => setTimeout(r, 25));
      assert.match(s.output(), /reload \(SIGHUP\): generation 2 live/);
      assert.equal((await request(s.port, '/app/hello.lua')).status, 403);
    } finally {
      fs.rmSync(own.dir, { recursive: true, force: true });
    }
  });

  it('survives a SIGHUP during start-up and reloads once it is ready', async () => {
    // The signal lands right after the start-up line, while the watcher's first scan is still running.
    const s = await serve(['--config', conf.file, '--listen', '127.0.0.1:0', '--workers', '1']);
    child = s.child;
    s.child.kill('SIGHUP');
    for (let i = 0; i < 200 && !/generation 2 live/.test(s.output()); i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(s.child.exitCode, null, s.output());
    assert.equal(s.child.signalCode, null, s.output());
    assert.match(s.output(), /reload \(SIGHUP\): generation 2 live/);
    assert.equal((await request(s.port, '/app/hello.lua')).status, 200);
  });

  it('names the option and the fix for a bad value', async () => {
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'serve', '--config', conf.file, '--listen', 'nowhere'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      c.stderr.on('data', (d: Buffer) => { text += d.toString(); });
      c.on('exit', (code) => resolve({ code, text }));
    });
    assert.equal(out.code, 1);
    assert.match(out.text, /--listen must be HOST:PORT/);
  });

  it('prints --help with every option description in one column, continuation lines included', async () => {
    let text = '';
    const io = { stdout: { write: (s: string | Uint8Array) => { text += String(s); return true; } }, stderr: { write: () => true } };
    assert.equal(await serveCommand(['--help'], io as never), 0);
    const lines = text.split('\n').filter((l) => l.startsWith('  '));
    assert.ok(lines.length > 25, text);
    const columns = new Set<number>();
    for (const line of lines) {
      // An option line: two spaces, the flag, two or more spaces, the text; a continuation: spaces, the text.
      const option = /^ {2}\S.*? {2,}(?=\S)/.exec(line);
      columns.add(line[2] !== ' ' ? (option ? option[0].length : -1) : line.search(/\S/));
      assert.ok(line.length <= 100, `longer than 100 columns: ${line}`);
    }
    assert.deepEqual([...columns], [30], text);
    assert.match(text, /^ {2}--request-line-header NAME {2}header a trusted peer/m);
    assert.match(text, /^ {2}--config, -f FILE {11}the Apache configuration file/m);
  });
});
