/**
 * Alerts from other tools end to end: Alertmanager's webhook (POST /v1/webhooks/alertmanager)
 * and PagerDuty's Events API v2 (POST /v2/enqueue) on a real server, with the vendors'
 * documented payloads (test/fixtures, see its README), on both dialects.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../src/api/http-errors.js';
import type { Incident, TimelineRecord } from '../src/incidents/index.js';
import { VirtualClock } from '../src/kernel/index.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

type Json = Record<string, unknown>;
const fixture = (name: string): Json =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as Json;

interface OutsideResult {
  dedup_key: string;
  outcome: string;
  occurrence: number | null;
  fingerprint: string | null;
  incident: string | null;
  intake?: string;
}
type IncidentWithTimeline = Incident & { timeline: TimelineRecord[] };
interface PagerDutyAnswer {
  status: string;
  message: string;
  dedup_key?: string;
  errors?: string[];
}

const NOW = '2026-03-02T12:00:00.000Z';

describe.each(DIALECTS)('alerts from other tools ($name)', ({ name: dialect, skip }) => {
  let s: TestServer;
  const keys = { ingest: '', read: '' };

  beforeAll(async () => {
    if (skip) return;
    s = await startTestServer(dialect, { clock: new VirtualClock(NOW) });
    for (const [name, scopes] of [
      ['ingest', ['ingest']],
      ['read', ['read']],
    ] as const) {
      const created = await call<{ key: string }>(s.url, 'POST', '/v1/keys', {
        key: s.adminKey,
        json: { name: `webhook-${name}`, scopes },
      });
      expect(created.status).toBe(201);
      keys[name] = created.body.key;
    }
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  /** `key` null: no Authorization header. */
  const alertmanager = (json: Json, key: string | null = keys.ingest) =>
    call<{ alerts: OutsideResult[] }>(s.url, 'POST', '/v1/webhooks/alertmanager', {
      ...(key === null ? {} : { key }),
      json,
    });
  const enqueue = (json: unknown) => call<PagerDutyAnswer>(s.url, 'POST', '/v2/enqueue', { json });
  const pagerduty = (name: string, overrides: Json = {}) =>
    enqueue({ ...fixture(name), routing_key: keys.ingest, ...overrides });
  const incident = async (id: string) => {
    const got = await call<IncidentWithTimeline>(s.url, 'GET', `/v1/incidents/${id}`, { key: keys.read });
    expect(got.status).toBe(200);
    return got.body;
  };
  const incidentCount = async () => {
    const list = await call<{ items: Incident[] }>(s.url, 'GET', '/v1/incidents?limit=100', {
      key: keys.read,
    });
    return list.body.items.length;
  };

  it.skipIf(skip)(
    'Alertmanager: firing opens an incident; again is the same alert; resolved is recorded',
    async () => {
      const before = await incidentCount();
      const firing = await alertmanager(fixture('alertmanager-firing'));
      expect(firing.status).toBe(200);
      expect(firing.body.alerts).toHaveLength(1);
      const [opened] = firing.body.alerts;
      expect(opened).toMatchObject({ outcome: 'opened', intake: 'created', occurrence: 1 });
      expect(opened!.dedup_key).toContain('#1a30ba71cca2921f');
      const inc = await incident(opened!.incident!);
      expect(inc.severity).toBe('P0'); // severity="critical"
      expect(inc.title).toBe('Checkout error rate above 5% on shop-web-1 (job shop)');
      expect(inc.detected_at).toBe('2026-03-02T08:52:26.739Z');
      const joined = inc.timeline.filter((r) => r.kind === 'alert_joined');
      expect(joined).toHaveLength(1);
      expect(joined[0]!.data).toMatchObject({
        rule: 'alertmanager:CheckoutErrorRate',
        fingerprint: opened!.fingerprint,
        group: { job: 'shop' },
        via: 'opened',
      });

      // Alertmanager repeats the notification (repeat_interval): the same alert, no new incident.
      const again = await alertmanager(fixture('alertmanager-firing'));
      expect(again.body.alerts[0]).toMatchObject({
        outcome: 'deduplicated',
        incident: opened!.incident,
        fingerprint: opened!.fingerprint,
      });
      expect(await incidentCount()).toBe(before + 1);

      const resolved = await alertmanager(fixture('alertmanager-resolved'));
      expect(resolved.status).toBe(200);
      expect(resolved.body.alerts[0]).toMatchObject({ outcome: 'resolved', incident: opened!.incident });
      const after = await incident(opened!.incident!);
      expect(after.status).toBe('detected'); // recorded, not resolved for the responders
      const record = after.timeline.find((r) => r.kind === 'outside_alert');
      expect(record?.data).toMatchObject({
        source: 'alertmanager',
        action: 'resolved',
        occurrence: 1,
        fingerprint: opened!.fingerprint,
      });

      // Resolved again: no open alert of that key, nothing happens.
      const twice = await alertmanager(fixture('alertmanager-resolved'));
      expect(twice.body.alerts[0]).toMatchObject({ outcome: 'ignored', incident: null });

      // Firing after resolved: a new alert (occurrence 2), joining the still open incident.
      const refired = await alertmanager(fixture('alertmanager-firing'));
      expect(refired.body.alerts[0]).toMatchObject({
        outcome: 'opened',
        intake: 'joined',
        occurrence: 2,
        incident: opened!.incident,
      });
      expect(refired.body.alerts[0]!.fingerprint).not.toBe(opened!.fingerprint);
      expect(await incidentCount()).toBe(before + 1);
    },
  );

  it.skipIf(skip)('Alertmanager: severity from labels, firebreak_severity first', async () => {
    const base = fixture('alertmanager-firing');
    const [alert] = base.alerts as Json[];
    const send = (groupKey: string, labels: Json) =>
      alertmanager({
        ...base,
        groupKey,
        groupLabels: { alertname: 'DiskFull', job: groupKey },
        alerts: [{ ...alert, labels: { alertname: 'DiskFull', ...labels } }],
      });
    for (const [labels, severity] of [
      [{ severity: 'warning' }, 'P2'],
      [{ severity: 'error' }, 'P1'],
      [{}, 'P3'],
      [{ severity: 'info', firebreak_severity: 'P1' }, 'P1'],
    ] as const) {
      const answer = await send(`sev-${JSON.stringify(labels)}`, labels);
      expect(answer.status).toBe(200);
      expect((await incident(answer.body.alerts[0]!.incident!)).severity).toBe(severity);
    }
  });

  it.skipIf(skip)('Alertmanager: bad payloads and credentials get Firebreak errors', async () => {
    const expectError = (r: { status: number; body: unknown }, status: number, code: string) => {
      expect({ status: r.status, code: (r.body as ErrorBody).error?.code }).toEqual({ status, code });
    };
    expectError(
      await alertmanager({ ...fixture('alertmanager-firing'), version: '3' }),
      400,
      'FB_ERR_VALIDATION',
    );
    const { groupKey: _gone, ...noGroupKey } = fixture('alertmanager-firing');
    expectError(await alertmanager(noGroupKey), 400, 'FB_ERR_VALIDATION');
    const raw = await call(s.url, 'POST', '/v1/webhooks/alertmanager', {
      key: keys.ingest,
      raw: '{"version":',
    });
    expectError(raw, 400, 'FB_ERR_MALFORMED_JSON');
    expectError(await alertmanager(fixture('alertmanager-firing'), null), 401, 'FB_ERR_AUTH_MISSING');
    expectError(await alertmanager(fixture('alertmanager-firing'), keys.read), 403, 'FB_ERR_SCOPE');
  });

  it.skipIf(skip)('PagerDuty: trigger, dedup, acknowledge, resolve, trigger after resolve', async () => {
    const before = await incidentCount();
    const trigger = await pagerduty('pagerduty-trigger');
    expect(trigger.status).toBe(202);
    expect(trigger.body).toEqual({
      status: 'success',
      message: 'Event processed',
      dedup_key: 'samplekeyhere',
    });
    expect(await incidentCount()).toBe(before + 1);
    const list = await call<{ items: Incident[] }>(s.url, 'GET', '/v1/incidents?limit=1', { key: keys.read });
    const inc = await incident(list.body.items[0]!.id);
    expect(inc.severity).toBe('P3'); // severity "info"
    expect(inc.title).toMatch(/^Example alert on host1\.example\.com/);
    expect(inc.timeline.find((r) => r.kind === 'alert_joined')?.data).toMatchObject({
      rule: 'pagerduty:postgres',
      group: { group: 'prod-datapipe' },
    });

    // The same dedup_key again: the open alert, no second incident.
    expect((await pagerduty('pagerduty-trigger')).status).toBe(202);
    expect(await incidentCount()).toBe(before + 1);

    const ack = await pagerduty('pagerduty-acknowledge', { dedup_key: 'samplekeyhere' });
    expect(ack.status).toBe(202);
    expect(ack.body).toEqual({ status: 'success', message: 'Event processed', dedup_key: 'samplekeyhere' });
    const resolve = await pagerduty('pagerduty-resolve', { dedup_key: 'samplekeyhere' });
    expect(resolve.status).toBe(202);
    const recorded = (await incident(inc.id)).timeline.filter((r) => r.kind === 'outside_alert');
    expect(recorded.map((r) => r.data)).toMatchObject([
      { source: 'pagerduty', dedup_key: 'samplekeyhere', occurrence: 1, action: 'acknowledged' },
      { source: 'pagerduty', dedup_key: 'samplekeyhere', occurrence: 1, action: 'resolved' },
    ]);
    expect((await incident(inc.id)).status).toBe('detected');

    // A trigger after the resolve is a new alert: it joins the incident still open for it.
    expect((await pagerduty('pagerduty-trigger')).status).toBe(202);
    const joined = (await incident(inc.id)).timeline.filter((r) => r.kind === 'alert_joined');
    expect(joined).toHaveLength(2);
    expect(joined[1]!.data).toMatchObject({ via: 'rule_group' });
    expect(joined[1]!.data.fingerprint).not.toBe(joined[0]!.data.fingerprint);
    expect(await incidentCount()).toBe(before + 1);
  });

  it.skipIf(skip)(
    'PagerDuty: a trigger without dedup_key gets a new one; unknown keys are dropped',
    async () => {
      const { dedup_key: _none, ...bare } = fixture('pagerduty-trigger');
      const first = await enqueue({ ...bare, routing_key: keys.ingest });
      const second = await enqueue({ ...bare, routing_key: keys.ingest });
      expect([first.status, second.status]).toEqual([202, 202]);
      expect(first.body.dedup_key).toMatch(/^[0-9a-f-]{36}$/);
      expect(second.body.dedup_key).not.toBe(first.body.dedup_key);

      const before = await incidentCount();
      for (const name of ['pagerduty-acknowledge', 'pagerduty-resolve']) {
        const answer = await pagerduty(name); // "dedupkeyhere" was never triggered
        expect(answer.status).toBe(202);
        expect(answer.body).toEqual({
          status: 'success',
          message: 'Event processed',
          dedup_key: 'dedupkeyhere',
        });
      }
      expect(await incidentCount()).toBe(before);
    },
  );

  it.skipIf(skip)("PagerDuty: bad events and routing keys get 400 in PagerDuty's shape", async () => {
    const invalid = (r: { status: number; body: PagerDutyAnswer }, error: RegExp) => {
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ status: 'invalid event', message: 'Event object is invalid' });
      expect(r.body.errors!.some((e) => error.test(e))).toBe(true);
    };
    invalid(await enqueue(fixture('pagerduty-trigger')), /'routing_key' is invalid/); // "samplekeyhere"
    const { routing_key: _gone, ...noKey } = fixture('pagerduty-trigger');
    invalid(await enqueue(noKey), /'routing_key' is missing/);
    invalid(await enqueue({ ...fixture('pagerduty-trigger'), routing_key: keys.read }), /scope ingest/);
    invalid(await pagerduty('pagerduty-trigger', { event_action: 'escalate' }), /'event_action'/);
    const payload = fixture('pagerduty-trigger').payload as Json;
    invalid(await pagerduty('pagerduty-trigger', { payload: { ...payload, severity: 'high' } }), /severity/);
    const { summary: _s, ...noSummary } = payload;
    invalid(await pagerduty('pagerduty-trigger', { payload: noSummary }), /'payload.summary'/);
    invalid(await pagerduty('pagerduty-resolve', { dedup_key: undefined }), /'dedup_key'/);
    invalid(await pagerduty('pagerduty-trigger', { dedup_key: 'x'.repeat(256) }), /'dedup_key'/);
    const raw = await call<PagerDutyAnswer>(s.url, 'POST', '/v2/enqueue', { raw: '{"routing_key":' });
    invalid(raw, /JSON|json|Unexpected|Expected/);
  });
});
