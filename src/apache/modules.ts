/**
 * Which modules count as loaded for <IfModule>, <IfDirective> and <IfSection>.
 * httpd's start_ifmod matches the argument exactly (strcmp) against a module's
 * source name (`mod_proxy.c`) or its symbol (`proxy_module`).
 */

/** `apache2 -l` on Debian's apache2 2.4: modules compiled into the binary. */
export const COMPILED_IN: readonly string[] = [
  'core.c', 'mod_so.c', 'mod_watchdog.c', 'http_core.c', 'mod_log_config.c', 'mod_logio.c',
  'mod_version.c', 'mod_unixd.c',
];

/** The sidecar stands in for mod_lwt, so `<IfModule mod_lwt.c>` guards hold. */
export const SIDECAR_MODULES: readonly string[] = ['mod_lwt.c'];

/** Source names that do not follow `mod_<id>.c` (the MPMs are built from event.c etc.). */
const SOURCE_BY_ID: Record<string, string> = {
  core_module: 'core.c',
  http_module: 'http_core.c',
  mpm_event_module: 'event.c',
  mpm_worker_module: 'worker.c',
  mpm_prefork_module: 'prefork.c',
};

const ID_BY_SOURCE: Record<string, string> = Object.fromEntries(
  Object.entries(SOURCE_BY_ID).map(([id, src]) => [src, id]),
);

/** `proxy_module` -> `mod_proxy.c`. */
export function sourceNameOf(id: string): string {
  return SOURCE_BY_ID[id] ?? (id.endsWith('_module') ? `mod_${id.slice(0, -'_module'.length)}.c` : id);
}

/** `mod_proxy.c` -> `proxy_module`. */
export function identifierOf(source: string): string {
  const known = ID_BY_SOURCE[source];
  if (known !== undefined) return known;
  const m = /^mod_(.+)\.c$/.exec(source);
  return m !== null ? `${m[1]}_module` : source;
}

/** Both names of a module given by either one. */
export function namesOf(name: string): [string, string] {
  return name.endsWith('.c') ? [name, identifierOf(name)] : [sourceNameOf(name), name];
}

/**
 * The names a LoadModule line makes available. The source name comes from the
 * identifier when that follows the usual pattern, else from the shared
 * object's file name (`mod_foo.so` -> `mod_foo.c`).
 */
export function namesOfLoadModule(id: string, file: string): string[] {
  const names = new Set<string>([id, sourceNameOf(id)]);
  const base = file.slice(file.lastIndexOf('/') + 1);
  const m = /^(mod_.+)\.so$/.exec(base);
  if (m !== null && SOURCE_BY_ID[id] === undefined) names.add(`${m[1]}.c`);
  return [...names];
}

/** The starting set of loaded module names: compiled-in, the sidecar's own, and the caller's. */
export function initialModules(extra: readonly string[] = []): Set<string> {
  const set = new Set<string>();
  for (const n of [...COMPILED_IN, ...SIDECAR_MODULES, ...extra]) for (const v of namesOf(n)) set.add(v);
  return set;
}
