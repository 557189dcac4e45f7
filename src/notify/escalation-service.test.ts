import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALL_NO, LOW_IMPACT } from '../../test/helpers/classification.js';
import { DIALECTS, freshStore, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import { IncidentService } from '../incidents/index.js';
import { VirtualClock } from '../kernel/index.js';
import { loadRosterFile, onCallAt, type Roster } from '../oncall/index.js';
import { loadPolicyFile, type ResponsePolicy, type Severity } from '../policy/index.js';
import { EscalationService, type NotificationSink } from './escalation-service.js';

const file = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const KCT = loadPolicyFile(file('policies/kct-menswear.yaml'));
const CREATORFLOW = loadPolicyFile(file('policies/creatorflow.yaml'));
const ROSTERS = {
  kct: loadRosterFile(file('rosters/kct-menswear.example.yaml'), KCT),
  creatorflow: loadRosterFile(file('rosters/creatorflow.example.yaml'), CREATORFLOW),
};
/** A Wednesday, 10:00 UTC: inside both policies' business hours. */
const T0 = '2026-11-25T10:00:00.000Z';
const MIN = 60_000;

interface Page {
  readonly minute: number;
  readonly kind: string;
  readonly recipient: string;
  readonly target: string;
  readonly impact: string;
}

/** Role-slot pairs → the person ids the roster gives them at T0 (the roster is tested on its own). */
function holders(roster: Roster, policy: ResponsePolicy, slots: readonly string[]): string[] {
  const onCall = onCallAt(roster, policy, new Date(T0));
  return slots.map((s) => {
    const [role, slot] = s.split('.') as [string, 'primary' | 'backup'];
    return onCall.find((r) => r.role === role)![slot].person.id;
  });
}

const ROLES = ['incident_commander', 'security_lead', 'technical_lead', 'communications_lead'];
const primaries = (roles: readonly string[]) => roles.map((r) => `${r}.primary`);
const backups = (roles: readonly string[]) => roles.map((r) => `${r}.backup`);

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`EscalationService on ${d.name}`, () => {
    let ts: TestStore;
    let clock: VirtualClock;
    let pages: Page[];

    beforeEach(async () => {
      ts = await freshStore(d.name);
      clock = new VirtualClock(T0);
      pages = [];
    });
    afterEach(() => ts.cleanup());

    const sink: NotificationSink = {
      async enqueueIn(_trx, input) {
        pages.push({
          minute: (clock.now().getTime() - Date.parse(T0)) / MIN,
          kind: input.kind,
          recipient: input.recipient,
          target: input.target,
          impact: input.message.impact,
        });
      },
    };

    function setup(policy: ResponsePolicy, roster: Roster | undefined) {
      const audit = new AuditLog(ts.store.dialect);
      const incidents = new IncidentService({ store: ts.store, audit, policy, clock });
      const escalation = new EscalationService({
        store: ts.store,
        policy,
        roster,
        clock,
        outbox: sink,
        routes: { email: true, slack: false, team: [] },
      });
      escalation.attach(incidents);
      return { incidents, escalation };
    }

    /** Advances minute by minute to `minutes`, firing due timers at each. */
    async function runUntil(escalation: EscalationService, minutes: number): Promise<void> {
      while (clock.now().getTime() < Date.parse(T0) + minutes * MIN) {
        clock.advance(MIN);
        await escalation.runDue();
      }
    }

    /** The recipients paged at `minute`, sorted. */
    const pagedAt = (minute: number) =>
      pages
        .filter((p) => p.minute === minute)
        .map((p) => p.recipient)
        .sort();

    it('KCT P0: everyone at once, backups at 2 min (the ack deadline), all levels every 5 min after, hourly leadership reminders', async () => {
      const { incidents, escalation } = setup(KCT, ROSTERS.kct);
      await incidents.create('tester', { title: 'Card data exposed', severity: 'P0' });
      await runUntil(escalation, 61);
      const level1 = holders(ROSTERS.kct, KCT, primaries(ROLES));
      // The CTO has a contact in the policy; the CEO has none there and is not in the roster: not paged.
      expect(pagedAt(0)).toEqual([...level1, 'cto'].sort());
      expect(pagedAt(1)).toEqual([]);
      expect(pagedAt(2)).toEqual(holders(ROSTERS.kct, KCT, backups(ROLES)).sort());
      const everyone = [...new Set([...level1, ...holders(ROSTERS.kct, KCT, backups(ROLES)), 'cto'])].sort();
      for (const minute of [7, 12, 17, 57]) expect(pagedAt(minute)).toEqual(everyone);
      expect(pagedAt(8)).toEqual([]);
      // The plan's hourly leadership update: CEO (no address), CTO, the commander on call.
      const reminded = pages.filter((p) => p.kind === 'reminder');
      expect(reminded.map((p) => [p.minute, p.recipient])).toEqual([
        [60, holders(ROSTERS.kct, KCT, ['incident_commander.primary'])[0]],
        [60, 'cto'],
      ]);
    });

    it('KCT P0: an acknowledgement stops escalation, and reminders go on until it is resolved', async () => {
      const { incidents, escalation } = setup(KCT, ROSTERS.kct);
      const incident = await incidents.create('tester', { title: 'Card data exposed', severity: 'P0' });
      await runUntil(escalation, 8);
      await incidents.transition('dana', incident.id, 'acknowledged');
      const before = pages.length;
      await runUntil(escalation, 59);
      expect(pages.length).toBe(before);
      await runUntil(escalation, 60);
      expect(pages.slice(before).every((p) => p.kind === 'reminder' && p.minute === 60)).toBe(true);
      expect(pages.length).toBeGreaterThan(before);
      expect((await escalation.pendingTimers(incident.id)).map((t) => t.kind)).toEqual(['reminder']);
      await incidents.transition('dana', incident.id, 'contained');
      await incidents.transition('dana', incident.id, 'eradicated');
      await incidents.transition('dana', incident.id, 'recovered');
      await incidents.transition('dana', incident.id, 'resolved');
      expect(await escalation.pendingTimers(incident.id)).toEqual([]);
      const resolvedAt = pages.length;
      await runUntil(escalation, 300);
      expect(pages.length).toBe(resolvedAt);
    });

    const matrix: [string, ResponsePolicy, Roster, Severity, string[], number][] = [
      // policy, severity, roles the matrix names, ack deadline in minutes
      ['KCT', KCT, ROSTERS.kct, 'P1', ROLES, 2],
      ['KCT', KCT, ROSTERS.kct, 'P2', ['security_lead', 'technical_lead'], 2],
      ['CreatorFlow', CREATORFLOW, ROSTERS.creatorflow, 'P0', ROLES, 5],
      [
        'CreatorFlow',
        CREATORFLOW,
        ROSTERS.creatorflow,
        'P1',
        ['incident_commander', 'security_lead', 'technical_lead'],
        60,
      ],
      ['CreatorFlow', CREATORFLOW, ROSTERS.creatorflow, 'P2', ['security_lead', 'technical_lead'], 240],
      ['CreatorFlow', CREATORFLOW, ROSTERS.creatorflow, 'P3', ['security_lead'], 1440],
    ];
    for (const [name, policy, roster, severity, roles, ackMinutes] of matrix) {
      it(`${name} ${severity}: primaries at 0, backups at the ${ackMinutes}-minute ack deadline, everyone one window later`, async () => {
        const { incidents, escalation } = setup(policy, roster);
        await incidents.create('tester', { title: 'Something', severity });
        const window = Math.max(5, ackMinutes);
        await runUntil(escalation, ackMinutes + window);
        const stakeholders = policy.escalation[severity]
          .flatMap((s) => s.notify)
          .filter((w) => !ROLES.includes(w));
        const withContact = stakeholders.filter((s) => policy.stakeholders[s]?.contact);
        expect(pagedAt(0)).toEqual(
          [...new Set([...holders(roster, policy, primaries(roles)), ...withContact])].sort(),
        );
        expect(pages.filter((p) => p.minute > 0 && p.minute < ackMinutes)).toEqual([]);
        expect(pagedAt(ackMinutes)).toEqual([...new Set(holders(roster, policy, backups(roles)))].sort());
        const p0 = policy.escalation.P0.flatMap((s) => s.notify);
        const p0Roles = p0.filter((w) => ROLES.includes(w));
        const p0Contacts = [...stakeholders, ...p0].filter((s) => policy.stakeholders[s]?.contact);
        const level3 = new Set([
          ...holders(roster, policy, [
            ...primaries([...roles, ...p0Roles]),
            ...backups([...roles, ...p0Roles]),
          ]),
          ...p0Contacts,
        ]);
        expect(pagedAt(ackMinutes + window)).toEqual([...level3].sort());
        expect(
          pages.filter(
            (p) => p.minute > ackMinutes && p.minute < ackMinutes + window && p.kind !== 'reminder',
          ),
        ).toEqual([]);
      });
    }

    it('KCT P3: acknowledgement is due by the end of the business day, and the backup is paged then', async () => {
      const { incidents, escalation } = setup(KCT, ROSTERS.kct);
      const incident = await incidents.create('tester', { title: 'Phishing attempt', severity: 'P3' });
      expect(incident.ack_by).toBe('2026-11-25T18:00:00.000Z');
      await runUntil(escalation, 8 * 60);
      expect(pagedAt(0)).toEqual(holders(ROSTERS.kct, KCT, ['security_lead.primary']));
      expect(pagedAt(8 * 60)).toEqual(holders(ROSTERS.kct, KCT, ['security_lead.backup']));
      expect(pages).toHaveLength(2);
    });

    it('a raise of severity restarts escalation at the new level, and a restart neither loses nor repeats a timer', async () => {
      const { incidents, escalation } = setup(KCT, ROSTERS.kct);
      const incident = await incidents.create('tester', { title: 'Odd logins', severity: 'P2' });
      await runUntil(escalation, 1);
      // Classified P0 a minute in: the P0 audience now, the P0 clocks from now.
      await incidents.classify('dana', incident.id, {
        answers: { ...ALL_NO, payment_data_at_risk: true },
        impact: LOW_IMPACT,
      });
      const raisedAt = pages.filter((p) => p.minute === 1).map((p) => p.recipient);
      expect(raisedAt).toContain('cto');
      // Before the classification the page says so; after it, the assessed impact.
      expect(pages[0]!.impact).toBe('not yet assessed (the incident is not classified)');
      expect(
        pages.filter((p) => p.minute === 1).every((p) => p.impact === 'data low, service low, customers low'),
      ).toBe(true);
      // A new service instance (a restart) on the same database fires the pending timers once.
      const restarted = setup(KCT, ROSTERS.kct).escalation;
      clock.advance(2 * MIN);
      const fired = await Promise.all([restarted.runDue(), escalation.runDue()]);
      expect(fired[0] + fired[1]).toBe(1);
      expect(pagedAt(3)).toEqual(holders(ROSTERS.kct, KCT, backups(ROLES)).sort());
      expect(await restarted.runDue()).toBe(0);
    });
  });
}
