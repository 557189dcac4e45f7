/**
 * Firebreak's own blocklist and kill switches, the built-in `decisions` connector (README
 * "Containment: decisions and switches"). The shop's middleware or edge worker reads them (the
 * bouncer pattern): one address at a time with `lookup`, or a copy of its own kept current with
 * `stream`. Every change is audited in its own transaction.
 *
 * Change numbers: every addition and deletion takes the next `seq` under the lock of the one
 * `decision_head` row, so changes commit in seq order and a reader that sees head seq N has seen
 * every change up to N. Expiry changes no row; it is a time, and the stream's cursor carries
 * both: `{seq, at}`.
 */
import { randomBytes } from 'node:crypto';
import type { Insertable, Selectable } from 'kysely';
import type { AuditLog } from '../../audit/index.js';
import { type Clock, FirebreakError, formatDuration } from '../../kernel/index.js';
import type { Database, DecisionTable, Kysely, Store, Transaction } from '../../store/index.js';

type DecisionRow = Selectable<DecisionTable>;

import { networkContains, type ParsedNetwork, parseAddress, parseNetwork } from './ip-value.js';

export const DECISION_TYPES = ['ban', 'captcha', 'throttle'] as const;
export type DecisionType = (typeof DECISION_TYPES)[number];
export const DECISION_SCOPES = ['ip', 'cidr'] as const;
export type DecisionScope = (typeof DECISION_SCOPES)[number];
/** The longest a decision may last: every decision ends by itself. */
export const DECISION_MAX_DURATION_MS = 365 * 86_400_000;
export const DECISION_ORIGIN_PATTERN = '^(rule|person|playbook):\\S.{0,199}$';
export const DECISION_ID_PATTERN = '^dec_[0-9a-f]{16}$';
export const DECISION_LIST_DEFAULT_LIMIT = 100;
export const DECISION_LIST_MAX_LIMIT = 1000;

/**
 * The kill switches the shop's code reads, each on unless turned off. A closed set: a switch
 * the shop never reads, turned off by a typo, would be a silent failure.
 */
export const SWITCHES = {
  checkout_enabled: 'customers can place orders',
  signups_enabled: 'new accounts can be created',
  admin_login_enabled: 'staff can sign in to the admin',
  api_writes_enabled: "the shop's public API accepts writes",
} as const;
export type SwitchName = keyof typeof SWITCHES;
export const SWITCH_NAMES = Object.keys(SWITCHES) as SwitchName[];

/** A decision as the API shows it. Times are ISO 8601. */
export interface Decision {
  readonly id: string;
  readonly type: DecisionType;
  readonly scope: DecisionScope;
  readonly value: string;
  readonly origin: string;
  readonly reason: string;
  readonly incident_id: string | null;
  readonly created_by: string;
  readonly created_at: string;
  readonly expires_at: string;
  readonly deleted_at: string | null;
  readonly deleted_by: string | null;
}

export interface AddDecisionInput {
  readonly type: string;
  readonly scope: string;
  readonly value: string;
  /** rule:<id>, person:<name>, playbook:<run id>. */
  readonly origin: string;
  readonly reason?: string;
  /** From now; 1 ms to DECISION_MAX_DURATION_MS. */
  readonly durationMs: number;
  readonly incidentId?: string | undefined;
}

export interface ListDecisionsQuery {
  /** Only those in force now (default), or every decision ever made. */
  readonly active?: boolean;
  readonly limit?: number;
  readonly cursor?: string;
}

/** What `findLive` matches on; fields left out match anything. `value` is compared as stored (canonical). */
export interface LiveDecisionFilter {
  readonly id?: string;
  readonly origin?: string;
  /** Only decisions made by rules, people or playbooks. */
  readonly originKind?: 'rule' | 'person' | 'playbook';
  readonly value?: string;
  readonly incidentId?: string;
}

export interface DecisionPage {
  /** Newest first. */
  readonly items: Decision[];
  readonly next_cursor: string | null;
}

/** What changed for a bouncer since its cursor: apply `deleted`, then `new`. */
export interface DecisionStream {
  readonly new: Decision[];
  readonly deleted: Decision[];
  /** Pass back as `cursor` next time. */
  readonly cursor: string;
}

