/**
 * The durable event log (DESIGN.md: "Accepted means durable"). Ingest appends the events it
 * accepted and answers only once the append has committed; the detection service reads forward
 * from its checkpoint, and after a crash replays from there.
 *
 * Order: every append locks the head row (`event_log_head`), takes the next seqs, inserts its
 * events and moves the head, all in one transaction. Appends therefore take turns and commit in
 * seq order, and a rolled-back append gives its seqs back: the log is gapless, and a reader never
 * sees seq n + 1 before seq n. Why a row lock and not an auto-increment with an advisory lock or
 * `LOCK TABLE ... IN EXCLUSIVE MODE`: an auto-increment loses numbers on rollback (gaps a consumer
 * cannot tell from pruned events) and cannot say what the highest seq was once retention has
 * deleted everything; an advisory lock key is shared by every schema of the database; an
 * EXCLUSIVE table lock also conflicts with autovacuum. The head row is scoped to this schema, is
 * how the audit log already serialises (`audit_head`), and costs one small update per batch.
 *
 * Durability: SQLite runs WAL with synchronous=FULL, so a commit is fsynced before `append`
 * resolves; on PostgreSQL a commit is durable per the server's `fsync` and `synchronous_commit`.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { CompiledQuery, sql } from 'kysely';
import type { EcsEvent } from '../events/index.js';
import { type Clock, FirebreakError } from '../kernel/index.js';
import type { Database, Kysely, Store, Transaction } from '../store/index.js';

/** Rows per INSERT: 6 parameters a row stays far below both dialects' parameter limits. */
export const APPEND_CHUNK_ROWS = 500;
/**
 * Events whose JSON is larger than this are tried deflated. Below it deflating costs about as
 * much time (~20 µs an event, mostly zlib setup) and saves little (~23% on a 200-byte login).
 */
export const COMPRESS_MIN_BYTES = 1024;
/** ... and kept deflated only when that saves at least this share of the bytes. */
export const COMPRESS_MIN_SAVING = 0.3;
export const SEARCH_MAX_LIMIT = 10_000;
export const SEARCH_MAX_RANGE_MS = 31 * 24 * 60 * 60 * 1000;
/** Retention deletes in steps of this many events, so no single statement holds the lock for long. */
const PRUNE_STEP = 10_000;
const SEARCH_PAGE = 1_000;
/**
 * Events kept in memory after their append commits, so the detection service (which reads right
 * behind the head) gets them without reading and parsing them again. About 1 KiB each.
 */
export const RECENT_EVENTS = 20_000;

export interface LoggedEvent {
  readonly seq: number;
  /** ISO 8601: when Firebreak accepted it. */
  readonly receivedAt: string;
  /** The event's own time (`@timestamp`), epoch milliseconds. */
  readonly epochMs: number;
  readonly source: string;
  readonly event: EcsEvent;
}

/** The seqs an append took; an empty append has `first = last + 1` and `count = 0`. */
export interface AppendRange {
  readonly first: number;
  readonly last: number;
  readonly count: number;
}

export interface AppendOptions {
  /** Where the events came from: `http`, `syslog`, `file` ... */
  readonly source: string;
  readonly receivedAt: Date;
  /** A client's Idempotency-Key, scoped to the API key that sent it. */
  readonly idempotency?: { readonly keyId: string; readonly key: string };
  /** The response body for this batch; stored, and given again when the batch is sent again. */
  readonly answer: (range: AppendRange) => unknown;
}

export interface AppendResult extends AppendRange {
  /** The answer as stored (a JSON round trip), the same on the first call and on replays. */
  readonly answer: unknown;
  /** True when the idempotency key had been seen: nothing was appended this time. */
  readonly replayed: boolean;
}

export interface ConsumerCheckpoint {
  readonly consumer: string;
  /** The last seq the consumer processed. */
  readonly seq: number;
  readonly state: unknown;
  readonly updatedAt: string;
}

export interface PruneOptions {
  /** Delete events received longer ago than this, and idempotency records created before then. */
  readonly olderThanMs?: number;
  /** Keep at most this many of the newest events. */
  readonly maxEvents?: number;
  readonly now: Date;
}

export interface PruneResult {
  /** Events deleted. */
  readonly deleted: number;
  /** Idempotency records deleted. */
  readonly batchesDeleted: number;
  /** Consumers whose unprocessed events were deleted: they resume after `skippedTo`. */
  readonly overrun: readonly { consumer: string; seq: number; skippedTo: number; lost: number }[];
}

