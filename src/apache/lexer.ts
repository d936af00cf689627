/**
 * The text layer of httpd's configuration reader: physical lines to logical
 * lines (server/util.c ap_cfg_getline) and a logical line to words
 * (ap_getword_conf). Pure functions over strings.
 */

export interface LogicalLine {
  /** The line with continuations joined and surrounding white space trimmed. */
  readonly text: string;
  /** 1-based number of the first physical line. */
  readonly line: number;
}

/** apr_isspace: C isspace in the "C" locale. */
export function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function trimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s.charCodeAt(a))) a++;
  while (b > a && isSpace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Split a file into logical lines. httpd's rule: a backslash right before the
 * newline (optionally before CR LF) continues the line; the backslash and the
 * newline vanish, nothing is inserted. The last line of a file without a final
 * newline is never continued. Comments are left in: a comment line that ends
 * with a backslash swallows the next line too, as in httpd.
 */
export function logicalLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  const n = text.length;
  let pos = 0;
  let lineNo = 0;
  let pending = '';
  let pendingLine = 0;
  let continuing = false;
  while (pos < n) {
    lineNo++;
    let nl = text.indexOf('\n', pos);
    const hasNl = nl !== -1;
    if (!hasNl) nl = n;
    let end = nl;
    if (hasNl) {
      if (end > pos && text.charCodeAt(end - 1) === 0x0d) end--;
      if (end > pos && text.charCodeAt(end - 1) === 0x5c /* \ */) {
        if (!continuing) pendingLine = lineNo;
        continuing = true;
        pending += text.slice(pos, end - 1);
        pos = nl + 1;
        continue;
      }
    }
    const start = continuing ? pendingLine : lineNo;
    const joined = pending + text.slice(pos, hasNl ? nl : n);
    pending = '';
    continuing = false;
    pos = hasNl ? nl + 1 : n;
    const t = trimSpace(joined);
    if (t !== '' && t.charCodeAt(0) !== 0x23 /* # */) out.push({ text: t, line: start });
  }
  if (continuing) {
    // A continued last line at end of file: httpd returns what it has.
    const t = trimSpace(pending);
    if (t !== '' && t.charCodeAt(0) !== 0x23) out.push({ text: t, line: pendingLine });
  }
  return out;
}

/**
 * ap_getword_conf's unescaping: inside quotes `\\` and `\<quote>` lose the
 * backslash; outside quotes only `\\` does. Every other backslash stays.
 */
function unescape(s: string, quote: number): string {
  if (s.indexOf('\\') === -1) return s;
  let r = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d === 0x5c || (quote !== 0 && d === quote)) {
        r += s[i + 1];
        i++;
        continue;
      }
    }
    r += s[i];
  }
  return r;
}

/** One word from `s` at `pos`, as ap_getword_conf; returns the word and the position after it and its trailing space. */
export function getWord(s: string, pos: number): { word: string; next: number } {
  const n = s.length;
  while (pos < n && isSpace(s.charCodeAt(pos))) pos++;
  if (pos >= n) return { word: '', next: n };
  const q = s.charCodeAt(pos);
  let word: string;
  let end: number;
  if (q === 0x22 || q === 0x27) {
    end = pos + 1;
    while (end < n && s.charCodeAt(end) !== q) {
      if (s.charCodeAt(end) === 0x5c && end + 1 < n && (s.charCodeAt(end + 1) === q || s.charCodeAt(end + 1) === 0x5c)) end += 2;
      else end++;
    }
    word = unescape(s.slice(pos + 1, end), q);
    if (end < n) end++; // the closing quote; an unterminated quote runs to the end of the line
  } else {
    end = pos;
    while (end < n && !isSpace(s.charCodeAt(end))) end++;
    word = unescape(s.slice(pos, end), 0);
  }
  while (end < n && isSpace(s.charCodeAt(end))) end++;
  return { word, next: end };
}

/** All words of an argument string (httpd's ITERATE/TAKEn splitting). */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let pos = 0;
  while (pos < s.length && isSpace(s.charCodeAt(pos))) pos++;
  while (pos < s.length) {
    // An empty quoted word ("") is still an argument.
    const { word, next } = getWord(s, pos);
    words.push(word);
    pos = next;
  }
  return words;
}

/** Quote a word so that getWord gives it back unchanged (used by tests and by tools that write configuration). */
export function quoteWord(w: string): string {
  if (w !== '' && !/[\s"'\\]/.test(w)) return w;
  return '"' + w.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}
