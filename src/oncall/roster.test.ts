import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FirebreakError } from '../kernel/index.js';
import { loadPolicyFile } from '../policy/index.js';
import { loadRosterFile, parseRoster } from './roster.js';

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const kct = loadPolicyFile(repo('policies/kct-menswear.yaml'));
const creatorflow = loadPolicyFile(repo('policies/creatorflow.yaml'));

const FILE = 'rosters/test.yaml';
const GOOD = `people:
  dana: { name: Dana Reyes, email: dana@shop.example, slack: "@dana", phone: "+1 555 0100" }
  eli: { name: Eli Cohen, email: eli@shop.example, slack: https://hooks.slack.com/services/T0/B0/x }
  fay: { name: Fay Okafor, email: fay@shop.example }
rotations:
  security-weekly:
    members: [dana, eli, fay]
    handoff: { day: mon, time: 09:00 }
    time_zone: Europe/Berlin
    start: 2026-01-05
roles:
  incident_commander: { primary: dana, backup: eli }
  security_lead: { primary: security-weekly, backup: { rotation: security-weekly, offset: 1 } }
  technical_lead: { primary: fay, backup: dana }
  communications_lead: { primary: eli, backup: fay }
overrides:
  - { role: security_lead, slot: primary, person: eli, from: "2026-12-24T09:00:00+01:00", to: "2026-12-27T09:00:00+01:00" }
`;

/** The problems of a roster, as `line path: message`, after checking that each names the file. */
function problems(text: string): string[] {
  try {
    parseRoster(text, FILE, kct);
  } catch (error) {
    expect(error).toBeInstanceOf(FirebreakError);
    const e = error as FirebreakError;
    expect(e.code).toBe('FB_ERR_POLICY_INVALID');
    expect(e.message).toMatch(new RegExp(`^${FILE}:${e.details[0]!.line}: `));
    for (const d of e.details) expect(d.line, d.path).toBeGreaterThan(0);
    return e.details.map((d) => `${d.line} ${d.path}: ${d.message}`);
  }
  throw new Error('expected the roster to be refused');
}

const edit = (from: string, to: string) => {
  expect(GOOD).toContain(from);
  return GOOD.replace(from, to);
};

