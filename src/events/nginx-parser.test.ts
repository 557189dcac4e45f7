import { describe, expect, it } from 'vitest';
import {
  looksLikeCombinedLog,
  parseCombinedLogLine,
  parseTimeLocal,
  unescapeLogString,
} from './nginx-parser.js';

// The Apache HTTP Server docs' combined log example (mod_log_config / "Log Files").
const APACHE_DOC_LINE =
  '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"';

describe('parseCombinedLogLine', () => {
  it('maps the documented combined line to ECS', () => {
    expect(parseCombinedLogLine(APACHE_DOC_LINE)).toEqual({
      epochMs: Date.parse('2000-10-10T20:55:36Z'),
      event: {
        '@timestamp': '2000-10-10T20:55:36.000Z',
        event: { kind: 'event', category: ['web'], type: ['access'], action: 'request', outcome: 'success' },
        source: { address: '127.0.0.1', ip: '127.0.0.1' },
        user: { name: 'frank' },
        http: {
          version: '1.0',
          request: { method: 'GET', referrer: 'http://www.example.com/start.html' },
          response: { status_code: 200, body: { bytes: 2326 } },
        },
        url: { original: '/apache_pb.gif' },
        user_agent: { original: 'Mozilla/4.08 [en] (Win98; I ;Nav)' },
      },
    });
  });

  it('reads $request_time into event.duration (ns), IPv6 clients, and failure for >= 400', () => {
    const out = parseCombinedLogLine(
      '2001:db8::1 - - [31/Dec/2025:23:59:59 +0000] "POST /login HTTP/1.1" 401 17 "-" "curl/8.5.0" 0.125',
    );
    expect(out).toMatchObject({
      epochMs: Date.parse('2025-12-31T23:59:59Z'),
      event: {
        event: { outcome: 'failure', duration: 125_000_000 },
        source: { ip: '2001:db8::1' },
        http: {
          version: '1.1',
          request: { method: 'POST' },
          response: { status_code: 401, body: { bytes: 17 } },
        },
        url: { original: '/login' },
        user_agent: { original: 'curl/8.5.0' },
      },
    });
    if (typeof out === 'string') throw new Error(out);
    expect(out.event.user).toBeUndefined();
    expect((out.event.http as { request: object }).request).toEqual({ method: 'POST' });
    expect(parseCombinedLogLine(APACHE_DOC_LINE.replace('" 200 ', '" 399 '))).toMatchObject({
      event: { event: { outcome: 'success' } },
    });
    expect(parseCombinedLogLine(APACHE_DOC_LINE.replace('" 200 ', '" 400 '))).toMatchObject({
      event: { event: { outcome: 'failure' } },
    });
  });

  it('keeps a junk request line, reads "-" bytes as 0, and unescapes nginx/Apache escapes', () => {
    const junk = parseCombinedLogLine(
      '203.0.113.9 - - [01/Jan/2026:00:00:00 +0100] "\\x16\\x03\\x01" 400 - "-" "-"',
    );
    expect(junk).toEqual({
      epochMs: Date.parse('2025-12-31T23:00:00Z'),
      event: {
        '@timestamp': '2025-12-31T23:00:00.000Z',
        event: { kind: 'event', category: ['web'], type: ['access'], action: 'request', outcome: 'failure' },
        source: { address: '203.0.113.9', ip: '203.0.113.9' },
        http: { response: { status_code: 400, body: { bytes: 0 } } },
        firebreak: { http: { request_line: '\x16\x03\x01' } },
      },
    });
    const quoted = parseCombinedLogLine(
      '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /?q=\\x22caf\\xC3\\xA9\\x22 HTTP/1.1" 200 5 "-" "say \\"hi\\""',
    );
    expect(quoted).toMatchObject({
      event: { url: { original: '/?q="café"' }, user_agent: { original: 'say "hi"' } },
    });
    expect(unescapeLogString('plain')).toBe('plain');
  });

  it('ignores fields a custom format appends after the combined part', () => {
    expect(parseCombinedLogLine(`${APACHE_DOC_LINE} 0.002 "198.51.100.1"`)).toMatchObject({
      event: { event: { duration: 2_000_000 } },
    });
    expect(parseCombinedLogLine(`${APACHE_DOC_LINE} "198.51.100.1"`)).toMatchObject({ event: { url: {} } });
  });

  it('says why a line is refused', () => {
    expect(parseCombinedLogLine('hello')).toBe('not an nginx/Apache combined log line');
    expect(parseCombinedLogLine(APACHE_DOC_LINE.replace('10/Oct/2000', '31/Feb/2000'))).toBe(
      'time "31/Feb/2000:13:55:36 -0700" is not like 10/Oct/2000:13:55:36 -0700',
    );
    expect(looksLikeCombinedLog(APACHE_DOC_LINE)).toBe(true);
    expect(looksLikeCombinedLog('Oct 11 22:14:15 host sshd[1]: x')).toBe(false);
  });

  it('parseTimeLocal handles positive offsets across midnight', () => {
    expect(parseTimeLocal('01/Jan/2026:00:30:00 +0200')).toBe(Date.parse('2025-12-31T22:30:00Z'));
  });
});
