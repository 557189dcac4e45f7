/**
 * Reading stored alerts over HTTP on a real server, both dialects: GET /v1/alerts (filters, cursor
 * pages, validation) and GET /v1/incidents/{id}/alerts. The alerts come in as they would in use:
 * detection over events POSTed to /v1/events, and an Alertmanager notification.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../src/api/index.js';
import type { AlertPage, StoredAlert } from '../src/incidents/index.js';
import { VirtualClock } from '../src/kernel/index.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';
import { until } from './helpers/until.js';

const NOW = '2026-03-02T12:00:00.000Z';
/** A Monday 10:00 UTC: inside the policy's business hours. */
const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const MIN = 60_000;
const at = (hhmm: string) => `2026-03-02T${hhmm}:00.000Z`;

const failedAdminLogin = (atMs: number) => ({
  '@timestamp': new Date(T0 + atMs).toISOString(),
  event: { action: 'login', category: ['authentication'], outcome: 'failure' },
  user: { name: 'dana', roles: ['admin'] },
  source: { ip: '203.0.113.7' },
});

/**
 * Twelve Alertmanager alerts of two alert names and three severities, grouped by `job`; several
 * start at the same time, so a page boundary falls between alerts with the same window end.
 */
const STARTS = [
  '09:30',
  '09:30',
  '09:30',
  '09:30',
  '10:30',
  '10:30',
  '10:30',
  '11:00',
  '11:15',
  '11:15',
  '11:30',
  '11:45',
];
const SEVERITY_LABELS = ['critical', 'warning', 'info'];
const notification = {
  version: '4',
  groupKey: '{}:{job="shop"}',
  status: 'firing',
  receiver: 'firebreak',
  groupLabels: { job: 'shop' },
  commonLabels: { job: 'shop' },
  commonAnnotations: {},
  externalURL: 'http://alertmanager.example.com:9093',
  alerts: STARTS.map((hhmm, i) => ({
    status: 'firing',
    labels: {
      alertname: i % 2 === 0 ? 'DiskFull' : 'CheckoutErrorRate',
      instance: `shop-web-${i}:9100`,
      job: 'shop',
      severity: SEVERITY_LABELS[i % 3]!,
    },
    annotations: { summary: `alert ${i}` },
    startsAt: at(hhmm),
    fingerprint: `f${i}`,
  })),
};

type Page = AlertPage;

/** The list's order: window end, then fingerprint, both descending. */
const newestFirst = (a: StoredAlert, b: StoredAlert) =>
  a.end === b.end ? (a.fingerprint < b.fingerprint ? 1 : -1) : a.end < b.end ? 1 : -1;

