/**
 * The stable JSON shapes of `check --json` and `resolve --json`
 * (documented in docs/cli-json.md). Plain data only: no RegExp, no Map.
 */

import type { Diagnostic } from '../errors';
import type { Resolution, Snapshot, VHost } from './types';
import { checkAccess } from './access';
import { modelOf } from './model';

function vhostJson(v: VHost) {
  return {
    serverName: v.serverName,
    serverPort: v.serverPort ?? null,
    serverScheme: v.serverScheme ?? null,
    aliases: [...v.aliases],
    addresses: [...v.addresses],
    documentRoot: v.documentRoot,
    serverAdmin: v.serverAdmin,
    main: v.main,
    file: v.file,
    line: v.line,
  };
}

function diag(d: Diagnostic) {
  return { message: d.message, file: d.file ?? null, line: d.line ?? null };
}

export function describeSnapshot(snap: Snapshot) {
  const model = modelOf(snap);
  return {
    generation: snap.generation,
    configFile: snap.config.configFile,
    serverRoot: snap.config.serverRoot,
    files: [...snap.config.files],
    vhosts: snap.vhosts.map(vhostJson),
    scopes: snap.scopes.map((s) => ({
      section: s.section,
      pattern: s.pattern,
      handler: s.handler,
      extensions: [...s.extensions],
      luaPath: s.luaPath,
      luaCPath: s.luaCPath,
      memoryLimit: s.memoryLimit,
      vhost: s.vhost,
      file: s.file,
      line: s.line,
    })),
    ifSections: model.ifSections.map((i) => ({ name: i.name, expr: i.expr, relevant: i.relevant, file: i.file, line: i.line })),
    unsupportedAccess: snap.unsupportedAccess.map(diag),
    warnings: snap.warnings.map(diag),
  };
}

/** `clientIp` only labels the access verdict; the status already used the request's own. */
export function describeResolution(res: Resolution, clientIp?: string) {
  return {
    status: res.status,
    reason: res.reason,
    vhost: res.vhost ? vhostJson(res.vhost) : null,
    filename: res.filename,
    pathInfo: res.pathInfo,
    scriptName: res.scriptName,
    pathTranslated: res.pathTranslated,
    handler: res.handler,
    luaPath: res.lua.luaPath,
    luaCPath: res.lua.luaCPath,
    lua: { ...res.lua },
    documentRoot: res.documentRoot,
    contextPrefix: res.contextPrefix,
    contextDocumentRoot: res.contextDocumentRoot,
    env: { set: res.env.set.map(([k, v]) => [k, v]), unset: [...res.env.unset], pass: [...res.env.pass] },
    access: res.access,
    accessVerdict: clientIp === undefined ? null : checkAccess(res.access, clientIp),
    scope: res.scope,
    redirect: res.redirect ?? null,
  };
}
