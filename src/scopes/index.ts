/**
 * The configuration engine's public face: directive tree → immutable,
 * versioned Snapshot; request → Resolution in httpd's order.
 */

export { buildSnapshot } from './snapshot';
export { resolve, normalizePath, LWT_HANDLER } from './resolve';
export { checkAccess } from './access';
export { describeSnapshot, describeResolution } from './describe';
export type { Snapshot, Resolution, ResolveRequest, VHost, Scope, AccessRule, LuaSettings, EnvOps } from './types';