export interface EventSearchQuery {
  /** Event time, inclusive. */
  readonly from: Date;
  /** Event time, exclusive; at most 31 days after `from`. */
  readonly to: Date;
  /** Dotted ECS field → value: `{ 'event.action': 'login', 'source.ip': '203.0.113.7' }`. */
  readonly where?: Readonly<Record<string, string>>;
  /** At most 10,000. */
  readonly limit: number;
}

export interface EventSearchResult {
  /** In event-time order (seq order among equal times). */
  readonly events: LoggedEvent[];
  /** True when more events match than `limit`. */
  readonly truncated: boolean;
}

export interface EventLogDeps {
  readonly store: Store;
  readonly clock: Clock;
}

/** An event to append: `json` is its JSON text when the caller has it (the line it was parsed from). */
export interface AppendEvent {
  readonly event: EcsEvent;
  readonly epochMs: number;
  /** Must parse to `event`; saves serialising it again. */
  readonly json?: string | undefined;
}

interface EncodedEvent {
  readonly epochMs: number;
  readonly event: string | null;
  readonly deflated: Uint8Array | null;
}

export class EventLog {
  private readonly db: Kysely<Database>;
  /**
   * The last RECENT_EVENTS events this process appended, by seq, in insertion order. Only
   * committed events go in, so whatever `read` serves from here is what the database holds.
   * Another process appending to the same database leaves gaps here; `read` serves only an
   * unbroken run of seqs from it and goes to the database for the rest.
   */
  private readonly recent = new Map<number, LoggedEvent>();
  /** INSERT statements by row count: compiled once, not per batch (Kysely's compile is per call). */
  private readonly insertSql = new Map<number, string>();

  constructor(private readonly deps: EventLogDeps) {
    this.db = deps.store.db;
  }

  /**
   * Appends a batch in one transaction and resolves once it has committed. With an idempotency
   * key that was seen before, appends nothing and returns the first answer (`replayed: true`).
   *
   * @example
   * const result = await log.append(parsed, {
   *   source: 'http',
   *   receivedAt: clock.now(),
   *   idempotency: { keyId: key.id, key: request.headers['idempotency-key'] },
   *   answer: (range) => ({ accepted: range.count, first_seq: range.first }),
   * });
   * reply.code(202).send(result.answer);
   */
  async append(events: readonly AppendEvent[], options: AppendOptions): Promise<AppendResult> {
    // Encoding (and deflating) happens before the transaction, not while holding the head lock.
    const encoded = events.map(({ event, epochMs, json }) => {
      if (!Number.isSafeInteger(epochMs)) throw new RangeError(`EventLog.append: epochMs ${epochMs}`);
      return encodeEvent(json ?? JSON.stringify(event), epochMs);
    });
    let result: AppendResult;
    try {
      result = await this.appendOnce(encoded, options);
    } catch (error) {
      // Appends of one key queue on the head lock, so the second sees the first's record. Should
      // one slip past that (a writer that does not take the lock), the unique key still refuses
      // the second batch: its transaction rolls back, and a retry finds and returns the first answer.
      if (options.idempotency && isUniqueViolation(error)) result = await this.appendOnce(encoded, options);
      else throw error;
    }
    if (!result.replayed) this.remember(events, result.first, options);
    return result;
  }

  /** Keeps a committed append's events for `read`, dropping the oldest past RECENT_EVENTS. */
  private remember(events: readonly AppendEvent[], first: number, options: AppendOptions): void {
    const receivedAt = options.receivedAt.toISOString();
    for (let i = 0; i < events.length; i++) {
      const { event, epochMs } = events[i]!;
      this.recent.set(first + i, { seq: first + i, receivedAt, epochMs, source: options.source, event });
    }
    if (this.recent.size > RECENT_EVENTS) {
      let excess = this.recent.size - RECENT_EVENTS;
      for (const seq of this.recent.keys()) {
        if (excess-- === 0) break;
        this.recent.delete(seq);
      }
    }
  }

