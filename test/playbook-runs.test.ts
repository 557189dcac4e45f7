/**
 * Playbook runs through a real server, both dialects: a request flood detected from events the
 * shop sent proposes a ban; a person starts it, the step needing the incident commander waits
 * until a key of the on-call commander approves it (others are refused), the ban and the
 * checkout switch land in the decisions API, a message is queued for the security lead, and the
 * undo puts everything back phase by phase, each phase approved. The timeline and the audit log
 * show every move.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../src/api/index.js';
import type { DryRun, PlaybookRun } from '../src/respond/index.js';
import { ensureBuilt, runFirebreak } from './helpers/cli.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { closeSmtp, parseMail, startSmtp } from './helpers/smtp-server.js';
import { DIALECTS } from './helpers/stores.js';
import { until } from './helpers/until.js';

const ATTACKER = '203.0.113.77';

const ROSTER = `people:
  alex: { name: Alex Morgan, email: alex@shop.example }
  jordan: { name: Jordan Lee, email: jordan@shop.example }
  dana: { name: Dana Reyes, email: dana@shop.example }
  cam: { name: Cam Nguyen, email: cam@shop.example }
roles:
  incident_commander: { primary: alex, backup: jordan }
  security_lead: { primary: dana, backup: jordan }
  technical_lead: { primary: jordan, backup: dana }
  communications_lead: { primary: cam, backup: dana }
`;

const PLAYBOOK = `id: flood-response
title: Ban the flooding address and stop checkout
triggers:
  - rules: [api-flood]
    mode: proposed
steps:
  - id: ban-ip
    title: Ban the source address
    phase: containment
    action:
      connector: decisions
      operation: add
      params: { type: ban, value: "{{ alert.group.source.ip }}", duration: 4h, reason: "{{ alert.rule }} in {{ incident.id }}" }
    approval: none
    timeout: 30s
    retries: 2
    undo: { connector: decisions, operation: delete, params: { value: "{{ alert.group.source.ip }}" } }
  - id: checkout-off
    title: Turn checkout off
    phase: containment
    action: { connector: decisions, operation: set_switch, params: { switch: checkout_enabled, enabled: false, reason: "{{ incident.id }}" } }
    approval: incident_commander
    timeout: 30s
    undo: { connector: decisions, operation: set_switch, params: { switch: checkout_enabled, enabled: true, reason: restored } }
  - id: tell-security
    title: Tell the security lead
    phase: containment
    action: { connector: notify, operation: send, params: { to: security_lead, subject: "ban in place", text: "{{ alert.group.source.ip }} is banned for {{ incident.id }}" } }
    approval: none
    undo: { none: a sent message cannot be unsent }
`;

describe.each(DIALECTS)('playbook runs through the server ($name)', ({ name: dialect, skip }) => {
  let s: TestServer;
  const keys = { admin: '', alex: '', dana: '' };
  let incident = '';
  let smtp: Awaited<ReturnType<typeof startSmtp>>;

  const api = <T>(method: string, path: string, key: string, json?: unknown) =>
    call<T & ErrorBody>(s.url, method, path, { key, ...(json === undefined ? {} : { json }) });
  const run = async (id: string) =>
    (await api<PlaybookRun>('GET', `/v1/playbook-runs/${id}`, keys.admin)).body;

  beforeAll(async () => {
    if (skip) return;
    ensureBuilt();
    smtp = await startSmtp();
    s = await startTestServer(dialect, {
      configYaml: [
        'roster: roster.yaml',
        'playbooks: [shop-playbooks]',
        'builtin_playbooks: false',
        'channels:',
        `  email: { host: 127.0.0.1, port: ${smtp.port}, secure: false, starttls: never, from: firebreak@shop.example, timeout_ms: 2000 }`,
      ].join('\n'),
      prepare: (dir: string) => {
        writeFileSync(join(dir, 'roster.yaml'), ROSTER);
        mkdirSync(join(dir, 'shop-playbooks'));
        writeFileSync(join(dir, 'shop-playbooks', 'flood-response.yaml'), PLAYBOOK);
      },
      runner: { pollMs: 50, retryBaseMs: 100 },
    });
    keys.admin = s.adminKey;
    for (const person of ['alex', 'dana'] as const) {
      const made = await api<{ key: string; person: string }>('POST', '/v1/keys', keys.admin, {
        name: `${person}-laptop`,
        scopes: ['write'],
        person,
      });
      expect(made.status).toBe(201);
      expect(made.body.person).toBe(person);
      keys[person] = made.body.key;
    }
  });
  afterAll(async () => {
    await s?.cleanup();
    if (smtp) await closeSmtp(smtp.server);
  });

  it.skipIf(skip)('a flood of requests from one address proposes the ban on its incident', async () => {
    const at = Date.now();
    const events = Array.from({ length: 501 }, (_, i) => ({
      '@timestamp': new Date(at - 30_000 + i * 10).toISOString(),
      event: { action: 'request' },
      source: { ip: ATTACKER },
      url: { path: '/api/products' },
    }));
    expect((await api('POST', '/v1/events', keys.admin, events)).status).toBe(200);
    const proposals = await until(
      'the proposal',
      async () => {
        const list = await api<{ items: { id: string; severity: string }[] }>(
          'GET',
          '/v1/incidents',
          keys.admin,
        );
        incident = list.body.items[0]?.id ?? '';
        if (!incident) return [];
        return (
          await api<{ items: PlaybookRun[] }>('GET', `/v1/incidents/${incident}/playbook-runs`, keys.admin)
        ).body.items;
      },
      (items) => items.length > 0,
    );
    expect(proposals.map((p) => [p.playbook_id, p.status, p.origin, p.steps.length])).toEqual([
      ['flood-response', 'proposed', 'proposed', 0],
    ]);
  });

  it.skipIf(skip)('a dry run shows each step filled in from the alert and runs nothing', async () => {
    const dry = await api<DryRun>('POST', `/v1/incidents/${incident}/playbook-runs`, keys.admin, {
      playbook: 'flood-response',
      dry_run: true,
    });
    expect(dry.status).toBe(200);
    expect(dry.body.ok).toBe(true);
    expect(dry.body.steps.map((x) => [x.id, x.approval, x.action?.params.value ?? null])).toEqual([
      ['ban-ip', null, ATTACKER],
      ['checkout-off', 'incident_commander', null],
      ['tell-security', null, null],
    ]);
    expect(dry.body.steps[2]!.undo.none).toBe('a sent message cannot be unsent');
    const lookup = await api<{ decisions: unknown[] }>('GET', `/v1/decisions?ip=${ATTACKER}`, keys.admin);
    expect(lookup.body.decisions).toEqual([]);
    // The CLI prints the same plan.
    const cli = await runFirebreak(s.dataDir, ['playbook', 'run', 'flood-response', incident, '--dry-run'], {
      FIREBREAK_URL: s.url,
      FIREBREAK_API_KEY: keys.admin,
    });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('dry run of flood-response');
    expect(cli.stdout).toContain(ATTACKER);
  });

  it.skipIf(skip)('runs, waits for the commander, refuses others, and finishes once approved', async () => {
    const started = await api<PlaybookRun>('POST', `/v1/incidents/${incident}/playbook-runs`, keys.dana, {
      playbook: 'flood-response',
    });
    expect(started.status, started.text).toBe(201);
    const id = started.body.id;
    const waiting = await until(
      'the approval wait',
      () => run(id),
      (r) => r.status === 'waiting_approval',
    );
    expect(waiting.steps.map((x) => x.status)).toEqual(['succeeded', 'waiting_approval', 'pending']);
    const banned = await api<{ decisions: { origin: string }[] }>(
      'GET',
      `/v1/decisions?ip=${ATTACKER}`,
      keys.admin,
    );
    expect(banned.body.decisions).toHaveLength(1);
    expect(banned.body.decisions[0]!.origin).toBe(`playbook:${id}/forward/ban-ip`);

    // The commander on call is asked, by email, with the command that approves.
    const ask = await until(
      'the request for approval',
      async () => smtp.mails.find((m) => m.raw.includes('approval needed')),
      (m) => m !== undefined,
    );
    expect(ask!.to).toEqual(['alex@shop.example']);
    expect(parseMail(ask!.raw).body).toContain(`firebreak playbook approve ${id} --expect checkout-off`);

    const byAdmin = await api('POST', `/v1/playbook-runs/${id}/approve`, keys.admin, {});
    expect(byAdmin.status).toBe(403);
    expect(byAdmin.body.error.code).toBe('FB_ERR_APPROVAL_FORBIDDEN');
    const byDana = await api('POST', `/v1/playbook-runs/${id}/approve`, keys.dana, {
      expect: 'checkout-off',
    });
    expect(byDana.status).toBe(403);
    expect(byDana.body.error.message).toContain('on call: alex, jordan');

    const cli = await runFirebreak(s.dataDir, ['playbook', 'approve', id, '--expect', 'checkout-off'], {
      FIREBREAK_URL: s.url,
      FIREBREAK_API_KEY: keys.alex,
    });
    expect(cli.code, cli.stderr).toBe(0);
    const done = await until(
      'the run to finish',
      () => run(id),
      (r) => r.status === 'succeeded',
    );
    expect(done.steps[1]!.approved_by).toMatch(/^person:alex /);
    const switches = await api<{ switches: Record<string, boolean> }>('GET', '/v1/switches', keys.admin);
    expect(switches.body.switches.checkout_enabled).toBe(false);
    // The security lead's message went out by email, through the outbox.
    const mail = await until(
      'the message to the security lead',
      async () => smtp.mails.find((m) => m.raw.includes('ban in place')),
      (m) => m !== undefined,
    );
    expect(mail!.to).toEqual(['dana@shop.example']);
    expect(mail!.raw).toContain(`${ATTACKER} is banned for ${incident}`);

    const timeline = await api<{ timeline: { kind: string; data: { event: string; step?: string } }[] }>(
      'GET',
      `/v1/incidents/${incident}`,
      keys.admin,
    );
    expect(
      timeline.body.timeline
        .filter((t) => t.kind === 'playbook')
        .map((t) => `${t.data.event}${t.data.step ? `:${t.data.step}` : ''}`),
    ).toEqual([
      'proposed',
      'started',
      'step_succeeded:ban-ip',
      'step_waiting:checkout-off',
      'step_approved:checkout-off',
      'step_succeeded:checkout-off',
      'step_succeeded:tell-security',
      'succeeded',
    ]);
  });

  it.skipIf(skip)('undo puts back the switch and lifts the ban, one approved phase at a time', async () => {
    const [first] = (
      await api<{ items: PlaybookRun[] }>('GET', `/v1/incidents/${incident}/playbook-runs`, keys.admin)
    ).body.items;
    const id = first!.id;
    const cli = await runFirebreak(s.dataDir, ['playbook', 'undo', id], {
      FIREBREAK_URL: s.url,
      FIREBREAK_API_KEY: keys.dana,
    });
    expect(cli.code, cli.stderr).toBe(0);
    let r = await until(
      'the first phase to wait',
      () => run(id),
      (x) => x.status === 'undo_waiting_approval',
    );
    // Each phase asks the commander on call.
    await until(
      'the request to approve the first phase',
      async () => smtp.mails.filter((m) => parseMail(m.raw).body.includes(`${id} --expect user_services`)),
      (m) => m.length === 1 && m[0]!.to[0] === 'alex@shop.example',
    );
    const undo = r.steps.filter((x) => x.direction === 'undo');
    // KCT order: user services (the ban) before payments (checkout); the message cannot be undone.
    expect(undo.map((x) => [x.step_id, x.recovery_phase, x.status])).toEqual([
      ['tell-security', 'user_services', 'skipped'],
      ['ban-ip', 'user_services', 'waiting_approval'],
      ['checkout-off', 'payments', 'pending'],
    ]);
    expect(
      (await api('POST', `/v1/playbook-runs/${id}/approve`, keys.alex, { expect: 'payments' })).status,
    ).toBe(409);
    expect(
      (await api('POST', `/v1/playbook-runs/${id}/approve`, keys.alex, { expect: 'user_services' })).status,
    ).toBe(200);
    r = await until(
      'the payments phase to wait',
      () => run(id),
      (x) =>
        x.status === 'undo_waiting_approval' &&
        x.steps.some((s) => s.recovery_phase === 'payments' && s.status === 'waiting_approval'),
    );
    const lifted = await api<{ decisions: unknown[] }>('GET', `/v1/decisions?ip=${ATTACKER}`, keys.admin);
    expect(lifted.body.decisions).toEqual([]);
    expect(
      (await api<{ switches: Record<string, boolean> }>('GET', '/v1/switches', keys.admin)).body.switches
        .checkout_enabled,
    ).toBe(false);
    expect(
      (await api('POST', `/v1/playbook-runs/${id}/approve`, keys.alex, { expect: 'payments' })).status,
    ).toBe(200);
    r = await until(
      'the undo to finish',
      () => run(id),
      (x) => x.status === 'undone',
    );
    expect(
      (await api<{ switches: Record<string, boolean> }>('GET', '/v1/switches', keys.admin)).body.switches
        .checkout_enabled,
    ).toBe(true);
    const audit = await api<{ items: { action: string }[] } | { action: string }[]>(
      'GET',
      '/v1/audit?limit=500',
      keys.admin,
    );
    expect(JSON.stringify(audit.body)).toContain('playbook.phase_approved');
  });

  it.skipIf(skip)('bad requests name what was wrong', async () => {
    const unknown = await api('POST', `/v1/incidents/${incident}/playbook-runs`, keys.admin, {
      playbook: 'nope',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('FB_ERR_PLAYBOOK_NOT_FOUND');
    expect((await api('GET', '/v1/playbook-runs/run_0000000000000000', keys.admin)).status).toBe(404);
    expect((await api('GET', '/v1/playbook-runs/not-a-run', keys.admin)).status).toBe(400);
    const extra = await api('POST', `/v1/incidents/${incident}/playbook-runs`, keys.admin, {
      playbook: 'x',
      force: true,
    });
    expect(extra.status).toBe(400);
    const noReason = await api('POST', '/v1/playbook-runs/run_0000000000000000/refuse', keys.admin, {});
    expect(noReason.status).toBe(400);
  });
});
