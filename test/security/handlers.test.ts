/**
 * Only a file whose merged handler is `lwt-wsapi` runs. Probes on the names
 * mod_mime reads (case, trailing dots and spaces, NTFS streams, several
 * extensions), a directory named like a script, and symbolic links, which
 * httpd follows only where `Options FollowSymLinks` (its default) allows it.
 */

import * as assert from 'node:assert/strict';
import { assertNothingExposed, get, useServedSite } from './helpers';

describe('security: which files run', function () {
  this.timeout(30_000);
  const served = useServedSite();

  describe('extensions', () => {
    for (const target of ['/ok.ws.', '/ok.ws%20', '/ok.ws::$DATA', '/ok.ws%3a%3a$DATA', '/ok.WS', '/ok.w%73x', '/ok', '/plain.lua', '/secret.txt']) {
      it(`answers 404 for ${target}: no such script file, or no lwt-wsapi handler`, async () => {
        const r = await get(served.sidecar.port, target);
        assert.equal(r.status, 404);
        assertNothingExposed(r, target);
      });
    }

    it('runs UPPER.WS: mod_mime compares extensions without case, as Apache with mod_lwt did (noted)', async () => {
      assert.equal((await get(served.sidecar.port, '/UPPER.WS')).body, 'RAN-MULTI');
    });

    it('runs multi.ws.txt and multi.txt.ws: with AddHandler every extension counts (mod_mime), as under mod_lwt (noted: use <FilesMatch "\\.ws$"> to avoid it)', async () => {
      assert.equal((await get(served.sidecar.port, '/multi.ws.txt')).body, 'RAN-MULTI');
      assert.equal((await get(served.sidecar.port, '/multi.txt.ws')).body, 'RAN-MULTI');
    });

    it('never runs or lists a directory named dir.ws', async () => {
      for (const target of ['/dir.ws', '/dir.ws/', '/dir.ws/index.html']) {
        const r = await get(served.sidecar.port, target);
        assert.equal(r.status, 404, target);
        assertNothingExposed(r, target);
      }
    });
  });

  describe('symbolic links', () => {
    it('answers 404 for a non-script name that links to a script: the handler follows the name requested', async () => {
      const r = await get(served.sidecar.port, '/link-ok.lua');
      assert.equal(r.status, 404);
    });

    it('runs a script name linking outside the DocumentRoot where FollowSymLinks is on, as httpd does (noted: httpd checks <Directory> against the link\'s path)', async () => {
      assert.equal((await get(served.sidecar.port, '/link-out.ws')).body, 'OUTSIDE-RAN');
      assert.equal((await get(served.sidecar.port, '/linkdir/secret.ws')).body, 'OUTSIDE-RAN');
    });

    it('runs a script name linking to a file no handler applies to as a script, never shows its source', async () => {
      const r = await get(served.sidecar.port, '/link-plain.ws');
      assert.ok(!r.raw.includes('return "PLAIN-LUA-SOURCE-MARKER"'), r.raw);
    });

    it('refuses a symbolic link to a script under Options -FollowSymLinks with 403, as httpd (AH00037), and never runs it', async () => {
      const r = await get(served.sidecar.port, '/nofollow/link.ws');
      assert.equal(r.status, 403, r.raw);
      assert.ok(!r.body.includes('OK'));
    });

    it('refuses a script reached through a linked directory under Options -FollowSymLinks', async () => {
      const r = await get(served.sidecar.port, '/nofollow/linkdir/secret.ws');
      assert.equal(r.status, 403, r.raw);
      assertNothingExposed(r, '/nofollow/linkdir/secret.ws');
    });

    it('still runs a real file under Options -FollowSymLinks', async () => {
      assert.equal((await get(served.sidecar.port, '/nofollow/real.ws')).body, 'OK');
    });
  });
});