  private appendOnce(encoded: readonly EncodedEvent[], options: AppendOptions): Promise<AppendResult> {
    return this.db.transaction().execute(async (trx) => {
      const head = await this.lockHead(trx);
      const idem = options.idempotency;
      if (idem) {
        const seen = await trx
          .selectFrom('ingest_batches')
          .select(['first_seq', 'last_seq', 'answer'])
          .where('key_id', '=', idem.keyId)
          .where('idempotency_key', '=', idem.key)
          .executeTakeFirst();
        if (seen) {
          const first = Number(seen.first_seq);
          const last = Number(seen.last_seq);
          return { first, last, count: last - first + 1, answer: JSON.parse(seen.answer), replayed: true };
        }
      }

      const receivedAt = options.receivedAt.toISOString();
      for (let start = 0; start < encoded.length; start += APPEND_CHUNK_ROWS) {
        const rows = Math.min(APPEND_CHUNK_ROWS, encoded.length - start);
        const parameters: unknown[] = new Array(rows * 6);
        for (let i = 0; i < rows; i++) {
          const e = encoded[start + i]!;
          const at = i * 6;
          parameters[at] = head + start + i + 1;
          parameters[at + 1] = receivedAt;
          parameters[at + 2] = e.epochMs;
          parameters[at + 3] = options.source;
          parameters[at + 4] = e.event;
          parameters[at + 5] = e.deflated;
        }
        await trx.executeQuery(CompiledQuery.raw(this.insertStatement(rows), parameters));
      }
      const range: AppendRange = { first: head + 1, last: head + encoded.length, count: encoded.length };
      if (encoded.length > 0) {
        await trx.updateTable('event_log_head').set({ seq: range.last }).where('id', '=', 1).execute();
      }

      const answerJson = JSON.stringify(options.answer(range) ?? null);
      if (idem) {
        await trx
          .insertInto('ingest_batches')
          .values({
            key_id: idem.keyId,
            idempotency_key: idem.key,
            first_seq: range.first,
            last_seq: range.last,
            answer: answerJson,
            created_at: receivedAt,
          })
          .execute();
      }
      return { ...range, answer: JSON.parse(answerJson), replayed: false };
    });
  }

  /** `insert into event_log (...) values (...), ...` for `rows` rows, in the store's placeholders. */
  private insertStatement(rows: number): string {
    let text = this.insertSql.get(rows);
    if (text === undefined) {
      const postgres = this.deps.store.dialect === 'postgres';
      const tuples: string[] = [];
      for (let i = 0; i < rows; i++) {
        const p = (k: number) => (postgres ? `$${i * 6 + k}` : '?');
        tuples.push(`(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)})`);
      }
      text = `insert into "event_log" ("seq", "received_at", "event_time", "source", "event", "event_deflated") values ${tuples.join(', ')}`;
      this.insertSql.set(rows, text);
    }
    return text;
  }

  /**
   * Takes the head row's lock until commit and returns the highest seq. PostgreSQL: a row lock
   * (`for update`). SQLite: a no-op update, so the transaction takes the database's write lock
   * at once instead of upgrading from a read later (which another connection could make fail).
   */
  private async lockHead(trx: Transaction<Database>): Promise<number> {
    const row =
      this.deps.store.dialect === 'postgres'
        ? await trx
            .selectFrom('event_log_head')
            .select('seq')
            .where('id', '=', 1)
            .forUpdate()
            .executeTakeFirstOrThrow()
        : await trx
            .updateTable('event_log_head')
            .set({ seq: sql<number>`seq` })
            .where('id', '=', 1)
            .returning('seq')
            .executeTakeFirstOrThrow();
    return Number(row.seq);
  }

