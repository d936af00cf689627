/**
 * The precomputed, per-snapshot model resolve() works on: each server (main
 * and virtual hosts) with its sections already combined and sorted the way
 * httpd prepares them at start-up (core.c's reorder of <Directory> sections,
 * merge_core_server_configs appending the virtual host's sections after the
 * main server's). Kept beside the frozen Snapshot in a WeakMap so the public
 * Snapshot shape stays the shared contract.
 */

import type { Snapshot, VHost } from './types';
import type { DirConf, Origin } from './dir-conf';
import type { AliasDef } from './directive-table';
import { globToRegExp, hasWildcard } from '../apache/fnmatch';

export { hasWildcard };

export type SectionKind = 'directory' | 'files' | 'location';

export interface SectionModel extends Origin {
  readonly kind: SectionKind;
  /** `Directory`, `DirectoryMatch`, `Files`, `FilesMatch`, `Location`, `LocationMatch` (`~` forms use the Match name). */
  readonly label: string;
  /** The argument as written. */
  readonly pattern: string;
  /** <Directory>: the canonical path with a trailing slash; others: the pattern. */
  readonly key: string;
  readonly regex: RegExp | null;
  /** Non-regex with wildcards: the apr_fnmatch(APR_FNM_PATHNAME) pattern as a RegExp. */
  readonly glob: RegExp | null;
  /** <Directory>: number of slashes (0 for `/`), httpd's d_components. */
  readonly components: number;
  readonly conf: DirConf;
  /** <Files> nested in a <Directory>. */
  readonly files: readonly SectionModel[];
}

export interface VhostAddress {
  /** `*` for `*` and `_default_`, else the address (IPv6 without brackets). */
  readonly host: string;
  /** null: any port. */
  readonly port: number | null;
}

export interface ServerModel {
  readonly vhost: VHost;
  /** Lower-case ServerName (the main server's when the vhost has none) and ServerAlias patterns. */
  readonly names: readonly string[];
  readonly addresses: readonly VhostAddress[];
  /** lookup_defaults: main server defaults merged with the virtual host's. */
  readonly defaults: DirConf;
  readonly directories: readonly SectionModel[];
  readonly files: readonly SectionModel[];
  readonly locations: readonly SectionModel[];
  /** mod_alias: the virtual host's aliases first, then the main server's. */
  readonly aliases: readonly AliasDef[];
  readonly documentRoot: string;
}

export interface IfRecord extends Origin {
  readonly name: string;
  readonly expr: string;
  readonly relevant: boolean;
}

export interface Model {
  readonly main: ServerModel;
  readonly vhosts: readonly ServerModel[];
  readonly ifSections: readonly IfRecord[];
}

const models = new WeakMap<Snapshot, Model>();

export function attachModel(snap: Snapshot, model: Model): void {
  models.set(snap, model);
}

export function modelOf(snap: Snapshot): Model {
  const m = models.get(snap);
  if (!m) throw new TypeError('not a snapshot made by buildSnapshot');
  return m;
}

/** apr_fnmatch with APR_FNM_PATHNAME, as httpd matches wildcard section arguments. */
export function sectionGlob(pattern: string): RegExp {
  return globToRegExp(pattern, { pathname: true });
}
