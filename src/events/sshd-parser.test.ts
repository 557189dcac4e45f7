import { describe, expect, it } from 'vitest';
import { isSshdProgram, parseSshdMessage } from './sshd-parser.js';

const login = (outcome: string) => ({
  kind: 'event',
  category: ['authentication'],
  type: ['start'],
  action: 'login',
  outcome,
});

describe('parseSshdMessage', () => {
  it('reads failed and accepted passwords', () => {
    expect(parseSshdMessage('Failed password for root from 203.0.113.5 port 22 ssh2')).toEqual({
      event: login('failure'),
      user: { name: 'root' },
      source: { ip: '203.0.113.5', port: 22 },
      firebreak: { auth: { method: 'password' } },
    });
    expect(parseSshdMessage('Accepted password for alice from 192.0.2.10 port 40000 ssh2')).toMatchObject({
      event: login('success'),
      user: { name: 'alice' },
    });
  });

  it('marks invalid users and reads IPv6 sources', () => {
    expect(
      parseSshdMessage('Failed password for invalid user admin from 2001:db8::5 port 50022 ssh2'),
    ).toEqual({
      event: login('failure'),
      user: { name: 'admin' },
      source: { ip: '2001:db8::5', port: 50022 },
      firebreak: { auth: { method: 'password', invalid_user: true } },
    });
  });

  it('keeps the public key signature', () => {
    expect(
      parseSshdMessage(
        'Accepted publickey for alice from 198.51.100.7 port 51234 ssh2: RSA SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
      ),
    ).toEqual({
      event: login('success'),
      user: { name: 'alice' },
      source: { ip: '198.51.100.7', port: 51234 },
      firebreak: {
        auth: { method: 'publickey', signature: 'RSA SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s' },
      },
    });
  });

  it('reads "Invalid user" as invalid_user so attempts are not counted twice', () => {
    expect(parseSshdMessage('Invalid user admin from 203.0.113.5 port 4242')).toEqual({
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
    expect(parseSshdMessage('Invalid user  from 203.0.113.5')).toMatchObject({
      user: { name: '' },
      source: { ip: '203.0.113.5' },
    });
  });

  it('leaves other sshd messages alone', () => {
    expect(parseSshdMessage('Connection closed by 203.0.113.5 port 4242 [preauth]')).toBeUndefined();
    expect(
      parseSshdMessage('pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)'),
    ).toBeUndefined();
    expect(parseSshdMessage('Failed to start session')).toBeUndefined();
  });

  it('knows the program names of OpenSSH 9.8+', () => {
    expect(['sshd', 'sshd-session', 'sshd-auth', 'sudo', undefined].map(isSshdProgram)).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });
});
