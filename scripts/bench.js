#!/usr/bin/env node
// `npm run bench [name...]`: runs the compiled benchmarks in dist/scripts/bench/
// one after another (they share two cores, so never in parallel) and lets each
// print its own figures. Names select a subset: `npm run bench -- lua e2e`.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, '..', 'dist', 'scripts', 'bench');
const wanted = process.argv.slice(2);
const all = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.js')).sort() : [];
const order = ['parse', 'lua', 'e2e', 'reload'];
all.sort((a, b) => (order.indexOf(a.slice(0, -3)) + 99 * !order.includes(a.slice(0, -3))) - (order.indexOf(b.slice(0, -3)) + 99 * !order.includes(b.slice(0, -3))));
const chosen = wanted.length ? all.filter((f) => wanted.includes(f.slice(0, -3))) : all;
if (chosen.length === 0) {
  console.error(`no benchmarks found${wanted.length ? ` named ${wanted.join(', ')}` : ''} in ${dir}`);
  process.exit(1);
}
let failed = 0;
for (const f of chosen) {
  console.log(`\n=== bench: ${f.slice(0, -3)} ===`);
  const r = spawnSync(process.execPath, [path.join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) { failed++; console.log(`bench ${f} exited with ${r.status ?? r.signal}`); }
}
process.exit(failed ? 1 : 0);
