import { describe, expect, it } from 'vitest';
import { describeRejection } from './ecs-event.js';
import { createLineParser, parseText } from './line-parser.js';

const REF = new Date('2026-03-04T12:00:00Z');

describe('createLineParser', () => {
  it('turns one line into an event or a rejection with its line number; blank lines are skipped', () => {
    const parse = createLineParser('sshd', { referenceTime: REF });
    expect(
      parse('Mar  4 11:59:00 bastion sshd[7]: Accepted password for alice from 192.0.2.1 port 5 ssh2\r', 1),
    ).toMatchObject({
      ok: true,
      epochMs: Date.parse('2026-03-04T11:59:00Z'),
      event: { user: { name: 'alice' }, event: { outcome: 'success' } },
    });
    expect(parse('   ', 2)).toBeUndefined();
    const bad = parse('not syslog', 3);
    expect(bad).toEqual({
      ok: false,
      rejection: {
        location: 'line',
        position: 3,
        reason: 'not a syslog line (RFC 5424, RFC 3164 or RFC 3339-stamped)',
      },
    });
  });

  it('requires a reference time for syslog formats', () => {
    expect(() => createLineParser('syslog')).toThrow(/referenceTime/);
    expect(() => createLineParser('sshd', { referenceTime: new Date('x') })).toThrow(RangeError);
    expect(() => createLineParser('ecs')).not.toThrow();
  });
});

describe('parseText', () => {
  it('reads NDJSON, goes on after bad lines, and names them by line number', () => {
    const text = [
      '{"@timestamp":"2026-03-04T10:00:00Z","event.action":"login"}',
      '',
      'not json',
      '[1]',
      '{"event":{"action":"x"}}',
      '{"@timestamp":0,"firebreak.records":12}',
      '{"@timestamp":"yesterday"}',
      '',
    ].join('\n');
    const out = parseText(text, 'ecs');
    expect(out.events.map((e) => e.event['@timestamp'])).toEqual([
      '2026-03-04T10:00:00.000Z',
      '1970-01-01T00:00:00.000Z',
    ]);
    expect(out.rejected.map(describeRejection)).toEqual([
      expect.stringMatching(/^line 3: not JSON: /),
      'line 4: expected a JSON object, got an array',
      'line 5: @timestamp is missing',
      'line 7: @timestamp "yesterday" is not ISO 8601 or epoch milliseconds',
    ]);
  });

  it('reads a JSON array whole and names bad elements by index', () => {
    const out = parseText(' [{"@timestamp":0}, {"@timestamp":"no"}, {"@timestamp":1,"a.b":1}]', 'ecs');
    expect(out.events).toHaveLength(2);
    expect(out.rejected.map(describeRejection)).toEqual([
      'index 1: @timestamp "no" is not ISO 8601 or epoch milliseconds',
    ]);
  });

  it('falls back to lines when a leading [ is not a valid array', () => {
    const out = parseText('[1,\n{"@timestamp":0}', 'ecs');
    expect(out.events).toHaveLength(1);
    expect(out.rejected.map((r) => r.position)).toEqual([1]);
  });

  it('reads nginx and syslog texts with CRLF line ends', () => {
    const nginx = parseText(
      '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "-" "-"\r\nbad\r\n',
      'nginx',
    );
    expect(nginx.events).toHaveLength(1);
    expect(nginx.rejected).toEqual([
      { location: 'line', position: 2, reason: 'not an nginx/Apache combined log line' },
    ]);
    const syslog = parseText('<34>Oct 11 22:14:15 mymachine su: x\r\n', 'syslog', {
      referenceTime: REF.getTime(),
    });
    expect(syslog.events[0]!.event['@timestamp']).toBe('2025-10-11T22:14:15.000Z');
    expect(syslog.events[0]!.event.message).toBe('x');
  });
});
