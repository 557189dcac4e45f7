/** The `decisions` connector on both dialects: each operation's effect, its undo, repeats, bad input. */
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from '../../../test/helpers/stores.js';
import { AuditLog } from '../../audit/index.js';
import { IncidentService } from '../../incidents/index.js';
import { FirebreakError, VirtualClock } from '../../kernel/index.js';
import { loadPolicyFile } from '../../policy/index.js';
import {
  type ActionOutcome,
  type Connector,
  ConnectorError,
  KNOWN_CONNECTOR_OPERATIONS,
  loadPlaybooks,
  type RunContext,
  renderParams,
} from '../../respond/index.js';
import { DecisionService, SWITCH_NAMES } from './decision-service.js';
import { createDecisionsConnector } from './decisions-connector.js';

const file = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const POLICY = loadPolicyFile(file('policies/kct-menswear.yaml'));
const NOW = '2026-03-02T12:00:00.000Z';
const RUN = 'run_0123456789abcdef';

function contextOf(step: string, incidentId: string, direction = 'forward'): RunContext {
  return {
    idempotencyKey: `${RUN}/${direction}/${step}`,
    actor: `playbook:${RUN}`,
    incidentId,
    signal: new AbortController().signal,
  };
}

async function failure(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectorError);
    return error as ConnectorError;
  }
  throw new Error('expected a failure');
}

/** Runs an outcome's undo through the same connector, as the runner does. */
function undoOf(connector: Connector, outcome: ActionOutcome, context: RunContext): Promise<ActionOutcome> {
  const undo = outcome.undo!;
  const operation = connector.operations[undo.operation]!;
  expect(operation.validate(undo.params)).toEqual([]);
  return operation.run(undo.params, context);
}