describe.each(DIALECTS)('GET /v1/alerts ($name)', ({ name: dialect, skip }) => {
  let s: TestServer;
  const keys = { read: '', ingest: '' };
  /** Every stored alert, as the list gives it. */
  let all: StoredAlert[] = [];
  let detectionIncident = '';
  let manualIncident = '';

  const get = <T = Page>(path: string, key: string | null = keys.read) =>
    call<T>(s.url, 'GET', path, key === null ? {} : { key });
  const list = async (query: string) => {
    const answer = await get(`/v1/alerts?${query}`);
    expect(answer.status, answer.text).toBe(200);
    return answer.body;
  };

  beforeAll(async () => {
    if (skip) return;
    s = await startTestServer(dialect, { clock: new VirtualClock(NOW) });
    for (const scope of ['read', 'ingest'] as const) {
      const created = await call<{ key: string }>(s.url, 'POST', '/v1/keys', {
        key: s.adminKey,
        json: { name: `alerts-${scope}`, scopes: [scope] },
      });
      expect(created.status).toBe(201);
      keys[scope] = created.body.key;
    }
    // Four failed admin logins: admin-login-failures (P0) opens the first incident.
    const posted = await call(s.url, 'POST', '/v1/events', {
      key: keys.ingest,
      json: [0, 1, 2, 3].map((i) => failedAdminLogin(i * MIN)),
    });
    expect(posted.status).toBe(200);
    const detected = await until(
      'the alerts',
      () => list(''),
      (page) => page.items.length > 0,
    );
    detectionIncident = detected.items[0]!.incident_id;

    const sent = await call<{ alerts: { outcome: string }[] }>(s.url, 'POST', '/v1/webhooks/alertmanager', {
      key: keys.ingest,
      json: notification,
    });
    expect(sent.status, sent.text).toBe(200);
    expect(sent.body.alerts.map((a) => a.outcome)).toEqual(STARTS.map(() => 'opened'));

    const manual = await call<{ id: string }>(s.url, 'POST', '/v1/incidents', {
      key: s.adminKey,
      json: { title: 'Opened by hand', severity: 'P3' },
    });
    expect(manual.status).toBe(201);
    manualIncident = manual.body.id;

    all = (await list('limit=500')).items;
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it.skipIf(skip)('lists every alert with all its fields, newest window end first', async () => {
    expect(all).toHaveLength(1 + STARTS.length);
    expect(all).toEqual([...all].sort(newestFirst));
    const detection = all.find((a) => a.rule === 'admin-login-failures');
    expect(detection).toEqual({
      fingerprint: expect.stringMatching(/^[0-9a-f]{32}$/),
      rule: 'admin-login-failures',
      title: 'Repeated failed logins to an admin account',
      severity: 'P0',
      group: { 'user.name': 'dana' },
      value: 4,
      start: new Date(T0).toISOString(),
      end: new Date(T0 + 3 * MIN).toISOString(),
      events: 4,
      trigger: expect.stringMatching(/^\d+$/),
      incident_id: detectionIncident,
      created_at: NOW,
    });
    const outside = all.find((a) => a.rule === 'alertmanager:CheckoutErrorRate' && a.end === at('11:45'));
    expect(outside).toMatchObject({
      title: 'alert 11',
      // The `severity` label `info`: P3.
      severity: 'P3',
      group: { job: 'shop' },
      value: 1,
      start: at('11:45'),
      events: 1,
    });
    // The default page is 50: everything, and no cursor.
    expect(await list('')).toEqual({ items: all, next_cursor: null });
  });

  it.skipIf(skip)(
    'filters by rule, incident, severity, since (inclusive) and until (exclusive)',
    async () => {
      const diskFull = all.find((a) => a.rule === 'alertmanager:DiskFull')!.incident_id;
      const cases: [string, (a: StoredAlert) => boolean][] = [
        ['rule=alertmanager:DiskFull', (a) => a.rule === 'alertmanager:DiskFull'],
        [
          'rule=admin-login-failures&rule=alertmanager:CheckoutErrorRate',
          (a) => a.rule === 'admin-login-failures' || a.rule === 'alertmanager:CheckoutErrorRate',
        ],
        ['rule=alertmanager', () => false],
        [`incident=${detectionIncident}`, (a) => a.incident_id === detectionIncident],
        [`incident=${diskFull}`, (a) => a.incident_id === diskFull],
        [`incident=${manualIncident}`, () => false],
        ['severity=P0', (a) => a.severity === 'P0'],
        ['severity=P2&severity=P3', (a) => a.severity === 'P2' || a.severity === 'P3'],
        ['since=2026-03-02T10:30:00Z', (a) => a.end >= at('10:30')],
        ['until=2026-03-02T10:30:00Z', (a) => a.end < at('10:30')],
        // No zone is UTC; an offset is honoured.
        [
          'since=2026-03-02T11:00&until=2026-03-02T12:15:00%2B01:00',
          (a) => a.end >= at('11:00') && a.end < at('11:15'),
        ],
        [
          `severity=P0&since=2026-03-02T10:00:00Z&rule=alertmanager:DiskFull`,
          (a) => a.severity === 'P0' && a.end >= at('10:00') && a.rule === 'alertmanager:DiskFull',
        ],
      ];
      for (const [query, keep] of cases) {
        const expected = all.filter(keep);
        const got = await list(`${query}&limit=500`);
        expect(got.items, query).toEqual(expected);
        expect(got.next_cursor, query).toBeNull();
      }
      expect(all.filter((a) => a.severity === 'P0').length).toBeGreaterThan(1);
      expect(all.filter((a) => a.end === at('10:30')).length).toBe(3);
    },
  );

  it.skipIf(skip)('pages with next_cursor: no alert repeated or skipped, ties included', async () => {
    for (const [limit, filter] of [
      [1, ''],
      [2, ''],
      [5, ''],
      [12, ''],
      [2, '&severity=P0&severity=P2'],
    ] as const) {
      const expected = filter === '' ? all : all.filter((a) => a.severity === 'P0' || a.severity === 'P2');
      const seen: StoredAlert[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Page = await list(
          `limit=${limit}${filter}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
        );
        pages += 1;
        expect(page.items.length).toBeLessThanOrEqual(limit);
        if (page.next_cursor !== null) {
          expect(page.items).toHaveLength(limit);
          expect(page.next_cursor).toMatch(/^[A-Za-z0-9_-]+$/);
        }
        seen.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor !== null && pages < 50);
      expect(seen, `limit ${limit}${filter}`).toEqual(expected);
      expect(new Set(seen.map((a) => a.fingerprint)).size).toBe(seen.length);
      expect(pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
    }
  });

  it.skipIf(skip)(
    "GET /v1/incidents/{id}/alerts: the incident's alerts, oldest first; 404 for none such",
    async () => {
      for (const id of new Set(all.map((a) => a.incident_id))) {
        const answer = await get<{ items: StoredAlert[] }>(`/v1/incidents/${id}/alerts`);
        expect(answer.status).toBe(200);
        expect(answer.body.items).toEqual(all.filter((a) => a.incident_id === id).reverse());
      }
      expect((await get(`/v1/incidents/${manualIncident}/alerts`)).body).toEqual({ items: [] });

      const unknown = await get<ErrorBody>('/v1/incidents/INC-2026-999/alerts');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error).toMatchObject({
        code: 'FB_ERR_INCIDENT_NOT_FOUND',
        message: 'incident INC-2026-999 does not exist',
      });
      const malformed = await get<ErrorBody>('/v1/incidents/INC-1/alerts');
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.details.map((d) => d.path)).toEqual(['params.id']);
    },
  );

  it.skipIf(skip)('needs a key with scope read: 401 without one, 403 for an ingest key', async () => {
    for (const path of ['/v1/alerts', `/v1/incidents/${detectionIncident}/alerts`]) {
      const none = await get<ErrorBody>(path, null);
      expect(none.status, path).toBe(401);
      expect(none.body.error.code).toBe('FB_ERR_AUTH_MISSING');
      const ingest = await get<ErrorBody>(path, keys.ingest);
      expect(ingest.status, path).toBe(403);
      expect(ingest.body.error).toMatchObject({
        code: 'FB_ERR_SCOPE',
        message: expect.stringContaining('read'),
      });
      expect((await get(path, s.adminKey)).status, path).toBe(200);
    }
  });

  it.skipIf(skip)('refuses bad input with 400 naming the field', async () => {
    const garbled = Buffer.from('yesterday|f00').toString('base64url');
    const cases: [string, string][] = [
      ['cursor=nonsense', 'query.cursor'],
      [`cursor=${garbled}`, 'query.cursor'],
      ['since=yesterday', 'query.since'],
      ['until=2026-02-30T00:00:00Z', 'query.until'],
      ['since=2026-03-02T11:00:00Z&until=2026-03-02T10:00:00Z', 'query.until'],
      ['limit=0', 'query.limit'],
      ['limit=501', 'query.limit'],
      ['limit=ten', 'query.limit'],
      ['severity=P9', 'query.severity.0'],
      ['incident=INC-1', 'query.incident'],
      ['rule=', 'query.rule.0'],
      ['bogus=1', 'query.bogus'],
    ];
    for (const [query, path] of cases) {
      const answer = await get<ErrorBody>(`/v1/alerts?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body.error.code, query).toBe('FB_ERR_VALIDATION');
      expect(
        answer.body.error.details.map((d) => d.path),
        query,
      ).toEqual([path]);
      expect(answer.body.error.message, query).toContain(path);
    }
  });

  it.skipIf(skip)('is in the OpenAPI document', async () => {
    const doc = await get<{ paths: Record<string, { get?: { tags?: string[] } }> }>('/openapi.json', null);
    expect(doc.body.paths['/v1/alerts']?.get?.tags).toEqual(['alerts']);
    expect(doc.body.paths['/v1/incidents/{id}/alerts']?.get?.tags).toContain('alerts');
  });
});
