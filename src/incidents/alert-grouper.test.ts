import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import { type Alert, alertFingerprint } from '../detect/index.js';
import { VirtualClock } from '../kernel/index.js';
import { loadPolicyFile, type Severity } from '../policy/index.js';
import { AlertGrouper, groupKey, withinWindow } from './alert-grouper.js';
import { IncidentService } from './incident-service.js';

const KCT = loadPolicyFile(fileURLToPath(new URL('../../policies/kct-menswear.yaml', import.meta.url)));
/** A Wednesday, inside KCT business hours. */
const NOW = '2026-03-04T10:00:00.000Z';
const T0 = Date.parse('2026-03-04T09:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DANA = { 'user.name': 'dana' };
const IP = { 'source.ip': '203.0.113.7' };

/** An alert as the engine would give it, its window ending `atMs` after T0. */
function alert(
  rule: string,
  severity: Severity,
  group: Record<string, string>,
  atMs: number,
  value = 4,
): Alert {
  const end = T0 + atMs;
  return {
    rule,
    title: `Title of ${rule}`,
    severity,
    group,
    value,
    start: end - 4 * MIN,
    end,
    events: 4,
    trigger: 17,
    fingerprint: alertFingerprint(rule, groupKey(group), end),
  };
}

describe('groupKey', () => {
  it('is canonical: sorted by field, whatever order the rule grouped in', () => {
    expect(groupKey({ 'user.name': 'dana', 'source.ip': '203.0.113.7' })).toBe(
      'source.ip=203.0.113.7&user.name=dana',
    );
    expect(groupKey({ 'source.ip': '203.0.113.7', 'user.name': 'dana' })).toBe(
      groupKey({ 'user.name': 'dana', 'source.ip': '203.0.113.7' }),
    );
    expect(groupKey({})).toBe('');
  });

  it('cannot make two different groups look alike', () => {
    expect(groupKey({ a: 'x&b=y' })).not.toBe(groupKey({ a: 'x', b: 'y' }));
    expect(groupKey({ 'a=b': 'c' })).not.toBe(groupKey({ a: 'b=c' }));
  });
});

describe('withinWindow', () => {
  it('includes both ends, measured from the first and the latest alert', () => {
    expect(withinWindow(100 + HOUR, 50, 100, HOUR)).toBe(true);
    expect(withinWindow(101 + HOUR, 50, 100, HOUR)).toBe(false);
    expect(withinWindow(50 - HOUR, 50, 100, HOUR)).toBe(true);
    expect(withinWindow(49 - HOUR, 50, 100, HOUR)).toBe(false);
    expect(withinWindow(75, 50, 100, 0)).toBe(true);
  });
});

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`AlertGrouper on ${d.name}`, () => {
    let ts: TestStore;
    let audit: AuditLog;
    let clock: VirtualClock;
    let incidents: IncidentService;
    let grouper: AlertGrouper;

    beforeEach(async () => {
      ts = await freshStore(d.name);
      audit = new AuditLog(ts.store.dialect);
      clock = new VirtualClock(NOW);
      incidents = new IncidentService({ store: ts.store, audit, policy: KCT, clock });
      grouper = new AlertGrouper({ store: ts.store, incidents, clock });
    });
    afterEach(async () => {
      try {
        expect(await audit.verify(ts.store.db)).toMatchObject({ ok: true });
      } finally {
        await ts.cleanup();
      }
    });

    const kinds = async (id: string) => (await incidents.timeline(id)).map((t) => t.kind);
    const all = async () => (await incidents.list({ limit: 100 })).items;

    it('opens an incident for a new alert: the rule’s severity, detected at the alert’s time', async () => {
      const a = alert('admin-login-failures', 'P0', DANA, 0);
      const result = await grouper.intake([a]);
      expect(result).toMatchObject({ created: 1, joined: 0, correlated: 0, duplicates: 0, raised: 0 });
      expect(result.alerts).toEqual([
        { fingerprint: a.fingerprint, rule: a.rule, outcome: 'created', incident: 'INC-2026-001' },
      ]);

      const incident = await incidents.get('INC-2026-001');
      expect(incident).toMatchObject({
        title: 'Title of admin-login-failures (user.name dana)',
        severity: 'P0',
        status: 'detected',
        detected_at: new Date(T0).toISOString(),
        created_by: 'detection',
      });
      expect(incident.summary).toBe(
        'Rule admin-login-failures held for user.name dana: value 4 over 4 events from 2026-03-04T08:56:00.000Z to 2026-03-04T09:00:00.000Z.',
      );
      const timeline = await incidents.timeline(incident.id);
      expect(timeline.map((t) => t.kind)).toEqual(['created', 'alert_joined']);
      expect(timeline[1]).toMatchObject({
        actor: 'detection',
        data: {
          rule: 'admin-login-failures',
          fingerprint: a.fingerprint,
          severity: 'P0',
          group: DANA,
          value: 4,
          end: new Date(T0).toISOString(),
          via: 'opened',
        },
      });
      expect(await grouper.alertsOf(incident.id)).toEqual([
        {
          fingerprint: a.fingerprint,
          rule: a.rule,
          title: a.title,
          severity: 'P0',
          group: DANA,
          value: 4,
          start: new Date(a.start).toISOString(),
          end: new Date(a.end).toISOString(),
          events: 4,
          trigger: '17',
          incident_id: incident.id,
          created_at: NOW,
        },
      ]);
      expect(await audit.count(ts.store.db)).toBe(2);
    });

    it('joins an alert of the same rule and group to the open incident, on its timeline', async () => {
      const first = alert('account-login-failures', 'P2', DANA, 0);
      const again = alert('account-login-failures', 'P2', DANA, 3 * HOUR);
      const other = alert('account-login-failures', 'P2', { 'user.name': 'erin' }, 10 * MIN);
      const result = await grouper.intake([first, other, again]);
      expect(result.alerts.map((r) => [r.outcome, r.incident])).toEqual([
        ['created', 'INC-2026-001'],
        ['created', 'INC-2026-002'],
        // Hours later still: the same rule and group joins while the incident is open.
        ['joined', 'INC-2026-001'],
      ]);
      expect(await kinds('INC-2026-001')).toEqual(['created', 'alert_joined', 'alert_joined']);
      const joined = (await incidents.timeline('INC-2026-001'))[2]!;
      expect(joined).toMatchObject({
        kind: 'alert_joined',
        data: { rule: 'account-login-failures', fingerprint: again.fingerprint, via: 'rule_group' },
      });
      expect((await grouper.alertsOf('INC-2026-001')).map((a) => a.fingerprint)).toEqual([
        first.fingerprint,
        again.fingerprint,
      ]);
      expect(await grouper.count()).toBe(3);
      // A join is a change to the incident: its version moves.
      expect((await incidents.get('INC-2026-001')).version).toBe(3);
    });

    it('correlates an alert of another rule on the same source.ip or user.name within the window', async () => {
      await grouper.intake([alert('api-flood', 'P1', IP, 0)]);
      const byIp = await grouper.intake([alert('user-login-failures-per-ip', 'P1', IP, 20 * MIN)]);
      expect(byIp.alerts[0]).toMatchObject({
        outcome: 'correlated',
        incident: 'INC-2026-001',
        entity: { field: 'source.ip', value: '203.0.113.7' },
      });

      // A user.name alert shares nothing with an IP-only incident ...
      const dana = await grouper.intake([alert('account-login-failures', 'P2', DANA, 25 * MIN)]);
      expect(dana.alerts[0]).toMatchObject({ outcome: 'created', incident: 'INC-2026-002' });
      // ... and an alert grouped by both correlates through either.
      const both = await grouper.intake([
        alert('login-new-country', 'P2', { 'user.name': 'dana', 'source.ip': '198.51.100.9' }, 30 * MIN),
      ]);
      expect(both.alerts[0]).toMatchObject({
        outcome: 'correlated',
        incident: 'INC-2026-002',
        entity: { field: 'user.name', value: 'dana' },
      });
      const timeline = await incidents.timeline('INC-2026-002');
      expect(timeline.at(-1)).toMatchObject({
        kind: 'alert_joined',
        data: { rule: 'login-new-country', via: 'entity', entity: { field: 'user.name', value: 'dana' } },
      });
      // Its other value is now the incident's too: an alert on 198.51.100.9 joins it.
      const ip2 = await grouper.intake([alert('api-flood', 'P1', { 'source.ip': '198.51.100.9' }, 40 * MIN)]);
      expect(ip2.alerts[0]).toMatchObject({ outcome: 'correlated', incident: 'INC-2026-002' });
      expect((await all()).length).toBe(2);
    });

    it('does not correlate on fields that are not entities, nor an ungrouped alert', async () => {
      await grouper.intake([alert('error-rate-high', 'P2', { 'service.name': 'storefront' }, 0)]);
      await grouper.intake([alert('payment-failure-rate', 'P0', {}, 5 * MIN)]);
      const r = await grouper.intake([
        alert('latency-severe', 'P1', { 'service.name': 'storefront' }, 10 * MIN),
        alert('payment-failure-rate', 'P0', {}, 20 * MIN),
      ]);
      expect(r.alerts.map((x) => [x.outcome, x.incident])).toEqual([
        ['created', 'INC-2026-003'],
        // An ungrouped rule's alerts still join each other by rule.
        ['joined', 'INC-2026-002'],
      ]);
    });

    it('takes the entity fields and the window from its options', async () => {
      const wide = new AlertGrouper({
        store: ts.store,
        incidents,
        clock,
        entityFields: ['service.name'],
        correlationWindowMs: 0,
      });
      await wide.intake([alert('error-rate-high', 'P2', { 'service.name': 'storefront' }, 0)]);
      const r = await wide.intake([
        alert('latency-severe', 'P1', { 'service.name': 'storefront' }, 0),
        alert('latency-degradation', 'P2', { 'service.name': 'storefront' }, 1),
      ]);
      expect(r.alerts.map((x) => [x.outcome, x.incident])).toEqual([
        ['correlated', 'INC-2026-001'],
        ['created', 'INC-2026-002'],
      ]);
    });

    it('raises the severity of the incident an alert joins, restarting its clocks, and never lowers it', async () => {
      await grouper.intake([alert('account-login-failures', 'P2', DANA, 0)]);
      const before = await incidents.get('INC-2026-001');
      expect(before.severity).toBe('P2');

      clock.advance(10 * MIN);
      const raised = await grouper.intake([alert('admin-login-failures', 'P0', DANA, 5 * MIN)]);
      expect(raised).toMatchObject({ correlated: 1, raised: 1 });
      expect(raised.alerts[0]).toMatchObject({
        outcome: 'correlated',
        incident: 'INC-2026-001',
        raised: { from: 'P2', to: 'P0' },
      });
      const after = await incidents.get('INC-2026-001');
      const now = clock.now().getTime();
      // KCT: P0 acknowledge within 2 min, respond within 15 min, from the moment of the change.
      expect(after).toMatchObject({
        severity: 'P0',
        detected_at: before.detected_at,
        ack_by: new Date(now + 2 * MIN).toISOString(),
        respond_by: new Date(now + 15 * MIN).toISOString(),
      });
      const timeline = await incidents.timeline('INC-2026-001');
      expect(timeline.map((t) => t.kind)).toEqual([
        'created',
        'alert_joined',
        'alert_joined',
        'severity_raised',
      ]);
      expect(timeline[3]).toMatchObject({
        actor: 'detection',
        data: {
          from: 'P2',
          to: 'P0',
          rule: 'admin-login-failures',
          fingerprint: raised.alerts[0]!.fingerprint,
        },
      });

      // A P3 alert joins, and the incident stays P0 with its clocks as they were.
      clock.advance(MIN);
      const lower = await grouper.intake([alert('admin-off-hours-activity', 'P3', DANA, 8 * MIN)]);
      expect(lower.alerts[0]).toMatchObject({ outcome: 'correlated', incident: 'INC-2026-001' });
      expect(lower.alerts[0]!.raised).toBeUndefined();
      expect(await incidents.get('INC-2026-001')).toMatchObject({
        severity: 'P0',
        ack_by: after.ack_by,
        respond_by: after.respond_by,
      });
      expect(await kinds('INC-2026-001')).toEqual([
        'created',
        'alert_joined',
        'alert_joined',
        'severity_raised',
        'alert_joined',
      ]);
      // Same rule, a higher severity (the rule was edited): joins and raises too.
      const p1 = await grouper.intake([alert('other', 'P3', IP, 0)]);
      const edited = await grouper.intake([alert('other', 'P1', IP, 5 * MIN)]);
      expect(edited.alerts[0]).toMatchObject({
        outcome: 'joined',
        incident: p1.alerts[0]!.incident,
        raised: { from: 'P3', to: 'P1' },
      });
    });

    it('opens a new incident for an alert outside the correlation window (both ends included)', async () => {
      const ERIN = { 'user.name': 'erin' };
      const FRANK = { 'user.name': 'frank' };
      await grouper.intake([
        alert('account-login-failures', 'P2', DANA, 0),
        alert('account-login-failures', 'P2', DANA, 30 * MIN),
        alert('account-login-failures', 'P2', ERIN, 0),
        alert('account-login-failures', 'P2', FRANK, 0),
      ]);
      const r = await grouper.intake([
        // dana's incident spans 09:00–09:30: exactly an hour after its latest alert still joins.
        alert('login-new-country', 'P2', DANA, 30 * MIN + HOUR),
        // erin's: a millisecond past the hour does not.
        alert('login-new-country', 'P2', ERIN, HOUR + 1),
        // frank's: an hour before its first alert joins (a late event) and widens the span ...
        alert('unauthorized-order-access', 'P1', FRANK, -HOUR),
        // ... so two hours before its former first is within an hour of the new first; a
        // millisecond more is not.
        alert('admin-off-hours-activity', 'P2', FRANK, -2 * HOUR),
        alert('admin-created-off-hours', 'P1', FRANK, -3 * HOUR - 1),
      ]);
      expect(r.alerts.map((x) => [x.outcome, x.incident])).toEqual([
        ['correlated', 'INC-2026-001'],
        ['created', 'INC-2026-004'],
        ['correlated', 'INC-2026-003'],
        ['correlated', 'INC-2026-003'],
        ['created', 'INC-2026-005'],
      ]);
    });

    it('opens a new incident for the same rule and group once the first is resolved', async () => {
      await grouper.intake([alert('admin-login-failures', 'P0', DANA, 0)]);
      await incidents.transition('key:k1 (ops)', 'INC-2026-001', 'acknowledged');
      await incidents.transition(
        'key:k1 (ops)',
        'INC-2026-001',
        'resolved',
        'false positive: a test account',
      );
      const before = await kinds('INC-2026-001');

      const r = await grouper.intake([
        alert('admin-login-failures', 'P0', DANA, 10 * MIN),
        // Nor does another rule on the same entity correlate with the resolved incident.
        alert('account-login-failures', 'P2', { 'user.name': 'dana' }, 11 * MIN),
      ]);
      expect(r.alerts.map((x) => [x.outcome, x.incident])).toEqual([
        ['created', 'INC-2026-002'],
        ['correlated', 'INC-2026-002'],
      ]);
      expect(await kinds('INC-2026-001')).toEqual(before);
      expect((await incidents.get('INC-2026-001')).status).toBe('resolved');

      // Closed counts as not open too.
      await incidents.transition('key:k1 (ops)', 'INC-2026-002', 'acknowledged');
      await incidents.transition('key:k1 (ops)', 'INC-2026-002', 'resolved', 'test');
      await incidents.transition('key:k1 (ops)', 'INC-2026-002', 'closed');
      const again = await grouper.intake([alert('admin-login-failures', 'P0', DANA, 20 * MIN)]);
      expect(again.alerts[0]).toMatchObject({ outcome: 'created', incident: 'INC-2026-003' });
    });

    it('skips replayed fingerprints: no new rows, no new timeline records, no audit entries', async () => {
      const batch = [
        alert('admin-login-failures', 'P0', DANA, 0),
        alert('api-flood', 'P1', IP, 0),
        alert('account-login-failures', 'P2', DANA, 2 * MIN),
      ];
      const first = await grouper.intake(batch);
      const snapshot = async () => ({
        incidents: await all(),
        alerts: await grouper.count(),
        audit: await audit.count(ts.store.db),
        timelines: [await kinds('INC-2026-001'), await kinds('INC-2026-002')],
      });
      const before = await snapshot();
      expect(before.alerts).toBe(3);

      clock.advance(5 * MIN);
      const replay = await grouper.intake(batch);
      expect(replay).toMatchObject({ created: 0, joined: 0, correlated: 0, raised: 0, duplicates: 3 });
      expect(replay.alerts.map((r) => [r.outcome, r.incident])).toEqual(
        first.alerts.map((r) => ['duplicate', r.incident]),
      );
      expect(await snapshot()).toEqual(before);

      // A batch mixing a replayed alert with a new one takes the new one only.
      const next = alert('admin-login-failures', 'P0', DANA, 20 * MIN);
      const mixed = await grouper.intake([batch[0]!, next, next]);
      expect(mixed.alerts.map((r) => r.outcome)).toEqual(['duplicate', 'joined', 'duplicate']);
      expect(await grouper.count()).toBe(4);
    });

    it('is one transaction: an intake that fails midway leaves nothing behind', async () => {
      const good = alert('admin-login-failures', 'P0', DANA, 0);
      const bad = { ...alert('api-flood', 'P1', IP, 0), severity: 'P9' as Severity };
      await expect(grouper.intake([good, bad])).rejects.toThrow();
      expect(await grouper.count()).toBe(0);
      expect(await all()).toEqual([]);
      expect(await audit.count(ts.store.db)).toBe(0);
      // The incident number was given back.
      const r = await grouper.intake([good]);
      expect(r.alerts[0]!.incident).toBe('INC-2026-001');
    });

    it('stores a value that is not a finite number as null, and detects no incident in the future', async () => {
      const ahead = alert('bulk-data-access', 'P0', DANA, 3 * HOUR, Number.POSITIVE_INFINITY);
      await grouper.intake([ahead]);
      const incident = await incidents.get('INC-2026-001');
      expect(incident.detected_at).toBe(NOW);
      expect((await grouper.alertsOf(incident.id))[0]).toMatchObject({
        value: null,
        end: new Date(ahead.end).toISOString(),
      });
      expect((await incidents.timeline(incident.id))[1]).toMatchObject({ data: { value: null } });
    });
  });
}
