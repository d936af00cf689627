/**
 * Apache 2.4's status lines and error documents, so a response through the
 * sidecar reads as it did from mod_lwt. The table was read from Debian's
 * Apache 2.4.71 (a handler setting r->status to every code 100..599): codes
 * outside it went out as `500 Internal Server Error` (httpd's
 * ap_get_status_line falls back to LEVEL_500 for unknown codes).
 */

const STATUS_LINES: Readonly<Record<number, string>> = {
  100: 'Continue', 101: 'Switching Protocols', 102: 'Processing', 103: 'Early Hints',
  200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content',
  205: 'Reset Content', 206: 'Partial Content', 207: 'Multi-Status', 208: 'Already Reported', 226: 'IM Used',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  305: 'Use Proxy', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Request Entity Too Large',
  414: 'Request-URI Too Long', 415: 'Unsupported Media Type', 416: 'Requested Range Not Satisfiable',
  417: 'Expectation Failed', 421: 'Misdirected Request', 422: 'Unprocessable Entity', 423: 'Locked',
  424: 'Failed Dependency', 426: 'Upgrade Required', 428: 'Precondition Required', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported', 506: 'Variant Also Negotiates',
  507: 'Insufficient Storage', 508: 'Loop Detected', 510: 'Not Extended', 511: 'Network Authentication Required',
};

/** The status and reason phrase Apache puts on the wire for a handler's status. */
export function statusLine(status: number): { status: number; reason: string } {
  // 1xx cannot end a response here; Apache's own table would leave the client waiting.
  const reason = status >= 200 ? STATUS_LINES[status] : undefined;
  return reason === undefined ? { status: 500, reason: STATUS_LINES[500]! } : { status, reason };
}

export function reasonPhrase(status: number): string | undefined {
  return STATUS_LINES[status];
}

/** What goes after the error text: ServerSignature's `<hr>` + `<address>` block, or nothing when Off. */
export interface SignatureInfo {
  readonly mode: 'off' | 'on' | 'email';
  readonly software: string;
  readonly serverName: string;
  readonly serverPort: string;
  readonly serverAdmin: string;
}

/** SERVER_SIGNATURE (httpd's ap_psignature with an empty prefix). */
export function serverSignature(s: SignatureInfo): string {
  if (s.mode === 'off') return '';
  const host = s.mode === 'email' ? `<a href="mailto:${escapeHtml(s.serverAdmin)}">${escapeHtml(s.serverName)}</a>` : escapeHtml(s.serverName);
  return `<address>${s.software} Server at ${host} Port ${s.serverPort}</address>\n`;
}

/** Bodies of httpd's built-in error documents (modules/http/http_protocol.c get_canned_error_string). */
function cannedText(status: number, method: string, admin: string, location: string): string {
  switch (status) {
    case 301: case 302: case 307: case 308:
      return `<p>The document has moved <a href="${escapeHtml(location)}">here</a>.</p>\n`;
    case 400: return '<p>Your browser sent a request that this server could not understand.<br />\n</p>\n';
    case 403: return "<p>You don't have permission to access this resource.</p>\n";
    case 404: return '<p>The requested URL was not found on this server.</p>\n';
    case 413: return `The requested resource does not allow request data with ${escapeHtml(method)} requests, or the amount of data provided in\nthe request exceeds the capacity limit.\n`;
    case 503: return '<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or capacity\nproblems. Please try again later.</p>\n';
    default:
      return '<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\nyour request.</p>\n'
        + `<p>Please contact the server administrator at \n ${escapeHtml(admin)} to inform them of the time this error occurred,\n`
        + ' and the actions you performed just before this error.</p>\n'
        + '<p>More information about this error may be available\nin the server error log.</p>\n';
  }
}

/**
 * Apache's error document for a status (Content-Type `text/html; charset=iso-8859-1`);
 * a redirect's names its Location, as get_canned_error_string does.
 */
export function errorPage(status: number, method: string, sig: SignatureInfo, location = ''): string {
  const { reason } = statusLine(status);
  const signature = serverSignature(sig);
  return '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n'
    + `<html><head>\n<title>${status} ${reason}</title>\n</head><body>\n<h1>${reason}</h1>\n`
    + cannedText(status, method, sig.serverAdmin, location)
    + (signature ? `<hr>\n${signature}` : '')
    + '</body></html>\n';
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}
