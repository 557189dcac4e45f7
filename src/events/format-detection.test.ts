import { describe, expect, it } from 'vitest';
import { detectFormat } from './format-detection.js';

const NGINX =
  '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"';

describe('detectFormat', () => {
  it('sees JSON as ecs, even after blank lines', () => {
    expect(detectFormat(['', '  {"@timestamp":0}'])).toBe('ecs');
    expect(detectFormat(['[{"@timestamp":0}]'])).toBe('ecs');
  });

  it('sees combined access logs as nginx', () => {
    expect(detectFormat([NGINX, NGINX])).toBe('nginx');
  });

  it('sees an auth.log with any sshd line as sshd, other syslog as syslog', () => {
    expect(
      detectFormat([
        'Oct 11 22:14:15 host CRON[1]: pam_unix(cron:session): session opened for user root',
        'Oct 11 22:14:16 host sshd[2]: Failed password for root from 203.0.113.5 port 22 ssh2',
      ]),
    ).toBe('sshd');
    expect(
      detectFormat(['<165>1 2003-10-11T22:14:15.003Z host sshd - - - Invalid user a from 192.0.2.1']),
    ).toBe('sshd');
    expect(
      detectFormat(["<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"]),
    ).toBe('syslog');
    expect(detectFormat(['<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!'])).toBe('syslog');
  });

  it('gives undefined when nothing is recognised, and reads only the sample', () => {
    expect(detectFormat(['hello', 'world'])).toBeUndefined();
    expect(detectFormat([])).toBeUndefined();
    expect(detectFormat(['hello', NGINX], 1)).toBeUndefined();
  });
});
