/** The `notify` connector over a real store and outbox: who is told, on which channel, once per step. */
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from '../../../test/helpers/stores.js';
import { AuditLog } from '../../audit/index.js';
import { IncidentService } from '../../incidents/index.js';
import { VirtualClock } from '../../kernel/index.js';
import { Outbox, type PagingRoutes, type StoredNotification } from '../../notify/index.js';
import { loadRosterFile, onCallAt, type Roster } from '../../oncall/index.js';
import { loadPolicyFile } from '../../policy/index.js';
import {
  type Connector,
  ConnectorError,
  KNOWN_CONNECTOR_OPERATIONS,
  loadPlaybooks,
  type RunContext,
  renderParams,
} from '../../respond/index.js';
import { createNotifyConnector, type NotifyConnectorDeps } from './notify-connector.js';

const file = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const POLICY = loadPolicyFile(file('policies/kct-menswear.yaml'));
const ROSTER = loadRosterFile(file('rosters/kct-menswear.example.yaml'), POLICY);
/** A Wednesday, 10:00 UTC. */
const T0 = '2026-11-25T10:00:00.000Z';
const RUN = 'run_0123456789abcdef';
const WEBHOOK = 'https://hooks.example/firebreak';
const ROUTES: PagingRoutes = { email: true, slack: true, team: [{ channel: 'webhook', target: WEBHOOK }] };
const ROLE_IDS = Object.keys(POLICY.roles);
const KNOWN = [...ROLE_IDS, ...Object.keys(POLICY.stakeholders)].join(', ');

const onCall = (role: string, slot: 'primary' | 'backup' = 'primary') =>
  onCallAt(ROSTER, POLICY, new Date(T0)).find((r) => r.role === role)![slot].person;

async function failure(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectorError);
    return error as ConnectorError;
  }
  throw new Error('expected a failure');
}

