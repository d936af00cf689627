/**
 * Logical lines to the raw directive tree of one file, as httpd's
 * ap_build_config: a section opens with `<Name args>` and must be closed by
 * `</Name>` (case-insensitive) in the same file. Nothing is evaluated here:
 * no ${VAR}, no Include, no conditionals.
 */

import { confError } from '../errors';
import type { Directive } from './types';
import { getWord, logicalLines, splitWords } from './lexer';

interface MutableDirective {
  name: string;
  key: string;
  args: readonly string[];
  rawArgs: string;
  file: string;
  line: number;
  children?: Directive[];
}

/** Raw trees are shared between loads (loader cache), so they are immutable. */
function freeze(d: MutableDirective): Directive {
  Object.freeze(d.args);
  if (d.children !== undefined) Object.freeze(d.children);
  return Object.freeze(d);
}

interface Open {
  node: MutableDirective;
  children: Directive[];
}

/**
 * Parse one configuration file's text. `file` is recorded in every node and
 * used in error messages; it is not read. Throws SidecarError
 * (LWT_CONF_SECTION_UNCLOSED, LWT_CONF_SECTION_MISMATCH, LWT_CONF_SYNTAX).
 */
export function parseText(text: string, file: string): Directive[] {
  const top: Directive[] = [];
  const stack: Open[] = [];
  for (const { text: l, line } of logicalLines(text)) {
    const { word, next } = getWord(l, 0);
    const rest = l.slice(next);
    const into = stack.length === 0 ? top : stack[stack.length - 1]!.children;

    if (word.startsWith('</')) {
      if (!word.endsWith('>') || word.length < 4) {
        throw confError('LWT_CONF_SYNTAX', `${word.endsWith('>') ? word : word + '>'} directive missing closing '>'`, file, line);
      }
      const name = word.slice(2, -1);
      const open = stack.pop();
      if (open === undefined) {
        throw confError('LWT_CONF_SECTION_MISMATCH', `</${name}> without matching <${name}> section`, file, line);
      }
      if (open.node.key !== name.toLowerCase()) {
        throw confError('LWT_CONF_SECTION_MISMATCH',
          `Expected </${open.node.name}> but saw </${name}> (the section opened at line ${open.node.line})`, file, line);
      }
      open.node.children = open.children;
      freeze(open.node);
      continue;
    }

    if (word.startsWith('<') && word.length > 1) {
      let name = word.slice(1);
      let rawArgs = '';
      if (name.endsWith('>')) {
        // `<Directory>` with no arguments: httpd passes an empty argument on.
        name = name.slice(0, -1);
      } else {
        const gt = rest.lastIndexOf('>');
        if (gt === -1) throw confError('LWT_CONF_SYNTAX', `<${name}> directive missing closing '>'`, file, line);
        // httpd cuts the argument at the last '>' and ignores what follows.
        rawArgs = rest.slice(0, gt).trimEnd();
      }
      if (name === '') throw confError('LWT_CONF_SYNTAX', 'a section needs a name after "<"', file, line);
      const node: MutableDirective = { name, key: name.toLowerCase(), args: splitWords(rawArgs), rawArgs, file, line };
      into.push(node);
      stack.push({ node, children: [] });
      continue;
    }

    into.push(freeze({ name: word, key: word.toLowerCase(), args: splitWords(rest), rawArgs: rest, file, line }));
  }
  const open = stack.pop();
  if (open !== undefined) {
    throw confError('LWT_CONF_SECTION_UNCLOSED', `<${open.node.name}> was not closed`, file, open.node.line);
  }
  return top;
}
