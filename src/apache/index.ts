/**
 * The Apache configuration text layer: text to directive tree, the way httpd
 * reads it. Pure and read-only; see loader.ts for the order of effects.
 */

export { loadConfig, DEFAULT_HTTPD_VERSION, type LoadOptionsEx } from './loader';
export { parseText } from './parser';
export { readEnvvars } from './envvars';
export { findDirective, findSection, allDirectives, type DirectiveInfo, type DirectiveContext } from './directives';
export type { Directive, LoadOptions, LoadedConfig, WatchSet } from './types';
