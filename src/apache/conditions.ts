/**
 * The load-time conditional sections of httpd 2.4: <IfDefine>, <IfModule>,
 * <IfFile>, <IfDirective>, <IfSection> (server/core.c) and <IfVersion>
 * (modules/metadata/mod_version.c). Each is evaluated once, when read.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { confError } from '../errors';
import type { Directive } from './types';
import { findDirective, findSection } from './directives';

export interface ConditionContext {
  readonly defines: ReadonlySet<string>;
  readonly modules: ReadonlySet<string>;
  readonly serverRoot: string;
  /** `major.minor.patch` */
  readonly httpdVersion: string;
}

/** Lower-cased names of the sections this module decides. */
export const CONDITIONAL_SECTIONS: ReadonlySet<string> = new Set([
  'ifdefine', 'ifmodule', 'iffile', 'ifdirective', 'ifsection', 'ifversion',
]);

function oneArg(node: Directive, args: readonly string[]): { not: boolean; name: string } {
  if (args.length !== 1) {
    throw confError('LWT_CONF_CONDITION', `<${node.name}> takes one argument`, node.file, node.line);
  }
  let name = args[0]!;
  const not = name.startsWith('!');
  if (not) name = name.slice(1);
  if (name === '') {
    throw confError('LWT_CONF_CONDITION', `<${node.name}> directive requires additional arguments`, node.file, node.line);
  }
  return { not, name };
}

/** Decide a conditional section; `args` are its arguments after ${VAR} expansion. */
export function evaluateCondition(node: Directive, args: readonly string[], ctx: ConditionContext): boolean {
  if (node.key === 'ifversion') return ifVersion(node, args, ctx.httpdVersion);
  const { not, name } = oneArg(node, args);
  let found: boolean;
  switch (node.key) {
    case 'ifdefine':
      found = ctx.defines.has(name);
      break;
    case 'ifmodule':
      found = ctx.modules.has(name);
      break;
    case 'iffile':
      // test_iffile_section: relative to ServerRoot, any kind of file.
      found = fs.existsSync(path.resolve(ctx.serverRoot, name));
      break;
    case 'ifdirective': {
      const d = findDirective(name);
      found = d !== undefined && ctx.modules.has(d.module);
      break;
    }
    case 'ifsection': {
      const s = findSection(name);
      found = s !== undefined && ctx.modules.has(s.module);
      break;
    }
    default:
      throw confError('LWT_CONF_CONDITION', `<${node.name}> is not a conditional section`, node.file, node.line);
  }
  return found !== not;
}

function compareVersion(node: Directive, given: string, actual: readonly number[]): number {
  if (!/^\d+(\.\d+){0,2}$/.test(given)) {
    throw confError('LWT_CONF_CONDITION', 'Version appears to be invalid. It must have the format '
      + 'major[.minor[.patch]] where major, minor and patch are numbers.', node.file, node.line);
  }
  const v = given.split('.').map((x) => parseInt(x, 10));
  // Missing components count as 0, as mod_version's compare_version.
  for (let i = 0; i < 3; i++) {
    const a = actual[i] ?? 0;
    const b = v[i] ?? 0;
    if (a !== b) return a > b ? 1 : -1;
  }
  return 0;
}

function regex(node: Directive, source: string): RegExp {
  try {
    return new RegExp(source);
  } catch (e) {
    throw confError('LWT_CONF_REGEX', 'Unable to compile regular expression', node.file, node.line, e);
  }
}

/** mod_version's start_ifversion: `[[!]op] version`, op one of = == < <= > >= ~, or `/regex/`. */
function ifVersion(node: Directive, args: readonly string[], httpdVersion: string): boolean {
  if (args.length < 1 || args.length > 2) {
    throw confError('LWT_CONF_CONDITION', '<IfVersion> takes a comparison operator and a version', node.file, node.line);
  }
  let op = args.length === 1 ? '=' : args[0]!;
  const value = args.length === 1 ? args[0]! : args[1]!;
  let reverse = false;
  if (op.startsWith('!')) {
    reverse = true;
    if (op.length > 1) op = op.slice(1);
  }
  const actual = httpdVersion.split('.').map((x) => parseInt(x, 10));
  const c = op[0];
  const rest = op.slice(1);
  let match: boolean;
  if (!(rest === '' || (rest === '=' && c !== '~'))) {
    throw confError('LWT_CONF_CONDITION', `unrecognized operator '${args[0]}'`, node.file, node.line);
  }
  switch (c) {
    case '=':
      if (!value.startsWith('/')) {
        match = compareVersion(node, value, actual) === 0;
        break;
      }
      if (value.length < 2 || !value.endsWith('/')) {
        throw confError('LWT_CONF_CONDITION', 'Missing delimiting / of regular expression.', node.file, node.line);
      }
      match = regex(node, value.slice(1, -1)).test(httpdVersion);
      break;
    case '~':
      match = regex(node, value).test(httpdVersion);
      break;
    case '<': {
      const cmp = compareVersion(node, value, actual);
      match = cmp === -1 || (rest === '=' && cmp === 0);
      break;
    }
    case '>': {
      const cmp = compareVersion(node, value, actual);
      match = cmp === 1 || (rest === '=' && cmp === 0);
      break;
    }
    default:
      throw confError('LWT_CONF_CONDITION', `unrecognized operator '${args[0]}'`, node.file, node.line);
  }
  return match !== reverse;
}
