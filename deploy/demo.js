#!/usr/bin/env node
'use strict';
/**
 * The demo deploy/demo.sh ends in: lwt-sidecar serving the bundled site
 * (fixtures/httpd-conf/site) behind Debian's real Apache, which reads the same
 * site plus deploy/apache/lwt-sidecar.conf. Ctrl-C stops both.
 *
 *   node deploy/demo.js [--port 8080] [--sidecar-port 8070] [-- serve options...]
 */
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const stack = require('./stack');

function usage(message) {
  if (message) process.stderr.write(`demo: ${message}\n`);
  process.stderr.write('usage: node deploy/demo.js [--port 8080] [--sidecar-port 8070] [-- lwt-sidecar serve options]\n');
  process.exit(2);
}

/** Apache started as root serves as www-data, which must be able to reach the site's static files. */
function warnIfUnreadable(dir) {
  if (!process.getuid || process.getuid() !== 0) return;
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o005) !== 0o005) {
      process.stderr.write(`demo: warning: ${d} is not world-readable; Apache's www-data children cannot serve the site's static files (index.html). Scripts still run in the sidecar.\n`);
      return;
    }
  }
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        port: { type: 'string', default: process.env.LWT_PORT || '8080' },
        'sidecar-port': { type: 'string', default: process.env.LWT_SIDECAR_PORT || '8070' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    usage(err.message);
  }
  const { values, positionals } = parsed;
  if (values.help) usage();
  const port = Number(values.port);
  const sidecarPort = Number(values['sidecar-port']);
  if (!Number.isInteger(port) || !Number.isInteger(sidecarPort)) usage('--port and --sidecar-port must be port numbers');
  if (!fs.existsSync(path.join(stack.ROOT, 'dist', 'src', 'cli.js'))) usage('dist/ is missing: run `npx tsc -p tsconfig.json` first (deploy/demo.sh does)');
  warnIfUnreadable(path.dirname(stack.SITE_CONF));

  const sidecarUrl = `http://127.0.0.1:${sidecarPort}`;
  const prepared = await stack.prepareApache({ port, sidecarUrl });
  // The sidecar reads the configuration Apache reads: the site and the proxy snippet.
  const sidecar = await stack.startSidecar({ config: prepared.configFile, port: sidecarPort, args: positionals, echo: true });
  let apache;
  try {
    apache = await stack.startApache(prepared);
  } catch (err) {
    await sidecar.stop();
    throw err;
  }

  const base = apache.url;
  process.stdout.write([
    '',
    `Apache ${base} → lwt-sidecar ${sidecarUrl}, site ${path.dirname(stack.SITE_CONF)}`,
    '',
    `  Open ${base}/hello.ws            the seed WSAPI example (try ${base}/hello.ws/any/path)`,
    `       ${base}/app/index.ws/x      a SetHandler lwt-wsapi directory with its own LuaPath`,
    `       ${base}/e2e/orbit-hello.ws/ Orbit's hello application`,
    `       ${base}/                    a static page, served by Apache itself`,
    `  curl -H 'Host: api.example.test' ${base}/status.lua    the second virtual host`,
    '',
    `  Apache configuration ${prepared.configFile}`,
    `  Apache logs ${apache.dir}/error.log, access.log; the sidecar logs below.`,
    '  Ctrl-C stops both.',
    '',
  ].join('\n') + '\n');

  let stopping = false;
  const stop = async (why, code) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`demo: ${why}: stopping Apache and the sidecar\n`);
    await apache.stop();
    await sidecar.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  apache.child.once('exit', (c, s) => stop(`apache2 exited (${c ?? s}):\n${apache.errorLog()}`, 1));
  sidecar.child.once('exit', (c, s) => stop(`lwt-sidecar exited (${c ?? s})`, 1));
}

main().catch((err) => {
  process.stderr.write(`demo: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
