/**
 * deploy/demo.js, the last step of deploy/demo.sh: Apache in front of the
 * sidecar on the bundled site, the URL to open printed, both stopped by Ctrl-C.
 */

import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, stack } from '../helpers/apache';
import { get } from './raw-http';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('e2e: deploy/demo.js', function () {
  this.timeout(30_000);
  let demo: ChildProcess | undefined;
  after(() => {
    if (demo && demo.exitCode === null) demo.kill('SIGKILL');
  });

  it('prints the URL, serves the seed example through Apache, and stops both on SIGINT', async () => {
    const port = await stack.freePort();
    const sidecarPort = await stack.freePort();
    demo = spawn(process.execPath, [path.join(ROOT, 'deploy', 'demo.js'), '--port', String(port), '--sidecar-port', String(sidecarPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    demo.stdout!.on('data', (d) => { out += d; });
    demo.stderr!.on('data', (d) => { out += d; });
    const exited = new Promise<number | null>((r) => demo!.once('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (out.includes('Ctrl-C stops both')) { clearInterval(t); resolve(); }
        if (demo!.exitCode !== null) { clearInterval(t); reject(new Error(`demo exited ${demo!.exitCode}:\n${out}`)); }
      }, 50);
    });
    assert.ok(out.includes(`http://127.0.0.1:${port}/hello.ws`), out);
    const res = await get(port, '/hello.ws');
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /Hello Wsapi!/);
    // The site writes its pid file into LWT_RUN, the folder above the generated configuration's conf/.
    const runDir = /Apache configuration (\S+)\/conf\/httpd\.conf/.exec(out)![1]!;
    const apachePid = Number(fs.readFileSync(path.join(runDir, 'apache2.pid'), 'utf8'));
    demo.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.equal(alive(apachePid), false, 'apache2 still runs');
    await assert.rejects(get(sidecarPort, '/hello.ws', [], { timeoutMs: 2000 }));
  });
});
