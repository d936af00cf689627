/**
 * Benchmark (not a test): loadConfig on a generated tree of 1,000 virtual
 * hosts and 5,000 sections spread over included files. Prints figures only.
 * Run: node dist/scripts/bench/parse.js [runs]
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/apache';
import { clearParseCache } from '../../src/apache/loader';

const VHOSTS = 1000;
/** <VirtualHost>, <Directory>, <Files>, <Location>, <IfModule> */
const SECTIONS_PER_VHOST = 5;

function vhost(i: number): string {
  return `# site ${i}
<VirtualHost *:80>
  ServerName site${i}.example.com
  ServerAlias www.site${i}.example.com
  DocumentRoot \${WWW}/site${i}
  <Directory \${WWW}/site${i}>
    Options FollowSymLinks
    AllowOverride None
    Require all granted
    <Files "*.ws">
      SetHandler lwt-wsapi
    </Files>
  </Directory>
  <Location /status>
    Require local
  </Location>
  <IfModule mod_lwt.c>
    LuaPath "+\${WWW}/site${i}/lib/?.lua;lib/?/init.lua"
    LuaMemoryLimit 32M
  </IfModule>
  Include conf/common-vhost.conf
</VirtualHost>
`;
}

function generate(root: string): string {
  fs.mkdirSync(path.join(root, 'sites-enabled'), { recursive: true });
  fs.mkdirSync(path.join(root, 'conf'), { recursive: true });
  fs.writeFileSync(path.join(root, 'conf', 'common-vhost.conf'), 'ErrorLog /dev/null\nAddHandler lwt-wsapi .ws\n');
  for (let i = 0; i < VHOSTS; i++) {
    fs.writeFileSync(path.join(root, 'sites-enabled', `${String(i).padStart(4, '0')}-site.conf`), vhost(i));
  }
  const main = path.join(root, 'apache2.conf');
  fs.writeFileSync(main, 'Define WWW /srv/www\nLoadModule alias_module modules/mod_alias.so\n'
    + 'IncludeOptional sites-enabled/*.conf\n');
  return main;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function count(nodes: readonly { key: string; children?: readonly unknown[] }[]): { vhosts: number; sections: number; directives: number } {
  let vhosts = 0;
  let sections = 0;
  let directives = 0;
  const walk = (ns: readonly { key: string; children?: readonly unknown[] }[]): void => {
    for (const n of ns) {
      directives++;
      if (n.children !== undefined) {
        sections++;
        if (n.key === 'virtualhost') vhosts++;
        walk(n.children as typeof ns);
      }
    }
  };
  walk(nodes);
  return { vhosts, sections, directives };
}

function main(): void {
  const runs = Number(process.argv[2] ?? 9);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-bench-parse-'));
  try {
    const configFile = generate(root);
    const opts = { configFile, env: {} };
    const cold: number[] = [];
    const warm: number[] = [];
    let last = loadConfig(opts);
    for (let i = 0; i < runs; i++) {
      clearParseCache();
      cold.push(time(() => { last = loadConfig(opts); }));
      warm.push(time(() => { last = loadConfig(opts); }));
    }
    const c = count(last.tree);
    console.log(`tree: ${last.files.length} files read, ${c.vhosts} virtual hosts, ${VHOSTS * SECTIONS_PER_VHOST} sections written `
      + `(${c.sections} left once <IfModule> is spliced), ${c.directives} nodes`);
    console.log(`loadConfig, files parsed (cold): median ${median(cold).toFixed(1)} ms over ${runs} runs (min ${Math.min(...cold).toFixed(1)}, max ${Math.max(...cold).toFixed(1)})`);
    console.log(`loadConfig, unchanged files (hot reload): median ${median(warm).toFixed(1)} ms over ${runs} runs (min ${Math.min(...warm).toFixed(1)}, max ${Math.max(...warm).toFixed(1)})`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main();
