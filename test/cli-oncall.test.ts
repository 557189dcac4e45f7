/** `firebreak oncall now` and `firebreak oncall check` end to end, through the built command. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runFirebreak } from './helpers/cli.js';

let workDir: string;
const cli = (args: readonly string[], env: Record<string, string> = {}) => runFirebreak(workDir, args, env);

const KCT_ROSTER = join(ROOT, 'rosters', 'kct-menswear.example.yaml');
const CF_ROSTER = join(ROOT, 'rosters', 'creatorflow.example.yaml');
const CF_POLICY = join(ROOT, 'policies', 'creatorflow.yaml');

beforeAll(() => {
  ensureBuilt();
  workDir = mkdtempSync(join(tmpdir(), 'firebreak-oncall-'));
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(workDir, name);
  writeFileSync(file, text);
  return file;
}

describe('firebreak oncall now', () => {
  it('prints a table of who holds each role, with the next change', async () => {
    // Thursday of security-weekly's first week (dana); the override starts in December.
    const result = await cli(['oncall', 'now', '--roster', KCT_ROSTER, '--at', '2026-01-08T12:00:00Z']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('On call at 2026-01-08 12:00 UTC (policy "KCT Menswear"');
    const row = (title: string) => result.stdout.split('\n').find((l) => l.includes(`│ ${title} `)) ?? '';
    expect(row('Incident Commander (IC)')).toMatch(
      /Alex Morgan <alex@kctmenswear\.example> +│ Jordan Lee <jordan@kctmenswear\.example> +│ — /,
    );
    expect(row('Security Lead')).toMatch(
      /Dana Reyes <dana@kctmenswear\.example> \(security-weekly\) +│ Eli Cohen <eli@kctmenswear\.example> \(security-weekly\) +│ 2026-01-12 14:00 UTC/,
    );
    expect(row('Technical Lead')).toContain('2026-01-12 15:00 UTC');
    expect(row('Communications Lead')).toContain('Cam Nguyen <cam@kctmenswear.example>');
  });

  it('--json prints the structure; the roster and policy come from the environment', async () => {
    const result = await cli(['oncall', 'now', '--at', '2026-08-05T12:00:00+02:00', '--json'], {
      FIREBREAK_ROSTER: CF_ROSTER,
      FIREBREAK_POLICY: CF_POLICY,
    });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ at: '2026-08-05T10:00:00.000Z', policy: 'CreatorFlow', roster: CF_ROSTER });
    expect(json.roles.map((r: { role: string }) => r.role)).toEqual([
      'incident_commander',
      'security_lead',
      'technical_lead',
      'communications_lead',
    ]);
    expect(json.roles[0]).toEqual({
      role: 'incident_commander',
      title: 'Incident Commander',
      primary: {
        person: {
          id: 'sven',
          name: 'Sven Larsen',
          email: 'sven@securecontractor.example',
          phone: '+45 32 12 34 56',
        },
        via: 'override',
        until: '2026-08-17T07:00:00.000Z',
      },
      backup: {
        person: {
          id: 'omar',
          name: 'Omar Aziz',
          email: 'omar@creatorflow.example',
          slack: '@omar',
          phone: '+49 30 901820',
        },
        via: 'rotation',
        rotation: 'devops-weekly',
        // Tuesday 10:00 in Berlin (CEST).
        until: '2026-08-11T08:00:00.000Z',
      },
    });
  });

  it('reads the roster from firebreak.yaml, relative to the working directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'firebreak-oncall-config-'));
    try {
      writeFileSync(join(dir, 'roster.yaml'), readFileSync(KCT_ROSTER, 'utf8'));
      writeFileSync(join(dir, 'firebreak.yaml'), 'roster: roster.yaml\n');
      const result = await runFirebreak(dir, ['oncall', 'now', '--json']);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout).roster).toBe(join(dir, 'roster.yaml'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without a roster exits 2 saying how to set one', async () => {
    const result = await cli(['oncall', 'now']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /no on-call roster is set; set FIREBREAK_ROSTER=rosters\/kct-menswear\.example\.yaml/,
    );
    expect(result.stderr).toContain('"roster: rosters/kct-menswear.example.yaml" in firebreak.yaml');
    expect(result.stderr).toContain('[FB_ERR_CONFIG_INVALID]');
  });

  it('a bad roster exits 2 printing every problem as file:line: path: reason', async () => {
    const text = readFileSync(KCT_ROSTER, 'utf8')
      .replace('time_zone: America/New_York', 'time_zone: America/New_Yrok')
      .replace('{ primary: cam, backup: mo }', '{ primary: cam, backup: nobody }');
    const file = write('bad-roster.yaml', text);
    const lines = text.split('\n');
    const zoneLine = lines.findIndex((l) => l.includes('New_Yrok')) + 1;
    const roleLine = lines.findIndex((l) => l.includes('backup: nobody')) + 1;
    const result = await cli(['oncall', 'now', '--roster', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      `${file}:${zoneLine}: rotations.security-weekly.time_zone: "America/New_Yrok" is not an IANA time zone`,
    );
    expect(result.stderr).toContain(
      `${file}:${roleLine}: roles.communications_lead.backup: nobody is neither a person nor a rotation`,
    );
    expect(result.stderr).toContain('[FB_ERR_POLICY_INVALID]');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('a missing roster file and a bad --at exit 2', async () => {
    const missing = await cli(['oncall', 'now', '--roster', 'nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.yaml: ENOENT \[FB_ERR_INPUT_UNREADABLE\]/);
    const badAt = await cli(['oncall', 'now', '--roster', KCT_ROSTER, '--at', 'tomorrow']);
    expect(badAt.code).toBe(2);
    expect(badAt.stderr).toContain('expected an ISO 8601 time');
  });
});

describe('firebreak oncall check', () => {
  it('both example rosters are valid against their policies', async () => {
    const kct = await cli(['oncall', 'check', KCT_ROSTER]);
    expect(kct).toMatchObject({ code: 0, stderr: '' });
    expect(kct.stdout).toContain(
      'valid roster for policy "KCT Menswear": 10 people, 2 rotation(s), 1 override(s)',
    );
    expect(kct.stdout).toMatch(/Security Lead +│ security-weekly +│ security-weekly \+1/);
    const cf = await cli(['oncall', 'check', CF_ROSTER, '--policy', CF_POLICY, '--json']);
    expect(cf.code).toBe(0);
    expect(JSON.parse(cf.stdout).roles.technical_lead).toEqual({
      primary: { kind: 'rotation', rotation: 'devops-weekly', offset: 0 },
      backup: { kind: 'rotation', rotation: 'devops-weekly', offset: 1 },
    });
  });

  it('a bad roster exits 2 with file:line; without a file it checks the configured one', async () => {
    const file = write(
      'one-problem.yaml',
      readFileSync(KCT_ROSTER, 'utf8').replace('start: 2026-01-05 #', 'start: 2026-01-06 #'),
    );
    const bad = await cli(['oncall', 'check', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      new RegExp(
        `^firebreak: ${file}:\\d+: rotations\\.security-weekly\\.start: 2026-01-06 is a Tuesday; it must be a hand-off day \\(mon\\) \\[FB_ERR_POLICY_INVALID\\]`,
      ),
    );
    expect((await cli(['oncall', 'check'], { FIREBREAK_ROSTER: KCT_ROSTER })).code).toBe(0);
    expect((await cli(['oncall', 'check'])).code).toBe(2);
  });
});
