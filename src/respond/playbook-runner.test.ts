import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refusal } from '../../test/helpers/refusal.js';
import { DIALECTS, freshStore, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import type { Alert } from '../detect/index.js';
import { AlertGrouper, AlertQuery, IncidentService } from '../incidents/index.js';
import { VirtualClock } from '../kernel/index.js';
import { loadPolicyFile } from '../policy/index.js';
import { type ActionOutcome, type Connector, ConnectorError, type RunContext } from './connector.js';
import type { Playbook } from './playbook.js';
import { KNOWN_CONNECTOR_OPERATIONS } from './playbook.js';
import { loadPlaybooks, parsePlaybooks } from './playbook-loader.js';
import type { PlaybookRun } from './playbook-run.js';
import { PlaybookRunner } from './playbook-runner.js';

const KCT = loadPolicyFile(fileURLToPath(new URL('../../policies/kct-menswear.yaml', import.meta.url)));
const NOW = '2026-03-04T10:00:00.000Z';
const GUS = { actor: 'person:gus (key 1)', person: 'gus' };
const FAY = { actor: 'person:fay (key 2)', person: 'fay' };

/**
 * A connector whose effects are a Map the test reads: `set` records the previous value and an
 * undo that puts it back; `flaky` fails (retryably) a set number of times first; `broken` is
 * refused for good; `hang` waits until its timeout aborts it.
 */
function ledgerConnector() {
  const values = new Map<string, string>();
  const calls: { op: string; params: Record<string, unknown>; key: string }[] = [];
  let flakyFailures = 0;
  const op = (name: string, run: (p: Record<string, unknown>, c: RunContext) => Promise<ActionOutcome>) => ({
    validate: (p: Readonly<Record<string, unknown>>) =>
      typeof p.key === 'string' ? [] : ['key: must be a string'],
    plan: (p: Readonly<Record<string, unknown>>) => ({
      summary: `${name} ${String(p.key)}`,
      detail: [`${name} ${String(p.key)}=${String(p.value)}`],
    }),
    run: async (p: Readonly<Record<string, unknown>>, c?: RunContext) => {
      calls.push({ op: name, params: { ...p }, key: c!.idempotencyKey });
      return run(p as Record<string, unknown>, c!);
    },
  });
  const set = async (p: Record<string, unknown>): Promise<ActionOutcome> => {
    const key = p.key as string;
    const previous = values.get(key) ?? null;
    values.set(key, String(p.value));
    return {
      summary: `set ${key}`,
      changed: { key, previous },
      undo: { operation: 'restore', params: { key, previous } },
    };
  };
  const connector: Connector = {
    name: 'ledger',
    operations: {
      set: op('set', set),
      restore: op('restore', async (p) => {
        if (p.previous === null) values.delete(p.key as string);
        else values.set(p.key as string, p.previous as string);
        return { summary: `restored ${String(p.key)}`, changed: {} };
      }),
      flaky: op('flaky', async (p) => {
        if (flakyFailures > 0) {
          flakyFailures -= 1;
          throw new ConnectorError('503 from the vendor', true);
        }
        return set(p);
      }),
      broken: op('broken', async () => {
        throw new ConnectorError('401: the token was refused', false);
      }),
      hang: op(
        'hang',
        (_p, c) =>
          new Promise((_, reject) =>
            c.signal.addEventListener('abort', () => reject(c.signal.reason), { once: true }),
          ),
      ),
    },
  };
  return {
    connector,
    values,
    calls,
    failNext(n: number) {
      flakyFailures = n;
    },
  };
}

const CONNECTORS = { ledger: ['set', 'restore', 'flaky', 'broken', 'hang'] };

function playbookFrom(yaml: string): Playbook {
  return parsePlaybooks([{ file: 'p.yaml', text: yaml }], {
    connectors: CONNECTORS,
    roles: Object.keys(KCT.roles),
  })[0]!;
}

const step = (id: string, op: string, value = '"{{ alert.group.source.ip }}"', phase = '') => `
  - id: ${id}
    title: ${id}
    phase: containment${phase ? `\n    recovery_phase: ${phase}` : ''}
    action: { connector: ledger, operation: ${op}, params: { key: ${id}, value: ${value} } }
    approval: none
    timeout: 1s
    undo: { connector: ledger, operation: restore, params: { key: ${id} } }`;

const BAN = playbookFrom(`id: ban
title: Ban
triggers:
  - rules: [api-flood]
    mode: proposed
steps:${step('block', 'set', undefined, 'user_services')}${step('lock-db', 'set', undefined, 'core_infrastructure')}
  - id: approve-me
    title: needs the commander
    phase: containment
    recovery_phase: payments
    action: { connector: ledger, operation: set, params: { key: approve-me, value: "{{ incident.id }}" } }
    approval: incident_commander
    undo: { none: a test step that cannot be undone }
`);

const FLAKY = playbookFrom(`id: flaky
title: Flaky
steps:${step('first', 'set', 'one')}
  - id: wobbly
    title: wobbly
    phase: containment
    action: { connector: ledger, operation: flaky, params: { key: wobbly, value: x } }
    approval: none
    timeout: 1s
    retries: 2
    undo: { connector: ledger, operation: restore, params: { key: wobbly } }
${step('after', 'set', 'two').slice(1)}
`);

const BROKEN = playbookFrom(`id: broken
title: Broken
steps:${step('first', 'set', 'one')}
  - id: refused-by-vendor
    title: refused by the vendor
    phase: containment
    action: { connector: ledger, operation: broken, params: { key: x } }
    approval: none
    retries: 5
    undo: { none: never ran }
${step('never', 'set', 'two').slice(1)}
`);

const HANG = playbookFrom(`id: hang
title: Hang
steps:
  - id: slow
    title: slow
    phase: containment
    action: { connector: ledger, operation: hang, params: { key: x } }
    approval: none
    timeout: 1s
    retries: 1
    undo: { none: nothing happened }
`);

function alert(ip: string, end: number, rule = 'api-flood'): Alert {
  return {
    rule,
    title: 'API flood',
    severity: 'P2',
    group: { 'source.ip': ip },
    value: 500,
    start: end - 60_000,
    end,
    events: 500,
    trigger: undefined,
    fingerprint: `${rule}-${ip}-${end}`,
  };
}

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`PlaybookRunner on ${d.name}`, () => {
    let ts: TestStore;
    let clock: VirtualClock;
    let incidents: IncidentService;
    let grouper: AlertGrouper;
    let ledger: ReturnType<typeof ledgerConnector>;
    let audit: AuditLog;
    const runners: PlaybookRunner[] = [];

    const runner = (playbooks: Playbook[] = [BAN, FLAKY, BROKEN, HANG]) => {
      const r = new PlaybookRunner(
        {
          store: ts.store,
          clock,
          incidents,
          alerts: new AlertQuery({ store: ts.store }),
          policy: KCT,
          roster: undefined,
          playbooks,
          connectors: new Map([['ledger', ledger.connector]]),
        },
        { retryBaseMs: 1_000 },
      );
      runners.push(r);
      return r;
    };

    beforeEach(async () => {
      ts = await freshStore(d.name);
      clock = new VirtualClock(NOW);
      audit = new AuditLog(ts.store.dialect);
      incidents = new IncidentService({ store: ts.store, audit, policy: KCT, clock });
      grouper = new AlertGrouper({ store: ts.store, incidents, clock });
      ledger = ledgerConnector();
    });
    afterEach(async () => {
      for (const r of runners.splice(0)) await r.stop();
      await ts.cleanup();
    });

    async function floodIncident(r: PlaybookRunner, ip = '203.0.113.7'): Promise<string> {
      incidents.onChange((trx, change) => r.onIncidentChange(trx, change));
      const result = await grouper.intake([alert(ip, Date.parse(NOW))]);
      return result.alerts[0]!.incident;
    }

    const timeline = async (id: string) =>
      (
        await ts.store.db
          .selectFrom('incident_timeline')
          .selectAll()
          .where('incident_id', '=', id)
          .orderBy('id')
          .execute()
      )
        .filter((r) => r.kind === 'playbook')
        .map((r) => JSON.parse(r.data) as { event: string; step?: string; summary: string });
    const statuses = (run: PlaybookRun) => run.steps.map((s) => `${s.direction}:${s.step_id}:${s.status}`);

    it('an api-flood alert proposes the ban once per address, on the timeline, and runs nothing', async () => {
      const r = runner();
      const id = await floodIncident(r);
      // The same address again joins the incident: no second proposal.
      await grouper.intake([alert('203.0.113.7', Date.parse(NOW) + 60_000)]);
      // Another address opens its own incident, with its own proposal; another rule proposes nothing.
      const other = (await grouper.intake([alert('203.0.113.8', Date.parse(NOW) + 120_000)])).alerts[0]!
        .incident;
      const quiet = (await grouper.intake([alert('198.51.100.1', Date.parse(NOW), 'bulk-data-access')]))
        .alerts[0]!.incident;
      const runs = await r.list(id);
      expect(runs.map((x) => [x.playbook_id, x.status, x.origin])).toEqual([['ban', 'proposed', 'proposed']]);
      expect((await r.list(other)).map((x) => x.status)).toEqual(['proposed']);
      expect(await r.list(quiet)).toEqual([]);
      expect((await timeline(id)).map((t) => t.event)).toEqual(['proposed']);
      expect((await timeline(id))[0]!.summary).toContain(
        'api-flood (source.ip=203.0.113.7) proposes ban: start it with `firebreak playbook run ban INC-',
      );
      expect(await r.runDue()).toBe(0);
      expect(ledger.calls).toEqual([]);
    });

    it('the built-in playbooks: brute force and floods by address propose the ban; a P0 payment alert proposes checkout off', async () => {
      const builtIn = loadPlaybooks([fileURLToPath(new URL('../../playbooks/', import.meta.url))], {
        connectors: KNOWN_CONNECTOR_OPERATIONS,
        roles: Object.keys(KCT.roles),
      });
      const r = runner(builtIn);
      incidents.onChange((trx, change) => r.onIncidentChange(trx, change));
      const proposed = async (a: Alert) => {
        const id = (await grouper.intake([a])).alerts[0]!.incident;
        return (await r.list(id)).map((x) => x.playbook_id).sort();
      };
      const t = Date.parse(NOW);
      expect(await proposed(alert('203.0.113.20', t))).toEqual(['ddos-api-abuse']);
      expect(
        await proposed({
          ...alert('203.0.113.21', t),
          rule: 'user-login-failures-per-ip',
          fingerprint: 'bf',
        }),
      ).toEqual(['ddos-api-abuse']);
      const payment = {
        ...alert('x', t),
        rule: 'payment-failure-rate',
        severity: 'P0' as const,
        group: {},
        fingerprint: 'pay',
      };
      const id = (await grouper.intake([payment])).alerts[0]!.incident;
      expect((await r.list(id)).map((x) => x.playbook_id).sort()).toEqual([
        'evidence-preservation',
        'payment-incident',
      ]);
      const dry = await r.dryRun('payment-incident', id);
      expect(dry.steps[0]!.action).toMatchObject({
        connector: 'decisions',
        operation: 'set_switch',
        params: { switch: 'checkout_enabled', enabled: false },
      });
    });

    it('an alert without the values the steps need (no address to ban) proposes nothing', async () => {
      const r = runner();
      incidents.onChange((trx, change) => r.onIncidentChange(trx, change));
      const byUser = {
        ...alert('x', Date.parse(NOW)),
        group: { 'user.name': 'dana' },
        fingerprint: 'by-user',
      };
      const id = (await grouper.intake([byUser])).alerts[0]!.incident;
      expect(await r.list(id)).toEqual([]);
    });

    it('a dry run shows each step filled in from the alert, its plan and undo, and changes nothing', async () => {
      const r = runner();
      const id = await floodIncident(r);
      const dry = await r.dryRun('ban', id);
      expect(dry.ok).toBe(true);
      expect(dry.steps.map((s) => [s.id, s.approval, s.recovery_phase, s.plan?.detail[0]])).toEqual([
        ['block', null, 'user_services', 'set block=203.0.113.7'],
        ['lock-db', null, 'core_infrastructure', 'set lock-db=203.0.113.7'],
        ['approve-me', 'incident_commander', 'payments', `set approve-me=${id}`],
      ]);
      expect(dry.steps[2]!.undo).toEqual({
        action: null,
        plan: null,
        none: 'a test step that cannot be undone',
      });
      expect(ledger.calls).toEqual([]);
      expect((await r.list(id)).map((x) => x.status)).toEqual(['proposed']);
    });

    it('runs steps in order, waits for the role, refuses a person without it, then finishes once approved', async () => {
      const r = runner();
      const id = await floodIncident(r);
      const run = await r.startRun('ban', id, 'person:gus');
      expect(run.origin).toBe('proposed'); // the waiting proposal was the one started
      await r.runDue();
      let now = await r.get(run.id);
      expect(now.status).toBe('waiting_approval');
      expect(statuses(now)).toEqual([
        'forward:block:succeeded',
        'forward:lock-db:succeeded',
        'forward:approve-me:waiting_approval',
      ]);
      expect(ledger.values.get('block')).toBe('203.0.113.7');

      // Nobody is assigned the role, so nobody may approve; a key without a person never may.
      expect((await refusal(r.approve(run.id, GUS))).code).toBe('FB_ERR_APPROVAL_FORBIDDEN');
      expect((await refusal(r.approve(run.id, { actor: 'key:abc (ops)' }))).message).toContain('--person');
      await incidents.assignRole('person:gus', id, 'incident_commander', 'gus');
      expect((await refusal(r.approve(run.id, FAY))).message).toContain('assigned to gus');
      expect((await refusal(r.approve(run.id, GUS, 'block'))).code).toBe('FB_ERR_RUN_STATE');
      await r.approve(run.id, GUS, 'approve-me');
      await r.runDue();
      now = await r.get(run.id);
      expect(now.status).toBe('succeeded');
      expect(now.steps[2]).toMatchObject({ approved_by: GUS.actor, attempts: 1, status: 'succeeded' });
      expect(ledger.calls.map((c) => c.key)).toEqual([
        `${run.id}/forward/block`,
        `${run.id}/forward/lock-db`,
        `${run.id}/forward/approve-me`,
      ]);
      expect((await timeline(id)).map((t) => `${t.event}${t.step ? `:${t.step}` : ''}`)).toEqual([
        'proposed',
        'started',
        'step_succeeded:block',
        'step_succeeded:lock-db',
        'step_waiting:approve-me',
        'step_approved:approve-me',
        'step_succeeded:approve-me',
        'succeeded',
      ]);
      expect(await audit.verify(ts.store.db)).toMatchObject({ ok: true });
      const actions = (await ts.store.db.selectFrom('audit_log').select('action').execute()).map(
        (a) => a.action,
      );
      expect(actions.filter((a) => a.startsWith('playbook.'))).toHaveLength(8);
    });

    it('a refusal stops the run there and skips what follows; undo still puts back what ran', async () => {
      const r = runner();
      const id = await floodIncident(r);
      await incidents.assignRole('person:gus', id, 'incident_commander', 'gus');
      const run = await r.startRun('ban', id, 'person:gus');
      await r.runDue();
      await r.refuse(run.id, GUS, 'the address is our payment provider');
      let now = await r.get(run.id);
      expect(now.status).toBe('refused');
      expect(now.steps[2]).toMatchObject({
        status: 'refused',
        refusal: 'gus: the address is our payment provider',
      });
      expect(ledger.values.has('approve-me')).toBe(false);
      await r.runDue();
      expect(ledger.calls).toHaveLength(2);

      now = await r.undo(run.id, 'person:gus');
      // KCT order: core infrastructure (lock-db) before user services (block).
      expect(statuses(now).filter((s) => s.startsWith('undo'))).toEqual([
        'undo:lock-db:pending',
        'undo:block:pending',
      ]);
      await r.runDue();
      now = await r.get(run.id);
      expect(now.status).toBe('undo_waiting_approval');
      expect(statuses(now).filter((s) => s.startsWith('undo'))).toEqual([
        'undo:lock-db:waiting_approval',
        'undo:block:pending',
      ]);
      await r.approve(run.id, GUS, 'core_infrastructure');
      await r.runDue();
      expect(ledger.values.has('lock-db')).toBe(false);
      expect(ledger.values.get('block')).toBe('203.0.113.7');
      expect((await r.get(run.id)).status).toBe('undo_waiting_approval');
      expect((await refusal(r.approve(run.id, GUS, 'core_infrastructure'))).message).toContain(
        'what waits is user_services',
      );
      await r.approve(run.id, GUS, 'user_services');
      await r.runDue();
      now = await r.get(run.id);
      expect(now.status).toBe('undone');
      expect([...ledger.values.keys()]).toEqual([]);
      expect((await refusal(r.undo(run.id, 'person:gus'))).code).toBe('FB_ERR_RUN_STATE');
    });

    it('retries a retryable failure after a growing delay and goes on; the timeline shows each attempt', async () => {
      const r = runner();
      const id = (await incidents.create('person:gus', { title: 'x', severity: 'P2' })).id;
      ledger.failNext(2);
      const run = await r.startRun('flaky', id, 'person:gus');
      await r.runDue();
      expect(statuses(await r.get(run.id))).toEqual([
        'forward:first:succeeded',
        'forward:wobbly:pending',
        'forward:after:pending',
      ]);
      clock.advance(999);
      expect(await r.runDue()).toBe(0); // not due before 1 s
      clock.advance(1);
      await r.runDue();
      expect((await r.get(run.id)).steps[1]).toMatchObject({
        status: 'pending',
        attempts: 2,
        error: '503 from the vendor',
      });
      clock.advance(1_999);
      expect(await r.runDue()).toBe(0); // the second delay is 2 s
      clock.advance(1);
      await r.runDue();
      const done = await r.get(run.id);
      expect(done.status).toBe('succeeded');
      expect(done.steps[1]).toMatchObject({ status: 'succeeded', attempts: 3, error: null });
      expect((await timeline(id)).filter((t) => t.event === 'step_retrying').map((t) => t.summary)).toEqual([
        'wobbly: attempt 1 of 3 failed (503 from the vendor); retrying in 1 s',
        'wobbly: attempt 2 of 3 failed (503 from the vendor); retrying in 2 s',
      ]);
      // Every attempt carried the same key, so a vendor that dedupes sees one request.
      expect(new Set(ledger.calls.filter((c) => c.op === 'flaky').map((c) => c.key)).size).toBe(1);
    });

    it('a failure the vendor refuses for good is not retried; the run fails and skips the rest', async () => {
      const r = runner();
      const id = (await incidents.create('person:gus', { title: 'x', severity: 'P2' })).id;
      const run = await r.startRun('broken', id, 'person:gus');
      await r.runDue();
      const now = await r.get(run.id);
      expect(now.status).toBe('failed');
      expect(statuses(now)).toEqual([
        'forward:first:succeeded',
        'forward:refused-by-vendor:failed',
        'forward:never:skipped',
      ]);
      expect(now.steps[1]).toMatchObject({ attempts: 1, error: '401: the token was refused' });
      expect((await timeline(id)).at(-1)!.summary).toContain('failed after 1 attempt (not retryable)');
    });

    it('a step that runs past its timeout is aborted and retried, then fails', async () => {
      const r = runner();
      const id = (await incidents.create('person:gus', { title: 'x', severity: 'P2' })).id;
      const run = await r.startRun('hang', id, 'person:gus');
      await r.runDue();
      expect((await r.get(run.id)).steps[0]).toMatchObject({
        status: 'pending',
        attempts: 1,
        error: 'timed out after 1000 ms',
      });
      clock.advance(1_000);
      await r.runDue();
      expect((await r.get(run.id)).status).toBe('failed');
    });

    it('resumes a run whose server died mid-step: the interrupted step runs again, completed ones never', async () => {
      const first = runner();
      const id = await floodIncident(first);
      await incidents.assignRole('person:gus', id, 'incident_commander', 'gus');
      const run = await first.startRun('ban', id, 'person:gus');
      // What a crash leaves: block done, lock-db marked running (its call may or may not have
      // happened), and the dead server's lease still on the run.
      await first.runDue();
      await ts.store.db
        .updateTable('playbook_run_steps')
        .set({ status: 'running', outcome_json: null })
        .where('run_id', '=', run.id)
        .where('step_id', '=', 'lock-db')
        .execute();
      await ts.store.db
        .updateTable('playbook_runs')
        .set({
          status: 'running',
          lease_owner: 'runner-dead',
          lease_until: new Date(Date.parse(NOW) + 30_000).toISOString(),
        })
        .where('id', '=', run.id)
        .execute();
      const callsBefore = ledger.calls.length;

      const second = runner();
      expect(await second.runDue()).toBe(0); // the lease is still the dead server's
      clock.advance(30_001);
      await second.runDue();
      const now = await second.get(run.id);
      expect(now.status).toBe('waiting_approval');
      const again = ledger.calls.slice(callsBefore).map((c) => c.params.key);
      expect(again).toEqual(['lock-db']); // block was not repeated
      expect(now.steps[1]).toMatchObject({ status: 'succeeded', attempts: 2 });
    });

    it('refuses to start a run whose values the incident lacks, writing nothing', async () => {
      const r = runner();
      const id = (await incidents.create('person:gus', { title: 'no alerts', severity: 'P2' })).id;
      const error = await refusal(r.startRun('ban', id, 'person:gus'));
      expect(error.code).toBe('FB_ERR_RUN_PARAMS');
      expect(error.message).toContain('{{ alert.group.source.ip }} has no value');
      expect(await r.list(id)).toEqual([]);
      expect((await r.dryRun('ban', id)).ok).toBe(false);
      expect((await refusal(r.startRun('nope', id, 'x'))).code).toBe('FB_ERR_PLAYBOOK_NOT_FOUND');
      expect((await refusal(r.get('run_0000000000000000'))).code).toBe('FB_ERR_RUN_NOT_FOUND');
    });

    it('tells the role holder once per wait (with the command that approves) and the commander when a run fails; a failure to tell changes nothing', async () => {
      const told: { key: string; role: string; subject: string; text: string }[] = [];
      const warned: string[] = [];
      let fail = false;
      const r = new PlaybookRunner({
        store: ts.store,
        clock,
        incidents,
        alerts: new AlertQuery({ store: ts.store }),
        policy: KCT,
        roster: undefined,
        playbooks: [BAN, BROKEN],
        connectors: new Map([['ledger', ledger.connector]]),
        tell: async (m) => {
          if (fail) throw new Error('no channel');
          told.push(m);
        },
        warn: (line) => warned.push(line),
      });
      runners.push(r);
      const id = await floodIncident(r);
      await incidents.assignRole('person:gus', id, 'incident_commander', 'gus');
      const run = await r.startRun('ban', id, 'person:gus');
      await r.runDue();
      await r.runDue();
      expect(told.map((m) => [m.key, m.role, m.subject])).toEqual([
        [`${run.id}/approval/forward/3`, 'incident_commander', 'approval needed: ban step approve-me'],
      ]);
      expect(told[0]!.text).toContain(`firebreak playbook approve ${run.id} --expect approve-me`);
      await r.approve(run.id, GUS);
      await r.runDue();

      const broken = await r.startRun('broken', id, 'person:gus');
      await r.runDue();
      expect(told.slice(1).map((m) => [m.key, m.role, m.subject])).toEqual([
        [
          `${broken.id}/failed/forward/2`,
          'incident_commander',
          'playbook failed: broken step refused-by-vendor',
        ],
      ]);
      expect(told[1]!.text).toContain(`firebreak playbook undo ${broken.id}`);

      fail = true;
      await r.undo(run.id, 'person:gus');
      await r.runDue();
      expect(warned).toEqual([
        expect.stringContaining(
          'could not tell incident_commander "approval needed: ban recovery phase core_infrastructure"',
        ),
      ]);
      expect((await r.get(run.id)).status).toBe('undo_waiting_approval');
    });

    it('declines a proposal; it never runs', async () => {
      const r = runner();
      const id = await floodIncident(r);
      const [proposal] = await r.list(id);
      await r.refuse(proposal!.id, GUS, 'a load test');
      expect((await r.get(proposal!.id)).status).toBe('refused');
      await r.runDue();
      expect(ledger.calls).toEqual([]);
    });
  });
}
