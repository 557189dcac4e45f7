/**
 * Ingest backpressure end to end (SQLite and PostgreSQL): with detection held back, ingest is
 * refused with 503 and Retry-After once the lag passes the limit, before anything is appended,
 * and the syslog listener holds its appends; /health and /metrics show it; once detection
 * catches up ingest is accepted again and what syslog held lands. And a cap on ingest requests
 * in flight answers 429 while one is held open.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../src/api/index.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

interface HealthAnswer {
  status: string;
  ingest: { lag: number; lag_limit: number; backpressure: boolean; in_flight: number };
}

/** An admin's failed login (the rule admin-login-failures fires on four). */
const adminFailure = (n: number) => ({
  '@timestamp': new Date(Date.parse('2026-03-02T10:00:00Z') + n * 1000).toISOString(),
  event: { action: 'login', outcome: 'failure' },
  user: { name: 'dana', roles: ['admin'] },
  source: { ip: '203.0.113.7' },
});

/** Prometheus text format → `name{labels}` → value; checks every family has HELP and TYPE. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  const typed = new Set<string>();
  const helped = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\w+) (.+)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? helped : typed).add(meta[2]!);
      if (meta[1] === 'TYPE') expect(['counter', 'gauge']).toContain(meta[3]);
      continue;
    }
    const sample = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    expect(sample, `a sample line: ${line}`).not.toBeNull();
    const name = sample![1]!;
    expect(typed.has(name) && helped.has(name), `${name} has HELP and TYPE`).toBe(true);
    values.set(`${name}${sample![2] ?? ''}`, Number(sample![3]));
  }
  return values;
}

async function metrics(s: TestServer): Promise<Map<string, number>> {
  const response = await fetch(new URL('/metrics', s.url));
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await response.text());
}

const health = async (s: TestServer) => (await call<HealthAnswer>(s.url, 'GET', '/health')).body;

async function ingestKey(s: TestServer): Promise<string> {
  const created = await call<{ key: string }>(s.url, 'POST', '/v1/keys', {
    key: s.adminKey,
    json: { name: 'storefront', scopes: ['ingest'] },
  });
  expect(created.status).toBe(201);
  return created.body.key;
}

for (const d of DIALECTS)
  describe.skipIf(d.skip)(`backpressure: detection behind the log, on ${d.name}`, () => {
    let s: TestServer;
    let key: string;
    beforeAll(async () => {
      s = await startTestServer(d.name, {
        startDetection: false,
        ingestLimits: { lagLimit: 10, lagRefreshMs: 0 },
        syslogTcpPort: 0,
      });
      key = await ingestKey(s);
    });
    afterAll(() => s?.cleanup());

    const post = (events: unknown[]) => call(s.url, 'POST', '/v1/events', { key, json: events });

    it('refuses ingest past the lag limit, shows it, and lets go once detection catches up', async () => {
      expect((await post([0, 1, 2, 3].map(adminFailure))).status).toBe(200);
      expect(await health(s)).toMatchObject({
        status: 'ok',
        ingest: { lag: 4, lag_limit: 10, backpressure: false },
      });
      // Lag 4 ≤ 10: admitted, and takes the lag to 12.
      const second = await post([4, 5, 6, 7, 8, 9, 10, 11].map(adminFailure));
      expect(second.status).toBe(200);
      expect((second.body as { last_seq: number }).last_seq).toBe(12);

      const refused = await post([adminFailure(12)]);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      const error = (refused.body as ErrorBody).error;
      expect(error.code).toBe('FB_ERR_BACKPRESSURE');
      expect(error.message).toContain('12 events behind');
      expect(error.message).toContain('limit 10');

      // The webhooks too: Alertmanager in Firebreak's shape, PagerDuty in its own (429).
      const alertmanager = await call(s.url, 'POST', '/v1/webhooks/alertmanager', { key, json: {} });
      expect(alertmanager.status).toBe(503);
      expect(alertmanager.headers.get('retry-after')).toBe('5');
      expect((alertmanager.body as ErrorBody).error.code).toBe('FB_ERR_BACKPRESSURE');
      const pagerduty = await call(s.url, 'POST', '/v2/enqueue', { json: { routing_key: key } });
      expect(pagerduty.status).toBe(429);
      expect(pagerduty.headers.get('retry-after')).toBe('5');
      expect(pagerduty.body).toMatchObject({ status: 'throttle exceeded' });

      // Syslog is held, not refused (it has no answer to give): a line sent now waits.
      const syslog = connect(s.server.syslogPorts!.tcpPort!, '127.0.0.1');
      await new Promise<void>((resolve) => syslog.once('connect', () => resolve()));
      syslog.end(
        '<38>1 2026-03-02T10:00:13.000Z web1 sshd 4242 - - Failed password for root from 198.51.100.9 port 52000 ssh2\n',
      );
      await new Promise((resolve) => setTimeout(resolve, 300));

      // Nothing was appended: the head (= lag, detection has not run) is still 12.
      await expect
        .poll(() => health(s))
        .toMatchObject({
          status: 'degraded',
          ingest: { lag: 12, lag_limit: 10, backpressure: true, in_flight: 0 },
        });
      const before = await metrics(s);
      expect(before.get('firebreak_events_accepted_total{source="http"}')).toBe(12);
      expect(before.get('firebreak_events_rejected_total{source="http"}')).toBe(0);
      expect(before.get('firebreak_ingest_backpressure_total')).toBe(3);
      expect(before.get('firebreak_ingest_busy_total')).toBe(0);
      expect(before.get('firebreak_detection_lag_events')).toBe(12);
      expect(before.get('firebreak_detection_lag_limit_events')).toBe(10);
      expect(before.get('firebreak_detection_position')).toBe(0);
      expect(before.get('firebreak_alerts_total')).toBe(0);
      expect(before.get('firebreak_incidents_opened_total')).toBe(0);

      await s.server.startDetection();
      await expect
        .poll(() => health(s), { timeout: 10_000 })
        .toMatchObject({ status: 'ok', ingest: { lag: 0, backpressure: false } });
      // The held syslog line goes in once detection has caught up (the listener asks every 250 ms): seq 13.
      const syslogEvents = async () =>
        (
          await call<{ events: { seq: number; source: string }[] }>(
            s.url,
            'GET',
            '/v1/events?from=2026-03-02T10:00:13Z&to=2026-03-02T10:00:14Z',
            { key: s.adminKey },
          )
        ).body.events;
      await expect
        .poll(syslogEvents, { timeout: 5_000 })
        .toEqual([expect.objectContaining({ seq: 13, source: 'syslog' })]);
      const accepted = await post([adminFailure(12), { bad: 'event' }]);
      expect(accepted.status).toBe(200);
      expect(accepted.body).toMatchObject({ accepted: 1, last_seq: 14 });

      await expect.poll(async () => (await metrics(s)).get('firebreak_detection_position')).toBe(14);
      const after = await metrics(s);
      expect(after.get('firebreak_events_accepted_total{source="http"}')).toBe(13);
      expect(after.get('firebreak_events_accepted_total{source="syslog"}')).toBe(1);
      expect(after.get('firebreak_events_rejected_total{source="http"}')).toBe(1);
      expect(after.get('firebreak_ingest_backpressure_total')).toBe(3);
      expect(after.get('firebreak_detection_lag_events')).toBe(0);
      expect(after.get('firebreak_alerts_total')).toBeGreaterThanOrEqual(1);
      expect(after.get('firebreak_incidents_opened_total')).toBeGreaterThanOrEqual(1);
    });
  });

describe('backpressure: ingest requests in flight', () => {
  let s: TestServer;
  let key: string;
  beforeAll(async () => {
    s = await startTestServer('sqlite', { ingestLimits: { maxInFlight: 1 } });
    key = await ingestKey(s);
  });
  afterAll(() => s?.cleanup());

  it('answers 429 while the one slot is held by a slow body, and admits again once it is free', async () => {
    // A request whose body never finishes: it holds the slot while its body is read.
    const url = new URL('/v1/events', s.url);
    const held = httpRequest({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': 1000 },
    });
    held.on('error', () => {});
    held.write('[');
    await expect.poll(async () => (await health(s)).ingest.in_flight).toBe(1);

    const busy = await call(s.url, 'POST', '/v1/events', { key, json: [adminFailure(0)] });
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect((busy.body as ErrorBody).error.code).toBe('FB_ERR_INGEST_BUSY');
    expect((await metrics(s)).get('firebreak_ingest_busy_total')).toBe(1);

    held.destroy();
    await expect.poll(async () => (await health(s)).ingest.in_flight).toBe(0);
    const admitted = await call(s.url, 'POST', '/v1/events', { key, json: [adminFailure(0)] });
    expect(admitted.status).toBe(200);
  });
});
