/**
 * Issue 6's crash test, with real processes, and its secrets check.
 *
 * `firebreak serve` runs as a child, its log at trace level, on embedded SQLite and on
 * PostgreSQL (where the restarted server must first wait out the dead one's 30 s lease). A playbook bans
 * an address, then disables a carrier through a shop-defined request (the `http` connector,
 * credentials from a stored secret) to a loopback carrier API that holds the first request
 * unanswered, then turns sign-ups off. While that request hangs, the server is killed with
 * SIGKILL. Started again on the same data, it takes the run over: the carrier call is made again
 * with the same idempotency key, the ban is not made twice, and the run finishes.
 *
 * Then every byte the servers printed (trace log included), every API answer the test read
 * (runs, dry runs, the timeline, the audit log, the secrets list) and the carrier's requests
 * outside their Authorization header are searched for the two secrets: none may appear.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DryRun, PlaybookRun } from '../src/respond/index.js';
import { type ChildServer, spawnServer } from './helpers/child-server.js';
import { ensureBuilt } from './helpers/cli.js';
import { freshPostgresDatabase } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';
import { until } from './helpers/until.js';

const CARRIER_TOKEN = 'carrier-tok-7f3a9c1e5b2d4f60';
const SHOP_DB_PASSWORD = 'pg-Pa55word-9e1c7b';
const SECRET_KEY = 'a1'.repeat(32);
const BANNED = '198.51.100.9';

interface CarrierRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A carrier API that never answers its first request (the server dies waiting) and answers the rest. */
function startCarrier(): Promise<{
  server: Server;
  port: number;
  requests: CarrierRequest[];
  held: ServerResponse[];
}> {
  const requests: CarrierRequest[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (requests.length === 1) {
        held.push(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ disabled: true }));
    });
  });
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () =>
      done({ server, port: (server.address() as AddressInfo).port, requests, held }),
    ),
  );
}

const playbook = `id: carrier-out
title: Carrier breach — cut the carrier off
steps:
  - id: ban-ip
    title: Ban the address seen using the carrier key
    phase: containment
    action: { connector: decisions, operation: add, params: { type: ban, value: "${BANNED}", duration: 4h, reason: "{{ incident.id }}" } }
    approval: none
    timeout: 30s
    undo: { connector: decisions, operation: delete, params: { value: "${BANNED}" } }
  - id: disable-carrier
    title: Disable the carrier integration
    phase: containment
    action: { connector: http, operation: carrier_disable, params: { carrier: ups, reason: "breach {{ incident.id }}" } }
    approval: none
    timeout: 5m
    retries: 2
    undo: { none: the carrier is enabled again by hand after its investigation }
  - id: signups-off
    title: Stop new sign-ups
    phase: containment
    action: { connector: decisions, operation: set_switch, params: { switch: signups_enabled, enabled: false, reason: "{{ incident.id }}" } }
    approval: none
    timeout: 30s
    undo: { connector: decisions, operation: set_switch, params: { switch: signups_enabled, enabled: true, reason: restored } }
`;