export interface Switch {
  readonly name: SwitchName;
  readonly enabled: boolean;
  readonly description: string;
  /** Null while the switch has never been set (it has its default, on). */
  readonly updated_at: string | null;
  readonly updated_by: string | null;
  readonly reason: string | null;
}

export interface DecisionServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly audit: AuditLog;
}

/** The live CIDR decisions as of a head seq (see `liveNetworks`). */
interface NetworkCache {
  readonly seq: number;
  /** Rows expiring at or before this were left out: valid for lookups at or after it. */
  readonly loadedAt: number;
  readonly entries: readonly {
    readonly row: DecisionRow;
    readonly network: ParsedNetwork;
    readonly expiresMs: number;
  }[];
}

export class DecisionService {
  private readonly db: Kysely<Database>;
  private networks: NetworkCache | undefined;

  constructor(private readonly deps: DecisionServiceDeps) {
    this.db = deps.store.db;
  }

  /**
   * Adds a decision, in force from now for `durationMs`.
   *
   * @example
   * await decisions.add({ type: 'ban', scope: 'ip', value: '203.0.113.7', origin: 'person:dana',
   *   reason: 'card testing', durationMs: 4 * 3_600_000 }, 'key:0a1b2c3d4e5f (dana)');
   */
  async add(input: AddDecisionInput, actor: string): Promise<Decision> {
    if (!(DECISION_TYPES as readonly string[]).includes(input.type)) {
      throw invalid('body.type', `must be one of ${DECISION_TYPES.join(', ')}`);
    }
    let value: string;
    if (input.scope === 'ip') {
      const parsed = parseAddress(input.value);
      if (!parsed)
        throw invalid('body.value', 'must be an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::1');
      value = parsed.canonical;
    } else if (input.scope === 'cidr') {
      const parsed = parseNetwork(input.value);
      if (!parsed) {
        throw invalid(
          'body.value',
          'must be a network such as 203.0.113.0/24 or 2001:db8::/32 (prefix 0-32 or 0-128)',
        );
      }
      value = parsed.canonical;
    } else {
      throw invalid('body.scope', `must be one of ${DECISION_SCOPES.join(', ')}`);
    }
    if (!new RegExp(DECISION_ORIGIN_PATTERN).test(input.origin)) {
      throw invalid('body.origin', 'must be rule:<rule id>, person:<name> or playbook:<run id>');
    }
    if (
      !Number.isInteger(input.durationMs) ||
      input.durationMs < 1 ||
      input.durationMs > DECISION_MAX_DURATION_MS
    ) {
      throw invalid(
        'body.duration',
        `must be more than 0 and at most ${formatDuration(DECISION_MAX_DURATION_MS)}`,
      );
    }
    const now = this.deps.clock.now();
    const row = await this.db.transaction().execute(async (trx) => {
      if (input.incidentId !== undefined) {
        const incident = await trx
          .selectFrom('incidents')
          .select('id')
          .where('id', '=', input.incidentId)
          .executeTakeFirst();
        if (!incident) throw invalid('body.incident_id', `no incident ${input.incidentId} exists`);
      }
      const seq = (await this.lockHead(trx)) + 1;
      const row: Insertable<DecisionTable> & DecisionRow = {
        id: `dec_${randomBytes(8).toString('hex')}`,
        seq,
        type: input.type,
        scope: input.scope,
        value,
        origin: input.origin,
        reason: input.reason ?? '',
        incident_id: input.incidentId ?? null,
        created_by: actor,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + input.durationMs).toISOString(),
        deleted_at: null,
        deleted_by: null,
        deleted_seq: null,
      };
      await trx.insertInto('decisions').values(row).execute();
      await trx.updateTable('decision_head').set({ seq }).where('id', '=', 1).execute();
      await this.deps.audit.append(trx, now, {
        actor,
        action: 'decision.add',
        target: row.id,
        details: {
          type: row.type,
          scope: row.scope,
          value: row.value,
          origin: row.origin,
          reason: row.reason,
          expires_at: row.expires_at,
          incident_id: row.incident_id,
        },
      });
      return row;
    });
    return toDecision(row);
  }

  /**
   * Ends a decision now: the undo of `add`. Ending one that has already ended (deleted, or
   * expired) changes nothing and answers it as it is, so an undo can be retried.
   */
  async delete(id: string, actor: string): Promise<Decision> {
    const now = this.deps.clock.now();
    const row = await this.db.transaction().execute(async (trx) => {
      // The head lock first: two deletions of one decision take turns, and the second sees the first.
      const head = await this.lockHead(trx);
      const row = await trx.selectFrom('decisions').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw new FirebreakError('FB_ERR_DECISION_NOT_FOUND', { id });
      if (row.deleted_seq !== null || row.expires_at <= now.toISOString()) return row;
      const ended = { deleted_at: now.toISOString(), deleted_by: actor, deleted_seq: head + 1 };
      await trx.updateTable('decisions').set(ended).where('id', '=', id).execute();
      await trx
        .updateTable('decision_head')
        .set({ seq: head + 1 })
        .where('id', '=', 1)
        .execute();
      await this.deps.audit.append(trx, now, {
        actor,
        action: 'decision.delete',
        target: id,
        details: { type: row.type, scope: row.scope, value: row.value, expires_at: row.expires_at },
      });
      return { ...row, ...ended };
    });
    return toDecision(row);
  }

  async get(id: string): Promise<Decision> {
    const row = await this.db.selectFrom('decisions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new FirebreakError('FB_ERR_DECISION_NOT_FOUND', { id });
    return toDecision(row);
  }

  /**
   * The decisions in force at `at` (default now) that cover an address: a decision of scope ip
   * on it, or of scope cidr on a network holding it. In force means created, not deleted, and
   * `at` before `expires_at` (at `expires_at` it has ended). An IPv4-mapped IPv6 address is
   * looked up as its IPv4 address.
   *
   * Called per request by the shop's middleware, so it is cheap: the address is found through an
   * index; the live CIDR decisions are held in memory and reloaded only when the head change
   * number has moved (one primary-key read per lookup tells), which also notices changes made by
   * another Firebreak process on the same PostgreSQL database.
   */
  async lookup(ip: string, at: Date = this.deps.clock.now()): Promise<Decision[]> {
    const address = parseAddress(ip);
    if (!address)
      throw invalid('query.ip', 'must be an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::1');
    const atIso = at.toISOString();
    const exact = await this.db
      .selectFrom('decisions')
      .selectAll()
      .where('scope', '=', 'ip')
      .where('value', '=', address.canonical)
      .where('deleted_seq', 'is', null)
      .where('expires_at', '>', atIso)
      .execute();
    const atMs = at.getTime();
    const networks = (await this.liveNetworks(at))
      .filter((n) => n.expiresMs > atMs && networkContains(n.network, address))
      .map((n) => n.row);
    return [...exact, ...networks].sort((a, b) => Number(a.seq) - Number(b.seq)).map(toDecision);
  }

  /**
   * The decisions in force now that match every given field, oldest first: how the `decisions`
   * connector finds what a step already did (by origin) and what an undo by value ends. An empty
   * filter matches every decision in force.
   *
   * @example await decisions.findLive({ origin: 'playbook:run_3f/forward/ban-ip' })
   */
  async findLive(filter: LiveDecisionFilter): Promise<Decision[]> {
    let q = this.db
      .selectFrom('decisions')
      .selectAll()
      .where('deleted_seq', 'is', null)
      .where('expires_at', '>', this.deps.clock.now().toISOString());
    if (filter.id !== undefined) q = q.where('id', '=', filter.id);
    if (filter.origin !== undefined) q = q.where('origin', '=', filter.origin);
    if (filter.value !== undefined) q = q.where('value', '=', filter.value);
    if (filter.incidentId !== undefined) q = q.where('incident_id', '=', filter.incidentId);
    // A constant pattern (no `%` or `_` of the caller's), and origins are lowercase up to the colon.
    if (filter.originKind !== undefined) q = q.where('origin', 'like', `${filter.originKind}:%`);
    return (await q.orderBy('seq').execute()).map(toDecision);
  }

  /** Decisions newest first, a page at a time; only those in force now unless `active` is false. */
  async list(query: ListDecisionsQuery = {}): Promise<DecisionPage> {
    const limit = query.limit ?? DECISION_LIST_DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > DECISION_LIST_MAX_LIMIT) {
      throw invalid('query.limit', `must be an integer from 1 to ${DECISION_LIST_MAX_LIMIT}`);
    }
    let q = this.db.selectFrom('decisions').selectAll();
    if (query.active ?? true) {
      q = q.where('deleted_seq', 'is', null).where('expires_at', '>', this.deps.clock.now().toISOString());
    }
    if (query.cursor !== undefined) {
      const before = /^[1-9]\d{0,15}$/.test(query.cursor) ? Number(query.cursor) : undefined;
      if (before === undefined)
        throw invalid('query.cursor', 'must be a next_cursor value returned by a previous page');
      q = q.where('seq', '<', before);
    }
    const rows = await q
      .orderBy('seq', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    return {
      items: page.map(toDecision),
      next_cursor: rows.length > limit ? String(Number(page.at(-1)!.seq)) : null,
    };
  }

  /**
   * What a bouncer keeping its own copy needs. `'startup'`: every decision in force, as `new`.
   * With the cursor of the previous answer, the difference between then and now: `new` holds the
   * decisions in force now that were not then, `deleted` those in force then that are not now
   * (deleted since, or expired since: expiry is reported once the clock has passed it, though no
   * row changed). A decision added and ended between two calls is in neither. The cursor is
   * `{seq, at}`: the head change number and the time of the answer; bounding every condition by
   * both makes the answer exact whatever commits while it is read.
   */
  async stream(cursor: string | 'startup'): Promise<DecisionStream> {
    const now = this.deps.clock.now();
    const nowIso = now.toISOString();
    const head = await this.headSeq();
    const inForceNow = (q: ReturnType<typeof this.decisionsQuery>) =>
      q
        .where('seq', '<=', head)
        .where((eb) => eb.or([eb('deleted_seq', 'is', null), eb('deleted_seq', '>', head)]))
        .where('expires_at', '>', nowIso);
    let added: DecisionRow[];
    let ended: DecisionRow[] = [];
    if (cursor === 'startup') {
      added = await inForceNow(this.decisionsQuery()).orderBy('seq').execute();
    } else {
      const since = decodeStreamCursor(cursor);
      if (since.seq > head || since.at > now.getTime()) {
        throw invalid('query.cursor', 'is ahead of this server: pass a cursor this server returned');
      }
      const thenIso = new Date(since.at).toISOString();
      added = await inForceNow(this.decisionsQuery()).where('seq', '>', since.seq).orderBy('seq').execute();
      ended = await this.decisionsQuery()
        .where('seq', '<=', since.seq)
        .where((eb) => eb.or([eb('deleted_seq', 'is', null), eb('deleted_seq', '>', since.seq)]))
        .where('expires_at', '>', thenIso)
        .where((eb) => eb.or([eb('deleted_seq', '<=', head), eb('expires_at', '<=', nowIso)]))
        .orderBy('seq')
        .execute();
    }
    return {
      new: added.map(toDecision),
      deleted: ended.map(toDecision),
      cursor: encodeStreamCursor({ seq: head, at: now.getTime() }),
    };
  }

  /** Every known switch, with its state (on unless set off). */
  async switches(): Promise<Switch[]> {
    const rows = await this.db.selectFrom('switches').selectAll().execute();
    const byName = new Map(rows.map((r) => [r.name, r]));
    return SWITCH_NAMES.map((name) => {
      const row = byName.get(name);
      return {
        name,
        enabled: row ? Number(row.enabled) === 1 : true,
        description: SWITCHES[name],
        updated_at: row?.updated_at ?? null,
        updated_by: row?.updated_by ?? null,
        reason: row?.reason ?? null,
      };
    });
  }

  /** Turns a switch on or off; `name` must be one of SWITCH_NAMES. */
  async setSwitch(name: string, enabled: boolean, actor: string, reason: string): Promise<Switch> {
    if (!(SWITCH_NAMES as string[]).includes(name)) {
      throw invalid('params.name', `must be one of ${SWITCH_NAMES.join(', ')}`);
    }
    const now = this.deps.clock.now();
    const row = { name, enabled: enabled ? 1 : 0, reason, updated_at: now.toISOString(), updated_by: actor };
    await this.db.transaction().execute(async (trx) => {
      const before = await trx
        .selectFrom('switches')
        .select('enabled')
        .where('name', '=', name)
        .executeTakeFirst();
      await trx
        .insertInto('switches')
        .values(row)
        .onConflict((oc) =>
          oc.column('name').doUpdateSet({
            enabled: row.enabled,
            reason: row.reason,
            updated_at: row.updated_at,
            updated_by: row.updated_by,
          }),
        )
        .execute();
      await this.deps.audit.append(trx, now, {
        actor,
        action: 'switch.set',
        target: name,
        details: { enabled, was: before ? Number(before.enabled) === 1 : true, reason },
      });
    });
    return {
      name: name as SwitchName,
      enabled,
      description: SWITCHES[name as SwitchName],
      updated_at: row.updated_at,
      updated_by: actor,
      reason,
    };
  }

  private decisionsQuery() {
    return this.db.selectFrom('decisions').selectAll();
  }

  private async headSeq(): Promise<number> {
    const head = await this.db
      .selectFrom('decision_head')
      .select('seq')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return Number(head.seq);
  }

  /** The head change number, locked until the transaction ends (SQLite has one writer anyway). */
  private async lockHead(trx: Transaction<Database>): Promise<number> {
    const q = trx.selectFrom('decision_head').select('seq').where('id', '=', 1);
    const head = await (this.deps.store.dialect === 'postgres' ? q.forUpdate() : q).executeTakeFirstOrThrow();
    return Number(head.seq);
  }

  /**
   * The CIDR decisions not deleted and not expired at `at`, from memory while the head change
   * number is the one they were loaded at. The head is read before the rows, so the cache is
   * labelled no newer than what it holds and a change in between makes the next lookup reload.
   */
  private async liveNetworks(at: Date): Promise<NetworkCache['entries']> {
    const seq = await this.headSeq();
    const cached = this.networks;
    if (cached && cached.seq === seq && cached.loadedAt <= at.getTime()) return cached.entries;
    const rows = await this.db
      .selectFrom('decisions')
      .selectAll()
      .where('scope', '=', 'cidr')
      .where('deleted_seq', 'is', null)
      .where('expires_at', '>', at.toISOString())
      .execute();
    const entries = rows.flatMap((row) => {
      const network = parseNetwork(row.value);
      return network ? [{ row, network, expiresMs: Date.parse(row.expires_at) }] : [];
    });
    // Keep the cache for the newest lookups only: one asking about the past must not narrow it.
    if (!cached || cached.seq !== seq || at.getTime() >= cached.loadedAt) {
      this.networks = { seq, loadedAt: at.getTime(), entries };
    }
    return entries;
  }
}

