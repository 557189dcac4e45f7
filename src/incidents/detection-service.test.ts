import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import { BUILTIN_RULES_DIR } from '../config/index.js';
import { calendarFromPolicy, loadRules, type RuleNode, readRuleFiles } from '../detect/index.js';
import type { EcsEvent } from '../events/index.js';
import { EventLog } from '../ingest/index.js';
import { VirtualClock } from '../kernel/index.js';
import { loadPolicyFile } from '../policy/index.js';
import { AlertGrouper } from './alert-grouper.js';
import { type AlertSink, DetectionService, type DetectionServiceOptions } from './detection-service.js';
import { IncidentService } from './incident-service.js';

const KCT = loadPolicyFile(fileURLToPath(new URL('../../policies/kct-menswear.yaml', import.meta.url)));
const RULES: RuleNode[] = loadRules(readRuleFiles(BUILTIN_RULES_DIR));
const NOW = '2026-03-02T12:00:00.000Z';
/** A Monday 10:00 UTC: inside KCT's business hours. */
const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const MIN = 60_000;

type Logged = { event: EcsEvent; epochMs: number };

/** A login of `name` (an admin unless told otherwise) `atMs` after T0. */
function login(name: string, atMs: number, outcome = 'failure', roles: string[] = ['admin']): Logged {
  const epochMs = T0 + atMs;
  return {
    epochMs,
    event: {
      '@timestamp': new Date(epochMs).toISOString(),
      event: { action: 'login', category: ['authentication'], outcome },
      user: { name, roles },
      source: { ip: '203.0.113.7' },
    },
  };
}
/** `n` failed logins of `name`, a minute apart from `fromMs`. */
const failures = (name: string, n: number, fromMs = 0) =>
  Array.from({ length: n }, (_, i) => login(name, fromMs + i * MIN));

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`DetectionService on ${d.name}`, () => {
    let ts: TestStore;
    let clock: VirtualClock;
    let log: EventLog;
    let audit: AuditLog;
    let incidents: IncidentService;
    let grouper: AlertGrouper;
    const running: DetectionService[] = [];

    beforeEach(async () => {
      ts = await freshStore(d.name);
      clock = new VirtualClock(NOW);
      log = new EventLog({ store: ts.store, clock });
      audit = new AuditLog(ts.store.dialect);
      incidents = new IncidentService({ store: ts.store, audit, policy: KCT, clock });
      grouper = new AlertGrouper({ store: ts.store, incidents, clock });
    });
    afterEach(async () => {
      try {
        for (const s of running.splice(0)) await s.stop();
        expect(await audit.verify(ts.store.db)).toMatchObject({ ok: true });
      } finally {
        await ts.cleanup();
      }
    });

    const service = (options: Partial<DetectionServiceOptions> = {}) => {
      const s = new DetectionService({
        log,
        grouper,
        nodes: RULES,
        engineOptions: { calendar: calendarFromPolicy(KCT) },
        ...options,
      });
      running.push(s);
      return s;
    };
    const append = (events: readonly Logged[]) =>
      log.append(events, { source: 'test', receivedAt: clock.now(), answer: () => null });
    const all = async () => (await incidents.list({ limit: 100 })).items;
    /** Everything a replay must leave as it was. */
    const snapshot = async () => {
      const items = await all();
      return {
        incidents: items,
        alerts: await Promise.all(items.map((i) => grouper.alertsOf(i.id))),
        timelines: await Promise.all(items.map((i) => incidents.timeline(i.id))),
        audit: await audit.count(ts.store.db),
      };
    };

    it('turns 4 failed admin logins in the log into one P0 incident with its alert', async () => {
      const range = await append([login('erin', 0, 'success', ['staff']), ...failures('dana', 4, MIN)]);
      const s = service();
      await s.drain();

      const items = await all();
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        id: 'INC-2026-001',
        severity: 'P0',
        status: 'detected',
        title: 'Repeated failed logins to an admin account (user.name dana)',
        detected_at: new Date(T0 + 4 * MIN).toISOString(),
        created_by: 'detection',
      });
      const alerts = await grouper.alertsOf('INC-2026-001');
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({
        rule: 'admin-login-failures',
        severity: 'P0',
        group: { 'user.name': 'dana' },
        value: 4,
        events: 4,
        start: new Date(T0 + MIN).toISOString(),
        end: new Date(T0 + 4 * MIN).toISOString(),
        // The 4th failure, by its seq in the log.
        trigger: String(range.last),
      });
      expect(await s.stats()).toMatchObject({
        position: range.last,
        checkpoint: range.last,
        head: range.last,
        lag: 0,
        events: 5,
        alerts: 1,
        incidentsCreated: 1,
        incidentsJoined: 0,
      });
      expect((await log.getCheckpoint('detect'))?.seq).toBe(range.last);

      // Two more failures make account-login-failures (P2) hold for dana too: it correlates on
      // user.name and joins the P0 incident, which stays P0.
      await append(failures('dana', 2, 5 * MIN));
      await s.drain();
      expect((await all()).map((i) => [i.id, i.severity])).toEqual([['INC-2026-001', 'P0']]);
      expect((await grouper.alertsOf('INC-2026-001')).map((a) => a.rule)).toEqual([
        'admin-login-failures',
        'account-login-failures',
      ]);
      expect((await incidents.timeline('INC-2026-001')).map((t) => t.kind)).toEqual([
        'created',
        'alert_joined',
        'alert_joined',
      ]);
      expect(await s.stats()).toMatchObject({
        alerts: 2,
        incidentsCreated: 1,
        incidentsJoined: 1,
        correlated: 1,
      });
    });

    it('replays after a crash from its checkpoint: same incidents, no duplicates, nothing lost', async () => {
      // Batches of 2 events, a checkpoint after every 3rd batch: after draining 10 events the
      // checkpoint stands at seq 6 while the alerts of seqs 7–10 are already stored.
      await append([
        ...failures('dana', 4), // seqs 1–4: an alert at 4
        ...failures('erin', 4, 10 * MIN), // seqs 5–8: an alert at 8
        login('frank', 20 * MIN, 'success', ['staff']),
        login('frank', 21 * MIN, 'success', ['staff']),
      ]);
      const first = service({ batchSize: 2, checkpointEvery: 3 });
      await first.drain();
      expect(await first.stats()).toMatchObject({
        position: 10,
        checkpoint: 6,
        alerts: 2,
        incidentsCreated: 2,
      });
      expect((await log.getCheckpoint('detect'))?.seq).toBe(6);
      const before = await snapshot();
      expect(before.incidents).toHaveLength(2);
      // The crash: `first` is dropped without stop(), its last batches never checkpointed.
      running.splice(0);

      clock.advance(MIN);
      const second = service({ batchSize: 2 });
      await second.drain();
      // It resumed at seq 7 with the engine as it was at seq 6 (erin's first two failures in its
      // window), so seq 8 made the same alert again: a duplicate, skipped.
      expect(await second.stats()).toMatchObject({
        position: 10,
        checkpoint: 10,
        events: 4,
        alerts: 1,
        duplicates: 1,
        incidentsCreated: 0,
        incidentsJoined: 0,
      });
      expect(await snapshot()).toEqual(before);

      // And it carries on: erin's next failure is a new alert once the quiet period has passed.
      await append(failures('erin', 4, 30 * MIN));
      await second.drain();
      expect((await grouper.alertsOf('INC-2026-002')).map((a) => a.rule)).toEqual([
        'admin-login-failures',
        'admin-login-failures',
      ]);
    });

    it('loses no alert when it crashes before the alerts are stored', async () => {
      await append(failures('dana', 4));
      let calls = 0;
      const broken: AlertSink = {
        intake: async () => {
          calls += 1;
          throw new Error('the database went away');
        },
      };
      const first = service({ grouper: broken });
      await expect(first.drain()).rejects.toThrow('the database went away');
      expect(calls).toBe(1);
      expect(await log.getCheckpoint('detect')).toBeUndefined();
      running.splice(0);

      const second = service();
      await second.drain();
      expect((await all()).map((i) => i.severity)).toEqual(['P0']);
    });

    it('retries a failed intake with the same alerts, without feeding the engine the events again', async () => {
      await append(failures('dana', 4));
      let fail = true;
      const flaky: AlertSink = {
        intake: async (alerts) => {
          if (fail) {
            fail = false;
            throw new Error('busy');
          }
          return grouper.intake(alerts);
        },
      };
      const warnings: string[] = [];
      const s = service({ grouper: flaky, retryMs: 1, pollMs: 5, warn: (m) => warnings.push(m) });
      await s.start();
      await until(async () => (await all()).length === 1);
      const stats = await s.stats();
      expect(stats).toMatchObject({
        events: 4,
        alerts: 1,
        incidentsCreated: 1,
        failures: 1,
        lastError: 'busy',
      });
      expect(stats.engine.events).toBe(4);
      expect(warnings[0]).toMatch(/^detection: a batch failed \(busy\); retrying in 1 ms$/);
    });

    it('runs in the background: notify() wakes it, stop() saves the checkpoint', async () => {
      // A poll so slow that only notify() can explain a prompt incident.
      const s = service({ pollMs: 60_000, checkpointEvery: 1_000 });
      await s.start();
      await s.start(); // idempotent
      const range = await append(failures('dana', 4));
      s.notify();
      await until(async () => (await all()).length === 1);
      expect((await s.stats()).running).toBe(true);
      expect(await log.getCheckpoint('detect')).toBeUndefined();

      await s.stop();
      expect((await s.stats()).running).toBe(false);
      expect((await log.getCheckpoint('detect'))?.seq).toBe(range.last);
      // A restart resumes there: nothing to replay.
      const again = service();
      await again.drain();
      expect(await again.stats()).toMatchObject({ events: 0, position: range.last, lag: 0 });
    });

    it('saves the checkpoint once idle for a poll, not on every catch-up under steady traffic', async () => {
      const saves: number[] = [];
      const counting = {
        read: log.read.bind(log),
        head: log.head.bind(log),
        getCheckpoint: log.getCheckpoint.bind(log),
        saveCheckpoint: (consumer: string, seq: number, state?: unknown) => {
          saves.push(seq);
          return log.saveCheckpoint(consumer, seq, state);
        },
      };
      const s = service({ log: counting, pollMs: 200 });
      await s.start();
      // Requests 20 ms apart, each caught up at once: under a poll apart, so no save.
      let last = 0;
      for (let i = 0; i < 8; i++) {
        last = (await append([login('dana', i * 1000, 'success')])).last;
        s.notify();
        await until(async () => (await s.stats()).position === last);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(saves).toEqual([]);
      // Then quiet: the next poll finds nothing again and saves.
      await until(async () => saves.length > 0);
      expect(saves).toEqual([last]);
    });

    it('reports its lag behind the log', async () => {
      await append(failures('dana', 3));
      const s = service();
      expect(await s.stats()).toMatchObject({ position: 0, head: 3, lag: 3 });
      await s.drain();
      expect(await s.stats()).toMatchObject({ position: 3, head: 3, lag: 0 });
    });

    it('starts afresh from the checkpoint’s seq when its engine state is unusable', async () => {
      await append(failures('dana', 4));
      await log.saveCheckpoint('detect', 2, { version: 99 });
      const warnings: string[] = [];
      const s = service({ warn: (m) => warnings.push(m) });
      await s.drain();
      expect(warnings).toEqual([
        "detection: the checkpoint's engine state is unusable (unknown checkpoint version 99); starting afresh",
      ]);
      // Seqs 3 and 4 alone do not make 4 failures.
      expect(await s.stats()).toMatchObject({ events: 2, alerts: 0 });
    });
  });
}

/** Polls `check` until it holds, for at most 5 s. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
