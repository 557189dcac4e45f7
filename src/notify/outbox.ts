/**
 * The outbox (DESIGN.md: "side effects leave the core through an outbox"): a notification is
 * written in the same transaction as the incident change that causes it, so it exists exactly
 * when that change committed. The outbox worker (outbox-worker.ts) delivers it afterwards.
 *
 * Every row carries an idempotency key chosen by the caller, deterministic in what the message
 * is for (`INC-2026-001:page:1:alice:email`): enqueueing the same key again is a no-op, so a
 * replayed change never pages twice, and the key travels with every attempt so that receivers
 * drop the repeats an at-least-once delivery can make. Rows are never deleted by delivery: the
 * table is the record of who was told what, and when.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../kernel/index.js';
import type { Database, Kysely, NotificationTable, Store, Transaction } from '../store/index.js';
import type { ChannelKind, InternalAlert, Notification, NotificationKind } from './notification.js';

export const NOTIFICATION_STATUSES = ['pending', 'sending', 'delivered', 'dead'] as const;
/**
 * pending: waiting for its next attempt; sending: claimed by a worker until its lease ends;
 * delivered: a receiver accepted it; dead: given up on (and raised), kept for the record.
 */
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/** A notification as the outbox holds it, with its delivery state. */
export interface StoredNotification extends Notification {
  readonly status: NotificationStatus;
  /** Attempts made (or under way) so far. */
  readonly attempts: number;
  /** ISO 8601: when a pending row is due. */
  readonly nextAttemptAt: string;
  /** ISO 8601: when a sending row's claim ends, or null. */
  readonly leaseUntil: string | null;
  /** The last failure, if any (kept once delivered: it says what the retries were for). */
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly deliveredAt: string | null;
}

/** What to send: a `Notification` without its id (the outbox gives it one). */
export type EnqueueInput = Omit<Notification, 'id'>;

export interface EnqueueResult {
  readonly notification: StoredNotification;
  /** False when the idempotency key was already there: nothing was added. */
  readonly created: boolean;
}

export type OutboxStats = Readonly<Record<NotificationStatus, number>>;

export interface OutboxDeps {
  readonly store: Store;
  readonly clock: Clock;
}

/**
 * The deterministic key of a message: the same incident, reason, level, recipient and channel
 * give the same key, so that writing it twice is a no-op.
 *
 * @example
 * idempotencyKey({ incidentId: 'INC-2026-001', kind: 'page', level: 1, recipient: 'alice', channel: 'email' });
 * // 'INC-2026-001:page:1:alice:email'
 */
export function idempotencyKey(parts: {
  readonly incidentId: string;
  readonly kind: NotificationKind;
  readonly level: number | string;
  readonly recipient: string;
  readonly channel: ChannelKind;
}): string {
  return `${parts.incidentId}:${parts.kind}:${parts.level}:${parts.recipient}:${parts.channel}`;
}

export class Outbox {
  private readonly db: Kysely<Database>;

  constructor(private readonly deps: OutboxDeps) {
    this.db = deps.store.db;
  }

  /**
   * Adds a notification inside the caller's transaction, due at once. With a key already in the
   * outbox it adds nothing and returns the row that has it (`created: false`). Wake the worker
   * (`OutboxWorker.notify()`) once the transaction has committed.
   *
   * @example
   * await db.transaction().execute(async (trx) => {
   *   await incidents.transitionIn(trx, ...);
   *   await outbox.enqueueIn(trx, { incidentId, kind: 'page', channel: 'email', recipient: 'alice',
   *     target: 'alice@shop.example', idempotencyKey: `${incidentId}:page:1:alice:email`, message });
   * });
   * worker.notify();
   */
  async enqueueIn(trx: Transaction<Database>, input: EnqueueInput): Promise<EnqueueResult> {
    if (input.message.incidentId !== input.incidentId || input.message.kind !== input.kind) {
      throw new RangeError(
        `Outbox.enqueueIn: the message is a ${input.message.kind} for ${input.message.incidentId}, not a ${input.kind} for ${input.incidentId}`,
      );
    }
    if (input.idempotencyKey === '') throw new RangeError('Outbox.enqueueIn: empty idempotency key');
    const now = this.deps.clock.now().toISOString();
    const row: NotificationTable = {
      id: randomUUID(),
      incident_id: input.incidentId,
      kind: input.kind,
      channel: input.channel,
      recipient: input.recipient,
      target: input.target,
      idempotency_key: input.idempotencyKey,
      payload: JSON.stringify(input.message),
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      lease_until: null,
      last_error: null,
      created_at: now,
      delivered_at: null,
    };
    // Both dialects: a key already present (committed, or inserted by a transaction this one
    // then waits for) makes the insert do nothing instead of failing the caller's transaction.
    const inserted = await trx
      .insertInto('notifications')
      .values(row)
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) return { notification: toStoredNotification(row), created: true };
    const existing = await trx
      .selectFrom('notifications')
      .selectAll()
      .where('idempotency_key', '=', input.idempotencyKey)
      .executeTakeFirstOrThrow();
    return { notification: toStoredNotification(existing), created: false };
  }

  /** An incident's notifications, oldest first. */
  async list(incidentId: string): Promise<StoredNotification[]> {
    const rows = await this.db
      .selectFrom('notifications')
      .selectAll()
      .where('incident_id', '=', incidentId)
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
    return rows.map(toStoredNotification);
  }

  /** One notification by id, or undefined. */
  async get(id: string): Promise<StoredNotification | undefined> {
    const row = await this.db.selectFrom('notifications').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toStoredNotification(row) : undefined;
  }

  /** Notifications by status, every status present (0 when none). */
  async stats(): Promise<OutboxStats> {
    const rows = await this.db
      .selectFrom('notifications')
      .select((eb) => ['status', eb.fn.countAll<number | string>().as('n')])
      .groupBy('status')
      .execute();
    const counts: Record<NotificationStatus, number> = { pending: 0, sending: 0, delivered: 0, dead: 0 };
    for (const r of rows) {
      if (Object.hasOwn(counts, r.status)) counts[r.status as NotificationStatus] = Number(r.n);
    }
    return counts;
  }
}

/** A row as the outbox's callers see it. Throws (SyntaxError) when its payload is not JSON. */
export function toStoredNotification(row: NotificationTable): StoredNotification {
  return {
    id: row.id,
    incidentId: row.incident_id,
    kind: row.kind as NotificationKind,
    channel: row.channel as ChannelKind,
    recipient: row.recipient,
    target: row.target,
    idempotencyKey: row.idempotency_key,
    message: JSON.parse(row.payload) as InternalAlert,
    status: row.status as NotificationStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: row.next_attempt_at,
    leaseUntil: row.lease_until,
    lastError: row.last_error,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}