describe.each(DIALECTS)(
  'a playbook run survives SIGKILL mid-step ($name), and no secret is ever shown',
  ({ name: dialect, skip }) => {
    let database: Awaited<ReturnType<typeof freshPostgresDatabase>> | undefined;
    let workDir: string;
    let carrier: Awaited<ReturnType<typeof startCarrier>>;
    const servers: ChildServer[] = [];
    /** Every API answer the test read, as text. */
    const answers: string[] = [];
    let adminKey = '';
    let url = '';

    const api = async <T>(
      method: string,
      path: string,
      json?: unknown,
    ): Promise<{ status: number; body: T }> => {
      const response = await fetch(new URL(path, url), {
        method,
        headers: {
          authorization: `Bearer ${adminKey}`,
          ...(json === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      });
      const text = await response.text();
      answers.push(text);
      return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
    };
    // On PostgreSQL the restarted server waits for the dead one's lease (30 s) to run out.
    const LEASE_WAIT_MS = 60_000;
    const start = async () => {
      const server = await spawnServer({
        workDir,
        dataDir: join(workDir, 'data'),
        databaseUrl: database?.url,
        env: { FIREBREAK_LOG_LEVEL: 'trace', FIREBREAK_SECRET_KEY: SECRET_KEY },
      });
      servers.push(server);
      url = server.url;
      return server;
    };

    beforeAll(async () => {
      if (skip) return;
      ensureBuilt();
      if (dialect === 'postgres') database = await freshPostgresDatabase();
      workDir = mkdtempSync(join(tmpdir(), 'firebreak-playbook-crash-'));
      carrier = await startCarrier();
      mkdirSync(join(workDir, 'shop-playbooks'));
      writeFileSync(join(workDir, 'shop-playbooks', 'carrier-out.yaml'), playbook);
      writeFileSync(
        join(workDir, 'firebreak.yaml'),
        [
          'playbooks: [shop-playbooks]',
          'connectors:',
          '  postgres: { connection_secret: shop_db }',
          '  http:',
          '    requests:',
          '      carrier_disable:',
          '        method: POST',
          `        url: "http://127.0.0.1:${carrier.port}/v1/carriers/{{ params.carrier }}/disable"`,
          '        headers: { Authorization: "Bearer {{ secret.carrier_token }}", Idempotency-Key: "{{ context.idempotency_key }}" }',
          '        body: { reason: "{{ params.reason }}" }',
          '        undo: null',
          '',
        ].join('\n'),
      );
    });
    afterAll(async () => {
      for (const s of servers) await s.kill();
      for (const res of carrier?.held ?? []) res.destroy();
      await new Promise<void>((r) => (carrier ? carrier.server.close(() => r()) : r()));
      if (workDir) rmSync(workDir, { recursive: true, force: true });
      await database?.drop();
    });

    it.skipIf(skip)(
      'resumes the run after SIGKILL without repeating a finished step',
      async () => {
        const first = await start();
        adminKey = first.firstAdminKey!;
        expect(first.stdout()).toContain('connectors: decisions, notify, postgres, http');
        // The secrets, stored through the API (never in firebreak.yaml).
        expect((await api('PUT', '/v1/secrets/carrier_token', { value: CARRIER_TOKEN })).status).toBe(201);
        const shopDb = `postgres://shop_admin:${SHOP_DB_PASSWORD}@127.0.0.1:5432/shop`;
        expect((await api('PUT', '/v1/secrets/shop_db', { value: shopDb })).status).toBe(201);
        const incident = (
          await api<{ id: string }>('POST', '/v1/incidents', { title: 'UPS key leaked', severity: 'P1' })
        ).body.id;

        // Dry runs: the carrier call as it would be sent, the token masked; the database steps with no password.
        const dry = await api<DryRun>('POST', `/v1/incidents/${incident}/playbook-runs`, {
          playbook: 'carrier-out',
          dry_run: true,
        });
        expect(dry.status).toBe(200);
        expect(JSON.stringify(dry.body.steps[1]!.plan)).toContain('/v1/carriers/ups/disable');
        const database = await api<DryRun>('POST', `/v1/incidents/${incident}/playbook-runs`, {
          playbook: 'database-compromise',
          dry_run: true,
        });
        expect(database.status).toBe(200);
        expect(
          database.body.steps.some((s) => (s.plan?.detail ?? []).some((d) => d.includes('REVOKE'))),
        ).toBe(true);

        const started = await api<PlaybookRun>('POST', `/v1/incidents/${incident}/playbook-runs`, {
          playbook: 'carrier-out',
        });
        expect(started.status).toBe(201);
        const id = started.body.id;
        await until(
          'the carrier call',
          async () => carrier.requests.length,
          (n) => n === 1,
        );
        const before = (await api<PlaybookRun>('GET', `/v1/playbook-runs/${id}`)).body;
        expect(before.steps.map((s) => s.status)).toEqual(['succeeded', 'running', 'pending']);
        await first.kill();

        await start();
        const done = await until(
          'the run to finish after the restart',
          async () => (await api<PlaybookRun>('GET', `/v1/playbook-runs/${id}`)).body,
          (r) => r.status === 'succeeded' || r.status === 'failed',
          LEASE_WAIT_MS,
        );
        expect(done.status).toBe('succeeded');
        expect(done.steps.map((s) => [s.step_id, s.status, s.attempts])).toEqual([
          ['ban-ip', 'succeeded', 1],
          ['disable-carrier', 'succeeded', 2],
          ['signups-off', 'succeeded', 1],
        ]);
        // The carrier saw the call twice, with one idempotency key, so it can tell a repeat.
        expect(carrier.requests).toHaveLength(2);
        const keys = carrier.requests.map((r) => r.headers['idempotency-key']);
        expect(keys[0]).toBe(`${id}/forward/disable-carrier`);
        expect(keys[1]).toBe(keys[0]);
        expect(carrier.requests.map((r) => [r.method, r.url, r.headers.authorization])).toEqual([
          ['POST', '/v1/carriers/ups/disable', `Bearer ${CARRIER_TOKEN}`],
          ['POST', '/v1/carriers/ups/disable', `Bearer ${CARRIER_TOKEN}`],
        ]);
        expect(JSON.parse(carrier.requests[1]!.body)).toEqual({ reason: `breach ${incident}` });

        // The ban was made once.
        const bans = await api<{ items: { value: string }[] }>('GET', '/v1/decisions?active=false');
        expect(bans.body.items.filter((d) => d.value === BANNED)).toHaveLength(1);
        const switches = await api<{ switches: Record<string, boolean> }>('GET', '/v1/switches');
        expect(switches.body.switches.signups_enabled).toBe(false);
        const timeline = (
          await api<{ timeline: { kind: string; data: { event: string; step?: string } }[] }>(
            'GET',
            `/v1/incidents/${incident}`,
          )
        ).body.timeline.filter((t) => t.kind === 'playbook');
        expect(timeline.filter((t) => t.data.event === 'step_succeeded').map((t) => t.data.step)).toEqual([
          'ban-ip',
          'disable-carrier',
          'signups-off',
        ]);

        // More of what a person reads, for the search below.
        await api('GET', '/v1/secrets');
        await api('GET', '/v1/audit?limit=500');
        await api('GET', `/v1/incidents/${incident}/playbook-runs`);
      },
      120_000,
    );

    it.skipIf(skip)('no secret appears in anything the servers printed or the API answered', () => {
      const printed = servers.map((s) => s.stdout() + s.stderr()).join('\n');
      // The trace log really was captured (so finding nothing in it means something).
      expect(printed).toMatch(/"level":10|"level":"trace"|incoming request/);
      const outside = carrier.requests.map((r) =>
        JSON.stringify({ ...r, headers: { ...r.headers, authorization: '' } }),
      );
      const haystacks = { printed, answers: answers.join('\n'), carrier: outside.join('\n') };
      for (const secret of [CARRIER_TOKEN, SHOP_DB_PASSWORD, encodeURIComponent(SHOP_DB_PASSWORD)]) {
        for (const [where, text] of Object.entries(haystacks)) {
          expect(text.includes(secret), `${secret} in ${where}`).toBe(false);
        }
      }
      expect(answers.length).toBeGreaterThan(10);
    });
  },
);
