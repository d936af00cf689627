/**
 * httpd.core's escapers (mod_lwt.md §5.1), shared by `httpd.escape_*` and the
 * template engine's x/u/j flags. They work on binary strings (one char per
 * byte); callers cut C strings at the first NUL as mod_lwt did.
 */

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
const JS_ESCAPES: Record<string, string> = {
  '\b': '\\b', '\t': '\\t', '\n': '\\n', '\v': '\\v', '\f': '\\f', '\r': '\\r', '"': '\\"', "'": "\\'", '\\': '\\\\',
};

/** lwt_util_escape_uri: every byte but ASCII letters, digits and `-._~` as upper-case %XX. */
export function escapeUri(s: string): string {
  return s.replace(/[^A-Za-z0-9\-._~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** ap_escape_html: & < > " (not the single quote). */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => XML_ESCAPES[c]!);
}

/** lwt_util_escape_js: backslash escapes for \b \t \n \v \f \r " ' \ and nothing else. */
export function escapeJs(s: string): string {
  return s.replace(/[\b\t\n\v\f\r"'\\]/g, (c) => JS_ESCAPES[c]!);
}
