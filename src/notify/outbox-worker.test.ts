import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DIALECTS, freshStore, POSTGRES_URL, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import { IncidentService } from '../incidents/index.js';
import { VirtualClock } from '../kernel/index.js';
import { loadPolicyFile } from '../policy/index.js';
import { openStore, type Store } from '../store/index.js';
import {
  type Channel,
  type ChannelKind,
  DeliveryError,
  type InternalAlert,
  type Notification,
} from './notification.js';
import { type EnqueueInput, idempotencyKey, Outbox, type StoredNotification } from './outbox.js';
import {
  type DeadLetterHook,
  OUTBOX_DEFAULTS,
  OutboxWorker,
  type OutboxWorkerOptions,
  recordOnTimeline,
} from './outbox-worker.js';

const KCT = loadPolicyFile(fileURLToPath(new URL('../../policies/kct-menswear.yaml', import.meta.url)));
const NOW = '2026-03-04T10:00:00.000Z';
const T0 = Date.parse(NOW);
const SEC = 1000;
const MIN = 60 * SEC;

function alertFor(incidentId: string): InternalAlert {
  return {
    kind: 'page',
    incidentId,
    title: 'Card testing on checkout',
    severity: 'P1',
    status: 'detected',
    summary: '400 declined payments from one IP in 5 minutes',
    impact: 'payments',
    currentActions: 'none yet',
    nextUpdate: '2026-03-04T10:30:00.000Z',
    commander: 'unassigned',
    team: ['Alice', 'Bob'],
    ackBy: '2026-03-04T10:15:00.000Z',
  };
}

function pageFor(incidentId: string, recipient: string, channel: ChannelKind = 'email'): EnqueueInput {
  return {
    incidentId,
    kind: 'page',
    channel,
    recipient,
    target: `${recipient}@shop.example`,
    idempotencyKey: idempotencyKey({ incidentId, kind: 'page', level: 1, recipient, channel }),
    message: alertFor(incidentId),
  };
}

/** What a fake channel does with one delivery. */
type Behaviour = (n: Notification, attempt: number) => Promise<void>;

/** A channel double that records every call (with the virtual time) and does what it is told. */
class FakeChannel implements Channel {
  readonly calls: { at: string; notification: Notification }[] = [];
  constructor(
    readonly kind: ChannelKind,
    private readonly clock: VirtualClock,
    public behaviour: Behaviour = async () => {},
  ) {}
  deliver(notification: Notification): Promise<void> {
    this.calls.push({ at: this.clock.now().toISOString(), notification });
    return this.behaviour(notification, this.calls.length);
  }
  get keys(): string[] {
    return this.calls.map((c) => c.notification.idempotencyKey);
  }
}

const fail503: Behaviour = async () => {
  throw new DeliveryError('HTTP 503 Service Unavailable', true);
};