describe.each(DIALECTS)('decisions connector ($name)', ({ name, skip }) => {
  let ts: TestStore;
  let clock: VirtualClock;
  let service: DecisionService;
  let connector: Connector;
  let incident: string;

  beforeEach(async () => {
    if (skip) return;
    ts = await freshStore(name);
    clock = new VirtualClock(NOW);
    const audit = new AuditLog(ts.store.dialect);
    service = new DecisionService({ store: ts.store, clock, audit });
    connector = createDecisionsConnector({ decisions: service });
    const incidents = new IncidentService({ store: ts.store, audit, policy: POLICY, clock });
    incident = (await incidents.create('tester', { title: 'API abuse', severity: 'P2' })).id;
  });
  afterEach(async () => {
    await ts?.cleanup();
  });

  const op = (operation: string) => connector.operations[operation]!;

  it.skipIf(skip)('add bans for the duration, once per step, and its undo ends it', async () => {
    const params = { type: 'ban', scope: 'ip', value: '203.0.113.7', duration: '4h', reason: 'flood' };
    expect(op('add').plan(params)).toEqual({
      summary: 'ban 203.0.113.7 (ip) for 4h; it ends by itself then',
      detail: [
        'POST /v1/decisions {"type":"ban","scope":"ip","value":"203.0.113.7","duration":"4h","reason":"flood"}',
        "-- origin playbook:<this step>, with the run's incident; a repeat while it is in force returns it",
      ],
    });
    const context = contextOf('ban-ip', incident);
    const first = await op('add').run(params, context);
    const [live] = await service.lookup('203.0.113.7');
    expect(live).toMatchObject({
      id: first.changed.id,
      type: 'ban',
      origin: `playbook:${RUN}/forward/ban-ip`,
      incident_id: incident,
      created_by: `playbook:${RUN}`,
      reason: 'flood',
      expires_at: '2026-03-02T16:00:00.000Z',
    });
    expect(first.changed).toEqual({
      id: live!.id,
      type: 'ban',
      scope: 'ip',
      value: '203.0.113.7',
      expires_at: '2026-03-02T16:00:00.000Z',
      existing: false,
    });
    expect(first.undo).toEqual({ operation: 'delete', params: { id: live!.id } });

    // The same step again (a retry after a crash): the decision it made, not a second one.
    clock.advance(60_000);
    const again = await op('add').run(params, context);
    expect(again.changed).toMatchObject({ id: live!.id, existing: true });
    expect(await service.lookup('203.0.113.7')).toHaveLength(1);

    const undoContext = contextOf('ban-ip', incident, 'undo');
    const undone = await undoOf(connector, first, undoContext);
    expect(undone.changed).toEqual({ id: live!.id, deleted: [live!.id] });
    expect(undone.undo).toBeUndefined();
    expect(await service.lookup('203.0.113.7')).toEqual([]);
    expect(await service.get(live!.id)).toMatchObject({ deleted_by: `playbook:${RUN}` });
    // Undo repeated: nothing left to end, and that is a success.
    expect((await undoOf(connector, first, undoContext)).changed).toEqual({ id: live!.id, deleted: [] });
    // Once ended, the step run again makes a new decision (the old one is not in force).
    expect((await op('add').run(params, context)).changed.existing).toBe(false);
  });

  it.skipIf(skip)('add infers the scope from the value and stores its canonical spelling', async () => {
    const out = await op('add').run(
      { type: 'captcha', value: '198.51.100.77/24', duration: '30m' },
      contextOf('net', incident),
    );
    expect(out.changed).toMatchObject({ scope: 'cidr', value: '198.51.100.0/24', type: 'captcha' });
    expect((await service.lookup('198.51.100.3')).map((d) => d.id)).toEqual([out.changed.id]);
    const v6 = await op('add').run(
      { type: 'throttle', value: '2001:DB8::0:1', duration: '1h' },
      contextOf('v6', incident),
    );
    expect(v6.changed).toMatchObject({ scope: 'ip', value: '2001:db8::1' });
  });

  it.skipIf(skip)(
    "delete by value ends this incident's playbook decisions on it, and nobody else's",
    async () => {
      const ban = (value: string) => ({ type: 'ban', value, duration: '4h' });
      const a = await op('add').run(ban('203.0.113.7'), contextOf('ban-a', incident));
      const b = await op('add').run(ban('203.0.113.7'), contextOf('ban-b', incident));
      const person = await service.add(
        { type: 'ban', scope: 'ip', value: '203.0.113.7', origin: 'person:dana', durationMs: 3_600_000 },
        'key:0a1b2c3d4e5f (dana)',
      );
      const incidents = new IncidentService({
        store: ts.store,
        audit: new AuditLog(ts.store.dialect),
        policy: POLICY,
        clock,
      });
      const other = (await incidents.create('tester', { title: 'Another', severity: 'P3' })).id;
      const otherBan = await op('add').run(ban('203.0.113.7'), contextOf('ban-ip', other));
      const elsewhere = await op('add').run(ban('203.0.113.8'), contextOf('ban-c', incident));

      expect(op('delete').plan({ value: '203.0.113.7' }).summary).toBe(
        'end the decisions on 203.0.113.7 that playbooks made for this incident',
      );
      const undo = await op('delete').run({ value: '203.0.113.7' }, contextOf('ban-ip', incident, 'undo'));
      expect(undo.changed).toEqual({ value: '203.0.113.7', deleted: [a.changed.id, b.changed.id] });
      expect(undo.undo).toBeUndefined();
      expect((await service.lookup('203.0.113.7')).map((d) => d.id).sort()).toEqual(
        [person.id, otherBan.changed.id].sort(),
      );
      expect((await service.lookup('203.0.113.8')).map((d) => d.id)).toEqual([elsewhere.changed.id]);
      const again = await op('delete').run({ value: '203.0.113.7' }, contextOf('ban-ip', incident, 'undo'));
      expect(again.changed).toEqual({ value: '203.0.113.7', deleted: [] });
      expect(again.summary).toMatch(/nothing changed/);
    },
  );

  it.skipIf(skip)('set_switch records what it found, and its undo puts that back', async () => {
    const params = { switch: 'checkout_enabled', enabled: false, reason: `security incident ${incident}` };
    expect(op('set_switch').plan(params)).toEqual({
      summary: 'turn checkout_enabled off (customers can place orders)',
      detail: [
        `PUT /v1/switches/checkout_enabled {"enabled":false,"reason":"security incident ${incident}"}`,
      ],
    });
    const context = contextOf('checkout-off', incident);
    const off = await op('set_switch').run(params, context);
    const checkout = async () => (await service.switches()).find((s) => s.name === 'checkout_enabled')!;
    expect(await checkout()).toMatchObject({
      enabled: false,
      updated_by: `playbook:${RUN}/forward/checkout-off`,
      reason: `security incident ${incident}`,
    });
    expect(off.changed).toEqual({
      switch: 'checkout_enabled',
      enabled: false,
      previous: true,
      changed: true,
    });
    expect(off.undo).toEqual({
      operation: 'set_switch',
      params: { switch: 'checkout_enabled', enabled: true, reason: `undo of ${RUN}/forward/checkout-off` },
    });
    // A retry of the same step finds its own change: the previous value stays "on".
    const retried = await op('set_switch').run(params, context);
    expect(retried.changed).toEqual(off.changed);
    expect(retried.undo).toEqual(off.undo);

    await undoOf(connector, off, contextOf('checkout-off', incident, 'undo'));
    expect(await checkout()).toMatchObject({
      enabled: true,
      updated_by: `playbook:${RUN}/undo/checkout-off`,
    });
  });

  it.skipIf(skip)(
    'set_switch on a switch a person already turned off leaves it off, undo included',
    async () => {
      await service.setSwitch('signups_enabled', false, 'key:0a1b2c3d4e5f (dana)', 'spam wave');
      const context = contextOf('signups-off', incident);
      const out = await op('set_switch').run({ switch: 'signups_enabled', enabled: false }, context);
      expect(out.changed).toEqual({
        switch: 'signups_enabled',
        enabled: false,
        previous: false,
        changed: false,
      });
      expect(out.summary).toBe('signups_enabled was already off; nothing changed');
      await undoOf(connector, out, contextOf('signups-off', incident, 'undo'));
      expect((await service.switches()).find((s) => s.name === 'signups_enabled')).toMatchObject({
        enabled: false,
        updated_by: 'key:0a1b2c3d4e5f (dana)',
        reason: 'spam wave',
      });
    },
  );

  it.skipIf(skip)('refuses bad parameters in validate(), and run() refuses them without retry', async () => {
    expect(op('add').validate({ type: 'ban', value: '203.0.113.256', duration: '4h' })).toEqual([
      'value: "203.0.113.256" is not an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::1',
    ]);
    expect(op('add').validate({ type: 'ban', scope: 'ip', value: '10.0.0.0/8', duration: '4h' })).toEqual([
      'value: "10.0.0.0/8" is a network: use scope cidr',
    ]);
    expect(op('add').validate({ type: 'ban', scope: 'cidr', value: '10.0.0.1', duration: '4h' })).toEqual([
      'value: "10.0.0.1" is not a network such as 198.51.100.0/24 or 2001:db8::/32',
    ]);
    expect(op('add').validate({ type: 'tarpit', value: '10.0.0.1', duration: '400d', ttl: 1 })).toEqual([
      'ttl: unknown parameter (expected type, scope, value, duration, reason)',
      'type: expected one of ban, captcha, throttle',
      'duration: expected a duration such as 30m, 4h or 7d, at most 365d',
    ]);
    expect(op('add').validate({ type: 'ban', value: '10.0.0.1', duration: '0s' })).toHaveLength(1);
    expect(op('delete').validate({})).toEqual([
      'id: give either id (one decision) or value (the decisions playbooks made on it), not both',
    ]);
    expect(op('delete').validate({ id: 'dec_0000000000000000', value: '10.0.0.1' })).toHaveLength(1);
    expect(op('delete').validate({ id: 'nope' })).toEqual([
      'id: expected a decision id such as dec_0a1b2c3d4e5f6a7b',
    ]);
    expect(op('delete').validate({ value: 'example.com' })).toEqual([
      'value: "example.com" is not an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::1',
    ]);
    expect(op('set_switch').validate({ switch: 'checkout', enabled: 'no' })).toEqual([
      `switch: "checkout" is not a switch (known: ${SWITCH_NAMES.join(', ')})`,
      'enabled: expected true or false',
    ]);

    const context = contextOf('bad', incident);
    const bad = await failure(op('add').run({ type: 'ban', value: 'x', duration: '4h' }, context));
    expect(bad.retryable).toBe(false);
    expect(bad.message).toMatch(/^invalid parameters: value: "x" is not/);
    // Refused by the service: no such incident, no such decision.
    const noIncident = await failure(
      op('add').run({ type: 'ban', value: '10.0.0.1', duration: '4h' }, contextOf('x', 'INC-2026-999')),
    );
    expect(noIncident).toMatchObject({ retryable: false });
    expect(noIncident.message).toMatch(/no incident INC-2026-999 exists/);
    const noDecision = await failure(op('delete').run({ id: 'dec_0000000000000000' }, context));
    expect(noDecision).toMatchObject({ retryable: false });
    expect(noDecision.message).toMatch(/decision dec_0000000000000000 does not exist/);
    // Without a run context there is no idempotency key to act under.
    expect(await failure(op('add').run({ type: 'ban', value: '10.0.0.1', duration: '4h' }))).toMatchObject({
      retryable: false,
    });
    expect(await ts.store.db.selectFrom('decisions').selectAll().execute()).toEqual([]);
  });

  it.skipIf(skip)('a database that cannot be reached is a retryable failure', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const broken = (error: unknown) =>
      createDecisionsConnector({
        decisions: Object.assign(Object.create(service) as DecisionService, {
          findLive: async () => Promise.reject(error),
          switches: async () => Promise.reject(error),
        }),
      });
    const context = contextOf('ban-ip', incident);
    for (const error of [
      refused,
      new FirebreakError('FB_ERR_DATABASE_UNAVAILABLE', { target: 'x', reason: 'down' }),
      Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }),
    ]) {
      const c = broken(error);
      expect(
        await failure(c.operations.add!.run({ type: 'ban', value: '10.0.0.1', duration: '4h' }, context)),
      ).toMatchObject({ retryable: true });
      expect(
        await failure(c.operations.set_switch!.run({ switch: 'checkout_enabled', enabled: false }, context)),
      ).toMatchObject({ retryable: true });
    }
    const syntax = Object.assign(new Error('relation "decisions" does not exist'), { code: '42P01' });
    expect(
      await failure(
        broken(syntax).operations.add!.run({ type: 'ban', value: '10.0.0.1', duration: '4h' }, context),
      ),
    ).toMatchObject({ retryable: false });
  });
});

describe('decisions connector and the built-in playbooks', () => {
  it('accepts the parameters of every decisions step and undo, once filled in', () => {
    const playbooks = loadPlaybooks([file('playbooks')], {
      connectors: KNOWN_CONNECTOR_OPERATIONS,
      roles: Object.keys(POLICY.roles),
    });
    // validate() needs no database: a service that is never called will do.
    const connector = createDecisionsConnector({ decisions: {} as DecisionService });
    const context = {
      incident: { id: 'INC-2026-001' },
      alerts: [],
      alert: { rule_id: 'api-flood', group: { 'source.ip': '203.0.113.7' } },
    };
    const actions = playbooks.flatMap((p) =>
      p.steps.flatMap((s) => [s.action, ...(s.undo.kind === 'action' ? [s.undo.action] : [])]),
    );
    const ours = actions.filter((a) => a.connector === 'decisions');
    expect(ours.length).toBeGreaterThanOrEqual(5);
    for (const action of ours) {
      const params = renderParams(action.params, context);
      const operation = connector.operations[action.operation]!;
      expect(operation.validate(params), `${action.operation} ${JSON.stringify(params)}`).toEqual([]);
      expect(operation.plan(params).summary).not.toBe('');
    }
  });
});
