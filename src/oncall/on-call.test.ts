import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPolicyFile } from '../policy/index.js';
import { onCallAt } from './on-call.js';
import { loadRosterFile, parseRoster } from './roster.js';

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const kct = loadPolicyFile(repo('policies/kct-menswear.yaml'));
const creatorflow = loadPolicyFile(repo('policies/creatorflow.yaml'));

const roster = parseRoster(
  `people:
  dana: { name: Dana Reyes, email: dana@shop.example }
  eli: { name: Eli Cohen, email: eli@shop.example }
  fay: { name: Fay Okafor, email: fay@shop.example }
  gus: { name: Gus Lind, email: gus@shop.example }
rotations:
  security-weekly:
    members: [dana, eli, fay]
    handoff: { day: mon, time: "09:00" }
    time_zone: Europe/Berlin
    start: 2026-01-05
  solo:
    members: [gus]
    handoff: { day: fri, time: "17:00" }
    time_zone: UTC
    start: 2026-01-02
roles:
  incident_commander: { primary: gus, backup: dana }
  security_lead: { primary: security-weekly, backup: { rotation: security-weekly, offset: 1 } }
  technical_lead: { primary: solo, backup: eli }
  communications_lead: { primary: fay, backup: eli }
overrides:
  - { role: security_lead, slot: primary, person: gus, from: "2026-01-07T12:00:00Z", to: "2026-01-09T12:00:00Z" }
  - { role: incident_commander, slot: backup, person: fay, from: "2026-02-01T00:00:00Z", to: "2026-02-02T00:00:00Z" }
`,
  'roster.yaml',
  kct,
);

const at = (iso: string) => new Date(iso);
const ms = (iso: string, delta: number) => new Date(Date.parse(iso) + delta);
const role = (id: string, when: Date) => onCallAt(roster, kct, when).find((r) => r.role === id)!;
const brief = (id: string, when: Date) => {
  const r = role(id, when);
  return [
    r.primary.person.id,
    r.primary.via,
    r.primary.until,
    r.backup.person.id,
    r.backup.via,
    r.backup.until,
  ];
};

describe('onCallAt', () => {
  it('gives every role of the policy, in its order, with the titles and people', () => {
    const rows = onCallAt(roster, kct, at('2026-01-05T10:00:00Z'));
    expect(rows.map((r) => r.role)).toEqual(Object.keys(kct.roles));
    expect(rows[0]).toEqual({
      role: 'incident_commander',
      title: 'Incident Commander (IC)',
      primary: { person: { id: 'gus', name: 'Gus Lind', email: 'gus@shop.example' }, via: 'person' },
      backup: {
        person: { id: 'dana', name: 'Dana Reyes', email: 'dana@shop.example' },
        via: 'person',
        until: at('2026-02-01T00:00:00Z'),
      },
    });
  });

  it('follows the rotation: the backup is the next member, and until is the next hand-off', () => {
    const handoff = '2026-01-12T08:00:00Z';
    expect(brief('security_lead', ms(handoff, -1))).toEqual([
      'dana',
      'rotation',
      at(handoff),
      'eli',
      'rotation',
      at(handoff),
    ]);
    expect(brief('security_lead', at(handoff))).toEqual([
      'eli',
      'rotation',
      at('2026-01-19T08:00:00Z'),
      'fay',
      'rotation',
      at('2026-01-19T08:00:00Z'),
    ]);
    expect(role('security_lead', at(handoff)).primary.rotation).toBe('security-weekly');
    for (let week = -6; week < 12; week += 1) {
      const r = role('security_lead', ms(handoff, week * 7 * 86_400_000 + 1));
      expect(r.primary.person.id).not.toBe(r.backup.person.id);
    }
  });

  it('an override holds for [from, to), and the rotation hands over to it and back', () => {
    const from = '2026-01-07T12:00:00Z';
    const to = '2026-01-09T12:00:00Z';
    expect(brief('security_lead', ms(from, -1)).slice(0, 3)).toEqual(['dana', 'rotation', at(from)]);
    expect(brief('security_lead', at(from)).slice(0, 3)).toEqual(['gus', 'override', at(to)]);
    expect(brief('security_lead', ms(to, -1)).slice(0, 3)).toEqual(['gus', 'override', at(to)]);
    expect(brief('security_lead', at(to)).slice(0, 3)).toEqual([
      'dana',
      'rotation',
      at('2026-01-12T08:00:00Z'),
    ]);
    // The backup slot is not touched.
    expect(brief('security_lead', at(from)).slice(3)).toEqual([
      'eli',
      'rotation',
      at('2026-01-12T08:00:00Z'),
    ]);
  });

  it('a fixed person holds until the next override, or for good', () => {
    expect(brief('incident_commander', at('2026-02-01T00:00:00Z')).slice(3)).toEqual([
      'fay',
      'override',
      at('2026-02-02T00:00:00Z'),
    ]);
    expect(brief('incident_commander', at('2026-02-02T00:00:00Z')).slice(3)).toEqual([
      'dana',
      'person',
      undefined,
    ]);
  });

  it('a one-member rotation never changes hands', () => {
    expect(brief('technical_lead', at('2026-01-02T17:00:00Z')).slice(0, 3)).toEqual([
      'gus',
      'rotation',
      undefined,
    ]);
  });

  it('before the start the rotation runs backwards', () => {
    expect(brief('security_lead', at('2026-01-01T00:00:00Z')).slice(0, 4)).toEqual([
      'fay',
      'rotation',
      at('2026-01-05T08:00:00Z'),
      'dana',
    ]);
  });
});

describe('the example rosters', () => {
  it('KCT: the Christmas override, then the rotation again', () => {
    const example = loadRosterFile(repo('rosters/kct-menswear.example.yaml'), kct);
    const sec = (iso: string) => onCallAt(example, kct, at(iso)).find((r) => r.role === 'security_lead')!;
    expect(sec('2026-12-24T13:59:59.999Z').primary).toMatchObject({ via: 'rotation' });
    expect(sec('2026-12-24T14:00:00Z').primary).toMatchObject({ person: { id: 'eli' }, via: 'override' });
    for (const week of [0, 1, 2, 3, 4, 5]) {
      const rows = onCallAt(example, kct, new Date(Date.parse('2026-03-02T12:00:00Z') + week * 604_800_000));
      for (const r of rows) expect(r.primary.person.id, r.role).not.toBe(r.backup.person.id);
    }
  });

  it('CreatorFlow: every role filled, primary and backup apart', () => {
    const example = loadRosterFile(repo('rosters/creatorflow.example.yaml'), creatorflow);
    const rows = onCallAt(example, creatorflow, at('2026-08-05T12:00:00Z'));
    expect(rows.map((r) => [r.role, r.primary.person.id, r.primary.via])).toEqual([
      ['incident_commander', 'sven', 'override'],
      ['security_lead', 'sven', 'override'],
      ['technical_lead', 'omar', 'rotation'],
      ['communications_lead', 'lena', 'person'],
    ]);
    for (const r of rows) expect(r.primary.person.id).not.toBe(r.backup.person.id);
  });
});
