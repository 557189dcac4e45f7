import { describe, expect, it } from 'vitest';
import { inferYear, parseSyslogEnvelope, parseSyslogLine, type SyslogContext } from './syslog-parser.js';

const ctx: SyslogContext = { referenceMs: Date.parse('2003-12-01T00:00:00Z') };
const BOM = '\uFEFF';

function ok(line: string, context: SyslogContext = ctx) {
  const out = parseSyslogLine(line, context);
  if (typeof out === 'string') throw new Error(out);
  return out;
}

describe('RFC 3164', () => {
  it('reads the RFC example with PRI and tag', () => {
    expect(ok("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")).toEqual({
      epochMs: Date.parse('2003-10-11T22:14:15Z'),
      event: {
        '@timestamp': '2003-10-11T22:14:15.000Z',
        log: {
          syslog: {
            priority: 34,
            facility: { code: 4, name: 'auth' },
            severity: { code: 2, name: 'critical' },
            appname: 'su',
          },
        },
        host: { hostname: 'mymachine' },
        process: { name: 'su' },
        message: "'su root' failed for lonvick on /dev/pts/8",
      },
    });
  });

  it('reads a space-padded day and a message without a tag (RFC example)', () => {
    expect(ok('<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!')).toMatchObject({
      epochMs: Date.parse('2003-02-05T17:32:18Z'),
      event: { host: { hostname: '10.0.0.99' }, message: 'Use the BFG!', log: { syslog: { priority: 13 } } },
    });
  });

  it('reads an auth.log line without PRI and routes sshd to the sshd parser', () => {
    const out = ok(
      'Oct 11 22:14:15 bastion sshd[123]: Failed password for root from 203.0.113.5 port 22 ssh2',
    );
    expect(out.event).toEqual({
      '@timestamp': '2003-10-11T22:14:15.000Z',
      log: { syslog: { appname: 'sshd', procid: '123' } },
      host: { hostname: 'bastion' },
      process: { name: 'sshd', pid: 123 },
      message: 'Failed password for root from 203.0.113.5 port 22 ssh2',
      event: {
        kind: 'event',
        category: ['authentication'],
        type: ['start'],
        action: 'login',
        outcome: 'failure',
      },
      user: { name: 'root' },
      source: { ip: '203.0.113.5', port: 22 },
      firebreak: { auth: { method: 'password' } },
    });
    // Other sshd messages stay plain syslog events.
    expect(
      ok('Oct 11 22:14:16 bastion sshd[123]: Connection closed by 203.0.113.5 port 22 [preauth]').event.event,
    ).toBeUndefined();
    // OpenSSH 9.8+ logs as sshd-session.
    expect(
      ok('Oct 11 22:14:17 bastion sshd-session[9]: Accepted password for alice from 192.0.2.1 port 2 ssh2')
        .event,
    ).toMatchObject({
      event: { outcome: 'success' },
      user: { name: 'alice' },
    });
  });

  it('routes nginx access lines and keeps their own time', () => {
    const out = ok(
      '<190>Oct 11 22:14:15 web1 nginx: 192.0.2.7 - - [11/Oct/2003:15:14:15 -0700] "GET / HTTP/1.1" 404 0 "-" "Mozilla/5.0"',
    );
    expect(out).toMatchObject({
      epochMs: Date.parse('2003-10-11T22:14:15Z'),
      event: {
        event: { category: ['web'], outcome: 'failure' },
        http: { response: { status_code: 404 } },
        host: { hostname: 'web1' },
        process: { name: 'nginx' },
        log: {
          syslog: { facility: { code: 23, name: 'local7' }, severity: { code: 6, name: 'informational' } },
        },
      },
    });
    const error = ok('<187>Oct 11 22:14:15 web1 nginx: 2003/10/11 22:14:15 [error] 12#12: *1 open() failed');
    expect(error.event.message).toBe('2003/10/11 22:14:15 [error] 12#12: *1 open() failed');
    expect(error.event.http).toBeUndefined();
  });

  it('reads the RFC 3339-stamped lines modern rsyslog writes to auth.log', () => {
    expect(
      ok(
        '2024-05-01T10:00:00.123456+00:00 web1 sshd[99]: Accepted password for alice from 192.0.2.10 port 40000 ssh2',
      ),
    ).toMatchObject({
      epochMs: Date.parse('2024-05-01T10:00:00.123Z'),
      event: { process: { pid: 99 }, event: { outcome: 'success' } },
    });
  });

  it('uses the fixed sender offset when given', () => {
    expect(ok('Oct 11 22:14:15 host app: x', { ...ctx, utcOffsetMinutes: -420 }).epochMs).toBe(
      Date.parse('2003-10-12T05:14:15Z'),
    );
  });
});

describe('inferYear', () => {
  const at = (month: number, day: number, h: number, ref: string, offset = 0) =>
    new Date(inferYear(month, day, h, 0, 0, 0, Date.parse(ref), offset)!).toISOString();

  it('puts Dec 31 read on Jan 1 in last year', () => {
    expect(at(12, 31, 23, '2024-01-01T00:30:00Z')).toBe('2023-12-31T23:00:00.000Z');
  });

  it('allows up to a day in the future across the new year', () => {
    expect(at(1, 1, 0, '2023-12-31T23:00:00Z')).toBe('2024-01-01T00:00:00.000Z');
    // 36 hours ahead is too far: it must be last January.
    expect(at(1, 1, 0, '2023-12-30T12:00:00Z')).toBe('2023-01-01T00:00:00.000Z');
  });

  it('finds the last leap year for Feb 29', () => {
    expect(at(2, 29, 12, '2025-03-01T00:00:00Z')).toBe('2024-02-29T12:00:00.000Z');
  });

  it('refuses a day that never exists', () => {
    expect(inferYear(2, 30, 0, 0, 0, 0, Date.parse('2025-03-01T00:00:00Z'), 0)).toBeUndefined();
    expect(parseSyslogLine('Feb 30 00:00:00 host app: x', ctx)).toBe(
      'syslog time "Feb 30 00:00:00" is not a valid date',
    );
  });
});