  /** Up to `limit` events after `afterSeq`, in seq order. */
  async read(afterSeq: number, limit: number): Promise<LoggedEvent[]> {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`EventLog.read: limit ${limit}`);
    const cached: LoggedEvent[] = [];
    for (let seq = afterSeq + 1; cached.length < limit; seq++) {
      const logged = this.recent.get(seq);
      if (logged === undefined) break;
      cached.push(logged);
    }
    // The rest from the database: past a gap (another process's appends) or the cache's end.
    const rest = limit - cached.length;
    if (rest === 0) return cached;
    const rows = await this.db
      .selectFrom('event_log')
      .selectAll()
      .where('seq', '>', afterSeq + cached.length)
      .orderBy('seq', 'asc')
      .limit(rest)
      .execute();
    for (const row of rows) cached.push(this.recent.get(Number(row.seq)) ?? toLoggedEvent(row));
    return cached;
  }

  /** The highest seq ever appended (retention does not lower it); 0 for a new log. */
  async head(): Promise<number> {
    const row = await this.db
      .selectFrom('event_log_head')
      .select('seq')
      .where('id', '=', 1)
      .executeTakeFirst();
    return Number(row?.seq ?? 0);
  }

  /** Events currently kept. */
  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('event_log')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async getCheckpoint(consumer: string): Promise<ConsumerCheckpoint | undefined> {
    const row = await this.db
      .selectFrom('consumer_checkpoints')
      .selectAll()
      .where('consumer', '=', consumer)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      consumer: row.consumer,
      seq: Number(row.seq),
      state: row.state === null ? null : JSON.parse(row.state),
      updatedAt: row.updated_at,
    };
  }

  /** Records that `consumer` has processed everything up to `seq`, with what it needs to resume. */
  async saveCheckpoint(consumer: string, seq: number, state: unknown = null): Promise<void> {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`EventLog.saveCheckpoint: seq ${seq}`);
    const row = {
      seq,
      state: state === null || state === undefined ? null : JSON.stringify(state),
      updated_at: this.deps.clock.now().toISOString(),
    };
    await this.db
      .insertInto('consumer_checkpoints')
      .values({ consumer, ...row })
      .onConflict((oc) => oc.column('consumer').doUpdateSet(row))
      .execute();
  }

  /**
   * Retention. Deletes the oldest events: those received more than `olderThanMs` before `now`
   * (and every event before them in the log), and those beyond the newest `maxEvents`. The log
   * stays one unbroken run of seqs. Idempotency records older than `olderThanMs` go too.
   *
   * Retention wins over a stalled consumer: events a consumer has not processed yet are deleted
   * all the same, or one stuck consumer would fill the disk. Each such consumer is named in
   * `overrun` (to be logged or alerted on); the consumer itself sees it as a jump in seq: its next
   * read starts at `skippedTo + 1` instead of `seq + 1`, and the log has no other gaps.
   */
  async prune(options: PruneOptions): Promise<PruneResult> {
    const cutoff =
      options.olderThanMs === undefined ? undefined : new Date(options.now.getTime() - options.olderThanMs);
    let boundary = 0;
    if (options.maxEvents !== undefined) {
      if (!Number.isSafeInteger(options.maxEvents) || options.maxEvents < 0) {
        throw new RangeError(`EventLog.prune: maxEvents ${options.maxEvents}`);
      }
      boundary = Math.max(boundary, (await this.head()) - options.maxEvents);
    }
    if (cutoff !== undefined) {
      const row = await this.db
        .selectFrom('event_log')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .where('received_at', '<', cutoff.toISOString())
        .executeTakeFirst();
      boundary = Math.max(boundary, Number(row?.seq ?? 0));
    }

    // What retention deletes is gone for readers too.
    for (const seq of this.recent.keys()) {
      if (seq > boundary) break;
      this.recent.delete(seq);
    }
    let deleted = 0;
    const overrun: { consumer: string; seq: number; skippedTo: number; lost: number }[] = [];
    const oldest = await this.db
      .selectFrom('event_log')
      .select((eb) => eb.fn.min('seq').as('seq'))
      .executeTakeFirst();
    const tail = oldest?.seq === null || oldest?.seq === undefined ? undefined : Number(oldest.seq);
    if (tail !== undefined && tail <= boundary) {
      const behind = await this.db
        .selectFrom('consumer_checkpoints')
        .select(['consumer', 'seq'])
        .where('seq', '<', boundary)
        .orderBy('consumer')
        .execute();
      for (const c of behind) {
        const seq = Number(c.seq);
        overrun.push({
          consumer: c.consumer,
          seq,
          skippedTo: boundary,
          lost: boundary - Math.max(seq, tail - 1),
        });
      }
      for (
        let upTo = Math.min(tail + PRUNE_STEP - 1, boundary);
        ;
        upTo = Math.min(upTo + PRUNE_STEP, boundary)
      ) {
        const result = await this.db.deleteFrom('event_log').where('seq', '<=', upTo).executeTakeFirst();
        deleted += Number(result.numDeletedRows);
        if (upTo >= boundary) break;
      }
    }

    let batchesDeleted = 0;
    if (cutoff !== undefined) {
      const result = await this.db
        .deleteFrom('ingest_batches')
        .where('created_at', '<', cutoff.toISOString())
        .executeTakeFirst();
      batchesDeleted = Number(result.numDeletedRows);
    }
    return { deleted, batchesDeleted, overrun };
  }

  /**
   * Events whose own time is in [from, to), optionally only those whose fields equal the values
   * given. A field that holds an array matches when one of its elements does; numbers and booleans
   * compare by their text (`'200'` matches 200).
   */
  async search(query: EventSearchQuery): Promise<EventSearchResult> {
    const from = query.from.getTime();
    const to = query.to.getTime();
    checkSearch(query, from, to);
    const filters = Object.entries(query.where ?? {}).map(([field, value]) => ({
      path: field.split('.'),
      value,
    }));

    const events: LoggedEvent[] = [];
    let after: { time: number; seq: number } | undefined;
    for (;;) {
      // Without filters every row found is a result: fetch exactly one more than needed.
      const page = filters.length === 0 ? query.limit + 1 - events.length : SEARCH_PAGE;
      let q = this.db
        .selectFrom('event_log')
        .selectAll()
        .where('event_time', '>=', from)
        .where('event_time', '<', to);
      if (after) {
        const { time, seq } = after;
        q = q.where((eb) => eb(eb.refTuple('event_time', 'seq'), '>', eb.tuple(time, seq)));
      }
      const rows = await q.orderBy('event_time').orderBy('seq').limit(page).execute();
      for (const row of rows) {
        const logged = toLoggedEvent(row);
        if (!filters.every((f) => fieldEquals(logged.event, f.path, f.value))) continue;
        if (events.length === query.limit) return { events, truncated: true };
        events.push(logged);
      }
      const last = rows.at(-1);
      if (!last || rows.length < page) return { events, truncated: false };
      after = { time: Number(last.event_time), seq: Number(last.seq) };
    }
  }
}