/** A promise and the functions that settle it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`OutboxWorker on ${d.name}`, () => {
    let ts: TestStore;
    let clock: VirtualClock;
    let incidents: IncidentService;
    let outbox: Outbox;
    let incidentId: string;
    let email: FakeChannel;
    let warnings: string[];
    const workers: OutboxWorker[] = [];
    const extraStores: Store[] = [];

    const services = (store: Store) => ({
      incidents: new IncidentService({ store, audit: new AuditLog(store.dialect), policy: KCT, clock }),
      outbox: new Outbox({ store, clock }),
    });

    beforeEach(async () => {
      ts = await freshStore(d.name);
      clock = new VirtualClock(NOW);
      ({ incidents, outbox } = services(ts.store));
      incidentId = (await incidents.create('key:k1 (ops)', { title: 'card testing', severity: 'P1' })).id;
      email = new FakeChannel('email', clock);
      warnings = [];
    });
    afterEach(async () => {
      for (const w of workers.splice(0)) await w.stop();
      for (const store of extraStores.splice(0)) await store.close();
      await ts.cleanup();
    });

    const worker = (options: Partial<OutboxWorkerOptions> = {}, store = ts.store) => {
      const w = new OutboxWorker({
        store,
        clock,
        channels: { email },
        incidents: services(store).incidents,
        random: () => 0.5,
        warn: (m) => warnings.push(m),
        ...options,
      });
      workers.push(w);
      return w;
    };
    const secondStore = async () => {
      const store =
        d.name === 'sqlite'
          ? await openStore({ dataDir: ts.dataDir! })
          : await openStore({ dataDir: '', databaseUrl: POSTGRES_URL, schema: ts.schema! });
      extraStores.push(store);
      return store;
    };
    const enqueue = async (input: EnqueueInput, o = outbox) =>
      (await ts.store.db.transaction().execute((trx) => o.enqueueIn(trx, input))).notification;
    const row = async (id: string): Promise<StoredNotification> => (await outbox.get(id))!;
    const failures = async () =>
      (await incidents.timeline(incidentId)).filter((r) => r.kind === 'notification_failed');
    /** Runs rounds at each due time until the row is delivered or dead. */
    const runToEnd = async (w: OutboxWorker, id: string) => {
      for (let i = 0; i < 100; i++) {
        await w.runDue();
        const r = await row(id);
        if (r.status === 'delivered' || r.status === 'dead') return r;
        clock.set(r.nextAttemptAt);
      }
      throw new Error('did not finish');
    };

    it('delivers once when the channel accepts, with the stored notification and its key', async () => {
      const n = await enqueue(pageFor(incidentId, 'alice'));
      const w = worker();
      expect(await w.runDue()).toEqual({ claimed: 1, delivered: 1, retried: 0, dead: 0, unrecorded: 0 });
      expect(email.calls).toEqual([
        {
          at: NOW,
          notification: {
            id: n.id,
            incidentId,
            kind: 'page',
            channel: 'email',
            recipient: 'alice',
            target: 'alice@shop.example',
            idempotencyKey: `${incidentId}:page:1:alice:email`,
            message: alertFor(incidentId),
            status: 'sending',
            attempts: 1,
            nextAttemptAt: NOW,
            leaseUntil: new Date(T0 + OUTBOX_DEFAULTS.leaseMs).toISOString(),
            lastError: null,
            createdAt: NOW,
            deliveredAt: null,
          },
        },
      ]);
      expect(await row(n.id)).toMatchObject({
        status: 'delivered',
        attempts: 1,
        deliveredAt: NOW,
        leaseUntil: null,
      });
      clock.advance(60 * MIN);
      expect(await w.runDue()).toMatchObject({ claimed: 0 });
      expect(email.calls).toHaveLength(1);
      expect(await outbox.stats()).toEqual({ pending: 0, sending: 0, delivered: 1, dead: 0 });
    });

    it('retries a 5xx on the exact backoff schedule, then dead-letters it onto the timeline', async () => {
      email.behaviour = fail503;
      const n = await enqueue(pageFor(incidentId, 'alice'));
      const w = worker();
      // Not before it is due: one millisecond early sends nothing.
      await w.runDue();
      clock.set(Date.parse((await row(n.id)).nextAttemptAt) - 1);
      expect(await w.runDue()).toMatchObject({ claimed: 0 });
      const dead = await runToEnd(w, n.id);

      // Full jitter with a fixed draw of 0.5: half of 5 s, 10 s, 20 s ... (the cap is not reached).
      const waits = [2.5, 5, 10, 20, 40, 80, 160].map((s) => s * SEC);
      const expected = [T0];
      for (const wait of waits) expected.push(expected.at(-1)! + wait);
      expect(email.calls.map((c) => Date.parse(c.at))).toEqual(expected);
      // Every attempt carries the same key.
      expect(new Set(email.keys)).toEqual(new Set([n.idempotencyKey]));
      expect(dead).toMatchObject({
        status: 'dead',
        attempts: 8,
        lastError: 'HTTP 503 Service Unavailable (attempt 8 of 8)',
        deliveredAt: null,
      });
      expect(await failures()).toEqual([
        expect.objectContaining({
          actor: 'outbox',
          at: new Date(expected.at(-1)!).toISOString(),
          data: {
            notification_id: n.id,
            kind: 'page',
            channel: 'email',
            recipient: 'alice',
            attempts: 8,
            error: 'HTTP 503 Service Unavailable (attempt 8 of 8)',
          },
        }),
      ]);
      // Dead rows stay, and are never sent again.
      clock.advance(24 * 60 * MIN);
      await w.runDue();
      expect(email.calls).toHaveLength(8);
      expect(await outbox.stats()).toMatchObject({ dead: 1 });
    });

    it('doubles the ceiling up to the cap, and draws the wait below it', async () => {
      email.behaviour = fail503;
      const draws = [0.5, 0.5, 0.5, 0.5, 0.999, 0];
      const n = await enqueue(pageFor(incidentId, 'alice'));
      const w = worker({ backoffCapMs: 12 * SEC, maxAttempts: 7, random: () => draws.shift()! });
      await runToEnd(w, n.id);
      const at = email.calls.map((c) => Date.parse(c.at));
      const waits = at.slice(1).map((t, i) => t - at[i]!);
      // Ceilings 5, 10, 12 (capped), 12, 12, 12 s.
      expect(waits).toEqual([2500, 5000, 6000, 6000, Math.floor(0.999 * 12_000), 0]);
    });

    it('waits as long as a Retry-After asks when that is longer, up to the cap', async () => {
      email.behaviour = async (_n, attempt) => {
        if (attempt === 1) throw new DeliveryError('HTTP 429 Too Many Requests', true, 120);
        if (attempt === 2) throw new DeliveryError('HTTP 503', true, 1);
        if (attempt === 3) throw new DeliveryError('HTTP 429', true, 86_400);
      };
      const n = await enqueue(pageFor(incidentId, 'alice'));
      const delivered = await runToEnd(worker(), n.id);
      const at = email.calls.map((c) => Date.parse(c.at) - T0);
      // 120 s asked > 2.5 s drawn; 1 s asked < 5 s drawn; a day asked, 15 min (the cap) waited.
      expect(at).toEqual([0, 120 * SEC, 125 * SEC, 125 * SEC + 15 * MIN]);
      expect(delivered).toMatchObject({ status: 'delivered', attempts: 4, lastError: 'HTTP 429' });
    });

    it('dead-letters a refusal that no retry will change at once', async () => {
      email.behaviour = async () => {
        throw new DeliveryError('HTTP 400: invalid routing key', false);
      };
      const n = await enqueue(pageFor(incidentId, 'alice'));
      expect(await worker().runDue()).toMatchObject({ claimed: 1, dead: 1 });
      expect(await row(n.id)).toMatchObject({
        status: 'dead',
        attempts: 1,
        lastError: 'HTTP 400: invalid routing key',
      });
      expect((await failures()).map((r) => r.data)).toEqual([
        expect.objectContaining({ attempts: 1, error: 'HTTP 400: invalid routing key' }),
      ]);
      expect(warnings.some((m) => m.includes('is dead'))).toBe(true);
    });

    it('dead-letters a notification for a channel that is not configured, saying so', async () => {
      const n = await enqueue(pageFor(incidentId, 'alice', 'slack'));
      expect(await worker().runDue()).toMatchObject({ dead: 1 });
      expect(await row(n.id)).toMatchObject({ status: 'dead', lastError: 'no slack channel is configured' });
      expect(email.calls).toEqual([]);
      expect(await failures()).toHaveLength(1);
    });

    it('retries what a channel throws outside the contract (a refused connection), and logs it', async () => {
      email.behaviour = async (_n, attempt) => {
        if (attempt === 1) {
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), { code: 'ECONNREFUSED' });
        }
      };
      const n = await enqueue(pageFor(incidentId, 'alice'));
      const w = worker();
      expect(await w.runDue()).toMatchObject({ retried: 1 });
      expect(await row(n.id)).toMatchObject({
        status: 'pending',
        lastError: 'Error ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:25',
        nextAttemptAt: new Date(T0 + 2500).toISOString(),
      });
      expect(warnings).toEqual([expect.stringContaining('ECONNREFUSED')]);
      clock.advance(2500);
      expect(await w.runDue()).toMatchObject({ delivered: 1 });
    });

    it('gives up on a send that does not answer in time, and retries it', async () => {
      const hung = deferred();
      email.behaviour = async (_n, attempt) => {
        if (attempt === 1) await hung.promise;
      };
      const n = await enqueue(pageFor(incidentId, 'alice'));
      const w = worker({ sendTimeoutMs: 50 });
      expect(await w.runDue()).toMatchObject({ retried: 1 });
      expect(await row(n.id)).toMatchObject({ status: 'pending', lastError: 'no answer within 50 ms' });
      hung.resolve();
      clock.advance(2500);
      expect(await w.runDue()).toMatchObject({ delivered: 1 });
      expect(email.calls).toHaveLength(2);
    });

    it('marks a row dead only with its failure recorded: a failing hook leaves it undead', async () => {
      email.behaviour = fail503;
      const timeline = recordOnTimeline(incidents);
      let hookCalls = 0;
      const hook: DeadLetterHook = async (trx, n) => {
        hookCalls += 1;
        await timeline(trx, n);
        if (hookCalls === 1) throw new Error('the commander could not be looked up');
      };
      const n = await enqueue(pageFor(incidentId, 'alice'));
      const w = worker({ maxAttempts: 2, onDeadLetterIn: hook });
      expect(await w.runDue()).toMatchObject({ retried: 1 });
      clock.advance(2500);
      expect(await w.runDue()).toMatchObject({ claimed: 1, dead: 0, unrecorded: 1 });
      expect(hookCalls).toBe(1);
      // Rolled back together: not dead, and no timeline record (it was written, then undone).
      expect(await row(n.id)).toMatchObject({
        status: 'sending',
        attempts: 2,
        lastError: 'HTTP 503 Service Unavailable (attempt 2 of 2)',
      });
      expect(await failures()).toEqual([]);
      expect(warnings).toEqual([expect.stringContaining('could not dead-letter')]);

      // Still claimed until the lease ends; then dead-lettered without a third send.
      expect(await w.runDue()).toMatchObject({ claimed: 0, dead: 0 });
      clock.advance(OUTBOX_DEFAULTS.leaseMs + 1);
      expect(await w.runDue()).toMatchObject({ claimed: 0, dead: 1 });
      expect(email.calls).toHaveLength(2);
      expect(hookCalls).toBe(2);
      const dead = await row(n.id);
      expect(dead.status).toBe('dead');
      expect(dead.lastError).toMatch(
        /^HTTP 503 Service Unavailable \(attempt 2 of 2\); attempt 2 of 2 did not finish/,
      );
      expect(await failures()).toHaveLength(1);
    });

    it('needs a way to raise dead letters', () => {
      expect(() => new OutboxWorker({ store: ts.store, clock, channels: { email } })).toThrow(
        /onDeadLetterIn/,
      );
      expect(() => worker({ sendTimeoutMs: 60_000 })).toThrow(/below leaseMs/);
    });

    it('sends again, with the same key, what a worker claimed and never finished (a crash)', async () => {
      const n = await enqueue(pageFor(incidentId, 'alice'));
      const hung = deferred();
      email.behaviour = async (_n, attempt) => {
        if (attempt === 1) await hung.promise;
      };
      // Worker A claims and starts sending, then "dies": it never records the outcome in time.
      const a = worker({ sendTimeoutMs: 59_000 });
      const roundA = a.runDue();
      await vi.waitFor(() => expect(email.calls).toHaveLength(1));
      expect(await row(n.id)).toMatchObject({ status: 'sending', attempts: 1 });

      const b = worker({}, await secondStore());
      expect(await b.runDue()).toMatchObject({ claimed: 0 }); // the lease still holds
      clock.advance(OUTBOX_DEFAULTS.leaseMs + 1);
      expect(await b.runDue()).toMatchObject({ claimed: 1, delivered: 1 });
      expect(email.keys).toEqual([n.idempotencyKey, n.idempotencyKey]);
      const delivered = await row(n.id);
      expect(delivered).toMatchObject({ status: 'delivered', attempts: 2 });

      // A's answer comes in late: it lost the claim and changes nothing.
      hung.resolve();
      expect(await roundA).toMatchObject({ claimed: 1, delivered: 0, unrecorded: 1 });
      expect(await row(n.id)).toEqual(delivered);
      expect(warnings).toEqual([expect.stringContaining('lease lost')]);
    });

    it('dead-letters, without sending again, a last attempt whose worker died', async () => {
      const n = await enqueue(pageFor(incidentId, 'alice'));
      const hung = deferred();
      email.behaviour = () => hung.promise;
      const a = worker({ maxAttempts: 1, sendTimeoutMs: 59_000 });
      const roundA = a.runDue();
      await vi.waitFor(() => expect(email.calls).toHaveLength(1));
      clock.advance(OUTBOX_DEFAULTS.leaseMs + 1);
      expect(await worker({ maxAttempts: 1 }, await secondStore()).runDue()).toMatchObject({
        claimed: 0,
        dead: 1,
      });
      expect(email.calls).toHaveLength(1);
      expect((await row(n.id)).lastError).toMatch(/^no failure was recorded; attempt 1 of 1 did not finish/);
      expect(await failures()).toHaveLength(1);
      hung.resolve();
      expect(await roundA).toMatchObject({ unrecorded: 1 });
      expect((await row(n.id)).status).toBe('dead');
    });

    it('delivers after a restart what was pending before it, each when due', async () => {
      email.behaviour = async (n, attempt) => {
        if (attempt === 1) throw new DeliveryError(`HTTP 502 for ${n.recipient}`, true);
      };
      const bob = await enqueue(pageFor(incidentId, 'bob'));
      await worker().runDue();
      expect(await row(bob.id)).toMatchObject({ status: 'pending', attempts: 1 });
      const alice = await enqueue(pageFor(incidentId, 'alice'));
      const oldWorker = workers.pop()!;
      await oldWorker.stop();

      // The process restarts: a new store, outbox and worker on the same database.
      const store = await ts.reopen();
      ({ incidents, outbox } = services(store));
      const w = worker({}, store);
      expect(await w.runDue()).toMatchObject({ claimed: 1, delivered: 1 });
      expect(email.calls.at(-1)!.notification.id).toBe(alice.id);
      clock.advance(2500);
      expect(await w.runDue()).toMatchObject({ claimed: 1, delivered: 1 });
      expect(email.keys).toEqual([bob.idempotencyKey, alice.idempotencyKey, bob.idempotencyKey]);
      expect(await outbox.stats()).toEqual({ pending: 0, sending: 0, delivered: 2, dead: 0 });
    });

    it('never sends a row twice when two servers run rounds at once', async () => {
      const keys: string[] = [];
      for (let i = 0; i < 40; i++)
        keys.push((await enqueue(pageFor(incidentId, `person${i}`))).idempotencyKey);
      email.behaviour = () => new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 5)));
      const a = worker({ batchSize: 3 });
      const b = worker({ batchSize: 3 }, await secondStore());
      for (let round = 0; round < 40; round++) {
        const [ra, rb] = await Promise.all([a.runDue(), b.runDue(), a.runDue(), b.runDue()]);
        if (ra!.claimed + rb!.claimed === 0 && (await outbox.stats()).delivered === 40) break;
      }
      expect(await outbox.stats()).toEqual({ pending: 0, sending: 0, delivered: 40, dead: 0 });
      expect([...email.keys].sort()).toEqual([...keys].sort());
      expect(warnings).toEqual([]);
    });

    it('runs in the background, wakes on notify, and stops after the send in progress', async () => {
      const sending = deferred();
      let sent = false;
      email.behaviour = async () => {
        await sending.promise;
        sent = true;
      };
      const w = worker({ pollMs: 60_000 });
      w.start();
      // The first round found nothing; the loop sleeps for a minute unless woken.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const n = await enqueue(pageFor(incidentId, 'alice'));
      w.notify();
      await vi.waitFor(() => expect(email.calls).toHaveLength(1));
      const stopped = w.stop();
      let done = false;
      void stopped.then(() => {
        done = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(done).toBe(false);
      sending.resolve();
      await stopped;
      expect(sent).toBe(true);
      expect(await row(n.id)).toMatchObject({ status: 'delivered' });
    });
  });
}
