import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import { IncidentService } from '../incidents/index.js';
import { VirtualClock } from '../kernel/index.js';
import { loadPolicyFile } from '../policy/index.js';
import type { ChannelKind, InternalAlert, NotificationKind } from './notification.js';
import { type EnqueueInput, idempotencyKey, Outbox } from './outbox.js';

const KCT = loadPolicyFile(fileURLToPath(new URL('../../policies/kct-menswear.yaml', import.meta.url)));
const NOW = '2026-03-04T10:00:00.000Z';

function alertFor(incidentId: string, kind: NotificationKind = 'page'): InternalAlert {
  return {
    kind,
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

function pageFor(
  incidentId: string,
  recipient: string,
  channel: ChannelKind = 'email',
  kind: NotificationKind = 'page',
): EnqueueInput {
  return {
    incidentId,
    kind,
    channel,
    recipient,
    target: `${recipient}@shop.example`,
    idempotencyKey: idempotencyKey({ incidentId, kind, level: 1, recipient, channel }),
    message: alertFor(incidentId, kind),
  };
}

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`Outbox on ${d.name}`, () => {
    let ts: TestStore;
    let clock: VirtualClock;
    let outbox: Outbox;
    let incidentId: string;

    beforeEach(async () => {
      ts = await freshStore(d.name);
      clock = new VirtualClock(NOW);
      const incidents = new IncidentService({
        store: ts.store,
        audit: new AuditLog(ts.store.dialect),
        policy: KCT,
        clock,
      });
      incidentId = (await incidents.create('key:k1 (ops)', { title: 'card testing', severity: 'P1' })).id;
      outbox = new Outbox({ store: ts.store, clock });
    });
    afterEach(async () => {
      await ts.cleanup();
    });

    const enqueue = (input: EnqueueInput) =>
      ts.store.db.transaction().execute((trx) => outbox.enqueueIn(trx, input));

    it('stores a pending notification, due now, with the message as sent', async () => {
      const { notification, created } = await enqueue(pageFor(incidentId, 'alice'));
      expect(created).toBe(true);
      expect(notification).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        incidentId,
        kind: 'page',
        channel: 'email',
        recipient: 'alice',
        target: 'alice@shop.example',
        idempotencyKey: `${incidentId}:page:1:alice:email`,
        message: alertFor(incidentId),
        status: 'pending',
        attempts: 0,
        nextAttemptAt: NOW,
        leaseUntil: null,
        lastError: null,
        createdAt: NOW,
        deliveredAt: null,
      });
      expect(await outbox.list(incidentId)).toEqual([notification]);
      expect(await outbox.get(notification.id)).toEqual(notification);
    });

    it('is idempotent: the same key again adds nothing and returns the first row', async () => {
      const first = await enqueue(pageFor(incidentId, 'alice'));
      clock.advance(60_000);
      const again = await enqueue({ ...pageFor(incidentId, 'alice'), target: 'elsewhere@shop.example' });
      expect(again).toEqual({ notification: first.notification, created: false });
      // In one transaction too.
      const both = await ts.store.db
        .transaction()
        .execute(async (trx) => [
          await outbox.enqueueIn(trx, pageFor(incidentId, 'bob')),
          await outbox.enqueueIn(trx, pageFor(incidentId, 'bob')),
        ]);
      expect(both.map((r) => r.created)).toEqual([true, false]);
      expect(both[1]!.notification.id).toBe(both[0]!.notification.id);
      expect((await outbox.list(incidentId)).map((n) => n.recipient)).toEqual(['alice', 'bob']);
    });

    it('is written with the change that causes it: a rolled-back transaction leaves none', async () => {
      await expect(
        ts.store.db.transaction().execute(async (trx) => {
          await outbox.enqueueIn(trx, pageFor(incidentId, 'alice'));
          throw new Error('the incident change failed');
        }),
      ).rejects.toThrow('the incident change failed');
      expect(await outbox.list(incidentId)).toEqual([]);
      // The key is free again.
      expect((await enqueue(pageFor(incidentId, 'alice'))).created).toBe(true);
    });

    it('refuses a message that is for another incident or reason', async () => {
      const input = pageFor(incidentId, 'alice');
      await expect(enqueue({ ...input, kind: 'reminder' })).rejects.toThrow(RangeError);
      await expect(enqueue({ ...input, incidentId: 'INC-2026-999' })).rejects.toThrow(RangeError);
      await expect(enqueue({ ...input, idempotencyKey: '' })).rejects.toThrow(RangeError);
    });

    it('counts notifications by status', async () => {
      expect(await outbox.stats()).toEqual({ pending: 0, sending: 0, delivered: 0, dead: 0 });
      await enqueue(pageFor(incidentId, 'alice'));
      await enqueue(pageFor(incidentId, 'bob'));
      const carol = await enqueue(pageFor(incidentId, 'carol', 'slack'));
      await ts.store.db
        .updateTable('notifications')
        .set({ status: 'dead' })
        .where('id', '=', carol.notification.id)
        .execute();
      expect(await outbox.stats()).toEqual({ pending: 2, sending: 0, delivered: 0, dead: 1 });
    });
  });
}
