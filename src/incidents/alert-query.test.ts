import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import { type Alert, alertFingerprint } from '../detect/index.js';
import { FirebreakError, VirtualClock } from '../kernel/index.js';
import { loadPolicyFile, type Severity } from '../policy/index.js';
import { AlertGrouper, groupKey } from './alert-grouper.js';
import { AlertQuery, type ListAlertsQuery, type StoredAlert } from './alert-query.js';
import { IncidentService } from './incident-service.js';

const KCT = loadPolicyFile(fileURLToPath(new URL('../../policies/kct-menswear.yaml', import.meta.url)));
const NOW = '2026-03-04T12:00:00.000Z';
const T0 = Date.parse('2026-03-04T09:00:00.000Z');
const MIN = 60_000;

function alert(rule: string, severity: Severity, group: Record<string, string>, atMs: number): Alert {
  const end = T0 + atMs;
  return {
    rule,
    title: `Title of ${rule}`,
    severity,
    group,
    value: 4,
    start: end - 4 * MIN,
    end,
    events: 4,
    trigger: 17,
    fingerprint: alertFingerprint(rule, groupKey(group), end),
  };
}

/** The list's order: window end, then fingerprint, both descending. */
const newestFirst = (a: StoredAlert, b: StoredAlert) =>
  a.end === b.end ? (a.fingerprint < b.fingerprint ? 1 : -1) : a.end < b.end ? 1 : -1;

function refusal(error: unknown): { code: string; details: readonly { path: string }[] } {
  expect(error).toBeInstanceOf(FirebreakError);
  const e = error as FirebreakError;
  return { code: e.code, details: e.details.map((d) => ({ path: d.path })) };
}

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`AlertQuery on ${d.name}`, () => {
    let ts: TestStore;
    let query: AlertQuery;
    let all: StoredAlert[];

    beforeAll(async () => {
      ts = await freshStore(d.name);
      const clock = new VirtualClock(NOW);
      const incidents = new IncidentService({
        store: ts.store,
        audit: new AuditLog(ts.store.dialect),
        policy: KCT,
        clock,
      });
      const grouper = new AlertGrouper({ store: ts.store, incidents, clock });
      // Users dana, erin and finn each get their own incident; many alerts share a window end,
      // so pages have to break ties on the fingerprint.
      const alerts: Alert[] = [];
      for (let i = 0; i < 30; i++) {
        const user = ['dana', 'erin', 'finn'][i % 3]!;
        const rule = i % 2 === 0 ? 'admin-login-failures' : 'account-login-failures';
        alerts.push(alert(rule, i % 2 === 0 ? 'P0' : 'P2', { 'user.name': user }, Math.floor(i / 4) * MIN));
      }
      await grouper.intake(alerts);
      query = new AlertQuery({ store: ts.store });
      all = [...(await query.list({ limit: 500 })).items];
    });
    afterAll(async () => {
      await ts?.cleanup();
    });

    it('lists every alert newest first, ties by fingerprint, on one page when they fit', async () => {
      expect(all).toHaveLength(30);
      expect(all).toEqual([...all].sort(newestFirst));
      expect((await query.list({ limit: 30 })).next_cursor).toBeNull();
      expect((await query.list({})).items).toEqual(all.slice(0, 30));
    });

    it.each([1, 3, 4, 7, 29])('pages of %i join up to the whole list: no repeat, no gap', async (limit) => {
      const seen: StoredAlert[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 40; pages++) {
        const page = await query.list({ limit, ...(cursor ? { cursor } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(limit);
        seen.push(...page.items);
        if (page.next_cursor === null) break;
        expect(page.items).toHaveLength(limit);
        cursor = page.next_cursor;
      }
      expect(seen).toEqual(all);
    });

    it('filters by rule, severity, incident and window end; since inclusive, until exclusive', async () => {
      const cases: [ListAlertsQuery, (a: StoredAlert) => boolean][] = [
        [{ rule: ['admin-login-failures'] }, (a) => a.rule === 'admin-login-failures'],
        [{ rule: ['admin-login-failures', 'account-login-failures'] }, () => true],
        [{ rule: ['admin-login'] }, () => false],
        [{ severity: ['P2'] }, (a) => a.severity === 'P2'],
        [{ severity: ['P1', 'P3'] }, () => false],
        [{ incident: 'INC-2026-002' }, (a) => a.incident_id === 'INC-2026-002'],
        [{ incident: 'INC-2026-999' }, () => false],
        [{ since: '2026-03-04T09:03:00Z' }, (a) => a.end >= '2026-03-04T09:03:00.000Z'],
        [{ until: '2026-03-04T09:03:00Z' }, (a) => a.end < '2026-03-04T09:03:00.000Z'],
        // Zones are honoured; a time without one is UTC.
        [
          { since: '2026-03-04T10:02:00+01:00', until: '2026-03-04T09:04' },
          (a) => a.end.startsWith('2026-03-04T09:02:') || a.end.startsWith('2026-03-04T09:03:'),
        ],
        [
          { rule: ['account-login-failures'], incident: 'INC-2026-001', since: '2026-03-04T09:01:00Z' },
          (a) =>
            a.rule === 'account-login-failures' &&
            a.incident_id === 'INC-2026-001' &&
            a.end >= '2026-03-04T09:01:00.000Z',
        ],
      ];
      for (const [filter, keep] of cases) {
        const expected = all.filter(keep);
        const got = await query.list({ ...filter, limit: 500 });
        expect(got.items, JSON.stringify(filter)).toEqual(expected);
      }
      // A filtered list pages too.
      const first = await query.list({ severity: ['P0'], limit: 10 });
      const rest = await query.list({ severity: ['P0'], limit: 10, cursor: first.next_cursor! });
      expect([...first.items, ...rest.items]).toEqual(all.filter((a) => a.severity === 'P0'));
      expect(rest.next_cursor).toBeNull();
    });

    it('refuses a bad cursor, time or limit naming the field', async () => {
      const bad: [ListAlertsQuery, string][] = [
        [{ cursor: 'nonsense' }, 'query.cursor'],
        [{ cursor: Buffer.from('2026-03-04T09:00:00Z|abc').toString('base64url') }, 'query.cursor'],
        [{ cursor: Buffer.from('2026-03-04T09:00:00.000Z|').toString('base64url') }, 'query.cursor'],
        [{ since: 'yesterday' }, 'query.since'],
        [{ until: '2026-02-30T00:00:00Z' }, 'query.until'],
        [{ since: '0000-01-01T00:00:00+01:00' }, 'query.since'],
        [{ since: '2026-03-04T10:00:00Z', until: '2026-03-04T10:00:00Z' }, 'query.until'],
        [{ limit: 0 }, 'query.limit'],
        [{ limit: 501 }, 'query.limit'],
      ];
      for (const [q, path] of bad) {
        const error = await query.list(q).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(refusal(error), JSON.stringify(q)).toEqual({ code: 'FB_ERR_VALIDATION', details: [{ path }] });
      }
    });

    it("gives an incident's alerts oldest first; an unknown incident is not found", async () => {
      const mine = all.filter((a) => a.incident_id === 'INC-2026-003');
      expect(mine.length).toBeGreaterThan(0);
      expect(await query.ofIncident('INC-2026-003')).toEqual([...mine].reverse());
      const error = await query.ofIncident('INC-2026-999').catch((e: unknown) => e);
      expect(refusal(error)).toEqual({ code: 'FB_ERR_INCIDENT_NOT_FOUND', details: [] });
      expect(await query.alertsOf('INC-2026-999')).toEqual([]);
    });
  });
}
