/**
 * The request target, decoded and normalised by the sidecar itself. Apache
 * canonicalises the path before mod_proxy forwards it, but a request can also
 * reach the sidecar directly, so nothing here trusts that Apache did:
 * - %XX is decoded once; a malformed escape is 400, and an encoded `/` or NUL
 *   is 404, as httpd's ap_unescape_url with `AllowEncodedSlashes Off`;
 * - `.` and `..` segments are resolved and `//` collapsed (ap_normalize_path
 *   with MergeSlashes On); `..` above the root is 400, as httpd answers;
 * - the query string is kept verbatim (r->args).
 */

export interface RequestTarget {
  /** The target as received (REQUEST_URI). */
  readonly raw: string;
  /** Decoded, normalised path: starts with `/`, no `.`/`..` segments, no `//` (r->uri). */
  readonly path: string;
  /** The text after the first `?`, verbatim; null when there is no `?`. */
  readonly query: string | null;
}

export type TargetResult =
  | { readonly ok: true; readonly target: RequestTarget }
  | { readonly ok: false; readonly status: 400 | 404; readonly reason: string };

const bad = (status: 400 | 404, reason: string): TargetResult => ({ ok: false, status, reason });

export function parseTarget(raw: string): TargetResult {
  let rest = raw;
  // Absolute form (RFC 7230 §5.3.2): keep only path and query.
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(rest);
  if (abs) rest = rest.slice(abs[0].length) || '/';
  if (!rest.startsWith('/')) return bad(400, 'the request target is not an absolute path');
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  const rawPath = q >= 0 ? rest.slice(0, q) : rest;
  const query = q >= 0 ? rest.slice(q + 1) : null;

  const decoded = decodePath(rawPath);
  if (typeof decoded !== 'string') return decoded;
  const path = normalisePath(decoded);
  if (path === null) return bad(400, 'the path climbs above the root');
  return { ok: true, target: { raw, path, query } };
}

/** Decode %XX as bytes, then read the bytes as UTF-8 (file names are UTF-8 here). */
export function decodePath(rawPath: string): string | TargetResult {
  if (!rawPath.includes('%')) {
    return rawPath.includes('\0') ? bad(404, 'the path contains NUL') : rawPath;
  }
  const bytes: number[] = [];
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i);
    if (c === 0x25) {
      const hex = rawPath.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return bad(400, 'the path has a malformed %-escape');
      const b = parseInt(hex, 16);
      if (b === 0x2f) return bad(404, 'the path has an encoded slash (AllowEncodedSlashes Off)');
      if (b === 0) return bad(404, 'the path contains NUL');
      bytes.push(b);
      i += 2;
    } else if (c < 0x80) {
      if (c === 0) return bad(404, 'the path contains NUL');
      bytes.push(c);
    } else {
      for (const b of Buffer.from(rawPath[i]!, 'utf8')) bytes.push(b);
    }
  }
  const buf = Buffer.from(bytes);
  const text = buf.toString('utf8');
  // A byte sequence that is not UTF-8 cannot name a file reliably: refuse rather than guess.
  if (!Buffer.from(text, 'utf8').equals(buf)) return bad(404, 'the path is not valid UTF-8');
  return text;
}

/** Resolve `.`/`..` and collapse `//`; null when `..` would leave the root. */
export function normalisePath(path: string): string | null {
  if (!path.startsWith('/')) return null;
  const segments = path.split('/');
  const out: string[] = [];
  // A final `.`/`..` or empty segment leaves the path ending in `/`.
  let trailingSlash = false;
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '' || s === '.') {
      trailingSlash = last;
      continue;
    }
    if (s === '..') {
      if (out.length === 0) return null;
      out.pop();
      trailingSlash = last;
      continue;
    }
    out.push(s);
    trailingSlash = false;
  }
  const joined = '/' + out.join('/');
  return trailingSlash && out.length > 0 ? joined + '/' : joined;
}
