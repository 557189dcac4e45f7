/**
 * The HTTP API end to end: a real server (startFirebreak on port 0) spoken to with fetch.
 * The main flow runs on both dialects; the bad-input matrix runs on SQLite and checks, after
 * every refused request, that nothing changed: incidents, the subject's timeline, keys and the
 * audit log are exactly as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../src/api/http-errors.js';
import type { ApiKeyInfo } from '../src/api/index.js';
import type { AuditEntry, AuditVerification } from '../src/audit/index.js';
import type { Incident, IncidentPage, TimelineRecord } from '../src/incidents/index.js';
import { FirebreakError, VirtualClock } from '../src/kernel/index.js';
import { startFirebreak } from '../src/main.js';
import { ALL_NO, LOW_IMPACT } from './helpers/classification.js';
import {
  type ApiRequest,
  call,
  keySecret,
  startTestServer,
  type TestServer,
  testConfig,
} from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

type WithTimeline = Incident & { timeline: TimelineRecord[] };
type CreatedKey = ApiKeyInfo & { key: string };

interface Health {
  status: string;
  version: string;
  database: { reachable: boolean; dialect: string };
  security_status: {
    audit_chain: { intact: boolean; entries: number; checked_at: string };
    open_incidents: Record<string, number>;
    oldest_unacknowledged: {
      id: string;
      severity: string;
      detected_at: string;
      ack_by: string;
      overdue: boolean;
    } | null;
  };
}

const KEY_PATTERN = /^fbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const MINUTE = 60_000;

function expectError(response: { status: number; body: unknown }, status: number, code: string): ErrorBody {
  const body = response.body as ErrorBody;
  expect({ status: response.status, code: body?.error?.code }).toEqual({ status, code });
  expect(typeof body.error.message).toBe('string');
  expect(Array.isArray(body.error.details)).toBe(true);
  return body;
}

describe.each(DIALECTS)('HTTP API main flow ($name)', ({ name: dialect, skip }) => {
  let s: TestServer;
  let clock: VirtualClock;
  const admin = () => ({ key: s.adminKey });

  beforeAll(async () => {
    if (skip) return;
    // Monday 09:00 UTC, inside the KCT plan's business hours.
    clock = new VirtualClock('2026-03-02T09:00:00.000Z');
    s = await startTestServer(dialect, { clock });
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  /** /health re-checks the audit chain at most every 10 s of the server's clock. */
  const freshHealth = async () => {
    clock.advance(10_001);
    const response = await call<Health>(s.url, 'GET', '/health');
    expect(response.status).toBe(200);
    return response.body;
  };

  it.skipIf(skip)('GET /health needs no key and reports database and security status', async () => {
    const response = await call<Health>(s.url, 'GET', '/health');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      status: 'ok',
      database: { reachable: true, dialect },
      security_status: {
        // The first admin key's creation is the first audit entry.
        audit_chain: { intact: true, entries: 1 },
        open_incidents: { P0: 0, P1: 0, P2: 0, P3: 0 },
        oldest_unacknowledged: null,
      },
    });
  });

  it.skipIf(skip)('GET /openapi.json is an OpenAPI 3.1 document with the incident routes', async () => {
    const response = await call<{
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
    }>(s.url, 'GET', '/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = JSON.parse(response.text) as typeof response.body;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/health',
        '/v1/incidents',
        '/v1/incidents/{id}',
        '/v1/incidents/{id}/transitions',
        '/v1/incidents/{id}/classification',
        '/v1/incidents/{id}/roles/{role}',
        '/v1/incidents/{id}/notes',
        '/v1/keys',
        '/v1/keys/{id}',
        '/v1/audit',
      ]),
    );
    expect(Object.keys(doc.paths['/v1/incidents']!).sort()).toEqual(['get', 'post']);
    expect(doc.paths['/v1/incidents']!.post!.requestBody?.content).toHaveProperty(['application/json']);
    expect(Object.keys(doc.paths).some((p) => p.includes('openapi'))).toBe(false);
  });

  it.skipIf(skip)('creates, reads, lists, moves, classifies, assigns and notes incidents', async () => {
    // A: P1 detected five minutes ago, B: P3 now, C: P0 a minute later.
    const detectedA = new Date(clock.now().getTime() - 5 * MINUTE).toISOString();
    const createdA = await call<Incident>(s.url, 'POST', '/v1/incidents', {
      ...admin(),
      json: {
        title: 'Admin logins from unknown IPs',
        severity: 'P1',
        summary: 'seen in WAF',
        detected_at: detectedA,
      },
    });
    expect(createdA.status).toBe(201);
    const a = createdA.body;
    expect(a).toMatchObject({
      id: 'INC-2026-001',
      title: 'Admin logins from unknown IPs',
      summary: 'seen in WAF',
      severity: 'P1',
      status: 'detected',
      phase: 'detection_and_assessment',
      detected_at: detectedA,
      created_at: clock.now().toISOString(),
      reached: {},
      classification: null,
      roles: {},
      version: 1,
    });
    // KCT P1: acknowledge within 2 minutes, respond within 30, both from detection.
    expect(a.ack_by).toBe(new Date(Date.parse(detectedA) + 2 * MINUTE).toISOString());
    expect(a.respond_by).toBe(new Date(Date.parse(detectedA) + 30 * MINUTE).toISOString());
    expect(a.created_by).toMatch(/^key:[0-9a-f]{12} \(admin \(first start\)\)$/);

    const b = (
      await call<Incident>(s.url, 'POST', '/v1/incidents', {
        ...admin(),
        json: { title: 'Port scan', severity: 'P3' },
      })
    ).body;
    clock.advance(MINUTE);
    const c = (
      await call<Incident>(s.url, 'POST', '/v1/incidents', {
        ...admin(),
        json: { title: 'Card testing', severity: 'P0' },
      })
    ).body;
    expect([b.id, c.id]).toEqual(['INC-2026-002', 'INC-2026-003']);

    // The oldest unacknowledged is A, past its two minutes.
    let health = await freshHealth();
    expect(health.security_status.open_incidents).toEqual({ P0: 1, P1: 1, P2: 0, P3: 1 });
    expect(health.security_status.oldest_unacknowledged).toEqual({
      id: a.id,
      severity: 'P1',
      detected_at: detectedA,
      ack_by: a.ack_by,
      overdue: true,
    });
    expect(health.security_status.audit_chain).toMatchObject({ intact: true, entries: 4 });

    // GET one, with its timeline.
    const got = await call<WithTimeline>(s.url, 'GET', `/v1/incidents/${a.id}`, admin());
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ ...a, timeline: [{ kind: 'created', actor: a.created_by }] });
    expect(got.body.timeline).toHaveLength(1);
    expect(got.body.timeline[0]!.data).toEqual({ severity: 'P1', title: a.title });

    // The whole lifecycle, each move stamped with the server's clock.
    const path: [string, string][] = [
      ['acknowledged', 'detection_and_assessment'],
      ['contained', 'containment'],
      ['eradicated', 'eradication'],
      ['recovered', 'recovery'],
      ['resolved', 'post_incident'],
      ['closed', 'post_incident'],
    ];
    const reached: Record<string, string> = {};
    let version = 1;
    for (const [to, phase] of path) {
      clock.advance(MINUTE);
      const moved = await call<Incident>(s.url, 'POST', `/v1/incidents/${a.id}/transitions`, {
        ...admin(),
        json: to === 'contained' ? { to, reason: 'blocked the IPs at the edge' } : { to },
      });
      expect(moved.status, `move to ${to}`).toBe(200);
      reached[to] = clock.now().toISOString();
      version += 1;
      expect(moved.body).toMatchObject({ id: a.id, status: to, phase, version, updated_at: reached[to] });
      expect(moved.body.reached).toEqual(reached);
    }
    const closed = await call<WithTimeline>(s.url, 'GET', `/v1/incidents/${a.id}`, admin());
    expect(closed.body.reached).toEqual(reached);
    expect(closed.body.timeline.map((t) => t.kind)).toEqual(['created', ...path.map(() => 'transitioned')]);
    expect(closed.body.timeline[2]).toMatchObject({
      at: reached.contained,
      actor: a.created_by,
      data: { from: 'acknowledged', to: 'contained', reason: 'blocked the IPs at the edge' },
    });
    const final = await call(s.url, 'POST', `/v1/incidents/${a.id}/transitions`, {
      ...admin(),
      json: { to: 'resolved' },
    });
    expect(expectError(final, 409, 'FB_ERR_ILLEGAL_TRANSITION').error.message).toContain(
      'allowed next: none (closed is final)',
    );

    // Classify B with the decision tree: admin access with high (not critical) impact → P1,
    // which restarts the clocks from now.
    clock.advance(MINUTE);
    const classified = await call<Incident>(s.url, 'POST', `/v1/incidents/${b.id}/classification`, {
      ...admin(),
      json: {
        answers: { ...ALL_NO, admin_access_compromised: true },
        impact: { data: 'high', service: 'low', customer: 'low' },
      },
    });
    expect(classified.status).toBe(200);
    expect(classified.body).toMatchObject({
      severity: 'P1',
      version: 2,
      ack_by: new Date(clock.now().getTime() + 2 * MINUTE).toISOString(),
      respond_by: new Date(clock.now().getTime() + 30 * MINUTE).toISOString(),
      classification: { severity: 'P1', impact: { data: 'high', service: 'low', customer: 'low' } },
    });
    expect(classified.body.classification!.reasoning.length).toBeGreaterThan(0);
    // A second classification that changes the severity needs a reason.
    const reclassify = {
      answers: { ...ALL_NO, payment_data_at_risk: true },
      impact: { data: 'critical', service: 'low', customer: 'low' },
    };
    const noReason = await call(s.url, 'POST', `/v1/incidents/${b.id}/classification`, {
      ...admin(),
      json: reclassify,
    });
    expectError(noReason, 400, 'FB_ERR_REASON_REQUIRED');
    const withReason = await call<Incident>(s.url, 'POST', `/v1/incidents/${b.id}/classification`, {
      ...admin(),
      json: { ...reclassify, reason: 'card data found in the dump' },
    });
    expect(withReason.status).toBe(200);
    expect(withReason.body).toMatchObject({ severity: 'P0', version: 3 });

    // Roles and notes.
    const assigned = await call<Incident>(s.url, 'PUT', `/v1/incidents/${b.id}/roles/incident_commander`, {
      ...admin(),
      json: { person: 'Dana (CTO)' },
    });
    expect(assigned.status).toBe(200);
    expect(assigned.body).toMatchObject({ roles: { incident_commander: 'Dana (CTO)' }, version: 4 });
    const reassigned = await call<Incident>(s.url, 'PUT', `/v1/incidents/${b.id}/roles/incident_commander`, {
      ...admin(),
      json: { person: 'Sam' },
    });
    expect(reassigned.body.roles).toEqual({ incident_commander: 'Sam' });
    const noted = await call<Incident>(s.url, 'POST', `/v1/incidents/${b.id}/notes`, {
      ...admin(),
      json: { text: 'Blocked 203.0.113.7 at Cloudflare' },
    });
    expect(noted.status).toBe(200);
    expect(noted.body.version).toBe(6);
    const bTimeline = (await call<WithTimeline>(s.url, 'GET', `/v1/incidents/${b.id}`, admin())).body
      .timeline;
    expect(bTimeline.map((t) => [t.kind, t.data])).toEqual([
      ['created', { severity: 'P3', title: 'Port scan' }],
      ['classified', expect.objectContaining({ from: 'P3', to: 'P1' })],
      [
        'classified',
        expect.objectContaining({ from: 'P1', to: 'P0', reason: 'card data found in the dump' }),
      ],
      ['role_assigned', { role: 'incident_commander', person: 'Dana (CTO)' }],
      ['role_assigned', { role: 'incident_commander', person: 'Sam', previous: 'Dana (CTO)' }],
      ['note_added', { text: 'Blocked 203.0.113.7 at Cloudflare' }],
    ]);

    // Lists: filters, newest first, pages.
    const ids = async (query: string) => {
      const response = await call<IncidentPage>(s.url, 'GET', `/v1/incidents${query}`, admin());
      expect(response.status, query).toBe(200);
      return response.body.items.map((i) => i.id);
    };
    expect(await ids('')).toEqual([c.id, b.id, a.id]);
    expect(await ids('?status=closed')).toEqual([a.id]);
    expect(await ids('?status=detected&status=closed')).toEqual([c.id, b.id, a.id]);
    expect(await ids('?severity=P0')).toEqual([c.id, b.id]);
    expect(await ids('?severity=P0&status=closed')).toEqual([]);
    expect(await ids('?severity=P1&severity=P2')).toEqual([a.id]);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { status: number; body: IncidentPage } = await call<IncidentPage>(
        s.url,
        'GET',
        `/v1/incidents?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        admin(),
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((i) => i.id));
      cursor = page.body.next_cursor;
      pages += 1;
    } while (cursor && pages < 5);
    expect(pages).toBe(2);
    expect(seen).toEqual([c.id, b.id, a.id]);

    // Every change above is in the audit log, and the chain holds.
    const audit = await call<AuditEntry[]>(s.url, 'GET', '/v1/audit?limit=500', admin());
    expect(audit.status).toBe(200);
    // 1 key + 3 creations + 6 moves + 2 classifications + 2 roles + 1 note.
    expect(audit.body.map((e) => e.seq)).toEqual(Array.from({ length: 15 }, (_, i) => 15 - i));
    const older = await call<AuditEntry[]>(s.url, 'GET', '/v1/audit?limit=2&before=3', admin());
    expect(older.body.map((e) => e.seq)).toEqual([2, 1]);
    const verify = await call<AuditVerification>(s.url, 'GET', '/v1/audit/verify', admin());
    expect(verify.body).toMatchObject({ ok: true, entries: 15 });

    health = await freshHealth();
    expect(health.status).toBe('ok');
    expect(health.security_status.open_incidents).toEqual({ P0: 2, P1: 0, P2: 0, P3: 0 });
    expect(health.security_status.oldest_unacknowledged?.id).toBe(b.id);
    expect(health.security_status.audit_chain).toMatchObject({ intact: true, entries: 15 });
  });

  it.skipIf(skip)('keys: shown once, never listed with secrets, scoped, revocable', async () => {
    const created = await call<CreatedKey>(s.url, 'POST', '/v1/keys', {
      ...admin(),
      json: { name: 'ci', scopes: ['read'] },
    });
    expect(created.status).toBe(201);
    const match = KEY_PATTERN.exec(created.body.key);
    expect(match).not.toBeNull();
    const [, id, secret] = match!;
    expect(created.body).toMatchObject({ id, name: 'ci', scopes: ['read'], revoked_at: null });

    const listed = await call<ApiKeyInfo[]>(s.url, 'GET', '/v1/keys', admin());
    expect(listed.status).toBe(200);
    expect(listed.body.map((k) => k.name)).toEqual(['admin (first start)', 'ci']);
    for (const k of listed.body) {
      expect(Object.keys(k).sort()).toEqual([
        'created_at',
        'created_by',
        'id',
        'name',
        'person',
        'revoked_at',
        'scopes',
      ]);
    }
    expect(listed.text).not.toContain(secret);
    expect(listed.text).not.toContain(keySecret(s.adminKey));

    const read = { key: created.body.key };
    expect((await call(s.url, 'GET', '/v1/incidents', read)).status).toBe(200);
    const before = await call<IncidentPage>(s.url, 'GET', '/v1/incidents', admin());
    const refused = await call(s.url, 'POST', '/v1/incidents', {
      ...read,
      json: { title: 'x', severity: 'P3' },
    });
    expect(expectError(refused, 403, 'FB_ERR_SCOPE').error.message).toContain('needs scope write');
    expectError(await call(s.url, 'GET', '/v1/keys', read), 403, 'FB_ERR_SCOPE');
    expect((await call<IncidentPage>(s.url, 'GET', '/v1/incidents', admin())).body).toEqual(before.body);

    const auditBefore = (await call<AuditEntry[]>(s.url, 'GET', '/v1/audit', admin())).body.length;
    const revoked = await call<ApiKeyInfo>(s.url, 'DELETE', `/v1/keys/${id}`, admin());
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toEqual(expect.any(String));
    expectError(await call(s.url, 'GET', '/v1/incidents', read), 401, 'FB_ERR_AUTH_INVALID');
    // Revoking again changes nothing.
    const again = await call<ApiKeyInfo>(s.url, 'DELETE', `/v1/keys/${id}`, admin());
    expect(again.status).toBe(200);
    expect(again.body.revoked_at).toBe(revoked.body.revoked_at);
    const actions = (await call<AuditEntry[]>(s.url, 'GET', '/v1/audit', admin())).body;
    expect(actions).toHaveLength(auditBefore + 1);
    expect(actions[0]).toMatchObject({ action: 'key.revoke', target: id });
  });

  it.skipIf(skip)('a restart keeps the data and prints no new admin key', async () => {
    const before = (await call<IncidentPage>(s.url, 'GET', '/v1/incidents', admin())).body;
    const keysBefore = (await call<ApiKeyInfo[]>(s.url, 'GET', '/v1/keys', admin())).body;
    const auditBefore = (await call<AuditEntry[]>(s.url, 'GET', '/v1/audit?limit=500', admin())).body;
    const linesBefore = s.announced.length;

    const restarted = await s.restart();
    expect(restarted.firstAdminKey).toBeUndefined();
    const lines = s.announced.slice(linesBefore);
    expect(lines[0]).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines.join('\n')).not.toMatch(/fbk_|First start/);

    expect((await call<IncidentPage>(s.url, 'GET', '/v1/incidents', admin())).body).toEqual(before);
    expect((await call<ApiKeyInfo[]>(s.url, 'GET', '/v1/keys', admin())).body).toEqual(keysBefore);
    expect((await call<AuditEntry[]>(s.url, 'GET', '/v1/audit?limit=500', admin())).body).toEqual(
      auditBefore,
    );
    expect((await call<AuditVerification>(s.url, 'GET', '/v1/audit/verify', admin())).body.ok).toBe(true);
  });
});

describe('one server per data directory (sqlite)', () => {
  it('refuses a second server on the same data directory while the first runs', async () => {
    const s = await startTestServer('sqlite');
    try {
      const created = await call<Incident>(s.url, 'POST', '/v1/incidents', {
        key: s.adminKey,
        json: { title: 'lock test', severity: 'P2' },
      });
      expect(created.status).toBe(201);
      const second = startFirebreak(testConfig(s.dataDir), { announce: () => {}, requestLog: false });
      await expect(second).rejects.toBeInstanceOf(FirebreakError);
      await expect(second).rejects.toMatchObject({
        code: 'FB_ERR_DATA_DIR_LOCKED',
        message: expect.stringContaining(`(pid ${process.pid})`),
      });
      // The first one is unharmed.
      const got = await call<Incident>(s.url, 'GET', `/v1/incidents/${created.body.id}`, { key: s.adminKey });
      expect(got.status).toBe(200);
      expect(got.body.version).toBe(1);
      // Once it stops, the directory is free again.
      await s.stop();
      const third = await startFirebreak(testConfig(s.dataDir), { announce: () => {}, requestLog: false });
      expect(third.firstAdminKey).toBeUndefined();
      await third.close();
    } finally {
      await s.cleanup();
    }
  });
});

describe('bad input changes nothing (sqlite)', () => {
  let s: TestServer;
  const keys = { read: '', write: '', revoked: '' };
  let subject: Incident; // acknowledged
  let closedOne: Incident;
  const UNKNOWN = 'INC-1999-999';

  beforeAll(async () => {
    s = await startTestServer('sqlite');
    const admin = { key: s.adminKey };
    const mk = async (name: string, scopes: string[]) =>
      (await call<CreatedKey>(s.url, 'POST', '/v1/keys', { ...admin, json: { name, scopes } })).body;
    keys.read = (await mk('reader', ['read'])).key;
    keys.write = (await mk('writer', ['write'])).key;
    const revoked = await mk('gone', ['admin']);
    keys.revoked = revoked.key;
    expect((await call(s.url, 'DELETE', `/v1/keys/${revoked.id}`, admin)).status).toBe(200);

    const create = async (title: string) =>
      (await call<Incident>(s.url, 'POST', '/v1/incidents', { ...admin, json: { title, severity: 'P2' } }))
        .body;
    const move = async (id: string, to: string, reason?: string) => {
      const r = await call<Incident>(s.url, 'POST', `/v1/incidents/${id}/transitions`, {
        ...admin,
        json: reason ? { to, reason } : { to },
      });
      expect(r.status).toBe(200);
      return r.body;
    };
    closedOne = await create('closed one');
    await move(closedOne.id, 'acknowledged');
    await move(closedOne.id, 'resolved', 'false positive');
    closedOne = await move(closedOne.id, 'closed');
    subject = await create('subject');
    subject = await move(subject.id, 'acknowledged');
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  const snapshot = async () => {
    const admin = { key: s.adminKey };
    const [list, subjectNow, closedNow, audit, keyList] = await Promise.all([
      call<IncidentPage>(s.url, 'GET', '/v1/incidents?limit=200', admin),
      call<WithTimeline>(s.url, 'GET', `/v1/incidents/${subject.id}`, admin),
      call<WithTimeline>(s.url, 'GET', `/v1/incidents/${closedOne.id}`, admin),
      call<AuditEntry[]>(s.url, 'GET', '/v1/audit?limit=500', admin),
      call<ApiKeyInfo[]>(s.url, 'GET', '/v1/keys', admin),
    ]);
    for (const r of [list, subjectNow, closedNow, audit, keyList]) expect(r.status).toBe(200);
    return {
      incidentCount: list.body.items.length,
      incidents: list.body.items,
      subject: subjectNow.body,
      closed: closedNow.body,
      auditCount: audit.body.length,
      audit: audit.body,
      keys: keyList.body,
    };
  };

  interface Case {
    readonly name: string;
    readonly method: string;
    readonly path: () => string;
    readonly request: () => ApiRequest;
    readonly status: number;
    readonly code: string;
    /** A path the error's details must name. */
    readonly detail?: string;
    readonly message?: string;
  }

  const big = { text: 'x'.repeat(65 * 1024) };
  const admin = () => ({ key: s.adminKey });

  /** The failures every JSON-body route shares. */
  function bodyCases(
    route: string,
    method: string,
    path: () => string,
    valid: Record<string, unknown>,
    scope: 'write' | 'admin',
  ): Case[] {
    const raw = (text: string, contentType?: string) => () => ({
      ...admin(),
      raw: text,
      ...(contentType ? { contentType } : {}),
    });
    const lowerKey = scope === 'admin' ? 'write' : 'read';
    return [
      {
        name: `${route}: malformed JSON`,
        method,
        path,
        request: raw('{"oops":'),
        status: 400,
        code: 'FB_ERR_MALFORMED_JSON',
      },
      {
        name: `${route}: empty JSON body`,
        method,
        path,
        request: raw(''),
        status: 400,
        code: 'FB_ERR_MALFORMED_JSON',
      },
      {
        name: `${route}: __proto__ in JSON`,
        method,
        path,
        request: raw('{"__proto__":{"x":1}}'),
        status: 400,
        code: 'FB_ERR_MALFORMED_JSON',
      },
      {
        name: `${route}: array body`,
        method,
        path,
        request: raw('[]'),
        status: 400,
        code: 'FB_ERR_VALIDATION',
        detail: 'body',
      },
      {
        name: `${route}: unknown field`,
        method,
        path,
        request: () => ({ ...admin(), json: { ...valid, surprise: true } }),
        status: 400,
        code: 'FB_ERR_VALIDATION',
        detail: 'body.surprise',
      },
      {
        name: `${route}: body over 64 KiB`,
        method,
        path,
        request: () => ({ ...admin(), json: { ...valid, ...big } }),
        status: 413,
        code: 'FB_ERR_BODY_TOO_LARGE',
      },
      {
        name: `${route}: text/plain`,
        method,
        path,
        request: raw(JSON.stringify(valid), 'text/plain'),
        status: 415,
        code: 'FB_ERR_UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: `${route}: no key`,
        method,
        path,
        request: () => ({ json: valid }),
        status: 401,
        code: 'FB_ERR_AUTH_MISSING',
      },
      {
        name: `${route}: not a Bearer header`,
        method,
        path,
        request: () => ({ json: valid, headers: { authorization: `Basic ${s.adminKey}` } }),
        status: 401,
        code: 'FB_ERR_AUTH_MISSING',
      },
      {
        name: `${route}: unknown key`,
        method,
        path,
        request: () => ({ json: valid, key: `fbk_000000000000_${'A'.repeat(43)}` }),
        status: 401,
        code: 'FB_ERR_AUTH_INVALID',
      },
      {
        name: `${route}: revoked key`,
        method,
        path,
        request: () => ({ json: valid, key: keys.revoked }),
        status: 401,
        code: 'FB_ERR_AUTH_INVALID',
      },
      {
        name: `${route}: ${lowerKey} key`,
        method,
        path,
        request: () => ({ json: valid, key: keys[lowerKey] }),
        status: 403,
        code: 'FB_ERR_SCOPE',
        message: `needs scope ${scope}`,
      },
    ];
  }

  /** The value at the detail's path, for a readable test name. */
  const describeBody = (body: Record<string, unknown>, detail: string): string => {
    let value: unknown = body;
    for (const key of detail.split('.').slice(1))
      value = (value as Record<string, unknown> | undefined)?.[key];
    return value === undefined ? 'missing' : `= ${JSON.stringify(value)}`;
  };

  const wrongType = (
    route: string,
    method: string,
    path: () => string,
    body: Record<string, unknown>,
    detail: string,
    code = 'FB_ERR_VALIDATION',
  ): Case => ({
    name: `${route}: ${detail} ${describeBody(body, detail)}`,
    method,
    path,
    request: () => ({ ...admin(), json: body }),
    status: 400,
    code,
    detail,
  });

  /** Unknown and badly formed incident ids for the routes under /v1/incidents/{id}. */
  const idCases = (
    route: string,
    method: string,
    suffix: string,
    valid: Record<string, unknown> | undefined,
  ): Case[] =>
    [
      { id: UNKNOWN, status: 404, code: 'FB_ERR_INCIDENT_NOT_FOUND', detail: undefined },
      { id: 'INC-26-1', status: 400, code: 'FB_ERR_VALIDATION', detail: 'params.id' },
      { id: 'inc-2026-001', status: 400, code: 'FB_ERR_VALIDATION', detail: 'params.id' },
    ].map(({ id, status, code, detail }) => ({
      name: `${route}: id ${id}`,
      method,
      path: () => `/v1/incidents/${id}${suffix}`,
      request: () => ({ ...admin(), ...(valid ? { json: valid } : {}) }),
      status,
      code,
      ...(detail ? { detail } : {}),
    }));

  const transitions = () => `/v1/incidents/${subject.id}/transitions`;
  const classification = () => `/v1/incidents/${subject.id}/classification`;
  const role = () => `/v1/incidents/${subject.id}/roles/security_lead`;
  const notes = () => `/v1/incidents/${subject.id}/notes`;
  const validIncident = { title: 'new', severity: 'P2' };
  const validClassify = { answers: ALL_NO, impact: LOW_IMPACT };
  const query = (q: string, status: number, code: string, detail?: string, key?: () => string): Case => ({
    name: `GET /v1/incidents?${q}`,
    method: 'GET',
    path: () => `/v1/incidents?${q}`,
    request: () => ({ key: key ? key() : s.adminKey }),
    status,
    code,
    ...(detail ? { detail } : {}),
  });

  const cases: Case[] = [
    // POST /v1/incidents
    ...bodyCases('create', 'POST', () => '/v1/incidents', validIncident, 'write'),
    wrongType('create', 'POST', () => '/v1/incidents', { title: 'x', severity: 1 }, 'body.severity'),
    wrongType('create', 'POST', () => '/v1/incidents', { title: 'x', severity: 'P9' }, 'body.severity'),
    wrongType('create', 'POST', () => '/v1/incidents', { title: 5, severity: 'P1' }, 'body.title'),
    wrongType('create', 'POST', () => '/v1/incidents', { title: '', severity: 'P1' }, 'body.title'),
    wrongType('create', 'POST', () => '/v1/incidents', { severity: 'P1' }, 'body.title'),
    wrongType(
      'create',
      'POST',
      () => '/v1/incidents',
      { title: 'x', severity: 'P1', summary: 7 },
      'body.summary',
    ),
    wrongType(
      'create',
      'POST',
      () => '/v1/incidents',
      { ...validIncident, detected_at: 'yesterday' },
      'body.detected_at',
    ),
    wrongType(
      'create',
      'POST',
      () => '/v1/incidents',
      { ...validIncident, detected_at: '2999-01-01T00:00:00Z' },
      'body.detected_at',
    ),

    // GET /v1/incidents
    query('status=nope', 400, 'FB_ERR_VALIDATION', 'query.status.0'),
    query('status=detected,acknowledged', 400, 'FB_ERR_VALIDATION', 'query.status.0'),
    query('severity=P9', 400, 'FB_ERR_VALIDATION', 'query.severity.0'),
    query('limit=0', 400, 'FB_ERR_VALIDATION', 'query.limit'),
    query('limit=201', 400, 'FB_ERR_VALIDATION', 'query.limit'),
    query('limit=abc', 400, 'FB_ERR_VALIDATION', 'query.limit'),
    query('limit=1.5', 400, 'FB_ERR_VALIDATION', 'query.limit'),
    query('sort=asc', 400, 'FB_ERR_VALIDATION', 'query.sort'),
    query('cursor=not-a-cursor', 400, 'FB_ERR_VALIDATION', 'query.cursor'),
    query('limit=5', 401, 'FB_ERR_AUTH_INVALID', undefined, () => keys.revoked),
    {
      name: 'GET /v1/incidents: no key',
      method: 'GET',
      path: () => '/v1/incidents',
      request: () => ({}),
      status: 401,
      code: 'FB_ERR_AUTH_MISSING',
    },

    // GET /v1/incidents/{id}
    ...idCases('get', 'GET', '', undefined),
    {
      name: 'get: no key',
      method: 'GET',
      path: () => `/v1/incidents/${subject.id}`,
      request: () => ({}),
      status: 401,
      code: 'FB_ERR_AUTH_MISSING',
    },

    // POST /v1/incidents/{id}/transitions
    ...bodyCases('transition', 'POST', transitions, { to: 'contained' }, 'write'),
    ...idCases('transition', 'POST', '/transitions', { to: 'contained' }),
    wrongType('transition', 'POST', transitions, { to: 5 }, 'body.to'),
    wrongType('transition', 'POST', transitions, { to: 'fixed' }, 'body.to'),
    wrongType('transition', 'POST', transitions, {}, 'body.to'),
    wrongType('transition', 'POST', transitions, { to: 'contained', reason: 42 }, 'body.reason'),
    wrongType('transition', 'POST', transitions, { to: 'contained', reason: '' }, 'body.reason'),
    {
      name: 'transition: acknowledged → closed is illegal',
      method: 'POST',
      path: transitions,
      request: () => ({ ...admin(), json: { to: 'closed' } }),
      status: 409,
      code: 'FB_ERR_ILLEGAL_TRANSITION',
      detail: 'body.to',
      message: 'cannot move from acknowledged to closed; allowed next: contained, resolved',
    },
    {
      name: 'transition: backwards is illegal',
      method: 'POST',
      path: transitions,
      request: () => ({ ...admin(), json: { to: 'detected' } }),
      status: 409,
      code: 'FB_ERR_ILLEGAL_TRANSITION',
      message: 'allowed next: contained, resolved',
    },
    {
      name: 'transition: to the same status is illegal',
      method: 'POST',
      path: transitions,
      request: () => ({ ...admin(), json: { to: 'acknowledged' } }),
      status: 409,
      code: 'FB_ERR_ILLEGAL_TRANSITION',
    },
    {
      name: 'transition: closed is final',
      method: 'POST',
      path: () => `/v1/incidents/${closedOne.id}/transitions`,
      request: () => ({ ...admin(), json: { to: 'resolved' } }),
      status: 409,
      code: 'FB_ERR_ILLEGAL_TRANSITION',
      message: 'allowed next: none (closed is final)',
    },
    {
      name: 'transition: acknowledged → resolved without a reason',
      method: 'POST',
      path: transitions,
      request: () => ({ ...admin(), json: { to: 'resolved' } }),
      status: 400,
      code: 'FB_ERR_REASON_REQUIRED',
    },
    {
      name: 'transition: acknowledged → resolved with a blank reason',
      method: 'POST',
      path: transitions,
      request: () => ({ ...admin(), json: { to: 'resolved', reason: '   ' } }),
      status: 400,
      code: 'FB_ERR_REASON_REQUIRED',
    },

    // POST /v1/incidents/{id}/classification
    ...bodyCases('classify', 'POST', classification, validClassify, 'write'),
    ...idCases('classify', 'POST', '/classification', validClassify),
    wrongType(
      'classify',
      'POST',
      classification,
      { ...validClassify, answers: { ...ALL_NO, payment_data_at_risk: 'yes' } },
      'body.answers.payment_data_at_risk',
    ),
    wrongType(
      'classify',
      'POST',
      classification,
      { ...validClassify, answers: { ...ALL_NO, aliens: true } },
      'body.answers.aliens',
    ),
    wrongType(
      'classify',
      'POST',
      classification,
      { ...validClassify, answers: { ...ALL_NO, data_exfiltration: undefined } },
      'body.answers.data_exfiltration',
    ),
    wrongType(
      'classify',
      'POST',
      classification,
      { ...validClassify, impact: { ...LOW_IMPACT, data: 'huge' } },
      'body.impact.data',
    ),
    wrongType('classify', 'POST', classification, { answers: ALL_NO }, 'body.impact'),
    wrongType('classify', 'POST', classification, { ...validClassify, reason: false }, 'body.reason'),
    {
      name: 'classify: a closed incident keeps its classification',
      method: 'POST',
      path: () => `/v1/incidents/${closedOne.id}/classification`,
      request: () => ({ ...admin(), json: validClassify }),
      status: 409,
      code: 'FB_ERR_ILLEGAL_TRANSITION',
    },

    // PUT /v1/incidents/{id}/roles/{role}
    ...bodyCases('role', 'PUT', role, { person: 'Dana' }, 'write'),
    ...idCases('role', 'PUT', '/roles/security_lead', { person: 'Dana' }),
    wrongType('role', 'PUT', role, { person: 5 }, 'body.person'),
    wrongType('role', 'PUT', role, { person: '' }, 'body.person'),
    wrongType('role', 'PUT', role, {}, 'body.person'),
    {
      name: 'role: unknown role',
      method: 'PUT',
      path: () => `/v1/incidents/${subject.id}/roles/janitor`,
      request: () => ({ ...admin(), json: { person: 'Dana' } }),
      status: 400,
      code: 'FB_ERR_VALIDATION',
      detail: 'params.role',
    },

    // POST /v1/incidents/{id}/notes
    ...bodyCases('note', 'POST', notes, { text: 'hello' }, 'write'),
    ...idCases('note', 'POST', '/notes', { text: 'hello' }),
    wrongType('note', 'POST', notes, { text: 5 }, 'body.text'),
    wrongType('note', 'POST', notes, { text: '' }, 'body.text'),
    wrongType('note', 'POST', notes, { note: 'hello' }, 'body.text'),

    // POST /v1/keys
    ...bodyCases('key create', 'POST', () => '/v1/keys', { name: 'k', scopes: ['read'] }, 'admin'),
    {
      name: 'key create: read key',
      method: 'POST',
      path: () => '/v1/keys',
      request: () => ({ key: keys.read, json: { name: 'k', scopes: ['read'] } }),
      status: 403,
      code: 'FB_ERR_SCOPE',
    },
    wrongType('key create', 'POST', () => '/v1/keys', { name: 5, scopes: ['read'] }, 'body.name'),
    wrongType('key create', 'POST', () => '/v1/keys', { name: 'k', scopes: 'read' }, 'body.scopes'),
    wrongType('key create', 'POST', () => '/v1/keys', { name: 'k', scopes: ['root'] }, 'body.scopes.0'),
    wrongType('key create', 'POST', () => '/v1/keys', { name: 'k', scopes: [] }, 'body.scopes'),
    wrongType('key create', 'POST', () => '/v1/keys', { name: 'k', scopes: ['read', 'read'] }, 'body.scopes'),
    wrongType('key create', 'POST', () => '/v1/keys', { scopes: ['read'] }, 'body.name'),

    // GET /v1/keys
    {
      name: 'key list: write key',
      method: 'GET',
      path: () => '/v1/keys',
      request: () => ({ key: keys.write }),
      status: 403,
      code: 'FB_ERR_SCOPE',
    },
    {
      name: 'key list: no key',
      method: 'GET',
      path: () => '/v1/keys',
      request: () => ({}),
      status: 401,
      code: 'FB_ERR_AUTH_MISSING',
    },

    // DELETE /v1/keys/{id}: the reader's key must survive every one of these.
    ...(['write', 'read'] as const).map(
      (k): Case => ({
        name: `key revoke: ${k} key`,
        method: 'DELETE',
        path: () => `/v1/keys/${KEY_PATTERN.exec(keys.read)![1]}`,
        request: () => ({ key: keys[k] }),
        status: 403,
        code: 'FB_ERR_SCOPE',
      }),
    ),
    {
      name: 'key revoke: no key',
      method: 'DELETE',
      path: () => `/v1/keys/${KEY_PATTERN.exec(keys.read)![1]}`,
      request: () => ({}),
      status: 401,
      code: 'FB_ERR_AUTH_MISSING',
    },
    {
      name: 'key revoke: revoked admin key',
      method: 'DELETE',
      path: () => `/v1/keys/${KEY_PATTERN.exec(keys.read)![1]}`,
      request: () => ({ key: keys.revoked }),
      status: 401,
      code: 'FB_ERR_AUTH_INVALID',
    },
    {
      name: 'key revoke: unknown id',
      method: 'DELETE',
      path: () => '/v1/keys/0123456789ab',
      request: admin,
      status: 404,
      code: 'FB_ERR_KEY_NOT_FOUND',
    },
    ...['xyz', '0123456789AB', '0123456789abc'].map(
      (id): Case => ({
        name: `key revoke: bad id ${id}`,
        method: 'DELETE',
        path: () => `/v1/keys/${id}`,
        request: admin,
        status: 400,
        code: 'FB_ERR_VALIDATION',
        detail: 'params.id',
      }),
    ),
    {
      name: 'key revoke: malformed JSON body',
      method: 'DELETE',
      path: () => `/v1/keys/${KEY_PATTERN.exec(keys.read)![1]}`,
      request: () => ({ ...admin(), raw: '{"oops":' }),
      status: 400,
      code: 'FB_ERR_MALFORMED_JSON',
    },
    {
      name: 'key revoke: body over 64 KiB',
      method: 'DELETE',
      path: () => `/v1/keys/${KEY_PATTERN.exec(keys.read)![1]}`,
      request: () => ({ ...admin(), json: big }),
      status: 413,
      code: 'FB_ERR_BODY_TOO_LARGE',
    },
    {
      name: 'key revoke: text/plain body',
      method: 'DELETE',
      path: () => `/v1/keys/${KEY_PATTERN.exec(keys.read)![1]}`,
      request: () => ({ ...admin(), raw: 'please', contentType: 'text/plain' }),
      status: 415,
      code: 'FB_ERR_UNSUPPORTED_MEDIA_TYPE',
    },

    // GET /v1/audit
    {
      name: 'audit: write key',
      method: 'GET',
      path: () => '/v1/audit',
      request: () => ({ key: keys.write }),
      status: 403,
      code: 'FB_ERR_SCOPE',
    },
    {
      name: 'audit: limit=0',
      method: 'GET',
      path: () => '/v1/audit?limit=0',
      request: admin,
      status: 400,
      code: 'FB_ERR_VALIDATION',
      detail: 'query.limit',
    },
    {
      name: 'no such route',
      method: 'POST',
      path: () => `/v1/incidents/${subject.id}/delete`,
      request: () => ({ ...admin(), json: {} }),
      status: 404,
      code: 'FB_ERR_ROUTE_NOT_FOUND',
    },
  ];

  it('has a case for every kind of failure on every body route', () => {
    const names = cases.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const route of ['create', 'transition', 'classify', 'role', 'note', 'key create']) {
      for (const kind of ['malformed JSON', 'unknown field', 'body over 64 KiB', 'text/plain', 'no key']) {
        expect(names).toContain(`${route}: ${kind}`);
      }
    }
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = await snapshot();
    const response = await call<ErrorBody>(s.url, c.method, c.path(), c.request());
    const body = expectError(response, c.status, c.code);
    if (c.detail) expect(body.error.details.map((d) => d.path)).toContain(c.detail);
    if (c.message) expect(body.error.message).toContain(c.message);
    const after = await snapshot();
    // Nothing changed: no incident, no move, no timeline record, no key, no audit entry.
    expect(after.incidentCount).toBe(before.incidentCount);
    expect({ status: after.subject.status, version: after.subject.version }).toEqual({
      status: before.subject.status,
      version: before.subject.version,
    });
    expect(after.auditCount).toBe(before.auditCount);
    expect(after).toEqual(before);
  });

  it('after all that, the next incident gets the next number', async () => {
    const before = await snapshot();
    const numbers = before.incidents.map((i) => Number(i.id.split('-')[2]));
    const created = await call<Incident>(s.url, 'POST', '/v1/incidents', {
      key: keys.write,
      json: { title: 'valid at last', severity: 'P3' },
    });
    expect(created.status).toBe(201);
    expect(Number(created.body.id.split('-')[2])).toBe(Math.max(...numbers) + 1);
    const after = await snapshot();
    expect(after.incidentCount).toBe(before.incidentCount + 1);
    expect(after.auditCount).toBe(before.auditCount + 1);
    expect(after.audit[0]).toMatchObject({ action: 'incident.create', target: created.body.id });
    // The subject is still where it was.
    expect(after.subject).toEqual(before.subject);
  });
});