function encodeStreamCursor(c: { seq: number; at: number }): string {
  return Buffer.from(`v1.${c.seq}.${c.at}`).toString('base64url');
}

function decodeStreamCursor(cursor: string): { seq: number; at: number } {
  const text = Buffer.from(cursor, 'base64url').toString();
  const m = /^v1\.(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,15})$/.exec(text);
  if (!m || encodeStreamCursor({ seq: Number(m[1]), at: Number(m[2]) }) !== cursor) {
    throw invalid('query.cursor', 'must be the cursor of a previous answer, or use startup=true');
  }
  return { seq: Number(m[1]), at: Number(m[2]) };
}

function invalid(path: string, message: string): FirebreakError {
  return new FirebreakError(
    'FB_ERR_VALIDATION',
    { summary: `${path} ${message}` },
    { details: [{ path, message }] },
  );
}

function toDecision(row: DecisionRow): Decision {
  return {
    id: row.id,
    type: row.type as DecisionType,
    scope: row.scope as DecisionScope,
    value: row.value,
    origin: row.origin,
    reason: row.reason,
    incident_id: row.incident_id,
    created_by: row.created_by,
    created_at: row.created_at,
    expires_at: row.expires_at,
    deleted_at: row.deleted_at,
    deleted_by: row.deleted_by,
  };
}
