/**
 * LoadedConfig → frozen Snapshot: the public lists (virtual hosts, lwt-wsapi
 * scopes, diagnostics) plus the private model resolve() uses.
 */

import type { LoadedConfig } from '../apache/types';
import type { Scope, Snapshot } from './types';
import { buildModel, type ScopeSource } from './build';
import { mergeDirConf, type DirConf } from './dir-conf';
import { luaSettingsOf } from './lua-settings';
import { attachModel, type Model, type ServerModel } from './model';
import { LWT_HANDLER } from './resolve';

/** The record in effect at a scope: server defaults, then enclosing <Directory> sections, then the scope itself. */
function effectiveConf(src: ScopeSource, server: ServerModel): DirConf {
  let conf = server.defaults;
  if (src.level !== 'section' || !src.section) return conf;
  const own = src.parent ?? src.section;
  if (own.kind === 'directory' && !own.regex) {
    for (const s of server.directories) {
      if (s === own) break;
      if (!s.regex && (s.components === 0 || (s.glob ? s.glob.test(own.key) : own.key.startsWith(s.key)))) conf = mergeDirConf(conf, s.conf);
    }
  }
  if (src.parent) conf = mergeDirConf(conf, src.parent.conf);
  return mergeDirConf(conf, src.section.conf);
}

function scopesOf(model: Model, sources: readonly ScopeSource[], serverOf: ReadonlyMap<object, ServerModel>): Scope[] {
  const out: Scope[] = [];
  sources.forEach((src) => {
    const own = src.conf;
    const setH = own.setHandler?.value === LWT_HANDLER ? own.setHandler : null;
    const exts = [...(own.mimeHandlers ?? [])].filter(([, h]) => h.handler === LWT_HANDLER);
    if (!setH && exts.length === 0) return;
    const server = serverOf.get(src.server) ?? model.main;
    const lua = luaSettingsOf(effectiveConf(src, server).lua);
    const section = src.section ? src.section.label : src.level === 'server' ? 'server' : 'VirtualHost';
    const pattern = src.section ? src.section.pattern : src.level === 'server' ? '*' : server.vhost.addresses.join(' ');
    const base = {
      section, pattern, luaPath: lua.luaPath, luaCPath: lua.luaCPath, memoryLimit: lua.memoryLimit,
      vhost: server.vhost.main ? null : server.vhost.serverName,
    };
    if (setH) {
      const at = src.section ?? setH;
      out.push(Object.freeze({ ...base, handler: LWT_HANDLER, extensions: Object.freeze([]), file: at.file, line: at.line }));
    }
    if (exts.length) {
      const at = src.section ?? exts[0][1];
      const extensions = exts.map(([e]) => '.' + e);
      out.push(Object.freeze({ ...base, handler: `${LWT_HANDLER} ${extensions.join(' ')}`, extensions: Object.freeze(extensions), file: at.file, line: at.line }));
    }
  });
  return out;
}

/**
 * Build an immutable snapshot of one configuration generation. Throws a
 * SidecarError with file:line for an invalid directive.
 */
export function buildSnapshot(config: LoadedConfig, generation = 1): Snapshot {
  const built = buildModel(config);
  const { model } = built;
  const snap: Snapshot = Object.freeze({
    generation,
    loadedAt: new Date(),
    config,
    vhosts: Object.freeze([model.main.vhost, ...model.vhosts.map((v) => v.vhost)]),
    scopes: Object.freeze(scopesOf(model, built.sources, built.serverOf)),
    unsupportedAccess: Object.freeze(built.unsupportedAccess.map((d) => Object.freeze({ ...d }))),
    warnings: Object.freeze([...config.warnings, ...built.warnings].map((d) => Object.freeze({ ...d }))),
  });
  attachModel(snap, model);
  return snap;
}
