/**
 * The four channels against real receivers on loopback: an SMTP server (smtp-server), and
 * node:http servers standing in for Slack, a webhook receiver and PagerDuty's Events API (they
 * answer in the vendors' documented wire format). Then the failures every channel must turn
 * into a DeliveryError that says whether to retry, without a secret in its message.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/kernel/index.js';
import {
  type Channel,
  type ChannelKind,
  createChannels,
  DeliveryError,
  EmailChannel,
  type InternalAlert,
  loadTemplates,
  type Notification,
  PagerDutyChannel,
  SlackChannel,
  WebhookChannel,
} from '../src/notify/index.js';
import { closeSmtp, parseMail, startSmtp } from './helpers/smtp-server.js';

const clock = new VirtualClock('2026-01-05T10:00:00Z');
const templates = loadTemplates();

const ALERT: InternalAlert = {
  kind: 'page',
  incidentId: 'INC-2026-007',
  title: 'Admin logins from a new country',
  severity: 'P1',
  status: 'detected',
  summary: '14 failed then 1 successful admin login from 203.0.113.9',
  impact: 'Admin panel; customer data at risk',
  currentActions: 'Security lead reviewing the session',
  nextUpdate: '2026-01-05T11:00:00.000Z',
  commander: 'Dana Reyes',
  team: ['Eli Cohen', 'Fay Okafor'],
  ackBy: '2026-01-05T10:15:00.000Z',
  ackUrl: 'https://firebreak.example/v1/ack/tok123',
  incidentUrl: 'https://firebreak.example/incidents/INC-2026-007',
};

function notification(channel: ChannelKind, target: string, over: Partial<Notification> = {}): Notification {
  return {
    id: 'ntf-1',
    incidentId: ALERT.incidentId,
    kind: 'page',
    channel,
    recipient: 'dana',
    target,
    idempotencyKey: 'INC-2026-007:page:1:dana:email',
    message: ALERT,
    ...over,
  };
}

/** Every body line of the plan's internal alert, as the default template writes it. */
const ALERT_LINES = [
  'Incident ID: INC-2026-007',
  'Severity: P1',
  'Status: detected',
  ALERT.summary,
  ALERT.impact,
  ALERT.currentActions,
  `NEXT UPDATE: ${ALERT.nextUpdate}`,
  'Incident Commander: Dana Reyes',
  'Response Team: Eli Cohen, Fay Okafor',
];

async function rejection(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DeliveryError);
    return error as DeliveryError;
  }
  throw new Error('expected a DeliveryError, the delivery succeeded');
}

// ---------------------------------------------------------------------------------------------
// Loopback receivers

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}
type Answer = (req: Received, res: ServerResponse) => void;

const servers: Server[] = [];
async function httpReceiver(answer: Answer): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(r);
      answer(r, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received };
}

/** A port nothing listens on (connection refused). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Accepts TCP connections and never says a word (HTTP or SMTP). */
const silentSockets: import('node:net').Socket[] = [];
const tcpServers: TcpServer[] = [];
async function silentPort(): Promise<number> {
  const s = createTcpServer((socket) => silentSockets.push(socket));
  tcpServers.push(s);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as AddressInfo).port;
}

afterEach(async () => {
  for (const socket of silentSockets.splice(0)) socket.destroy();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
  await Promise.all(
    tcpServers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
  );
});

const ok =
  (status: number, body = '', headers: Record<string, string> = {}): Answer =>
  (_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  };

// ---------------------------------------------------------------------------------------------
// Email

