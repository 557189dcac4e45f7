import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALL_NO, LOW_IMPACT } from '../../test/helpers/classification.js';
import { refusal } from '../../test/helpers/refusal.js';
import { DIALECTS, freshStore, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import { type FirebreakError, VirtualClock } from '../kernel/index.js';
import { loadPolicyFile, type Severity } from '../policy/index.js';
import type { ImpactAssessment } from './classification.js';
import { IncidentService } from './incident-service.js';
import type { IncidentStatus } from './lifecycle.js';

const KCT = loadPolicyFile(fileURLToPath(new URL('../../policies/kct-menswear.yaml', import.meta.url)));
/** A Wednesday, inside KCT business hours (Mon–Fri 09:00–18:00 UTC). */
const NOW = '2026-03-04T10:00:00.000Z';
const MIN = 60_000;
const plus = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

const NO = ALL_NO;
const LOW = LOW_IMPACT;
const CRITICAL: ImpactAssessment = { data: 'critical', service: 'low', customer: 'low' };

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`IncidentService on ${d.name}`, () => {
    let ts: TestStore;
    let audit: AuditLog;
    let clock: VirtualClock;
    let service: IncidentService;
    /** Successful changes so far: each must have left exactly one audit entry. */
    let changes: number;

    beforeEach(async () => {
      ts = await freshStore(d.name);
      audit = new AuditLog(ts.store.dialect);
      clock = new VirtualClock(NOW);
      service = new IncidentService({ store: ts.store, audit, policy: KCT, clock });
      changes = 0;
    });
    afterEach(async () => {
      try {
        expect(await audit.verify(ts.store.db)).toMatchObject({ ok: true, entries: changes });
      } finally {
        await ts.cleanup();
      }
    });

    const create = async (severity: Severity, extra: { title?: string; detected_at?: string } = {}) => {
      const incident = await service.create('key:k1 (ops)', {
        title: extra.title ?? `a ${severity}`,
        severity,
        ...extra,
      });
      changes += 1;
      return incident;
    };
    const move = async (id: string, to: IncidentStatus, reason?: string) => {
      const incident = await service.transition('key:k1 (ops)', id, to, reason);
      changes += 1;
      return incident;
    };
    const walk = async (id: string, path: IncidentStatus[]) => {
      for (const to of path) await move(id, to);
    };
    const snapshot = async (id: string) => ({
      incident: await service.get(id),
      timeline: (await service.timeline(id)).length,
      audit: await audit.count(ts.store.db),
    });

    describe('create', () => {
      it('numbers incidents INC-YYYY-NNN from 001, by the clock’s year, restarting in a new year', async () => {
        expect((await create('P2')).id).toBe('INC-2026-001');
        expect((await create('P2')).id).toBe('INC-2026-002');
        clock.set('2026-12-31T23:59:59.999Z');
        expect((await create('P2')).id).toBe('INC-2026-003');
        clock.set('2027-01-01T00:00:00.000Z');
        // Detected last year, opened this year: the id carries the year it was opened.
        expect((await create('P2', { detected_at: '2026-12-31T23:00:00.000Z' })).id).toBe('INC-2027-001');
        expect((await create('P2')).id).toBe('INC-2027-002');
      });

      it('sets ack_by and respond_by from the KCT policy', async () => {
        const expected: Record<Severity, [number, number]> = {
          P0: [2, 15],
          P1: [2, 30],
          P2: [2, 120],
          P3: [0, 0],
        };
        for (const severity of ['P0', 'P1', 'P2'] as const) {
          const incident = await create(severity);
          const [ack, respond] = expected[severity];
          expect(incident.ack_by).toBe(plus(NOW, ack * MIN));
          expect(incident.respond_by).toBe(plus(NOW, respond * MIN));
        }
        // P3: within business hours, i.e. by 18:00 on this Wednesday.
        const p3 = await create('P3');
        expect(p3.ack_by).toBe('2026-03-04T18:00:00.000Z');
        expect(p3.respond_by).toBe('2026-03-04T18:00:00.000Z');
      });

      it('starts the clocks at detection, not at creation', async () => {
        const p1 = await create('P1', { detected_at: '2026-03-04T09:50:00.000Z' });
        expect(p1).toMatchObject({
          detected_at: '2026-03-04T09:50:00.000Z',
          created_at: NOW,
          ack_by: '2026-03-04T09:52:00.000Z',
          respond_by: '2026-03-04T10:20:00.000Z',
        });
        // A P3 detected on Friday at closing is due at Monday's closing.
        clock.set('2026-03-07T10:00:00.000Z');
        const p3 = await create('P3', { detected_at: '2026-03-06T18:00:00.000Z' });
        expect(p3.respond_by).toBe('2026-03-09T18:00:00.000Z');
      });

      it('records who opened it, on the incident, the timeline and the audit log', async () => {
        const incident = await create('P1', { title: 'Admin login from Tor' });
        expect(incident).toMatchObject({
          title: 'Admin login from Tor',
          summary: '',
          severity: 'P1',
          status: 'detected',
          phase: 'detection_and_assessment',
          created_by: 'key:k1 (ops)',
          reached: {},
          classification: null,
          roles: {},
          version: 1,
        });
        expect(await service.get(incident.id)).toEqual(incident);
        expect(await service.timeline(incident.id)).toEqual([
          {
            id: expect.any(Number),
            at: NOW,
            actor: 'key:k1 (ops)',
            kind: 'created',
            data: { severity: 'P1', title: 'Admin login from Tor' },
          },
        ]);
        const [entry] = await audit.list(ts.store.db, { limit: 1 });
        expect(entry).toMatchObject({
          actor: 'key:k1 (ops)',
          action: 'incident.create',
          target: incident.id,
        });
      });

      it('accepts detected_at equal to now and refuses one ms in the future, using no number', async () => {
        const error = await refusal(
          service.create('u', { title: 't', severity: 'P2', detected_at: plus(NOW, 1) }),
        );
        expect(error.code).toBe('FB_ERR_VALIDATION');
        expect(error.details).toEqual([
          { path: 'body.detected_at', message: expect.stringMatching(/future/) },
        ]);

        const bad = await refusal(
          service.create('u', { title: 't', severity: 'P2', detected_at: 'yesterday' }),
        );
        expect(bad.code).toBe('FB_ERR_VALIDATION');

        const atNow = await create('P2', { detected_at: NOW });
        expect(atNow.id).toBe('INC-2026-001');
        expect(atNow.detected_at).toBe(NOW);
      });

      it('reports an unknown incident', async () => {
        expect((await refusal(service.get('INC-2026-999'))).code).toBe('FB_ERR_INCIDENT_NOT_FOUND');
        expect((await refusal(service.transition('u', 'INC-2026-999', 'acknowledged'))).code).toBe(
          'FB_ERR_INCIDENT_NOT_FOUND',
        );
        expect(await audit.count(ts.store.db)).toBe(0);
      });
    });

    describe('transition', () => {
      it('walks the whole lifecycle, recording when each status was reached', async () => {
        const { id } = await create('P1');
        const path: IncidentStatus[] = [
          'acknowledged',
          'contained',
          'eradicated',
          'recovered',
          'resolved',
          'closed',
        ];
        const reached: Record<string, string> = {};
        for (const [i, to] of path.entries()) {
          clock.advance(MIN);
          const incident = await move(id, to);
          reached[to] = clock.now().toISOString();
          expect(incident.status).toBe(to);
          expect(incident.version).toBe(i + 2);
          expect(incident.reached).toEqual(reached);
          expect(incident.updated_at).toBe(clock.now().toISOString());
        }
        expect((await service.get(id)).phase).toBe('post_incident');
        const timeline = await service.timeline(id);
        expect(
          timeline.map((r) => (r.kind === 'transitioned' ? `${r.data.from}→${r.data.to}` : r.kind)),
        ).toEqual([
          'created',
          'detected→acknowledged',
          'acknowledged→contained',
          'contained→eradicated',
          'eradicated→recovered',
          'recovered→resolved',
          'resolved→closed',
        ]);
      });

      it.each([
        ['detected', [], 'contained', 'acknowledged'],
        ['detected', [], 'detected', 'acknowledged'],
        ['acknowledged', ['acknowledged'], 'closed', 'contained, resolved'],
        ['contained', ['acknowledged', 'contained'], 'acknowledged', 'eradicated'],
        [
          'closed',
          ['acknowledged', 'contained', 'eradicated', 'recovered', 'resolved', 'closed'],
          'resolved',
          'none (closed is final)',
        ],
      ] as const)(
        'refuses %s → %s, naming the allowed next states, and changes nothing',
        async (from, path, to, allowed) => {
          const { id } = await create('P2');
          await walk(id, [...path]);
          const before = await snapshot(id);
          expect(before.incident.status).toBe(from);

          clock.advance(MIN);
          const error = await refusal(service.transition('u', id, to));
          expect(error.code).toBe('FB_ERR_ILLEGAL_TRANSITION');
          expect(error.kind).toBe('conflict');
          expect(error.params).toMatchObject({ id, from, to, allowed });
          expect(error.message).toContain(`allowed next: ${allowed}`);
          expect(await snapshot(id)).toEqual(before);
        },
      );

      it('needs a reason for acknowledged → resolved; whitespace is not one', async () => {
        const { id } = await create('P2');
        await move(id, 'acknowledged');
        const before = await snapshot(id);
        for (const reason of [undefined, '', '   ']) {
          const error = await refusal(service.transition('u', id, 'resolved', reason));
          expect(error.code).toBe('FB_ERR_REASON_REQUIRED');
        }
        expect(await snapshot(id)).toEqual(before);

        const resolved = await move(id, 'resolved', 'false positive: a pentest we scheduled');
        expect(resolved.status).toBe('resolved');
        expect((await service.timeline(id)).at(-1)).toMatchObject({
          kind: 'transitioned',
          actor: 'key:k1 (ops)',
          data: { from: 'acknowledged', to: 'resolved', reason: 'false positive: a pentest we scheduled' },
        });
      });

      it('lets exactly one of two concurrent acknowledgements through', async () => {
        const { id } = await create('P0');
        const results = await Promise.allSettled([
          service.transition('alice', id, 'acknowledged'),
          service.transition('bob', id, 'acknowledged'),
        ]);
        const fulfilled = results.filter((r) => r.status === 'fulfilled');
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(fulfilled).toHaveLength(1);
        expect(rejected).toHaveLength(1);
        expect((rejected[0]!.reason as FirebreakError).code).toBe('FB_ERR_ILLEGAL_TRANSITION');
        changes += 1;
        expect((await service.get(id)).version).toBe(2);
        expect(await service.timeline(id)).toHaveLength(2);
      });
    });

    describe('classify', () => {
      it('sets severity and reasoning, and restarts the clocks when the severity changes', async () => {
        const { id } = await create('P2');
        clock.advance(5 * MIN);
        const now = clock.now().toISOString();
        const incident = await service.classify('alice', id, {
          answers: { ...NO, admin_access_compromised: true },
          impact: CRITICAL,
        });
        changes += 1;
        expect(incident.severity).toBe('P0');
        expect(incident.classification).toMatchObject({
          severity: 'P0',
          impact: CRITICAL,
          reasoning: [
            'Is admin access compromised? yes → P0/P1; worst impact is critical, at least critical → P0',
          ],
        });
        expect(incident.ack_by).toBe(plus(now, 2 * MIN));
        expect(incident.respond_by).toBe(plus(now, 15 * MIN));
        expect(await service.get(id)).toEqual(incident);
        expect((await service.timeline(id)).at(-1)).toMatchObject({
          kind: 'classified',
          actor: 'alice',
          at: now,
          data: { from: 'P2', to: 'P0', reasoning: incident.classification!.reasoning },
        });
      });

      it('keeps the clocks when the first classification confirms the severity', async () => {
        const created = await create('P2');
        clock.advance(5 * MIN);
        const incident = await service.classify('alice', created.id, {
          answers: { ...NO, active_exploitation: true },
          impact: LOW,
        });
        changes += 1;
        expect(incident.severity).toBe('P2');
        expect(incident.ack_by).toBe(created.ack_by);
        expect(incident.respond_by).toBe(created.respond_by);
      });

      it('refuses to reclassify to another severity without a reason, and records the reason and actor', async () => {
        const { id } = await create('P2');
        await service.classify('alice', id, { answers: { ...NO, payment_data_at_risk: true }, impact: LOW });
        changes += 1;
        const before = await snapshot(id);

        const toP1 = { answers: { ...NO, over_100_customers_affected: true }, impact: LOW };
        for (const reason of [undefined, ' ']) {
          const error = await refusal(service.classify('bob', id, { ...toP1, reason }));
          expect(error.code).toBe('FB_ERR_REASON_REQUIRED');
          expect(error.message).toContain('from P0 to P1');
        }
        expect(await snapshot(id)).toEqual(before);

        clock.advance(MIN);
        const incident = await service.classify('bob', id, { ...toP1, reason: 'card data was tokenised' });
        changes += 1;
        expect(incident.severity).toBe('P1');
        expect(incident.version).toBe(before.incident.version + 1);
        expect((await service.timeline(id)).at(-1)).toMatchObject({
          kind: 'classified',
          actor: 'bob',
          data: { from: 'P0', to: 'P1', reason: 'card data was tokenised' },
        });

        // Same severity again, other answers: no reason needed, clocks kept.
        const same = await service.classify('carol', id, {
          answers: { ...NO, data_exfiltration: true },
          impact: LOW,
        });
        changes += 1;
        expect(same.severity).toBe('P1');
        expect(same.ack_by).toBe(incident.ack_by);
      });

      it('refuses to classify a resolved incident', async () => {
        const { id } = await create('P2');
        await move(id, 'acknowledged');
        await move(id, 'resolved', 'duplicate of INC-2026-000');
        const before = await snapshot(id);
        const error = await refusal(service.classify('u', id, { answers: NO, impact: LOW }));
        expect(error.code).toBe('FB_ERR_ILLEGAL_TRANSITION');
        expect(await snapshot(id)).toEqual(before);
      });
    });

    describe('roles and notes', () => {
      it('puts role assignments and notes on the timeline with the actor', async () => {
        const { id } = await create('P1');
        clock.advance(MIN);
        await service.assignRole('alice', id, 'incident_commander', 'Dana');
        await service.assignRole('alice', id, 'security_lead', 'Eli');
        clock.advance(MIN);
        const reassigned = await service.assignRole('bob', id, 'incident_commander', 'Fay');
        const noted = await service.addNote('bob', id, 'Rotated the Stripe key.');
        changes += 4;
        expect(reassigned.roles).toEqual({ incident_commander: 'Fay', security_lead: 'Eli' });
        expect(noted.roles).toEqual(reassigned.roles);
        expect(noted.version).toBe(5);
        expect((await service.timeline(id)).slice(1)).toEqual([
          expect.objectContaining({
            kind: 'role_assigned',
            actor: 'alice',
            data: { role: 'incident_commander', person: 'Dana' },
          }),
          expect.objectContaining({
            kind: 'role_assigned',
            actor: 'alice',
            data: { role: 'security_lead', person: 'Eli' },
          }),
          expect.objectContaining({
            kind: 'role_assigned',
            actor: 'bob',
            at: plus(NOW, 2 * MIN),
            data: { role: 'incident_commander', person: 'Fay', previous: 'Dana' },
          }),
          expect.objectContaining({
            kind: 'note_added',
            actor: 'bob',
            data: { text: 'Rotated the Stripe key.' },
          }),
        ]);
        const [entry] = await audit.list(ts.store.db, { limit: 1 });
        expect(entry).toMatchObject({ actor: 'bob', action: 'incident.add_note', target: id });
      });
    });

    describe('list', () => {
      /** Seven incidents: severities P0,P1,P2,P3,P0,P1,P2; 002 acknowledged, 004 resolved. */
      const seed = async () => {
        const ids: string[] = [];
        for (const severity of ['P0', 'P1', 'P2', 'P3', 'P0', 'P1', 'P2'] as const)
          ids.push((await create(severity)).id);
        await move(ids[1]!, 'acknowledged');
        await move(ids[3]!, 'acknowledged');
        await move(ids[3]!, 'resolved', 'noise');
        return ids;
      };
      const all = async (query: Parameters<IncidentService['list']>[0]) => {
        const seen: string[] = [];
        let cursor: string | undefined;
        const sizes: number[] = [];
        for (let guard = 0; guard < 20; guard += 1) {
          const page = await service.list({ ...query, ...(cursor ? { cursor } : {}) });
          sizes.push(page.items.length);
          seen.push(...page.items.map((i) => i.id));
          if (page.next_cursor === null) return { seen, sizes };
          cursor = page.next_cursor;
        }
        throw new Error('pagination does not end');
      };

      it('filters by status and by severity, newest first', async () => {
        const ids = await seed();
        const idsOf = (page: { items: { id: string }[] }) => page.items.map((i) => i.id);
        expect(idsOf(await service.list({ status: ['detected'], limit: 50 }))).toEqual([
          ids[6],
          ids[5],
          ids[4],
          ids[2],
          ids[0],
        ]);
        expect(idsOf(await service.list({ status: ['acknowledged', 'resolved'], limit: 50 }))).toEqual([
          ids[3],
          ids[1],
        ]);
        expect(idsOf(await service.list({ severity: ['P0'], limit: 50 }))).toEqual([ids[4], ids[0]]);
        expect(
          idsOf(await service.list({ status: ['detected'], severity: ['P1', 'P3'], limit: 50 })),
        ).toEqual([ids[5]]);
        expect(idsOf(await service.list({ status: ['closed'], limit: 50 }))).toEqual([]);
      });

      it('pages with next_cursor: no duplicates, no omissions, null on the last page', async () => {
        const ids = await seed();
        const newestFirst = [...ids].reverse();
        expect(await all({ limit: 3 })).toEqual({ seen: newestFirst, sizes: [3, 3, 1] });
        expect(await all({ limit: 6 })).toEqual({ seen: newestFirst, sizes: [6, 1] });
        expect(await all({ limit: 7 })).toEqual({ seen: newestFirst, sizes: [7] });
        expect(await all({ limit: 8 })).toEqual({ seen: newestFirst, sizes: [7] });
        expect(await all({ limit: 1 })).toEqual({ seen: newestFirst, sizes: [1, 1, 1, 1, 1, 1, 1] });
        // With a filter, pages only hold matches.
        expect(await all({ status: ['detected'], limit: 2 })).toEqual({
          seen: [ids[6], ids[5], ids[4], ids[2], ids[0]],
          sizes: [2, 2, 1],
        });
      });

      it('pages across years, newest year first', async () => {
        clock.set('2026-12-31T23:00:00.000Z');
        await create('P2');
        await create('P2');
        clock.set('2027-01-01T01:00:00.000Z');
        await create('P2');
        await create('P2');
        expect(await all({ limit: 3 })).toEqual({
          seen: ['INC-2027-002', 'INC-2027-001', 'INC-2026-002', 'INC-2026-001'],
          sizes: [3, 1],
        });
      });

      it('refuses a cursor it did not make', async () => {
        const error = await refusal(service.list({ limit: 5, cursor: 'not-a-cursor' }));
        expect(error.code).toBe('FB_ERR_VALIDATION');
        expect(error.details[0]?.path).toBe('query.cursor');
      });
    });

    describe('securitySummary', () => {
      it('is empty with no incidents', async () => {
        expect(await service.securitySummary()).toEqual({
          open_by_severity: { P0: 0, P1: 0, P2: 0, P3: 0 },
          oldest_unacknowledged: null,
        });
      });

      it('counts open incidents by severity and names the oldest unacknowledged by detection time', async () => {
        const acked = await create('P1', { detected_at: '2026-03-04T08:00:00.000Z' });
        await move(acked.id, 'acknowledged');
        const resolved = await create('P3', { detected_at: '2026-03-04T07:00:00.000Z' });
        await move(resolved.id, 'acknowledged');
        await move(resolved.id, 'resolved', 'false positive');
        await create('P0', { detected_at: '2026-03-04T09:30:00.000Z' });
        // Opened later, but detected earlier than the P0.
        const oldest = await create('P2', { detected_at: '2026-03-04T09:00:00.000Z' });
        await create('P2');

        expect(await service.securitySummary()).toEqual({
          open_by_severity: { P0: 1, P1: 1, P2: 2, P3: 0 },
          oldest_unacknowledged: {
            id: oldest.id,
            severity: 'P2',
            detected_at: '2026-03-04T09:00:00.000Z',
            ack_by: '2026-03-04T09:02:00.000Z',
            overdue: true,
          },
        });
      });

      it('flags overdue only once ack_by has passed', async () => {
        const incident = await create('P1');
        expect(incident.ack_by).toBe(plus(NOW, 2 * MIN));
        const overdueAt = async (iso: string) => {
          clock.set(iso);
          return (await service.securitySummary()).oldest_unacknowledged?.overdue;
        };
        expect(await overdueAt(plus(NOW, 2 * MIN - 1))).toBe(false);
        expect(await overdueAt(plus(NOW, 2 * MIN))).toBe(false);
        expect(await overdueAt(plus(NOW, 2 * MIN + 1))).toBe(true);
        await move(incident.id, 'acknowledged');
        expect((await service.securitySummary()).oldest_unacknowledged).toBeNull();
      });
    });
  });
}
