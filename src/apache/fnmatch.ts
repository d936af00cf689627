/**
 * apr_fnmatch and apr_fnmatch_test as httpd uses them for Include wildcards:
 * one path component at a time, flag APR_FNM_PERIOD (a leading '.' must be
 * matched by a literal '.'), backslash escapes the next character.
 */

/** apr_fnmatch_test: `*` or `?` anywhere, or a `[` with a later `]`; a backslash hides the next character. */
export function hasWildcard(pattern: string): boolean {
  let nesting = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '?' || c === '*') return true;
    if (c === '\\') {
      if (++i >= pattern.length) return false;
    } else if (c === '[') {
      nesting++;
    } else if (c === ']' && nesting > 0) {
      return true;
    }
  }
  return false;
}

const cache = new Map<string, RegExp>();

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? '\\' + c : c;
}

/** Translate one bracket expression starting at pattern[i] === '['; null when it has no closing ']'. */
function bracket(pattern: string, i: number): { re: string; end: number } | null {
  let j = i + 1;
  let negate = false;
  if (pattern[j] === '!' || pattern[j] === '^') {
    negate = true;
    j++;
  }
  let body = '';
  let first = true;
  while (j < pattern.length) {
    let c = pattern[j]!;
    if (c === ']' && !first) {
      return { re: '[' + (negate ? '^' : '') + body + ']', end: j };
    }
    first = false;
    if (c === '\\' && j + 1 < pattern.length) c = pattern[++j]!;
    if (pattern[j + 1] === '-' && j + 2 < pattern.length && pattern[j + 2] !== ']') {
      let hi = pattern[j + 2]!;
      let k = j + 2;
      if (hi === '\\' && k + 1 < pattern.length) hi = pattern[++k]!;
      if (hi >= c) body += escapeRe(c) + '-' + escapeRe(hi);
      j = k + 1;
      continue;
    }
    body += escapeRe(c);
    j++;
  }
  return null;
}

function compile(pattern: string, pathname = false): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += pathname ? '[^/]*' : '.*';
    else if (c === '?') re += pathname ? '[^/]' : '.';
    else if (c === '[') {
      const b = bracket(pattern, i);
      if (b === null) re += '\\[';
      else {
        re += (pathname ? '(?!/)' : '') + b.re;
        i = b.end;
      }
    } else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else re += escapeRe(c);
  }
  return new RegExp('^' + re + '$', 's');
}

/** Does one directory entry name match one pattern component (APR_FNM_PERIOD)? */
export function fnmatch(pattern: string, name: string): boolean {
  if (name.startsWith('.') && !pattern.startsWith('.') && !pattern.startsWith('\\.')) return false;
  let re = cache.get(pattern);
  if (re === undefined) {
    re = compile(pattern);
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, re);
  }
  return re.test(name);
}

/**
 * A shell pattern (`*`, `?`, `[...]`) as an anchored RegExp, without the
 * leading-period rule. `pathname`: APR_FNM_PATHNAME, as httpd matches
 * wildcard <Directory>/<Files>/<Location> arguments: no wildcard matches `/`.
 */
export function globToRegExp(pattern: string, opts: { pathname?: boolean } = {}): RegExp {
  return compile(pattern, opts.pathname === true);
}
