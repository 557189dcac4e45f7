/**
 * Paging end to end in `firebreak serve` (in process, SQLite and PostgreSQL): a real SMTP
 * server and a signed-webhook receiver on loopback, the example KCT roster, the server on a
 * virtual clock. A P0 opened through the API pages level 1 by email and the team webhook; at
 * the 2-minute ack deadline the backups are emailed; an acknowledgement stops escalation.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/kernel/index.js';
import { loadRosterFile, onCallAt } from '../src/oncall/index.js';
import { loadPolicyFile } from '../src/policy/index.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { closeSmtp, startSmtp } from './helpers/smtp-server.js';
import { DIALECTS } from './helpers/stores.js';

const file = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const POLICY = loadPolicyFile(file('policies/kct-menswear.yaml'));
const ROSTER_FILE = file('rosters/kct-menswear.example.yaml');
const ROSTER = loadRosterFile(ROSTER_FILE, POLICY);
/** A Wednesday 10:00 UTC. */
const T0 = '2026-11-25T10:00:00.000Z';
const SECRET = 'whsec-e2e-test';

interface Hook {
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

function startReceiver(): Promise<{ url: string; hooks: Hook[]; server: Server }> {
  const hooks: Hook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      res.writeHead(200).end('ok');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/incidents`, hooks, server }),
    ),
  );
}

const emailOf = (slot: 'primary' | 'backup', role: string) =>
  onCallAt(ROSTER, POLICY, new Date(T0)).find((r) => r.role === role)![slot].person.email;
const ROLES = ['incident_commander', 'security_lead', 'technical_lead', 'communications_lead'];

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`paging in firebreak serve, on ${d.name}`, () => {
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let s: TestServer;
    let clock: VirtualClock;

    beforeEach(async () => {
      smtp = await startSmtp();
      receiver = await startReceiver();
      clock = new VirtualClock(T0);
      s = await startTestServer(d.name, {
        clock,
        configYaml: [
          'paging:',
          '  public_url: http://firebreak.test',
          `  team: [{ channel: webhook, target: "${receiver.url}" }]`,
          'channels:',
          `  email: { host: 127.0.0.1, port: ${smtp.port}, secure: false, starttls: never, from: firebreak@kct.example, timeout_ms: 2000 }`,
          '  webhook: { timeout_ms: 2000 }',
          '',
        ].join('\n'),
        env: { FIREBREAK_ROSTER: ROSTER_FILE, FIREBREAK_WEBHOOK_SECRETS: SECRET },
      });
    });
    afterEach(async () => {
      await s?.cleanup();
      await new Promise<void>((resolve) => smtp.server.close(() => resolve()));
      await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
    });

    it('pages level 1 at once, the backups at the ack deadline, and stops once acknowledged by the link in a mail', async () => {
      expect(s.announced.find((l) => l.startsWith('paging:'))).toMatch(
        /^paging: channels email, webhook; roster .*\(\d+ people\); acknowledgement links at http:\/\/firebreak\.test$/,
      );
      const created = await call<{ id: string }>(s.url, 'POST', '/v1/incidents', {
        key: s.adminKey,
        json: { title: 'Card data exposed', severity: 'P0' },
      });
      expect(created.status).toBe(201);
      const id = created.body.id;

      const level1 = [
        ...ROLES.map((r) => emailOf('primary', r)),
        'security-incidents@kctmenswear.com',
      ].sort();
      await until('level 1 emails', () => smtp.mails.length >= level1.length);
      expect(smtp.mails.flatMap((m) => m.to).sort()).toEqual(level1);
      const mail = smtp.mails[0]!.raw;
      expect(mail).toContain(id);
      expect(mail).toMatch(/^Subject: .*P0/m);
      expect(mail).toMatch(/X-Firebreak-Idempotency-Key: /);

      await until('the team webhook', () => receiver.hooks.length >= 1);
      const hook = receiver.hooks[0]!;
      const expected = createHmac('sha256', SECRET).update(hook.body).digest('hex');
      expect(hook.headers['x-firebreak-signature']).toBe(`v1=${expected}`);
      expect(JSON.parse(hook.body)).toMatchObject({
        incident_id: id,
        severity: 'P0',
        kind: 'page',
        sent_at: T0,
      });

      // 2 minutes: the ack deadline passes unacknowledged; the backups are emailed.
      const before = smtp.mails.length;
      clock.advance(2 * 60_000);
      const backups = ROLES.map((r) => emailOf('backup', r)).sort();
      await until('the backups', () => smtp.mails.length >= before + backups.length);
      expect(
        smtp.mails
          .slice(before)
          .flatMap((m) => m.to)
          .sort(),
      ).toEqual(backups);

      // The on-call security lead clicks the one-click link in their mail (quoted-printable).
      const securityLead = emailOf('primary', 'security_lead');
      const theirs = smtp.mails
        .find((m) => m.to.includes(securityLead))!
        .raw.replace(/=\r\n/g, '')
        .replace(/=3D/g, '=');
      const link = /http:\/\/firebreak\.test(\/v1\/ack\/[A-Za-z0-9_-]{43})/.exec(theirs);
      expect(link, 'an acknowledgement link in the mail').not.toBeNull();
      const page = await fetch(`${s.url}${link![1]}`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain(`Acknowledge ${id}`);
      const ack = await fetch(`${s.url}${link![1]}`, {
        method: 'POST',
        headers: { accept: 'application/json' },
      });
      expect(ack.status).toBe(200);
      const incident = await call<{ status: string }>(s.url, 'GET', `/v1/incidents/${id}`, {
        key: s.adminKey,
      });
      expect(incident.body.status).toBe('acknowledged');
      await until('the acknowledgement on the team webhook', () =>
        receiver.hooks.some((h) => JSON.parse(h.body).kind === 'acknowledged'),
      );
      // Level 3 would be due at 7 minutes: nothing comes, whatever the clock says.
      const settled = smtp.mails.length;
      clock.advance(10 * 60_000);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(smtp.mails.length).toBe(settled);
    }, 30_000);
  });
}

const paging = (smtpPort: number) =>
  [
    'channels:',
    `  email: { host: 127.0.0.1, port: ${smtpPort}, secure: false, starttls: never, from: firebreak@kct.example, timeout_ms: 2000 }`,
    '',
  ].join('\n');

describe('paging across failures and restarts (SQLite)', () => {
  let s: TestServer | undefined;
  let smtp: Awaited<ReturnType<typeof startSmtp>> | undefined;
  afterEach(async () => {
    await s?.cleanup();
    if (smtp) await closeSmtp(smtp.server);
    s = undefined;
    smtp = undefined;
  });

  it('a page refused for good goes on the timeline and to the commander on call', async () => {
    const commsLead = emailOf('primary', 'communications_lead');
    smtp = await startSmtp({ rcptError: { address: commsLead, code: 550, message: '5.1.1 No such user' } });
    const clock = new VirtualClock(T0);
    s = await startTestServer('sqlite', {
      clock,
      configYaml: paging(smtp.port),
      env: { FIREBREAK_ROSTER: ROSTER_FILE },
    });
    const created = await call<{ id: string }>(s.url, 'POST', '/v1/incidents', {
      key: s.adminKey,
      json: { title: 'Card data exposed', severity: 'P0' },
    });
    const id = created.body.id;
    const commander = emailOf('primary', 'incident_commander');
    await until('the delivery_failed mail', () =>
      smtp!.mails.some((m) => m.to.includes(commander) && /X-Firebreak-Kind: delivery_failed/.test(m.raw)),
    );
    const failedMail = smtp.mails.find((m) => /X-Firebreak-Kind: delivery_failed/.test(m.raw))!;
    expect(failedMail.raw.replace(/=\r\n/g, '')).toContain('5.1.1 No such user');
    const incident = await call<{
      timeline: { kind: string; actor: string; data: Record<string, unknown> }[];
    }>(s.url, 'GET', `/v1/incidents/${id}`, { key: s.adminKey });
    const failed = incident.body.timeline.filter((r) => r.kind === 'notification_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      actor: 'outbox',
      data: { channel: 'email', kind: 'page', attempts: 1 },
    });
    expect(String(failed[0]!.data.error)).toContain('550');
    // The others got their page; the refused address got nothing.
    expect(smtp.mails.some((m) => m.to.includes(commsLead))).toBe(false);
    // And the API says where every page stands.
    const listed = await call<{
      items: { recipient: string; target: string; status: string; kind: string; last_error: string | null }[];
    }>(s.url, 'GET', `/v1/incidents/${id}/notifications`, { key: s.adminKey });
    expect(listed.status).toBe(200);
    const dead = listed.body.items.filter((n) => n.status === 'dead');
    expect(dead).toEqual([expect.objectContaining({ target: commsLead, kind: 'page' })]);
    expect(dead[0]!.last_error).toContain('550');
    const pages = listed.body.items.filter((n) => n.kind === 'page');
    expect(pages).toHaveLength(5);
    const unknown = await call(s.url, 'GET', '/v1/incidents/INC-2026-999/notifications', { key: s.adminKey });
    expect(unknown.status).toBe(404);
  }, 30_000);

  it('a restart with pages pending and a timer pending delivers each page once and fires the timer', async () => {
    // A port with nothing listening: the first attempts are refused and stay pending.
    const probe = await startSmtp();
    const port = probe.port;
    await closeSmtp(probe.server);
    const clock = new VirtualClock(T0);
    s = await startTestServer('sqlite', {
      clock,
      configYaml: paging(port),
      env: { FIREBREAK_ROSTER: ROSTER_FILE },
    });
    const created = await call<{ id: string }>(s.url, 'POST', '/v1/incidents', {
      key: s.adminKey,
      json: { title: 'Card data exposed', severity: 'P0' },
    });
    expect(created.status).toBe(201);
    // Let the worker try (and fail) once; the clock stands still, so no retry is due yet.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await s.stop();

    smtp = await startSmtp({ port });
    await s.restart();
    clock.advance(60_000);
    const level1 = [...ROLES.map((r) => emailOf('primary', r)), 'security-incidents@kctmenswear.com'].sort();
    await until('the pending pages', () => smtp!.mails.length >= level1.length);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(smtp.mails.flatMap((m) => m.to).sort()).toEqual(level1);
    // The level-2 timer, written before the restart, fires once its time comes.
    clock.advance(60_000);
    const backups = ROLES.map((r) => emailOf('backup', r)).sort();
    await until('the backups', () => smtp!.mails.length >= level1.length + backups.length);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(
      smtp.mails
        .slice(level1.length)
        .flatMap((m) => m.to)
        .sort(),
    ).toEqual(backups);
  }, 40_000);
});
