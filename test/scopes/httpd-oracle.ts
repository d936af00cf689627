/**
 * Real Apache as the oracle for resolution: the same configuration with
 * `lwt-wsapi` renamed to `cgi-script`, and every candidate script replaced by a
 * shell CGI program that prints what httpd decided (SCRIPT_FILENAME,
 * PATH_INFO, SCRIPT_NAME, environment). mod_cgi, like mod_lwt, only runs a
 * file whose merged handler names it, so "Apache ran the CGI" means "the
 * sidecar must run this script".
 */

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';

export const CGI_BODY = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
printf 'CGI\\n%s\\n%s\\n%s\\n%s\\n%s\\n%s\\n%s\\n%s\\n' "$SCRIPT_FILENAME" "\${PATH_INFO-}" "$SCRIPT_NAME" "\${LWT_DEMO-}" \\
  "\${PATH_TRANSLATED-}" "$DOCUMENT_ROOT" "$CONTEXT_PREFIX" "$CONTEXT_DOCUMENT_ROOT"
`;

export interface OracleAnswer {
  status: number;
  /** The Location header, when Apache sent one (mod_dir's DirectorySlash redirect). */
  location?: string;
  /** Present when the CGI ran. */
  cgi?: {
    filename: string; pathInfo: string; scriptName: string; env: string;
    pathTranslated: string; documentRoot: string; contextPrefix: string; contextDocumentRoot: string;
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const PRELUDE = (root: string, port: number) => `
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_host_module /usr/lib/apache2/modules/mod_authz_host.so
LoadModule access_compat_module /usr/lib/apache2/modules/mod_access_compat.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule env_module /usr/lib/apache2/modules/mod_env.so
LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so
DefaultRuntimeDir ${root}/run
PidFile ${root}/run/httpd.pid
ErrorLog ${root}/run/error.log
ScriptSock ${root}/run/cgid.sock
User www-data
Group www-data
TypesConfig /etc/mime.types
Listen 127.0.0.1:${port}
ServerName localhost
<Directory />
    Options FollowSymLinks ExecCGI
    AllowOverride None
</Directory>
`;

export class Oracle {
  private child: ChildProcess | null = null;

  private constructor(readonly root: string, readonly port: number) {}

  /**
   * Start apache2 on `root`/oracle.conf: PRELUDE + `body` (with lwt-wsapi renamed).
   * `scripts` are made CGI programs; the tree must already exist.
   */
  static async start(root: string, body: string, scripts: readonly string[]): Promise<Oracle> {
    const port = await freePort();
    fs.mkdirSync(path.join(root, 'run'), { recursive: true });
    fs.chmodSync(root, 0o755);
    for (const dir of walkDirs(root)) fs.chmodSync(dir, 0o755);
    for (const s of scripts) {
      fs.writeFileSync(path.join(root, s), CGI_BODY);
      fs.chmodSync(path.join(root, s), 0o755);
    }
    const text = PRELUDE(root, port) + body.split('@PORT@').join(String(port));
    // The sidecar reads sidecar.conf; apache2 the same text with the handler renamed.
    fs.writeFileSync(path.join(root, 'sidecar.conf'), text);
    fs.writeFileSync(path.join(root, 'oracle.conf'), text.replace(/lwt-wsapi/g, 'cgi-script'));
    const o = new Oracle(root, port);
    o.child = spawn('apache2', ['-d', root, '-f', path.join(root, 'oracle.conf'), '-DFOREGROUND'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    o.child.stderr!.on('data', (c) => { stderr += c; });
    const deadline = Date.now() + 10000;
    for (;;) {
      if (o.child.exitCode !== null) throw new Error(`apache2 exited: ${stderr}`);
      if (await canConnect(port)) return o;
      if (Date.now() > deadline) { await o.close(); throw new Error(`apache2 did not listen: ${stderr}`); }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** GET through apache2; `from` is the client address (any 127.x address works on Linux loopback). */
  get(target: string, host = 'localhost', from = '127.0.0.1', to = '127.0.0.1'): Promise<OracleAnswer> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: to, port: this.port, path: target, headers: { Host: host }, agent: false, localAddress: from }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { body += c; });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 200 && body.startsWith('CGI\n')) {
            const [, filename, pathInfo, scriptName, env, pathTranslated, documentRoot, contextPrefix, contextDocumentRoot] = body.split('\n');
            resolve({ status, cgi: { filename, pathInfo, scriptName, env, pathTranslated, documentRoot, contextPrefix, contextDocumentRoot } });
          } else {
            resolve(res.headers.location !== undefined ? { status, location: res.headers.location } : { status });
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  async close(): Promise<void> {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

function walkDirs(root: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(root, { withFileTypes: true })) {
    if (e.isDirectory()) {
      const p = path.join(root, e.name);
      out.push(p, ...walkDirs(p));
    }
  }
  return out;
}
