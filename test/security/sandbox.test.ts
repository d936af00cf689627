/**
 * What a script may not do to the sidecar: take it down, write to its
 * stdout, run shell commands, load JavaScript or native code, read the
 * sidecar's own environment, or leave anything behind for the next request.
 * Scripts are trusted code as under mod_lwt (they may read files), so every
 * probe here asks for the sidecar's guarantee: the bad request fails alone.
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { get, makeSite, serve, type Served, type Site } from './helpers';

describe('security: the Lua sandbox', function () {
  this.timeout(60_000);
  let site: Site;
  let sidecar: Served;
  let markerDir: string;
  before(async () => {
    site = makeSite();
    markerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-sec-marker-'));
    sidecar = await serve(site, ['--workers', '2', '--cpu-limit-ms', '1000'], {
      SEC_PROCESS_SECRET: 'process-secret-value',
      SEC_JS_MARKER: path.join(markerDir, 'js-ran'),
      HOME: '/root-of-the-sidecar',
    });
  });
  after(async () => {
    await sidecar?.stop();
    site?.remove();
    fs.rmSync(markerDir, { recursive: true, force: true });
  });

  const stillServes = async () => {
    const next = await get(sidecar.port, '/ok.ws');
    assert.equal(next.body, 'OK', `the sidecar stopped serving:\n${sidecar.stderr().slice(-3000)}`);
  };

  describe('the environment', () => {
    it('os.getenv reads the CGI environment: PATH as mod_lwt passed it, no HOME, none of the sidecar\'s own variables', async () => {
      const r = await get(sidecar.port, '/sandbox/getenv.ws');
      assert.equal(r.status, 200, r.raw);
      const lines = Object.fromEntries(r.body.trim().split('\n').map((l) => {
        const [k, v] = l.split('=', 2) as [string, string];
        const [getenv, env] = v.split('|') as [string, string];
        return [k, { getenv, env }];
      }));
      // ap_add_common_vars gives PATH from the server's own environment: same value here, through both ways.
      assert.equal(lines.PATH.getenv, lines.PATH.env);
      assert.equal(lines.HOME.getenv, 'nil');
      assert.equal(lines.SEC_PROCESS_SECRET.getenv, 'nil');
      assert.ok(!r.body.includes('process-secret-value'));
      assert.ok(!r.body.includes('/root-of-the-sidecar'));
      assert.equal(lines.REMOTE_ADDR.getenv, '127.0.0.1');
      assert.equal(lines.SCRIPT_FILENAME.getenv, path.join(site.dir, 'www', 'sandbox', 'getenv.ws'));
    });
  });

  describe('ways out of the Lua state', () => {
    const probe = async (name: string, marker = path.join(markerDir, name)) => {
      const r = await get(sidecar.port, `/sandbox/escape.ws?${name}&${marker}`);
      assert.equal(r.status, 200, r.raw);
      return { body: r.body, marker };
    };

    it('os.execute runs no shell command', async () => {
      const { body, marker } = await probe('execute');
      assert.ok(!fs.existsSync(marker), body);
    });

    it('io.popen runs no shell command', async () => {
      const { body, marker } = await probe('popen');
      assert.match(body, /io\.popen is disabled/);
      assert.ok(!fs.existsSync(marker));
    });

    it('package.loadlib is gone, and no table in the registry still holds it', async () => {
      assert.equal((await probe('loadlib')).body, 'true nil');
      assert.equal((await probe('loadlib_debug')).body, 'true found:');
    });

    it('require never runs a .js file on package.path or package.jspath', async () => {
      const { body } = await probe('requirejs');
      assert.match(body, /^true false /);
      assert.ok(!fs.existsSync(path.join(markerDir, 'js-ran')), 'evil.js ran');
    });

    it('no JavaScript bridge is reachable (require "js", fengari-interop, globals js/window/process)', async () => {
      assert.equal((await probe('requirejslib')).body, 'true false false nil nil nil');
    });
  });

  describe('standard output', () => {
    it('print, io.write, io.stdout and io.output never reach the sidecar\'s stdout', async () => {
      const marker = 'STDOUT-PROBE-7f3a';
      const r = await get(sidecar.port, `/sandbox/stdout.ws?${marker}`);
      assert.equal(r.body, 'done');
      await sidecar.waitForLog(new RegExp(`${marker}-io\\.stderr`));
      assert.ok(!sidecar.stdout().includes(marker), sidecar.stdout());
      assert.ok(!r.raw.includes(marker));
    });
  });

  describe('taking the sidecar down', () => {
    const failsAlone = async (target: string) => {
      const r = await get(sidecar.port, target);
      await stillServes();
      return r;
    };

    it('os.exit ends only its request (500), even called through pcall', async () => {
      const r = await failsAlone('/sandbox/exit.ws');
      assert.equal(r.status, 500);
      assert.ok(!r.raw.includes('AFTER-EXIT'));
    });

    for (const name of ['loop', 'coroutine_loop', 'pcall_loop']) {
      it(`stops a runaway script (${name}) at the CPU limit; only its request fails`, async () => {
        assert.equal((await failsAlone(`/sandbox/runaway.ws?${name}`)).status, 500);
      });
    }

    it('debug.sethook cannot remove the CPU limit hook', async () => {
      const r = await failsAlone('/sandbox/runaway.ws?sethook');
      assert.equal(r.status, 500);
      assert.ok(!r.raw.includes('RETURNED'));
    });

    it('a pathological pattern match (one long JS library call) is stopped by the worker backstop; only its request fails', async () => {
      assert.equal((await failsAlone('/sandbox/runaway.ws?pattern')).status, 500);
    });

    for (const name of ['recursion', 'c_recursion', 'gsub_recursion', 'coroutine_nest']) {
      it(`a stack overflow (${name}) fails only that request`, async () => {
        assert.equal((await failsAlone(`/sandbox/runaway.ws?${name}`)).status, 500);
      });
    }

    for (const name of ['coroutine_bomb', 'rep_huge', 'rep_grow', 'table_bomb', 'concat_huge']) {
      it(`an allocation bomb (${name}) fails only that request`, async () => {
        const r = await failsAlone(`/sandbox/runaway.ws?${name}`);
        assert.ok(r.status === 500 || /^RETURNED \d+$/.test(r.body), r.raw.slice(0, 300));
      });
    }

    for (const name of ['tostring_error', 'table_error', 'nil_error']) {
      it(`an error value the runner cannot print (${name}) fails only that request`, async () => {
        assert.equal((await failsAlone(`/sandbox/runaway.ws?${name}`)).status, 500);
      });
    }

    it('malformed and fuzzed bytecode given to load fails inside the script, never in the sidecar', async () => {
      assert.equal((await failsAlone('/sandbox/runaway.ws?truncated_bytecode')).body, 'RETURNED nil');
      const fuzzed = await failsAlone('/sandbox/runaway.ws?bytecode');
      assert.ok(fuzzed.status === 200 || fuzzed.status === 500, fuzzed.raw.slice(0, 300));
    });

    for (const kind of ['table', 'boolean', 'func', 'userdata', 'meta', 'badmeta']) {
      it(`a body iterator that yields a ${kind} fails only that request`, async () => {
        const r = await failsAlone(`/sandbox/body.ws?${kind}`);
        assert.ok(r.status === 500 || r.status === 200, r.raw.slice(0, 300));
      });
    }

    it('a body iterator that yields numbers writes them as Lua 5.1 tostring does', async () => {
      assert.equal((await failsAlone('/sandbox/body.ws?number')).body, 'a42b');
      assert.equal((await failsAlone('/sandbox/body.ws?float')).body, '1.5x');
    });

    it('a script cannot reach the unwrapped pcall through debug.getupvalue to catch its own os.exit', async () => {
      const r = await failsAlone('/sandbox/runaway.ws?raw_pcall_exit');
      assert.equal(r.status, 500, r.raw.slice(0, 300));
      assert.ok(!r.raw.includes('survived os.exit'));
    });

    it('a script cannot reach the unwrapped pcall to outlive the CPU limit; its worker is replaced and the sidecar serves', async () => {
      assert.equal((await failsAlone('/sandbox/runaway.ws?raw_pcall_loop')).status, 500);
    });
  });

  describe('collectgarbage', () => {
    it('answers as Lua 5.1 does ("count" a number of KiB, "collect" 0), as mod_lwt scripts call it', async () => {
      const r = await get(sidecar.port, '/sandbox/runaway.ws?gc');
      assert.equal(r.body, 'RETURNED true', r.raw.slice(0, 300));
    });
  });

  describe('isolation between requests', () => {
    it('a script that poisons globals, the string metatable, loaded modules and package.path leaves nothing for the next request', async () => {
      const site2 = makeSite();
      const one = await serve(site2, ['--workers', '1']);
      try {
        assert.equal((await get(one.port, '/sandbox/leak.ws?set')).body, 'set');
        assert.equal((await get(one.port, '/sandbox/leak.ws?check')).body, 'nil nil nil nil nil');
      } finally {
        await one.stop();
        site2.remove();
      }
    });
  });

  describe('reading files', () => {
    it('lets a script read /etc/passwd: scripts are trusted code, as under mod_lwt (noted)', async () => {
      assert.match((await get(sidecar.port, '/sandbox/passwd.ws')).body, /^root:/);
    });
  });
});
