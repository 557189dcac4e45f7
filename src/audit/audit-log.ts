/**
 * The hash-chained audit log (DESIGN.md principle 6). Every change to any record appends an
 * entry inside the same transaction as the change, so a change and its entry commit together.
 * Each entry's hash covers its contents and the previous entry's hash; the head row holds the
 * newest entry, so an edited, deleted, reordered or truncated entry shows up in `verify`.
 *
 * What it cannot prove: someone with write access to the database who rewrites the whole chain
 * from some entry on and the head with it. Record the head hash `verify` prints somewhere else
 * (a ticket, a chat message) to catch that too.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import {
  AUDIT_GENESIS_HASH,
  type Database,
  type Dialect,
  type Kysely,
  type Transaction,
} from '../store/index.js';

export interface AuditEntryInput {
  /** Who: `key:<id> (<name>)`, `system`, `cli:<user>`. */
  readonly actor: string;
  /** What: `incident.create`, `incident.transition`, `key.revoke` ... */
  readonly action: string;
  /** Which record: an incident id, a key id. */
  readonly target: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface AuditEntry extends Required<AuditEntryInput> {
  readonly seq: number;
  readonly at: string;
  readonly prevHash: string;
  readonly hash: string;
}

export interface AuditVerification {
  readonly ok: boolean;
  readonly entries: number;
  /** Hash of the newest entry: write it down elsewhere to detect a rewrite of the whole chain. */
  readonly headHash: string;
  /** The first entry that does not check out, and why. */
  readonly firstBad?: { readonly seq: number; readonly problem: string };
}

type Db = Kysely<Database> | Transaction<Database>;

/** The exact bytes an entry's hash covers. Changing this breaks every existing chain. */
export function entryHash(prevHash: string, e: Omit<AuditEntry, 'hash' | 'prevHash'>): string {
  const body = JSON.stringify([e.seq, e.at, e.actor, e.action, e.target, e.details]);
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

export class AuditLog {
  constructor(private readonly dialect: Dialect) {}

  /** Appends one entry. Call it inside the transaction that makes the change. */
  async append(trx: Transaction<Database>, at: Date, input: AuditEntryInput): Promise<AuditEntry> {
    // Locking the head row serialises appends on PostgreSQL; SQLite has one writer anyway.
    const headQuery = trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1);
    const head = await (this.dialect === 'postgres'
      ? headQuery.forUpdate()
      : headQuery
    ).executeTakeFirstOrThrow();
    const entry = {
      seq: head.seq + 1,
      at: at.toISOString(),
      actor: input.actor,
      action: input.action,
      target: input.target,
      details: { ...(input.details ?? {}) },
    };
    const hash = entryHash(head.hash, entry);
    await trx
      .insertInto('audit_log')
      .values({ ...entry, details: JSON.stringify(entry.details), prev_hash: head.hash, hash })
      .execute();
    await trx.updateTable('audit_head').set({ seq: entry.seq, hash }).where('id', '=', 1).execute();
    return { ...entry, prevHash: head.hash, hash };
  }

  /** Newest first, for the API. */
  async list(db: Db, options: { limit: number; beforeSeq?: number }): Promise<AuditEntry[]> {
    let query = db.selectFrom('audit_log').selectAll().orderBy('seq', 'desc').limit(options.limit);
    if (options.beforeSeq !== undefined) query = query.where('seq', '<', options.beforeSeq);
    return (await query.execute()).map(toEntry);
  }

  /**
   * Walks the whole chain in order and names the first entry that does not check out.
   * Reads in pages so a long log does not sit in memory at once.
   */
  async verify(db: Db, pageSize = 2_000): Promise<AuditVerification> {
    let expectedSeq = 1;
    let prevHash = AUDIT_GENESIS_HASH;
    let entries = 0;
    const bad = (seq: number, problem: string): AuditVerification => ({
      ok: false,
      entries,
      headHash: prevHash,
      firstBad: { seq, problem },
    });

    for (;;) {
      const rows = await db
        .selectFrom('audit_log')
        .selectAll()
        .where('seq', '>=', expectedSeq)
        .orderBy('seq', 'asc')
        .limit(pageSize)
        .execute();
      for (const row of rows) {
        if (row.seq !== expectedSeq) {
          return bad(expectedSeq, `is missing (the log jumps from entry ${expectedSeq - 1} to ${row.seq})`);
        }
        if (row.prev_hash !== prevHash) {
          return bad(row.seq, `does not follow entry ${row.seq - 1} (its previous-hash does not match)`);
        }
        let details: Record<string, unknown>;
        try {
          details = JSON.parse(row.details) as Record<string, unknown>;
        } catch {
          return bad(row.seq, 'has details that are not JSON');
        }
        const recomputed = entryHash(prevHash, { ...row, details });
        if (recomputed !== row.hash) {
          return bad(row.seq, 'was edited (its hash does not match its contents)');
        }
        prevHash = row.hash;
        expectedSeq += 1;
        entries += 1;
      }
      if (rows.length < pageSize) break;
    }

    const head = await db
      .selectFrom('audit_head')
      .select(['seq', 'hash'])
      .where('id', '=', 1)
      .executeTakeFirst();
    if (!head) return bad(expectedSeq, 'cannot be checked: the audit head row is missing');
    if (head.seq !== entries || head.hash !== prevHash) {
      return head.seq > entries
        ? bad(entries + 1, `is missing (the log ends at entry ${entries} but its head says ${head.seq})`)
        : bad(head.seq + 1, `is not covered by the head (the head says the log ends at entry ${head.seq})`);
    }
    return { ok: true, entries, headHash: prevHash };
  }

  async count(db: Db): Promise<number> {
    const row = await db
      .selectFrom('audit_log')
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

function toEntry(row: Database['audit_log']): AuditEntry {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    details: JSON.parse(row.details) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
