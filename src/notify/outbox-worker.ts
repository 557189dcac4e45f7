/**
 * The outbox worker: delivers the outbox's notifications through their channels, retries with
 * exponential backoff, and dead-letters what cannot be delivered (README "The outbox and the
 * delivery guarantee").
 *
 * One round (`runDue`):
 *  1. claim: one statement moves up to `batchSize` due rows to `sending`, with a lease and one
 *     more attempt. Due: pending and `next_attempt_at` ≤ now, or sending with an expired lease
 *     (the worker sending it died). On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`,
 *     so two servers never claim the same row; SQLite has a single writer.
 *  2. send each through its channel, outside any transaction (a slow receiver holds no lock),
 *     cut off after `sendTimeoutMs`.
 *  3. record the outcome, guarded by the claim (status sending, the same attempt number): a
 *     worker that lost its lease meanwhile changes nothing. Delivered; or back to pending at
 *     now + backoff; or, when the failure is final or the attempts are spent, dead, with
 *     `onDeadLetterIn` in the same transaction (the failure on the incident's timeline, raised
 *     to the commander): the row is dead exactly when the failure was recorded.
 *
 * The guarantee: at least once, with the row's idempotency key on every attempt. A crash after
 * the receiver accepted a message but before `delivered` committed sends it again once the
 * lease expires; receivers drop the repeat by its key. Never silently dropped: a row leaves
 * `pending`/`sending` only as delivered or dead, and dead rows stay in the table and are raised.
 */
import type { IncidentService } from '../incidents/index.js';
import { type Clock, LoopPause } from '../kernel/index.js';
import type { Database, Kysely, NotificationTable, Store, Transaction } from '../store/index.js';
import { type Channel, type ChannelKind, DeliveryError, type Notification } from './notification.js';
import { type StoredNotification, toStoredNotification } from './outbox.js';

export const OUTBOX_DEFAULTS = {
  maxAttempts: 8,
  backoffBaseMs: 5_000,
  backoffCapMs: 15 * 60_000,
  leaseMs: 60_000,
  sendTimeoutMs: 30_000,
  batchSize: 20,
  pollMs: 1_000,
} as const;

/** The actor of the timeline records and audit entries the worker writes. */
export const OUTBOX_ACTOR = 'outbox';

/**
 * Called in the transaction that marks a row dead; throwing rolls that back. The row then stays
 * claimed until its lease expires: a spent row is dead-lettered again then (not sent), one
 * refused for good with attempts left is sent once more and, refused again, dead-lettered again.
 */
export type DeadLetterHook = (trx: Transaction<Database>, notification: StoredNotification) => Promise<void>;

/** What the default dead-letter hook needs of the incidents module. */
export type NotificationFailureRecorder = Pick<IncidentService, 'recordNotificationFailedIn'>;

export interface OutboxWorkerOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly channels: Partial<Record<ChannelKind, Channel>>;
  /**
   * Raises a dead-lettered notification, in the transaction that marks it dead. Default, given
   * `incidents`: a `notification_failed` record on the incident's timeline (`recordOnTimeline`).
   * One of the two is required: a failure nobody hears of is a silent drop.
   */
  readonly onDeadLetterIn?: DeadLetterHook;
  readonly incidents?: NotificationFailureRecorder;
  /** Attempts in all, the first included. Default 8. */
  readonly maxAttempts?: number;
  /** The backoff's ceiling after the first failure, doubling after each. Default 5 s. */
  readonly backoffBaseMs?: number;
  /** The largest ceiling (and the most a Retry-After is honoured). Default 15 min. */
  readonly backoffCapMs?: number;
  /** A number in [0, 1): the full jitter's draw. Default Math.random; fixed in tests. */
  readonly random?: () => number;
  /** How long a claim lasts: a worker that died mid-send loses the row after it. Default 60 s. */
  readonly leaseMs?: number;
  /** A send still unanswered after this is abandoned as a retryable timeout. Default 30 s. */
  readonly sendTimeoutMs?: number;
  /** Rows claimed (and sent concurrently) per round. Default 20. */
  readonly batchSize?: number;
  /** How often the background loop looks for due rows (`notify()` wakes it sooner). Default 1 s. */
  readonly pollMs?: number;
  /** Failures, for the server log. */
  readonly warn?: (message: string) => void;
}

