import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLogger, formatCombined, parseLogFormat, parseLogLevel } from '../src/log';

describe('log: error and access logs', () => {
  const capture = () => {
    const lines: string[] = [];
    return { lines, stream: { write: (s: string) => lines.push(s) } };
  };

  it('writes one text line per record with level, client and fields, newlines escaped', () => {
    const c = capture();
    const log = createLogger({ level: 'info', stream: c.stream });
    log.error("Lua runtime error running '/s.lua': boom\nstack traceback:\n\t[C]: ?", { client: '10.0.0.1', script: '/s.lua' });
    assert.equal(c.lines.length, 1);
    assert.match(c.lines[0]!, /^\[\d{4}-\d\d-\d\dT[^\]]+\] \[error\] \[client 10\.0\.0\.1\] Lua runtime error running '\/s\.lua': boom\\nstack traceback:\\n\t\[C\]: \? \[script=\/s\.lua\]\n$/);
  });

  it('drops records below the level', () => {
    const c = capture();
    const log = createLogger({ level: 'warn', stream: c.stream });
    log.info('quiet');
    log.notice('quiet');
    log.warn('loud');
    assert.equal(c.lines.length, 1);
    assert.equal(log.enabled('debug'), false);
  });

  it('writes JSON lines when asked', () => {
    const c = capture();
    const log = createLogger({ level: 'debug', format: 'json', stream: c.stream });
    log.warn('WSAPI error in application: x', { client: '::1', script: '/a.lua' });
    const rec = JSON.parse(c.lines[0]!);
    assert.equal(rec.level, 'warn');
    assert.equal(rec.message, 'WSAPI error in application: x');
    assert.equal(rec.client, '::1');
    assert.equal(rec.script, '/a.lua');
    assert.ok(!Number.isNaN(Date.parse(rec.time)));
  });

  it('writes an access log in the combined format to a file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-log-'));
    try {
      const file = path.join(dir, 'access.log');
      const log = createLogger({ accessFile: file, stream: capture().stream });
      log.access({
        client: '203.0.113.9', time: new Date(), method: 'GET', target: '/app/x.lua?q="1"', protocol: 'HTTP/1.1',
        status: 200, bytes: 101, referer: 'http://r/', userAgent: 'curl/8', durationMs: 1.5,
      });
      await log.close();
      const line = fs.readFileSync(file, 'utf8');
      assert.match(line, /^203\.0\.113\.9 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/app\/x\.lua\?q=\\"1\\" HTTP\/1\.1" 200 101 "http:\/\/r\/" "curl\/8" 1500\n$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints - for an empty body, referer and user agent', () => {
    const line = formatCombined({ client: '::1', time: new Date(), method: 'HEAD', target: '/', protocol: 'HTTP/1.1', status: 404, bytes: 0, durationMs: 0 });
    assert.match(line, /" 404 - "-" "-" 0$/);
  });

  it('names the option when a level or format is wrong', () => {
    assert.throws(() => parseLogLevel('loud'), /--log-level must be one of debug, info, notice, warn, error/);
    assert.throws(() => parseLogFormat('xml'), /--log-format must be text or json/);
  });
});
