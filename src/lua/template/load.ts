/**
 * Parsed templates kept per worker (lwt_template_parse with a cache): keyed by
 * file identity and flags, valid while mtime, ctime and size match, the
 * least recently used dropped first.
 */

import * as fs from 'node:fs';
import { bytesToBinary, type LuaState } from '../fengari';
import { statePath } from '../luafile';
import type { StateContext } from '../context';
import { parseTemplate, TemplateError, type Template } from './parse';

const MAX_CACHED = 500;
const cache = new Map<string, { mtimeMs: number; ctimeMs: number; size: number; template: Template }>();
export const templateCacheStats = { hits: 0, misses: 0 };

/** lwt_template_parse: read `name` (relative to the state's cwd) and parse it with `flags`. Throws TemplateError. */
export function loadTemplate(L: LuaState, ctx: StateContext, name: Uint8Array, flags: number): Template {
  // A C string: the name ends at a NUL.
  const nul = name.indexOf(0);
  const shown = bytesToBinary(nul >= 0 ? name.subarray(0, nul) : name);
  let file: Buffer;
  let st: fs.Stats;
  try {
    file = statePath(ctx, name);
    st = fs.statSync(file);
  } catch {
    throw new TemplateError(`file '${shown}' does not exist`);
  }
  const key = `${st.dev}:${st.ino}:${flags}`;
  const hit = cache.get(key);
  if (hit !== undefined && hit.mtimeMs === st.mtimeMs && hit.ctimeMs === st.ctimeMs && hit.size === st.size) {
    templateCacheStats.hits++;
    cache.delete(key);
    cache.set(key, hit);
    return hit.template;
  }
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    throw new TemplateError(`file '${shown}' cannot be opened`);
  }
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(fd);
  } catch {
    throw new TemplateError(`file '${shown}' cannot be read`);
  } finally {
    fs.closeSync(fd);
  }
  templateCacheStats.misses++;
  const template = parseTemplate(L, shown, bytes, flags);
  cache.set(key, { mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, size: st.size, template });
  if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value as string);
  return template;
}