/** What one round did. */
export interface OutboxRound {
  readonly claimed: number;
  readonly delivered: number;
  /** Failed and put back for a later attempt. */
  readonly retried: number;
  readonly dead: number;
  /** Outcomes not recorded: the lease was lost, or the database refused; the lease decides. */
  readonly unrecorded: number;
}

type Outcome =
  | { readonly type: 'delivered' }
  | {
      readonly type: 'failed';
      readonly error: string;
      readonly retryable: boolean;
      readonly retryAfterS?: number;
    };

/** The default dead-letter hook: a `notification_failed` record on the incident's timeline. */
export function recordOnTimeline(incidents: NotificationFailureRecorder): DeadLetterHook {
  return async (trx, n) => {
    await incidents.recordNotificationFailedIn(trx, OUTBOX_ACTOR, n.incidentId, {
      notification_id: n.id,
      kind: n.kind,
      channel: n.channel,
      recipient: n.recipient,
      attempts: n.attempts,
      error: n.lastError ?? 'unknown',
    });
  };
}

/**
 * The ceiling of the wait after the `attempt`-th failure: base · 2^(attempt − 1), at most cap.
 * The wait itself is a uniform draw below it (full jitter), so retries from many rows spread.
 */
export function backoffCeilingMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

export class OutboxWorker {
  private readonly db: Kysely<Database>;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly backoffCapMs: number;
  private readonly leaseMs: number;
  private readonly sendTimeoutMs: number;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly random: () => number;
  private readonly onDeadLetterIn: DeadLetterHook;
  private readonly warn: (message: string) => void;

  /** Rounds run one at a time, whether the loop or a caller asks. */
  private turn: Promise<unknown> = Promise.resolve();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private readonly pause = new LoopPause();

  constructor(private readonly options: OutboxWorkerOptions) {
    this.db = options.store.db;
    const d = OUTBOX_DEFAULTS;
    this.maxAttempts = positive('maxAttempts', options.maxAttempts, d.maxAttempts);
    this.backoffBaseMs = positive('backoffBaseMs', options.backoffBaseMs, d.backoffBaseMs);
    this.backoffCapMs = positive('backoffCapMs', options.backoffCapMs, d.backoffCapMs);
    this.leaseMs = positive('leaseMs', options.leaseMs, d.leaseMs);
    this.sendTimeoutMs = positive('sendTimeoutMs', options.sendTimeoutMs, d.sendTimeoutMs);
    this.batchSize = positive('batchSize', options.batchSize, d.batchSize);
    this.pollMs = positive('pollMs', options.pollMs, d.pollMs);
    if (this.backoffCapMs < this.backoffBaseMs) {
      throw new RangeError(
        `OutboxWorker: backoffCapMs ${this.backoffCapMs} < backoffBaseMs ${this.backoffBaseMs}`,
      );
    }
    if (this.sendTimeoutMs >= this.leaseMs) {
      // Else a slow send would be claimed and sent again by another worker while still under way.
      throw new RangeError(
        `OutboxWorker: sendTimeoutMs ${this.sendTimeoutMs} must be below leaseMs ${this.leaseMs}`,
      );
    }
    this.random = options.random ?? Math.random;
    const hook =
      options.onDeadLetterIn ?? (options.incidents ? recordOnTimeline(options.incidents) : undefined);
    if (hook === undefined) {
      throw new RangeError('OutboxWorker: give onDeadLetterIn or incidents, so that a dead letter is raised');
    }
    this.onDeadLetterIn = hook;
    this.warn = options.warn ?? (() => {});
  }

  /** Runs rounds in the background, every `pollMs` or at once after `notify()`, until `stop()`. */
  start(): void {
    if (this.loop !== undefined) return;
    this.stopping = false;
    this.loop = this.run();
  }

  /** Wakes the background loop now: call it after committing a transaction that enqueued. */
  notify(): void {
    this.pause.wake();
  }