describe('email channel (SMTP)', () => {
  it('delivers the internal alert with the Firebreak headers, without auth', async () => {
    const smtp = await startSmtp({});
    try {
      const channel = new EmailChannel(
        { host: '127.0.0.1', port: smtp.port, starttls: 'never', from: 'Firebreak <firebreak@shop.example>' },
        templates,
        clock,
      );
      await channel.deliver(notification('email', 'dana@shop.example'));
      expect(smtp.mails).toHaveLength(1);
      const mail = smtp.mails[0]!;
      expect(mail.from).toBe('firebreak@shop.example');
      expect(mail.to).toEqual(['dana@shop.example']);
      const { headers, body } = parseMail(mail.raw);
      expect(headers.get('from')).toBe('Firebreak <firebreak@shop.example>');
      expect(headers.get('to')).toBe('dana@shop.example');
      expect(headers.get('subject')).toBe(
        '[P1] Security incident alert: INC-2026-007 Admin logins from a new country (detected)',
      );
      expect(headers.get('message-id')).toBe('<INC-2026-007=3apage=3a1=3adana=3aemail@shop.example>');
      expect(headers.get('x-firebreak-incident')).toBe('INC-2026-007');
      expect(headers.get('x-firebreak-idempotency-key')).toBe('INC-2026-007:page:1:dana:email');
      expect(headers.get('x-firebreak-kind')).toBe('page');
      expect(headers.get('auto-submitted')).toBe('auto-generated');
      expect(headers.get('date')).toBe('Mon, 05 Jan 2026 10:00:00 +0000');
      for (const line of ALERT_LINES) expect(body).toContain(line);
      expect(body).toContain(`Acknowledge (one click): ${ALERT.ackUrl}`);
    } finally {
      await closeSmtp(smtp.server);
    }
  });

  it('authenticates when the settings have a user; a wrong password is not retryable and never shown', async () => {
    const smtp = await startSmtp({ auth: { user: 'firebreak', password: 'right-horse-battery' } });
    try {
      const settings = {
        host: '127.0.0.1',
        port: smtp.port,
        starttls: 'never' as const,
        from: 'firebreak@shop.example',
      };
      const good = new EmailChannel(
        { ...settings, auth: { user: 'firebreak', password: 'right-horse-battery' } },
        templates,
      );
      await good.deliver(notification('email', 'eli@shop.example'));
      expect(smtp.mails[0]).toMatchObject({ user: 'firebreak', to: ['eli@shop.example'] });

      const bad = new EmailChannel(
        { ...settings, auth: { user: 'firebreak', password: 'wrong-staple-9' } },
        templates,
      );
      const error = await rejection(bad.deliver(notification('email', 'eli@shop.example')));
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/^email delivery to eli@shop.example via 127.0.0.1:\d+ failed: SMTP 535/);
      expect(error.message).not.toContain('wrong-staple-9');
      expect(error.message).not.toContain(Buffer.from('wrong-staple-9').toString('base64'));
    } finally {
      await closeSmtp(smtp.server);
    }
  });

  it.each([
    [451, true],
    [550, false],
  ])('an SMTP %i reply to RCPT TO: retryable %s', async (code, retryable) => {
    const smtp = await startSmtp({
      rcptError: { code, message: code === 451 ? 'Try again later' : 'No such user' },
    });
    try {
      const channel = new EmailChannel(
        { host: '127.0.0.1', port: smtp.port, starttls: 'never', from: 'firebreak@shop.example' },
        templates,
      );
      const error = await rejection(channel.deliver(notification('email', 'nobody@shop.example')));
      expect(error.retryable).toBe(retryable);
      expect(error.message).toContain(`failed: SMTP ${code}`);
      expect(error.message).toContain('nobody@shop.example');
    } finally {
      await closeSmtp(smtp.server);
    }
  });

  it('a server that never greets times out: retryable', async () => {
    const port = await silentPort();
    const channel = new EmailChannel(
      { host: '127.0.0.1', port, starttls: 'never', from: 'firebreak@shop.example', timeoutMs: 300 },
      templates,
    );
    const error = await rejection(channel.deliver(notification('email', 'dana@shop.example')));
    expect(error).toMatchObject({ retryable: true });
    expect(error.message).toContain('no answer within 0.3 s');
  });

  it('a refused connection: retryable', async () => {
    const port = await closedPort();
    const channel = new EmailChannel(
      {
        host: '127.0.0.1',
        port,
        starttls: 'never',
        from: 'firebreak@shop.example',
        auth: { user: 'u', password: 'smtp-pass-1234' },
      },
      templates,
    );
    const error = await rejection(channel.deliver(notification('email', 'dana@shop.example')));
    expect(error).toMatchObject({ retryable: true });
    expect(error.message).toBe(
      `email delivery to dana@shop.example via 127.0.0.1:${port} failed: connection refused`,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Slack

describe('slack channel (incoming webhook)', () => {
  it('posts Block Kit with the alert fields and an Acknowledge button', async () => {
    const slack = await httpReceiver(ok(200, 'ok', { 'content-type': 'text/plain' }));
    const channel = new SlackChannel({}, templates, clock);
    await channel.deliver(notification('slack', `${slack.url}/services/T0/B0/secretToken123`));
    const [req] = slack.received;
    expect(req).toMatchObject({ method: 'POST', url: '/services/T0/B0/secretToken123' });
    expect(req!.headers['content-type']).toBe('application/json');
    const msg = JSON.parse(req!.body) as { text: string; blocks: Record<string, unknown>[] };
    expect(msg.text).toBe('[P1] Security incident alert: INC-2026-007 Admin logins from a new country');
    expect(msg.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: '🚨 Security incident alert: INC-2026-007', emoji: true },
    });
    const fields = msg.blocks.find((b) => Array.isArray(b.fields)) as { fields: { text: string }[] };
    expect(fields.fields.map((f) => f.text)).toEqual([
      '*Severity*\nP1',
      '*Status*\ndetected',
      '*Incident Commander*\nDana Reyes',
      `*Acknowledge by*\n${ALERT.ackBy}`,
      `*Next update*\n${ALERT.nextUpdate}`,
    ]);
    const texts = JSON.stringify(msg.blocks);
    for (const part of [ALERT.summary, ALERT.impact, ALERT.currentActions, 'Eli Cohen, Fay Okafor']) {
      expect(texts).toContain(part);
    }
    expect(msg.blocks).toContainEqual({
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: 'firebreak-acknowledge',
          style: 'danger',
          text: { type: 'plain_text', text: 'Acknowledge' },
          url: ALERT.ackUrl,
        },
      ],
    });
  });

  it('resolves a configured webhook name; the URL token never shows in an error', async () => {
    const slack = await httpReceiver(ok(404, 'no_service'));
    const channel = new SlackChannel(
      { webhooks: { 'security-incidents': `${slack.url}/services/T0/B0/secretToken123` } },
      templates,
    );
    const error = await rejection(channel.deliver(notification('slack', 'security-incidents')));
    expect(slack.received[0]!.url).toBe('/services/T0/B0/secretToken123');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      `slack delivery to ${slack.url}/services/T0/B0/*** failed: answered 404: no_service; the receiver refused the message, retrying will not help`,
    );
  });

  it('a handle is not a webhook: not retryable', async () => {
    const error = await rejection(new SlackChannel({}, templates).deliver(notification('slack', '@dana')));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(
      '"@dana" is neither a configured webhook name nor an incoming-webhook URL',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Generic webhook

/** A receiver's check, as the README shows it: any v1 signature matching any known secret. */
function verify(req: Received, secrets: string[]): boolean {
  const signatures = String(req.headers['x-firebreak-signature'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1='))
    .map((s) => Buffer.from(s.slice(3), 'hex'));
  return secrets.some((secret) => {
    // PagerDuty's v3 check, unchanged: HMAC-SHA256 of the raw body.
    const expected = createHmac('sha256', secret).update(req.body).digest();
    return signatures.some((sig) => sig.length === expected.length && timingSafeEqual(sig, expected));
  });
}

describe('webhook channel (signed)', () => {
  it('signs with every secret during a rotation; receivers on either secret accept, a wrong one does not', async () => {
    const hook = await httpReceiver(ok(204));
    const channel = new WebhookChannel({ secrets: ['new-secret-2026', 'old-secret-2025'] }, templates, clock);
    await channel.deliver(
      notification('webhook', `${hook.url}/firebreak?tenant=shop`, { idempotencyKey: 'idem-42' }),
    );
    const [req] = hook.received;
    expect(req!.url).toBe('/firebreak?tenant=shop');
    expect(req!.headers['idempotency-key']).toBe('idem-42');
    expect(req!.headers['x-firebreak-timestamp']).toBe('1767607200');
    const sig = String(req!.headers['x-firebreak-signature']);
    expect(sig).toMatch(/^v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    expect(verify(req!, ['new-secret-2026'])).toBe(true);
    expect(verify(req!, ['old-secret-2025'])).toBe(true);
    expect(verify(req!, ['some-other-secret'])).toBe(false);
    // The send time is inside the signed body: changing it to pass a replay check breaks the signature.
    const replayed = req!.body.replace(
      '"sent_at":"2026-01-05T10:00:00.000Z"',
      '"sent_at":"2026-01-05T10:05:00.000Z"',
    );
    expect(replayed).not.toBe(req!.body);
    expect(verify({ ...req!, body: replayed }, ['new-secret-2026'])).toBe(false);
    const body = JSON.parse(req!.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      version: 1,
      event: 'incident.page',
      kind: 'page',
      idempotency_key: 'idem-42',
      notification_id: 'ntf-1',
      incident_id: 'INC-2026-007',
      title: ALERT.title,
      severity: 'P1',
      status: 'detected',
      summary: ALERT.summary,
      impact: ALERT.impact,
      current_actions: ALERT.currentActions,
      next_update: ALERT.nextUpdate,
      commander: 'Dana Reyes',
      team: ['Eli Cohen', 'Fay Okafor'],
      ack_by: ALERT.ackBy,
      ack_url: ALERT.ackUrl,
      incident_url: ALERT.incidentUrl,
    });
    expect(body.text).toContain('Incident ID: INC-2026-007');
  });
});

// ---------------------------------------------------------------------------------------------
// PagerDuty Events API v2

const ROUTING_KEY = 'R0123456789ABCDEF0123456789ABCDE';

describe('pagerduty channel (Events API v2)', () => {
  const pdAnswer: Answer = (req, res) => {
    const event = JSON.parse(req.body) as { dedup_key: string };
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: event.dedup_key }));
  };

  it('triggers with the documented body', async () => {
    const pd = await httpReceiver(pdAnswer);
    const channel = new PagerDutyChannel(
      { routingKeys: { security: ROUTING_KEY }, endpoint: `${pd.url}/v2/enqueue` },
      templates,
      clock,
    );
    await channel.deliver(notification('pagerduty', 'security'));
    expect(pd.received[0]).toMatchObject({ method: 'POST', url: '/v2/enqueue' });
    expect(JSON.parse(pd.received[0]!.body)).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: 'INC-2026-007',
      payload: {
        summary:
          '[P1] INC-2026-007: Admin logins from a new country (detected) - 14 failed then 1 successful admin login from 203.0.113.9',
        source: 'firebreak',
        severity: 'error',
        timestamp: '2026-01-05T10:00:00.000Z',
        component: 'firebreak',
        group: 'security-incidents',
        class: 'security incident',
        custom_details: {
          incident_id: 'INC-2026-007',
          kind: 'page',
          title: ALERT.title,
          severity: 'P1',
          status: 'detected',
          summary: ALERT.summary,
          impact: ALERT.impact,
          current_actions: ALERT.currentActions,
          next_update: ALERT.nextUpdate,
          commander: 'Dana Reyes',
          team: ['Eli Cohen', 'Fay Okafor'],
          ack_by: ALERT.ackBy,
        },
      },
      client: 'Firebreak',
      client_url: ALERT.incidentUrl,
      links: [
        { href: ALERT.incidentUrl, text: 'Incident INC-2026-007 in Firebreak' },
        { href: ALERT.ackUrl, text: 'Acknowledge in Firebreak' },
      ],
    });
  });

  it.each([
    ['acknowledged', 'acknowledge'],
    ['resolved', 'resolve'],
  ] as const)('%s → event_action %s with dedup_key = the incident id', async (kind, action) => {
    const pd = await httpReceiver(pdAnswer);
    const channel = new PagerDutyChannel(
      { routingKeys: { security: ROUTING_KEY }, endpoint: `${pd.url}/v2/enqueue` },
      templates,
      clock,
    );
    await channel.deliver(notification('pagerduty', 'security', { kind, message: { ...ALERT, kind } }));
    expect(JSON.parse(pd.received[0]!.body)).toEqual({
      routing_key: ROUTING_KEY,
      event_action: action,
      dedup_key: 'INC-2026-007',
    });
  });

  it.each([
    ['P0', 'critical'],
    ['P2', 'warning'],
    ['P3', 'info'],
  ] as const)('severity %s → %s', async (severity, pdSeverity) => {
    const channel = new PagerDutyChannel({ routingKeys: { security: ROUTING_KEY } }, templates, clock);
    const event = channel.eventFor(
      notification('pagerduty', 'security', { message: { ...ALERT, severity } }),
      'k',
    );
    expect(event).toMatchObject({ payload: { severity: pdSeverity } });
  });

  it('a 400 (invalid event) is not retryable and does not show the routing key', async () => {
    const pd = await httpReceiver(
      ok(
        400,
        JSON.stringify({
          status: 'invalid event',
          message: 'Event object is invalid',
          errors: [`bad key ${ROUTING_KEY}`],
        }),
      ),
    );
    const channel = new PagerDutyChannel(
      { routingKeys: { security: ROUTING_KEY }, endpoint: `${pd.url}/v2/enqueue` },
      templates,
    );
    const error = await rejection(channel.deliver(notification('pagerduty', 'security')));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(
      `pagerduty delivery to "security" at ${pd.url}/v2/enqueue failed: answered 400`,
    );
    expect(error.message).toContain('Event object is invalid');
    expect(error.message).not.toContain(ROUTING_KEY);
  });

  it('an unknown routing key name is not retryable', async () => {
    const channel = new PagerDutyChannel({ routingKeys: { security: ROUTING_KEY } }, templates);
    const error = await rejection(channel.deliver(notification('pagerduty', 'ops')));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('no routing key of that name');
    expect(error.message).not.toContain(ROUTING_KEY);
  });
});

// ---------------------------------------------------------------------------------------------
// The failure contract, run by every HTTP channel

const SECRETS = { webhook: 'whsec-very-secret-1', slackToken: 'slackTokenSecret99', routingKey: ROUTING_KEY };

interface HttpCase {
  readonly kind: ChannelKind;
  /** The channel and the notification target for a receiver at `base` (with `timeoutMs`). */
  make(base: string, timeoutMs?: number): { channel: Channel; target: string };
}

const HTTP_CASES: HttpCase[] = [
  {
    kind: 'slack',
    make: (base, timeoutMs) => ({
      channel: new SlackChannel({ timeoutMs }, templates, clock),
      target: `${base}/services/T0/B0/${SECRETS.slackToken}`,
    }),
  },
  {
    kind: 'webhook',
    make: (base, timeoutMs) => ({
      channel: new WebhookChannel({ secrets: [SECRETS.webhook], timeoutMs }, templates, clock),
      target: `${base}/hook`,
    }),
  },
  {
    kind: 'pagerduty',
    make: (base, timeoutMs) => ({
      channel: new PagerDutyChannel(
        { routingKeys: { security: SECRETS.routingKey }, endpoint: `${base}/v2/enqueue`, timeoutMs },
        templates,
        clock,
      ),
      target: 'security',
    }),
  },
];

function expectNoSecret(error: DeliveryError): void {
  for (const secret of Object.values(SECRETS)) expect(error.message).not.toContain(secret);
}

describe.each(HTTP_CASES)('$kind channel failures', ({ kind, make }) => {
  it('500 → retryable, naming the channel and the cause', async () => {
    const r = await httpReceiver(ok(500, 'internal error'));
    const { channel, target } = make(r.url);
    const error = await rejection(channel.deliver(notification(kind, target)));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(
      new RegExp(`^${kind} delivery to .*127\\.0\\.0\\.1.* failed: answered 500: internal error`),
    );
    expectNoSecret(error);
  });

  it('400 → not retryable', async () => {
    const r = await httpReceiver(ok(400, 'invalid_payload'));
    const { channel, target } = make(r.url);
    const error = await rejection(channel.deliver(notification(kind, target)));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('answered 400: invalid_payload');
    expectNoSecret(error);
  });

  it('404 → not retryable', async () => {
    const r = await httpReceiver(ok(404, 'no_service'));
    const { channel, target } = make(r.url);
    const error = await rejection(channel.deliver(notification(kind, target)));
    expect(error.retryable).toBe(false);
    expectNoSecret(error);
  });

  it('429 with Retry-After → retryable with retryAfterS (seconds and HTTP date)', async () => {
    const r = await httpReceiver(ok(429, 'rate_limited', { 'retry-after': '30' }));
    const { channel, target } = make(r.url);
    const error = await rejection(channel.deliver(notification(kind, target)));
    expect(error).toMatchObject({ retryable: true, retryAfterS: 30 });
    expect(error.message).toContain('answered 429: rate_limited (retry after 30 s)');

    const r2 = await httpReceiver(ok(503, '', { 'retry-after': 'Mon, 05 Jan 2026 10:02:00 GMT' }));
    const second = make(r2.url);
    const error2 = await rejection(second.channel.deliver(notification(kind, second.target)));
    expect(error2).toMatchObject({ retryable: true, retryAfterS: 120 });
  });

  it('a receiver that accepts and never answers times out → retryable', async () => {
    const r = await httpReceiver(() => {
      /* never answers */
    });
    const { channel, target } = make(r.url, 200);
    const error = await rejection(channel.deliver(notification(kind, target)));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('failed: no answer within 0.2 s');
    expectNoSecret(error);
  });

  it('connection refused → retryable', async () => {
    const port = await closedPort();
    const { channel, target } = make(`http://127.0.0.1:${port}`);
    const error = await rejection(channel.deliver(notification(kind, target)));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('failed: connection refused');
    expectNoSecret(error);
  });

  it('a redirect is not followed → not retryable', async () => {
    const r = await httpReceiver(ok(302, '', { location: 'https://elsewhere.example/x?token=abc' }));
    const { channel, target } = make(r.url);
    const error = await rejection(channel.deliver(notification(kind, target)));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('answered 302 (a redirect to https://elsewhere.example/x)');
    expect(r.received).toHaveLength(1);
  });
});

describe('createChannels', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  beforeAll(async () => {
    smtp = await startSmtp({});
  });
  afterAll(() => closeSmtp(smtp.server));

  it('builds the configured channels only, by kind', async () => {
    const none = createChannels({}, { templates });
    expect(Object.keys(none)).toEqual([]);
    const channels = createChannels(
      {
        email: { host: '127.0.0.1', port: smtp.port, starttls: 'never', from: 'firebreak@shop.example' },
        webhook: { secrets: ['s1'] },
        pagerduty: { routingKeys: {} },
        slack: {},
      },
      { templates, clock },
    );
    expect(Object.keys(channels).sort()).toEqual(['email', 'pagerduty', 'slack', 'webhook']);
    for (const [kind, channel] of Object.entries(channels)) expect(channel.kind).toBe(kind);
    await channels.email!.deliver(notification('email', 'fay@shop.example'));
    expect(smtp.mails.map((m) => m.to)).toEqual([['fay@shop.example']]);
  });
});
