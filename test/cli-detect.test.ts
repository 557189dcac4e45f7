/** `firebreak detect` and `firebreak rules check` end to end, through the built command. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runFirebreak } from './helpers/cli.js';

let workDir: string;
const cli = (args: readonly string[], stdin?: string) => runFirebreak(workDir, args, {}, 30_000, stdin);

beforeAll(() => {
  ensureBuilt();
  workDir = mkdtempSync(join(tmpdir(), 'firebreak-detect-'));
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const T0 = Date.parse('2026-03-02T12:00:00Z');

function adminFailure(offsetMs: number, user = 'dana'): string {
  return JSON.stringify({
    '@timestamp': new Date(T0 + offsetMs).toISOString(),
    event: { action: 'login', category: ['authentication'], outcome: 'failure' },
    user: { name: user, roles: ['admin'] },
    source: { ip: '203.0.113.7' },
  });
}

function write(name: string, text: string): string {
  const file = join(workDir, name);
  writeFileSync(file, text);
  return file;
}

describe('firebreak detect', () => {
  it('prints alerts as JSON lines in event-time order and a summary on stderr', async () => {
    // Two admins; bob's fourth failure comes first in the file but later in time than dana's.
    const lines = [
      adminFailure(0, 'bob'),
      adminFailure(1_000, 'bob'),
      adminFailure(2_000, 'bob'),
      adminFailure(0),
      adminFailure(1_000),
      adminFailure(2_000),
      adminFailure(3_000),
      adminFailure(3_500, 'bob'),
      'this is not json',
      JSON.stringify({ event: { action: 'login' } }),
    ];
    const file = write('events.ndjson', `${lines.join('\n')}\n`);
    const result = await cli(['detect', '--json', file]);
    expect(result.code).toBe(0);
    const alerts = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const admin = alerts.filter((a) => a.rule === 'admin-login-failures');
    expect(admin).toEqual([
      {
        rule: 'admin-login-failures',
        severity: 'P0',
        group: { 'user.name': 'dana' },
        value: 4,
        start: new Date(T0).toISOString(),
        end: new Date(T0 + 3_000).toISOString(),
        events: 4,
        title: 'Repeated failed logins to an admin account',
        trigger: `${file}:7`,
        fingerprint: expect.stringMatching(/^[0-9a-f]{32}$/),
      },
      expect.objectContaining({ group: { 'user.name': 'bob' }, end: new Date(T0 + 3_500).toISOString() }),
    ]);
    expect(result.stderr).toContain('firebreak detect: 8 events from 1 input(s)');
    expect(result.stderr).toMatch(/rejected: 2, first: .*events\.ndjson: line 9: not JSON/);
    expect(result.stderr).toContain('line 10: ');
    expect(result.stderr).toContain('admin-login-failures: 2');

    // The same input gives the same fingerprints: replays are idempotent.
    const again = await cli(['detect', '--json', file]);
    expect(again.stdout).toBe(result.stdout);
  });

  it('reads stdin, recognises nginx and sshd logs, and reports late events', async () => {
    const sshd = [0, 1, 2, 3, 4, 5].map(
      (i) =>
        `<38>1 2026-03-02T12:00:0${i}Z web1 sshd 4242 - - Failed password for invalid user admin${i % 2} from 198.51.100.${i} port 5000${i} ssh2`,
    );
    const fromStdin = await cli(['detect', '-', '--json'], `${sshd.join('\n')}\n`);
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stderr).toContain('6 events from 1 input(s)');

    const late = [adminFailure(120_000), adminFailure(0)];
    const file = write('late.ndjson', `${late.join('\n')}\n`);
    const result = await cli(['detect', file, '--lateness', '30s']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      `late (beyond the 30s allowed; not counted in windows): 1, first: ${file}:2`,
    );
  });

  it('prints a readable line per alert without --json', async () => {
    const file = write('readable.ndjson', `${[0, 1, 2, 3].map((i) => adminFailure(i * 1000)).join('\n')}\n`);
    const result = await cli(['detect', file]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(
      '2026-03-02T12:00:03.000Z  P0  admin-login-failures  user.name=dana  value=4  events=4  since 2026-03-02T12:00:00.000Z',
    );
  });

  it('exits 2 when an input file is missing, before reading any', async () => {
    const good = write('good.ndjson', `${adminFailure(0)}\n`);
    const result = await cli(['detect', good, join(workDir, 'missing.ndjson')]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('missing.ndjson: no such file [FB_ERR_INPUT_UNREADABLE]');
  });

  it('exits 2 when the format cannot be recognised', async () => {
    const file = write('prose.txt', 'Dear diary,\ntoday nothing happened.\n');
    const result = await cli(['detect', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('[FB_ERR_INPUT_FORMAT_UNKNOWN]');
  });

  it('exits 2 naming file and line when a rule is bad; runs user rules with --no-builtin', async () => {
    const dir = join(workDir, 'my-rules');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'deny.yaml'),
      [
        'id: any-denied-order',
        'title: Denied order access',
        'severity: P1',
        'description: every denied order access',
        'filter:',
        '  denied:',
        '    event.action: order-access',
        '    event.outcome: failure',
        '  condition: denied',
        '',
      ].join('\n'),
    );
    const events = write(
      'orders.ndjson',
      `${JSON.stringify({ '@timestamp': '2026-03-02T12:00:00Z', event: { action: 'order-access', outcome: 'failure' }, user: { name: 'x' } })}\n`,
    );
    const ok = await cli(['detect', '--json', '--no-builtin', '--rules', dir, events]);
    expect(ok.code).toBe(0);
    expect(
      ok.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).rule),
    ).toEqual(['any-denied-order']);

    writeFileSync(
      join(dir, 'broken.yaml'),
      'id: broken\ntitle: t\nseverity: P9\ndescription: d\nfilter: {}\n',
    );
    const bad = await cli(['detect', '--rules', dir, events]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/broken\.yaml:3.*severity/);
    expect(bad.stderr).toContain('[FB_ERR_RULE_INVALID]');
  });
});

describe('firebreak rules check', () => {
  it('lists the built-in pack', async () => {
    const result = await cli(['rules', 'check', '--json']);
    expect(result.code).toBe(0);
    const rules = JSON.parse(result.stdout) as { id: string }[];
    expect(rules).toHaveLength(17);
    const table = await cli(['rules', 'check']);
    expect(table.stdout).toContain('17 rule(s) valid');
    expect(table.stdout).toContain('admin-login-failures');
  });

  it('exits 2 with every problem as file:line', async () => {
    const dir = join(workDir, 'bad-rules');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'a.yaml'),
      'id: a\ntitle: t\nseverity: P1\ndescription: d\nfilter:\n  s: {x: 1}\n  condition: s\nwindow: soon\n',
    );
    writeFileSync(
      join(dir, 'b.yaml'),
      'id: b\ntitle: t\nseverity: P1\ndescription: d\nfilter:\n  s: {x|nope: 1}\n  condition: s\n',
    );
    const result = await cli(['rules', 'check', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/a\.yaml:8.*window/);
    expect(result.stderr).toMatch(/b\.yaml:6.*nope/);
  });
});