  /** Stops the loop, waiting for the round in progress (its sends and their outcomes). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.pause.wake();
    await this.loop;
    this.loop = undefined;
    await this.turn;
  }

  /** One round: claims what is due, sends it, records the outcomes. */
  runDue(): Promise<OutboxRound> {
    const run = this.turn.then(() => this.round());
    this.turn = run.catch(() => {});
    return run;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      this.pause.clear();
      let full = false;
      try {
        full = (await this.runDue()).claimed === this.batchSize;
      } catch (error) {
        this.warn(`outbox: a round failed (${reason(error)}); trying again in ${this.pollMs} ms`);
      }
      if (!full && !this.stopping) await this.pause.sleep(this.pollMs);
    }
  }

  private async round(): Promise<OutboxRound> {
    const now = this.options.clock.now();
    const counts = { claimed: 0, delivered: 0, retried: 0, dead: 0, unrecorded: 0 };
    const tally = (result: keyof typeof counts | undefined) => {
      counts[result ?? 'unrecorded'] += 1;
    };

    for (const row of await this.expiredLastAttempts(now)) tally(await this.deadLetterAbandoned(row, now));

    const claimed = await this.claim(now);
    counts.claimed = claimed.length;
    await Promise.all(
      claimed.map(async (row) => {
        const outcome = await this.send(row);
        tally(await this.record(row, outcome));
      }),
    );
    return counts;
  }

  /**
   * Rows whose last allowed attempt was claimed by a worker that never finished it. They are
   * dead-lettered, not sent again: retrying past maxAttempts would let a message that kills
   * its worker (or a hook that keeps failing) loop for ever.
   */
  private expiredLastAttempts(now: Date): Promise<NotificationTable[]> {
    return this.db
      .selectFrom('notifications')
      .selectAll()
      .where('status', '=', 'sending')
      .where('lease_until', '<', now.toISOString())
      .where('attempts', '>=', this.maxAttempts)
      .orderBy('lease_until')
      .limit(this.batchSize)
      .execute();
  }

  private async deadLetterAbandoned(row: NotificationTable, now: Date): Promise<'dead' | undefined> {
    const error =
      `${row.last_error ?? 'no failure was recorded'}; ` +
      `attempt ${row.attempts} of ${this.maxAttempts} did not finish before its lease expired at ${row.lease_until}`;
    return this.deadLetter(row, Number(row.attempts), error, now, true);
  }

  /** Moves up to batchSize due rows to sending, with a lease and one more attempt. */
  private async claim(now: Date): Promise<NotificationTable[]> {
    const at = now.toISOString();
    const postgres = this.options.store.dialect === 'postgres';
    const rows = await this.db
      .updateTable('notifications')
      .set((eb) => ({
        status: 'sending',
        lease_until: new Date(now.getTime() + this.leaseMs).toISOString(),
        attempts: eb('attempts', '+', 1),
      }))
      .where('id', 'in', (eb) => {
        const due = eb
          .selectFrom('notifications')
          .select('id')
          .where((w) =>
            w.or([
              w.and([w('status', '=', 'pending'), w('next_attempt_at', '<=', at)]),
              w.and([
                w('status', '=', 'sending'),
                w('lease_until', '<', at),
                w('attempts', '<', this.maxAttempts),
              ]),
            ]),
          )
          .orderBy('next_attempt_at')
          .orderBy('id')
          .limit(this.batchSize);
        return postgres ? due.forUpdate().skipLocked() : due;
      })
      .returningAll()
      .execute();
    return rows.sort(
      (a, b) => a.next_attempt_at.localeCompare(b.next_attempt_at) || a.id.localeCompare(b.id),
    );
  }

  /** One attempt through the row's channel. Never throws. */
  private async send(row: NotificationTable): Promise<Outcome> {
    const channel = this.options.channels[row.channel as ChannelKind];
    if (channel === undefined) {
      return { type: 'failed', retryable: false, error: `no ${row.channel} channel is configured` };
    }
    let notification: Notification;
    try {
      notification = toStoredNotification(row);
    } catch (error) {
      return {
        type: 'failed',
        retryable: false,
        error: `the stored message is unreadable: ${reason(error)}`,
      };
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new DeliveryError(`no answer within ${this.sendTimeoutMs} ms`, true)),
          this.sendTimeoutMs,
        );
      });
      await Promise.race([channel.deliver(notification), timeout]);
      return { type: 'delivered' };
    } catch (error) {
      if (error instanceof DeliveryError) {
        return {
          type: 'failed',
          error: error.message,
          retryable: error.retryable,
          ...(error.retryAfterS === undefined ? {} : { retryAfterS: error.retryAfterS }),
        };
      }
      // Not the channel contract's error (a bug, a network error it did not map): retry it,
      // as a failure nobody classified may well be temporary, and say so in the log.
      this.warn(`outbox: the ${row.channel} channel threw ${describeError(error)} for ${row.id}; retrying`);
      return { type: 'failed', error: describeError(error), retryable: true };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Records an attempt's outcome, if this worker still holds the claim. */
  private async record(
    row: NotificationTable,
    outcome: Outcome,
  ): Promise<'delivered' | 'retried' | 'dead' | undefined> {
    const now = this.options.clock.now();
    const attempts = Number(row.attempts);
    try {
      if (outcome.type === 'delivered') {
        const done = await this.db
          .updateTable('notifications')
          .set({ status: 'delivered', delivered_at: now.toISOString(), lease_until: null })
          .where('id', '=', row.id)
          .where('status', '=', 'sending')
          .where('attempts', '=', attempts)
          .executeTakeFirst();
        return this.held(row, done.numUpdatedRows) ? 'delivered' : undefined;
      }
      if (outcome.retryable && attempts < this.maxAttempts) {
        const next = new Date(now.getTime() + this.delayMs(attempts, outcome.retryAfterS));
        const done = await this.db
          .updateTable('notifications')
          .set({
            status: 'pending',
            next_attempt_at: next.toISOString(),
            lease_until: null,
            last_error: outcome.error,
          })
          .where('id', '=', row.id)
          .where('status', '=', 'sending')
          .where('attempts', '=', attempts)
          .executeTakeFirst();
        return this.held(row, done.numUpdatedRows) ? 'retried' : undefined;
      }
      const error = outcome.retryable
        ? `${outcome.error} (attempt ${attempts} of ${this.maxAttempts})`
        : outcome.error;
      return await this.deadLetter(row, attempts, error, now, false);
    } catch (error) {
      // The database refused: the row stays claimed and the lease decides (sent again, or
      // dead-lettered when it was the last attempt).
      this.warn(`outbox: could not record the outcome of ${row.id} (${reason(error)}); its lease will`);
      return undefined;
    }
  }

  /**
   * Marks a row dead and runs the hook, in one transaction, if it is still in the state this
   * worker saw (claimed with this attempt number; for an abandoned row, its lease expired).
   */
  private async deadLetter(
    row: NotificationTable,
    attempts: number,
    error: string,
    now: Date,
    abandoned: boolean,
  ): Promise<'dead' | undefined> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        let update = trx
          .updateTable('notifications')
          .set({ status: 'dead', lease_until: null, last_error: error })
          .where('id', '=', row.id)
          .where('status', '=', 'sending')
          .where('attempts', '=', attempts);
        if (abandoned) update = update.where('lease_until', '<', now.toISOString());
        const dead = await update.returningAll().executeTakeFirst();
        if (dead === undefined) {
          if (!abandoned) this.warn(`outbox: ${row.id} was claimed again before its outcome was recorded`);
          return undefined;
        }
        await this.onDeadLetterIn(trx, toStoredNotification(dead));
        this.warn(`outbox: ${row.channel} notification ${row.id} for ${row.recipient} is dead: ${error}`);
        return 'dead' as const;
      });
    } catch (failure) {
      this.warn(
        `outbox: could not dead-letter ${row.id} (${reason(failure)}); it stays claimed and is tried again after its lease`,
      );
      if (!abandoned) await this.keepError(row, attempts, error);
      return undefined;
    }
  }

  /** Best effort: keeps the failure on a row whose dead-lettering failed, for the next try. */
  private async keepError(row: NotificationTable, attempts: number, error: string): Promise<void> {
    await this.db
      .updateTable('notifications')
      .set({ last_error: error })
      .where('id', '=', row.id)
      .where('status', '=', 'sending')
      .where('attempts', '=', attempts)
      .execute()
      .catch(() => {});
  }

  /** The wait after the attempt-th failure: full jitter below the ceiling, or Retry-After if longer. */
  private delayMs(attempt: number, retryAfterS: number | undefined): number {
    const jittered = Math.floor(
      this.random() * backoffCeilingMs(attempt, this.backoffBaseMs, this.backoffCapMs),
    );
    const asked = retryAfterS === undefined || !(retryAfterS > 0) ? 0 : Math.ceil(retryAfterS * 1000);
    // A receiver's wish is honoured up to the cap: a page must not sit for hours on its word.
    return Math.max(jittered, Math.min(asked, this.backoffCapMs));
  }

  private held(row: NotificationTable, updated: bigint | number): boolean {
    if (Number(updated) === 1) return true;
    this.warn(`outbox: ${row.id} was claimed again before its outcome was recorded (lease lost)`);
    return false;
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`OutboxWorker: ${name} ${value}`);
  return value;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`;
  }
  return String(error);
}
