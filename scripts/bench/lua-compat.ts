/**
 * Figures for the Lua runtime's per-state helpers (not a test; prints medians):
 * the cost openCompat and installSandbox add to a new state, and loading
 * WSAPI's util.lua from the chunk cache against compiling it from source.
 * Run: npx tsc -p tsconfig.json && node dist/scripts/bench/lua-compat.js
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { lua, lauxlib, lualib, toLuaString } from '../../src/lua/fengari';
import { openCompat } from '../../src/lua/compat';
import { installSandbox } from '../../src/lua/sandbox';
import { ChunkCache, installCachedLoaders } from '../../src/lua/chunk-cache';

const ITER = 2000;
const ctx = { cwd: '/tmp', log: (): void => undefined };

function measure(name: string, setup: () => unknown, body: (s: unknown) => void): number {
  const times: number[] = [];
  for (let i = 0; i < ITER + 200; i++) {
    const s = setup();
    const t0 = performance.now();
    body(s);
    const dt = performance.now() - t0;
    if (i >= 200) times.push(dt * 1000);
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)];
  const p99 = times[Math.floor(times.length * 0.99)];
  process.stdout.write(`${name.padEnd(44)} median ${med.toFixed(1).padStart(7)} µs   p99 ${p99.toFixed(1).padStart(7)} µs\n`);
  return med;
}

const opened = (): unknown => {
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  return L;
};

measure('luaL_newstate + luaL_openlibs', () => null, () => opened());
measure('openCompat', opened, (L) => openCompat(L));
measure('installSandbox', opened, (L) => installSandbox(L, ctx, {}));
measure('openCompat + installSandbox', opened, (L) => {
  openCompat(L);
  installSandbox(L, ctx, {});
});

measure('installCachedLoaders', opened, (L) => installCachedLoaders(L, new ChunkCache(), ctx));

const UTIL = '/usr/share/lua/5.1/wsapi/util.lua';
const source = fs.readFileSync(UTIL);
measure('util.lua: compile from source', opened, (L) => {
  if (lauxlib.luaL_loadbufferx(L, source, source.length, toLuaString('@' + UTIL), null) !== lua.LUA_OK) throw new Error('compile');
});
const cache = new ChunkCache();
cache.load(opened(), UTIL);
measure('util.lua: ChunkCache.load (hit, incl. stat)', opened, (L) => {
  if (cache.load(L, UTIL) !== lua.LUA_OK) throw new Error('load');
});
process.stdout.write(`cache: ${cache.stats.hits} hits, ${cache.stats.misses} misses\n`);