describe('RFC 5424', () => {
  it('reads example 1: nil procid and structured data, BOM before the message', () => {
    expect(
      ok(
        `<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ${BOM}'su root' failed for lonvick on /dev/pts/8`,
      ),
    ).toEqual({
      epochMs: Date.parse('2003-10-11T22:14:15.003Z'),
      event: {
        '@timestamp': '2003-10-11T22:14:15.003Z',
        log: {
          syslog: {
            priority: 34,
            facility: { code: 4, name: 'auth' },
            severity: { code: 2, name: 'critical' },
            version: '1',
            appname: 'su',
            msgid: 'ID47',
          },
        },
        host: { hostname: 'mymachine.example.com' },
        process: { name: 'su' },
        message: "'su root' failed for lonvick on /dev/pts/8",
      },
    });
  });

  it('reads example 2: microseconds with an offset, numeric procid', () => {
    expect(
      ok(
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
      ),
    ).toMatchObject({
      epochMs: Date.parse('2003-08-24T12:14:15.000Z'),
      event: {
        log: {
          syslog: {
            priority: 165,
            facility: { code: 20, name: 'local4' },
            severity: { code: 5, name: 'notice' },
            procid: '8710',
          },
        },
        process: { name: 'myproc', pid: 8710 },
        message: "%% It's time to make the do-nuts.",
      },
    });
  });

  it('reads examples 3 and 4: structured data, with and without a message', () => {
    const sd = '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]';
    const withMsg = ok(
      `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 ${sd} ${BOM}An application event log entry...`,
    );
    expect(withMsg.event).toMatchObject({
      log: {
        syslog: {
          structured_data: { 'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' } },
        },
      },
      message: 'An application event log entry...',
    });
    const noMsg = ok(
      `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 ${sd}[examplePriority@32473 class="high"]`,
    );
    expect(noMsg.event.message).toBe('');
    expect((noMsg.event.log as { syslog: { structured_data: object } }).syslog.structured_data).toEqual({
      'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' },
      'examplePriority@32473': { class: 'high' },
    });
  });

  it('unescapes \\" \\\\ and \\] in values and keeps other backslashes', () => {
    const env = parseSyslogEnvelope(
      '<14>1 2026-01-01T00:00:00Z h a - - [x@1 q="say \\"hi\\" [a\\] b\\\\c d\\n"] m',
      ctx,
    );
    expect(env).toMatchObject({ structuredData: { 'x@1': { q: 'say "hi" [a] b\\c d\\n' } }, message: 'm' });
  });

  it('all-nil header fields are left out; sshd is routed', () => {
    expect(
      ok('<38>1 2026-01-01T00:00:00Z - sshd - - - Invalid user admin from 203.0.113.5 port 4242').event,
    ).toEqual({
      '@timestamp': '2026-01-01T00:00:00.000Z',
      log: {
        syslog: {
          priority: 38,
          facility: { code: 4, name: 'auth' },
          severity: { code: 6, name: 'informational' },
          version: '1',
          appname: 'sshd',
        },
      },
      process: { name: 'sshd' },
      message: 'Invalid user admin from 203.0.113.5 port 4242',
      event: {
        kind: 'event',
        category: ['authentication'],
        type: ['info'],
        action: 'invalid_user',
        outcome: 'failure',
      },
      user: { name: 'admin' },
      source: { ip: '203.0.113.5', port: 4242 },
      firebreak: { auth: { invalid_user: true } },
    });
  });

  it('says why a line is refused', () => {
    expect(parseSyslogLine('<34>1 - host app - - - msg', ctx)).toBe(
      'syslog time is nil (-); an event needs a time',
    );
    expect(parseSyslogLine('<34>1 2003-13-11T22:14:15Z host app - - - msg', ctx)).toBe(
      'syslog time "2003-13-11T22:14:15Z" is not RFC 3339',
    );
    expect(parseSyslogLine('<192>Oct 11 22:14:15 host app: x', ctx)).toBe(
      'syslog priority <192> is out of range (0-191)',
    );
    expect(parseSyslogLine('<34>1 2003-10-11T22:14:15Z host app - - [id a="b msg', ctx)).toBe(
      'syslog structured data [id] a has no closing quote',
    );
    expect(parseSyslogLine('<34>1 2003-10-11T22:14:15Z host app - - [id a="b" msg', ctx)).toBe(
      'syslog structured data [id] has a parameter without ="value"',
    );
    expect(parseSyslogLine('<34>1 2003-10-11T22:14:15Z host app - - x msg', ctx)).toBe(
      'syslog structured data must be - or [id param="value"]',
    );
    expect(parseSyslogLine('hello world', ctx)).toBe(
      'not a syslog line (RFC 5424, RFC 3164 or RFC 3339-stamped)',
    );
  });
});