describe.each(DIALECTS)('notify connector ($name)', ({ name, skip }) => {
  let ts: TestStore;
  let clock: VirtualClock;
  let incidents: IncidentService;
  let outbox: Outbox;
  let incident: string;
  let wakes: number;

  beforeEach(async () => {
    if (skip) return;
    ts = await freshStore(name);
    clock = new VirtualClock(T0);
    incidents = new IncidentService({
      store: ts.store,
      audit: new AuditLog(ts.store.dialect),
      policy: POLICY,
      clock,
    });
    outbox = new Outbox({ store: ts.store, clock });
    incident = (await incidents.create('tester', { title: 'Card data exposed', severity: 'P1' })).id;
    wakes = 0;
  });
  afterEach(async () => {
    await ts?.cleanup();
  });

  function connectorWith(overrides: Partial<NotifyConnectorDeps> = {}): Connector {
    return createNotifyConnector({
      store: ts.store,
      outbox,
      incidents,
      policy: POLICY,
      roster: ROSTER,
      clock,
      routes: ROUTES,
      wake: () => {
        wakes++;
      },
      ...overrides,
    });
  }

  const contextOf = (step: string): RunContext => ({
    idempotencyKey: `${RUN}/forward/${step}`,
    actor: `playbook:${RUN}`,
    incidentId: incident,
    signal: new AbortController().signal,
  });

  /** The outbox rows by key (rows written in one transaction share created_at). */
  const rows = async () =>
    (await outbox.list(incident))
      .map((n: StoredNotification) => ({
        kind: n.kind,
        recipient: n.recipient,
        channel: n.channel,
        target: n.target,
        key: n.idempotencyKey,
      }))
      .sort((a, b) => a.key.localeCompare(b.key));
  const byId = <T extends { id: string }>(list: readonly T[]) =>
    [...list].sort((a, b) => a.id.localeCompare(b.id));

  const MESSAGE = { subject: 'preserve evidence', text: 'Take a pg_dump snapshot first.' };

  it.skipIf(skip)(
    "queues each role holder's email and Slack copies once per step, and offers no undo",
    async () => {
      const send = connectorWith().operations.send!;
      const params = { to: ['security_lead', 'communications_lead'], ...MESSAGE };
      expect(send.validate(params)).toEqual([]);
      const security = onCall('security_lead');
      const cam = onCall('communications_lead');
      expect(cam.id).toBe('cam'); // cam has a Slack webhook; the others a Slack handle only

      const out = await send.run(params, contextOf('ask-for-evidence'));
      const cause = `${incident}:playbook:${RUN}/forward/ask-for-evidence`;
      expect(security.id).toBe('eli'); // sorts after cam
      expect(await rows()).toEqual([
        { kind: 'message', recipient: 'cam', channel: 'email', target: cam.email, key: `${cause}:cam:email` },
        { kind: 'message', recipient: 'cam', channel: 'slack', target: cam.slack, key: `${cause}:cam:slack` },
        {
          kind: 'message',
          recipient: 'eli',
          channel: 'email',
          target: security.email,
          key: `${cause}:eli:email`,
        },
      ]);
      const [first] = await outbox.list(incident);
      expect(first!.message).toMatchObject({
        kind: 'message',
        incidentId: incident,
        title: 'preserve evidence',
        summary: 'Take a pg_dump snapshot first.',
        severity: 'P1',
        status: 'detected',
        commander: `${onCall('incident_commander').name} (on call)`,
        team: [security.name, cam.name],
        currentActions: `sent by playbook:${RUN}`,
      });
      expect(out.undo).toBeUndefined();
      const { notifications, ...rest } = out.changed as { notifications: { id: string }[] };
      expect(byId(notifications)).toEqual(
        byId(
          (await outbox.list(incident)).map((n) => ({
            id: n.id,
            recipient: n.recipient,
            channel: n.channel,
            created: true,
          })),
        ),
      );
      expect(rest).toEqual({
        recipients: [
          { id: security.id, name: security.name, for: ['security_lead'] },
          { id: 'cam', name: cam.name, for: ['communications_lead'] },
        ],
        team: [],
        unreached: [],
        irreversible: 'a sent message cannot be unsent',
      });
      expect(JSON.stringify(out.changed)).not.toContain('@'); // no addresses in the outcome
      expect(wakes).toBe(1);

      // The same step again (a retry after a crash): nothing new is queued.
      clock.advance(30_000);
      const again = await send.run(params, contextOf('ask-for-evidence'));
      expect(await rows()).toHaveLength(3);
      expect((again.changed.notifications as { created: boolean }[]).map((n) => n.created)).toEqual([
        false,
        false,
        false,
      ]);
      expect(again.summary).toMatch(/3 already queued by an earlier attempt/);
      // Another step is another message.
      await send.run(params, contextOf('remind'));
      expect(await rows()).toHaveLength(6);
    },
  );

  it.skipIf(skip)('adds backups and the team channels when asked; the assigned person wins', async () => {
    await incidents.assignRole('tester', incident, 'security_lead', 'mo');
    const send = connectorWith().operations.send!;
    const out = await send.run(
      { to: 'security_lead', backup: true, team: true, ...MESSAGE },
      contextOf('all-hands'),
    );
    const backup = onCall('security_lead', 'backup');
    expect(backup.id).toBe('fay');
    expect((await rows()).map((r) => `${r.recipient}:${r.channel}`)).toEqual([
      'fay:email',
      'mo:email',
      'team:webhook',
    ]);
    expect((await rows()).at(-1)).toMatchObject({
      target: WEBHOOK,
      key: `${incident}:playbook:${RUN}/forward/all-hands:team:webhook:${WEBHOOK}`,
    });
    expect(out.changed.recipients).toEqual([
      { id: 'mo', name: 'Mo Haddad', for: ['security_lead'] },
      { id: backup.id, name: backup.name, for: ['security_lead (backup)'] },
    ]);
    expect(out.changed.team).toEqual(['webhook']);
  });

  it.skipIf(skip)('reaches stakeholders by their contact and says who it could not reach', async () => {
    const send = connectorWith().operations.send!;
    const out = await send.run({ to: ['cto', 'ceo'], ...MESSAGE }, contextOf('tell-leadership'));
    expect(await rows()).toMatchObject([
      { recipient: 'cto', channel: 'email', target: POLICY.stakeholders.cto!.contact },
    ]);
    expect(out.changed.unreached).toEqual([
      { to: 'ceo', reason: 'not in the roster and no contact in the policy' },
    ]);
    expect(out.summary).toMatch(/not reached: ceo$/);

    const nobody = await failure(send.run({ to: 'ceo', ...MESSAGE }, contextOf('tell-ceo')));
    expect(nobody.retryable).toBe(false);
    expect(nobody.message).toBe(
      'notify: nobody can be told (ceo: not in the roster and no contact in the policy)',
    );
    // Without a roster roles have no holder; without email a person with no Slack webhook has no channel.
    const noRoster = connectorWith({ roster: undefined }).operations.send!;
    expect(
      (await failure(noRoster.run({ to: 'security_lead', ...MESSAGE }, contextOf('x')))).message,
    ).toMatch(/security_lead: no roster, so nobody holds the role/);
    const slackOnly = connectorWith({ routes: { email: false, slack: true, team: [] } }).operations.send!;
    expect(
      (await failure(slackOnly.run({ to: 'incident_commander', ...MESSAGE }, contextOf('y')))).message,
    ).toMatch(/has no address on a channel set up here \(email off, Slack on\)/);
    expect(await rows()).toHaveLength(1);
  });

  it.skipIf(skip)('refuses unknown roles, addresses and missing text in validate()', async () => {
    const send = connectorWith().operations.send!;
    expect(send.validate({ to: 'affected_creators', ...MESSAGE })).toEqual([
      `to: "affected_creators" is not a response role or stakeholder of policy ${POLICY.name} (known: ${KNOWN})`,
    ]);
    expect(send.validate({ to: ['security@ups.com'], ...MESSAGE })[0]).toMatch(
      /^to: "security@ups.com" is not a response role or stakeholder/,
    );
    expect(send.validate({ subject: 'x', body: 'y', template: 'carrier-breach' })).toEqual([
      'body: unknown parameter (expected to, team, backup, subject, text)',
      'template: unknown parameter (expected to, team, backup, subject, text)',
      'to: name at least one role or stakeholder, or set team: true',
      'text: expected text of 1 to 10000 characters',
    ]);
    expect(send.validate({ to: [1], team: 'yes', subject: 'a\nb', text: '' })).toEqual([
      'to: expected a response role or stakeholder id, or a list of them',
      'team: expected true or false',
      'to: name at least one role or stakeholder, or set team: true',
      'subject: expected one line of 1 to 200 characters',
      'text: expected text of 1 to 10000 characters',
    ]);
    expect(send.validate({ team: true, ...MESSAGE })).toEqual([]);
    const bad = await failure(send.run({ to: 'affected_creators', ...MESSAGE }, contextOf('z')));
    expect(bad.retryable).toBe(false);
    expect(await rows()).toEqual([]);
  });

  it.skipIf(skip)('plans without looking anyone up', () => {
    const send = connectorWith().operations.send!;
    expect(send.plan({ to: ['security_lead', 'cto'], backup: true, team: true, ...MESSAGE })).toEqual({
      summary:
        'send "preserve evidence" to security_lead (primary and backup), cto and the team channels (a message cannot be unsent)',
      detail: [
        'subject: preserve evidence',
        'text: "Take a pg_dump snapshot first."',
        'through the outbox by email and Slack (where the person has a webhook); team: webhook; one message per person and channel, keyed by this step',
      ],
    });
  });
});

describe('notify connector and the built-in playbooks', () => {
  it('accepts the parameters of every notify step, once filled in', () => {
    const playbooks = loadPlaybooks([file('playbooks')], {
      connectors: KNOWN_CONNECTOR_OPERATIONS,
      roles: ROLE_IDS,
    });
    // validate() and plan() touch neither the store nor the outbox.
    const connector = createNotifyConnector({
      policy: POLICY,
      roster: ROSTER as Roster,
      routes: ROUTES,
    } as NotifyConnectorDeps);
    const steps = playbooks.flatMap((p) => p.steps).filter((s) => s.action.connector === 'notify');
    expect(steps.length).toBeGreaterThanOrEqual(4);
    for (const step of steps) {
      const params = renderParams(step.action.params, { incident: { id: 'INC-2026-001' }, alerts: [] });
      expect(connector.operations.send!.validate(params), step.id).toEqual([]);
      expect(step.undo.kind).toBe('none');
    }
  });
});
