/**
 * The directive tree: dumb data, as httpd's util_cfgtree.h. Meaning lives in the
 * walkers of src/scopes. Conditionals that can be decided at load time
 * (<IfDefine>, <IfModule>, <IfVersion>, <IfFile>, <IfDirective>, <IfSection>) are
 * already applied: their children are spliced in place. Include/IncludeOptional
 * are replaced by the directives of the files they include. Define/UnDefine and
 * ${VAR} are already expanded. <If>/<ElseIf>/<Else> stay in the tree.
 */

import type { Diagnostic } from '../errors';

export interface Directive {
  /** The name as written, without `<`/`>` for sections (e.g. `Directory`, `SetHandler`). */
  readonly name: string;
  /** `name` lower-cased: directive names are case-insensitive in httpd. */
  readonly key: string;
  /** Arguments after variable expansion, quotes removed. */
  readonly args: readonly string[];
  /** The argument text as it stood after expansion, before splitting (for `<If expr>` and messages). */
  readonly rawArgs: string;
  /** Absolute path of the file that holds the line. */
  readonly file: string;
  /** 1-based line where the directive starts (the first physical line of a continued line). */
  readonly line: number;
  /** Present (possibly empty) for sections `<Name args>…</Name>`, absent for plain directives. */
  readonly children?: readonly Directive[];
}

export interface LoadOptions {
  /** The main configuration file (`apache2ctl -f`). Relative paths resolve against the cwd. */
  configFile: string;
  /** ServerRoot before the file sets one (`-d`); default: the directory of configFile. */
  serverRoot?: string;
  /** `-D NAME` parameters. */
  defines?: readonly string[];
  /** Variables for ${VAR} (defaults to process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** A shell file of `export NAME=value` lines (Debian's /etc/apache2/envvars) read into env first. */
  envvarsFile?: string;
  /** Modules to treat as loaded besides those named by LoadModule, by `mod_x.c` name or identifier. */
  modules?: readonly string[];
}

export interface WatchSet {
  /** Every file read, absolute. */
  files: string[];
  /** For each wildcard or directory Include: the directory to watch and the glob (or `*`) inside it. */
  globs: Array<{ dir: string; pattern: string; file: string; line: number }>;
}

export interface LoadedConfig {
  readonly configFile: string;
  readonly serverRoot: string;
  /** Absolute paths of every file read, in httpd's reading order (as `-D DUMP_INCLUDES`). */
  readonly files: readonly string[];
  readonly tree: readonly Directive[];
  readonly defines: readonly string[];
  readonly modules: readonly string[];
  readonly warnings: readonly Diagnostic[];
  readonly watch: WatchSet;
}
