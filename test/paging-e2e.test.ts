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
import { SMTPServer } from 'smtp-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/kernel/index.js';
import { loadRosterFile, onCallAt } from '../src/oncall/index.js';
import { loadPolicyFile } from '../src/policy/index.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

const file = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const POLICY = loadPolicyFile(file('policies/kct-menswear.yaml'));
const ROSTER_FILE = file('rosters/kct-menswear.example.yaml');
const ROSTER = loadRosterFile(ROSTER_FILE, POLICY);
/** A Wednesday 10:00 UTC. */
const T0 = '2026-11-25T10:00:00.000Z';
const SECRET = 'whsec-e2e-test';

interface Mail {
  readonly to: string[];
  readonly raw: string;
}

function startSmtp(): Promise<{ port: number; mails: Mail[]; server: SMTPServer }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ port: (server.server.address() as AddressInfo).port, mails, server }),
    ),
  );
}

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
        /channels email, webhook; roster .*\(\d+ people\)/,
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
      const timestamp = String(hook.headers['x-firebreak-timestamp']);
      const expected = createHmac('sha256', SECRET).update(`${timestamp}.${hook.body}`).digest('hex');
      expect(hook.headers['x-firebreak-signature']).toBe(`v1=${expected}`);
      expect(JSON.parse(hook.body)).toMatchObject({ incident_id: id, severity: 'P0', kind: 'page' });

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