function checkSearch(query: EventSearchQuery, from: number, to: number): void {
  const refuse = (path: string, problem: string): never => {
    throw new FirebreakError(
      'FB_ERR_EVENT_SEARCH_INVALID',
      { problem },
      { details: [{ path, message: problem }] },
    );
  };
  if (Number.isNaN(from)) refuse('from', 'from is not a valid time');
  if (Number.isNaN(to)) refuse('to', 'to is not a valid time');
  if (to < from) refuse('to', `to (${query.to.toISOString()}) is before from (${query.from.toISOString()})`);
  if (to - from > SEARCH_MAX_RANGE_MS) {
    const days = Math.ceil((to - from) / 86_400_000);
    refuse('to', `the time range spans ${days} days`);
  }
  if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > SEARCH_MAX_LIMIT) {
    refuse('limit', `limit ${query.limit} is not a whole number from 1 to ${SEARCH_MAX_LIMIT}`);
  }
  for (const field of Object.keys(query.where ?? {})) {
    if (field.split('.').some((part) => part === ''))
      refuse(`where.${field}`, `"${field}" is not a field name`);
  }
}

function fieldEquals(event: EcsEvent, path: readonly string[], expected: string): boolean {
  let values: unknown[] = [event];
  for (const part of path) {
    const next: unknown[] = [];
    for (const value of values) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item === 'object' && item !== null && Object.hasOwn(item, part)) {
          next.push((item as Record<string, unknown>)[part]);
        }
      }
    }
    if (next.length === 0) return false;
    values = next;
  }
  return values.some((value) =>
    (Array.isArray(value) ? value : [value]).some((v) => scalarEquals(v, expected)),
  );
}

function scalarEquals(value: unknown, expected: string): boolean {
  if (typeof value === 'string') return value === expected;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value) === expected;
  return false;
}

function encodeEvent(json: string, epochMs: number): EncodedEvent {
  // A UTF-16 unit is at most 3 UTF-8 bytes: short texts need no byte count.
  if (json.length * 3 > COMPRESS_MIN_BYTES && Buffer.byteLength(json) > COMPRESS_MIN_BYTES) {
    const bytes = Buffer.byteLength(json);
    const deflated = deflateRawSync(json);
    if (deflated.length <= bytes * (1 - COMPRESS_MIN_SAVING)) return { epochMs, event: null, deflated };
  }
  return { epochMs, event: json, deflated: null };
}

function toLoggedEvent(row: {
  seq: number | string;
  received_at: string;
  event_time: number | string;
  source: string;
  event: string | null;
  event_deflated: Uint8Array | null;
}): LoggedEvent {
  const json = row.event ?? inflateRawSync(row.event_deflated!).toString('utf8');
  return {
    seq: Number(row.seq),
    receivedAt: row.received_at,
    epochMs: Number(row.event_time),
    source: row.source,
    event: JSON.parse(json) as EcsEvent,
  };
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  // PostgreSQL's unique_violation; SQLite's primary key / unique constraint failures.
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