describe('parseRoster', () => {
  it('reads a good roster', () => {
    const roster = parseRoster(GOOD, FILE, kct);
    expect(roster.people.dana).toEqual({
      id: 'dana',
      name: 'Dana Reyes',
      email: 'dana@shop.example',
      slack: '@dana',
      phone: '+1 555 0100',
    });
    expect(roster.rotations['security-weekly']).toEqual({
      id: 'security-weekly',
      members: ['dana', 'eli', 'fay'],
      handoffDay: 'mon',
      handoffMinute: 540,
      timeZone: 'Europe/Berlin',
      start: '2026-01-05',
    });
    expect(roster.roles.security_lead).toEqual({
      primary: { kind: 'rotation', rotation: 'security-weekly', offset: 0 },
      backup: { kind: 'rotation', rotation: 'security-weekly', offset: 1 },
    });
    expect(roster.roles.incident_commander?.primary).toEqual({ kind: 'person', person: 'dana' });
    expect(roster.overrides).toEqual([
      {
        role: 'security_lead',
        slot: 'primary',
        person: 'eli',
        from: new Date('2026-12-24T08:00:00Z'),
        to: new Date('2026-12-27T08:00:00Z'),
      },
    ]);
    expect(Object.isFrozen(roster.roles.security_lead)).toBe(true);
  });

  it('refuses a role the policy has not got, and names a missing one', () => {
    expect(problems(edit('  communications_lead:', '  comms_lead:'))).toEqual([
      '11 roles: communications_lead is missing (the policy has incident_commander, security_lead, technical_lead, communications_lead)',
      "15 roles.comms_lead: KCT Menswear's policy has no role comms_lead; it has incident_commander, security_lead, technical_lead, communications_lead",
    ]);
  });

  it('refuses a role without a backup', () => {
    expect(problems(edit('{ primary: dana, backup: eli }', '{ primary: dana }'))).toEqual([
      '12 roles.incident_commander.backup: is required',
    ]);
  });

  it('refuses references to unknown people and rotations', () => {
    expect(
      problems(edit('{ primary: dana, backup: eli }', '{ primary: dan, backup: { rotation: sec } }')),
    ).toEqual([
      '12 roles.incident_commander.primary: dan is neither a person nor a rotation',
      '12 roles.incident_commander.backup.rotation: sec is not a rotation',
    ]);
    expect(problems(edit('members: [dana, eli, fay]', 'members: [dana, eli, fay, gus, eli]'))).toEqual([
      '7 rotations.security-weekly.members.3: gus is not in people',
      '7 rotations.security-weekly.members.4: eli appears twice',
    ]);
  });

  it('refuses an empty rotation', () => {
    expect(problems(edit('members: [dana, eli, fay]', 'members: []'))[0]).toMatch(
      /^7 rotations\.security-weekly\.members: must NOT have fewer than 1 items/,
    );
  });

  it('refuses a bad time zone, time, date and hand-off day', () => {
    expect(problems(edit('Europe/Berlin', 'Europe/Berlim'))).toEqual([
      '9 rotations.security-weekly.time_zone: "Europe/Berlim" is not an IANA time zone such as UTC or Europe/Berlin',
    ]);
    expect(problems(edit('time: 09:00', 'time: "9am"'))).toEqual([
      '8 rotations.security-weekly.handoff.time: must be a time HH:MM (24-hour)',
    ]);
    expect(problems(edit('day: mon', 'day: monday'))).toEqual([
      '8 rotations.security-weekly.handoff.day: must be one of mon, tue, wed, thu, fri, sat, sun',
    ]);
    expect(problems(edit('start: 2026-01-05', 'start: 2026-02-30'))).toEqual([
      '10 rotations.security-weekly.start: 2026-02-30 is not a date',
    ]);
    expect(problems(edit('start: 2026-01-05', 'start: 2026-01-06'))).toEqual([
      '10 rotations.security-weekly.start: 2026-01-06 is a Tuesday; it must be a hand-off day (mon)',
    ]);
    expect(problems(edit('start: 2026-01-05', 'start: 5 Jan 2026'))).toEqual([
      '10 rotations.security-weekly.start: must be a date YYYY-MM-DD',
    ]);
  });

  it('refuses a backup who would be the primary', () => {
    expect(problems(edit('{ primary: dana, backup: eli }', '{ primary: dana, backup: dana }'))).toEqual([
      '12 roles.incident_commander.backup: dana is also the primary; the backup must be someone else than the primary',
    ]);
    expect(
      problems(edit('backup: { rotation: security-weekly, offset: 1 }', 'backup: security-weekly')),
    ).toEqual([
      "13 roles.security_lead.backup: offset 0 of security-weekly (3 member(s)) is the primary's own turn; use another offset; the backup must be someone else than the primary",
    ]);
    expect(
      problems(edit('{ primary: dana, backup: eli }', '{ primary: dana, backup: security-weekly }')),
    ).toEqual([
      '12 roles.incident_commander.backup: dana is in rotation security-weekly and would fill both slots in their turn; the backup must be someone else than the primary',
    ]);
    // One member for both slots: the offset cannot name anyone else.
    expect(problems(edit('members: [dana, eli, fay]', 'members: [fay]'))).toEqual([
      '13 roles.security_lead.backup.offset: security-weekly has 1 member(s); the offset must be below that',
      "13 roles.security_lead.backup: offset 1 of security-weekly (1 member(s)) is the primary's own turn; use another offset; the backup must be someone else than the primary",
    ]);
  });

  it('refuses bad overrides', () => {
    const bad = edit(
      '  - { role: security_lead, slot: primary, person: eli, from: "2026-12-24T09:00:00+01:00", to: "2026-12-27T09:00:00+01:00" }',
      [
        '  - { role: security_lead, slot: primary, person: eli, from: "2026-12-24T09:00:00+01:00", to: "2026-12-24T09:00:00+01:00" }',
        '  - { role: sec_lead, slot: primary, person: gus, from: "2026-12-24T09:00:00+01:00", to: "2026-12-25T09:00:00+01:00" }',
        '  - { role: security_lead, slot: backup, person: eli, from: "2026-12-24T09:00:00Z", to: "2026-12-27T09:00:00Z" }',
        '  - { role: security_lead, slot: backup, person: fay, from: "2026-12-26T09:00:00Z", to: "2026-12-28T09:00:00Z" }',
        '  - { role: security_lead, slot: primary, person: fay, from: "2026-13-26T09:00:00Z", to: "2026-12-28T09:00:00Z" }',
      ].join('\n'),
    );
    expect(problems(bad)).toEqual([
      '17 overrides.0.to: must be after from (2026-12-24T09:00:00+01:00)',
      '18 overrides.1.role: the policy has no role sec_lead',
      '18 overrides.1.person: gus is not in people',
      '20 overrides.3: overlaps override 2 for security_lead backup; one slot has one holder',
      '21 overrides.4.from: 2026-13-26T09:00:00Z is not a valid time',
    ]);
    expect(problems(edit('slot: primary', 'slot: secondary'))).toEqual([
      '17 overrides.0.slot: must be one of primary, backup',
    ]);
    expect(problems(edit('to: "2026-12-27T09:00:00+01:00"', 'to: "2026-12-27 09:00"'))).toEqual([
      '17 overrides.0.to: must be an ISO 8601 time with an offset, such as 2026-12-24T09:00:00+01:00',
    ]);
  });

  it("refuses bad people: duplicate emails, bad contacts, a rotation with a person's id", () => {
    expect(problems(edit('fay@shop.example', 'DANA@shop.example'))).toEqual([
      "4 people.fay.email: DANA@shop.example is also dana's email",
    ]);
    expect(problems(edit('slack: "@dana"', 'slack: "#security"'))[0]).toMatch(
      /^2 people\.dana\.slack: must be a Slack handle/,
    );
    expect(problems(edit('phone: "+1 555 0100"', 'phone: "555-0100"'))[0]).toMatch(
      /^2 people\.dana\.phone: must be an international/,
    );
    expect(problems(edit('  fay: { name', '  security-weekly: { name'))).toContain(
      "6 rotations.security-weekly: security-weekly is also a person's id; give the rotation another name",
    );
  });

  it('reports every problem at once, ordered by line', () => {
    const text = edit('Europe/Berlin', 'Mars/Olympus').replace(
      '{ primary: fay, backup: dana }',
      '{ primary: fay, backup: fay }',
    );
    expect(problems(text).map((p) => p.split(' ')[0])).toEqual(['9', '14']);
  });

  it('refuses YAML that does not parse, naming the line', () => {
    expect(problems(`${GOOD}  - [unclosed\n`)[0]).toMatch(/^19 : Flow sequence/);
  });
});

describe('the example rosters', () => {
  it.each([
    ['rosters/kct-menswear.example.yaml', kct],
    ['rosters/creatorflow.example.yaml', creatorflow],
  ])('%s fills every role of its policy', (path, policy) => {
    const roster = loadRosterFile(repo(path), policy);
    expect(Object.keys(roster.roles).sort()).toEqual(Object.keys(policy.roles).sort());
    const kinds = Object.values(roster.roles).flatMap((r) => [r.primary.kind, r.backup.kind]);
    expect(kinds).toContain('person');
    expect(kinds).toContain('rotation');
    expect(roster.overrides.length).toBeGreaterThan(0);
    expect(readFileSync(repo(path), 'utf8')).toContain('offset: 1');
  });

  it('an unreadable file is FB_ERR_INPUT_UNREADABLE', () => {
    expect(() => loadRosterFile('/nonexistent/roster.yaml', kct)).toThrow(
      /cannot read \/nonexistent\/roster\.yaml: ENOENT/,
    );
  });
});
