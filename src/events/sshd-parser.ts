/**
 * OpenSSH server (sshd) authentication messages to ECS fields. The message usually arrives
 * inside a syslog envelope; the syslog parser hands it here when the program is sshd.
 */

// OpenSSH's auth.c: "%s %s%s for %s%.100s from %.200s port %d ssh2%s" — e.g.
// "Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2". The user name is
// matched lazily because attackers put spaces in it.
const AUTH_RESULT =
  /^(Accepted|Failed|Postponed|Partial) (\S+) for (invalid user )?(.*?) from (\S+) port (\d+)(?: ssh[12])?(?:: (.*))?$/;
// "Invalid user admin from 203.0.113.5 port 4242" (older releases omit the port).
const INVALID_USER = /^Invalid user (.*?) from (\S+)(?: port (\d+))?$/;

/** Program names sshd logs under: OpenSSH 9.8 split the per-connection work into sshd-session, 10.0 added sshd-auth. */
export function isSshdProgram(name: string | undefined): boolean {
  return name === 'sshd' || name === 'sshd-session' || name === 'sshd-auth';
}

/**
 * ECS fields for an sshd authentication message, or undefined for other sshd messages
 * (connection closed, PAM session lines ...), which stay plain syslog events.
 *
 * Field choices: the method (`password`, `publickey`, `keyboard-interactive/pam` ...) goes in
 * `firebreak.auth.method`, the key after `ssh2: ` (`RSA SHA256:...`) in
 * `firebreak.auth.signature`, and `firebreak.auth.invalid_user: true` marks a user that does
 * not exist. `Invalid user X from ...` gets `event.action: "invalid_user"` (not `login`):
 * sshd logs it before the `Failed ... for invalid user X` line of the same attempt, so counting
 * both as failed logins would double every attempt against an unknown user.
 */
export function parseSshdMessage(message: string): Record<string, unknown> | undefined {
  const first = message.charCodeAt(0);
  // 'A', 'F', 'P', 'I': skip the regexes for the many messages that cannot match.
  if (first !== 0x41 && first !== 0x46 && first !== 0x50 && first !== 0x49) return undefined;
  const m = AUTH_RESULT.exec(message);
  if (m !== null) {
    const verdict = m[1];
    // Postponed/Partial are steps of a multi-factor login, not its outcome.
    const outcome = verdict === 'Accepted' ? 'success' : verdict === 'Failed' ? 'failure' : 'unknown';
    const auth: Record<string, unknown> = { method: m[2] };
    if (m[3] !== undefined) auth.invalid_user = true;
    if (m[7] !== undefined) auth.signature = m[7];
    return {
      event: { kind: 'event', category: ['authentication'], type: ['start'], action: 'login', outcome },
      user: { name: m[4] },
      source: { ip: m[5], port: Number(m[6]) },
      firebreak: { auth },
    };
  }
  const inv = INVALID_USER.exec(message);
  if (inv !== null) {
    const source: Record<string, unknown> = { ip: inv[2] };
    if (inv[3] !== undefined) source.port = Number(inv[3]);
    return {
      event: {
        kind: 'event',
        category: ['authentication'],
        type: ['info'],
        action: 'invalid_user',
        outcome: 'failure',
      },
      user: { name: inv[1] },
      source,
      firebreak: { auth: { invalid_user: true } },
    };
  }
  return undefined;
}
