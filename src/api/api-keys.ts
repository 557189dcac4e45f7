/**
 * API keys: `fbk_<id>_<secret>`. Only a SHA-256 of the secret is stored (the secret has 256
 * bits of randomness, so a plain hash is enough) and the key is shown once, when created.
 * Scopes nest: admin includes write, write includes read. `ingest` stands apart: it is for the
 * shop's servers, which only send events, so a key stolen from one cannot read incidents or
 * evidence; admin includes it, read and write do not.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type { AuditLog } from '../audit/index.js';
import { type Clock, FirebreakError } from '../kernel/index.js';
import type { ApiKeyTable, Database, Store, Transaction } from '../store/index.js';

export const SCOPES = ['read', 'write', 'admin', 'ingest'] as const;
export type Scope = (typeof SCOPES)[number];

const IMPLIES: Record<Scope, readonly Scope[]> = {
  read: ['read'],
  write: ['read', 'write'],
  admin: ['read', 'write', 'admin', 'ingest'],
  ingest: ['ingest'],
};

export interface ApiKeyInfo {
  readonly id: string;
  readonly name: string;
  readonly scopes: Scope[];
  readonly created_at: string;
  readonly created_by: string;
  readonly revoked_at: string | null;
  /** The roster person the key belongs to; null for a machine's key. */
  readonly person: string | null;
}

export interface Principal {
  readonly keyId: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** How the audit log and timelines name this caller. */
  readonly actor: string;
  /** The roster person behind the key (approvals check their roles); undefined for machines. */
  readonly person?: string;
}

/** Advisory lock key for the first-start check (PostgreSQL). */
const FIRST_KEY_LOCK = 7_340_002;

const KEY_FORMAT = /^fbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export function hasScope(granted: readonly Scope[], needed: Scope): boolean {
  return granted.some((g) => IMPLIES[g].includes(needed));
}

export class ApiKeyService {
  constructor(private readonly deps: { store: Store; audit: AuditLog; clock: Clock }) {}

  /** Returns the key text; it is not stored and cannot be shown again. */
  async create(
    actor: string,
    name: string,
    scopes: readonly Scope[],
    person?: string,
  ): Promise<ApiKeyInfo & { key: string }> {
    return this.deps.store.db.transaction().execute((trx) => this.insert(trx, actor, name, scopes, person));
  }

  /**
   * On a database with no keys at all, creates the first admin key and returns it; otherwise
   * undefined. Two servers starting at once on one empty PostgreSQL database create one key
   * between them: the check and the insert hold a transaction-scoped advisory lock.
   */
  async createFirstAdminKey(): Promise<string | undefined> {
    return this.deps.store.db.transaction().execute(async (trx) => {
      if (this.deps.store.dialect === 'postgres') {
        await sql`select pg_advisory_xact_lock(${FIRST_KEY_LOCK})`.execute(trx);
      }
      const any = await trx.selectFrom('api_keys').select('id').limit(1).executeTakeFirst();
      if (any) return undefined;
      return (await this.insert(trx, 'system', 'admin (first start)', ['admin'])).key;
    });
  }

  private async insert(
    trx: Transaction<Database>,
    actor: string,
    name: string,
    scopes: readonly Scope[],
    person?: string,
  ): Promise<ApiKeyInfo & { key: string }> {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const now = this.deps.clock.now();
    const row: ApiKeyTable = {
      id,
      name,
      scopes: JSON.stringify([...new Set(scopes)]),
      secret_hash: hashSecret(secret),
      created_at: now.toISOString(),
      created_by: actor,
      revoked_at: null,
      person: person ?? null,
    };
    await trx.insertInto('api_keys').values(row).execute();
    await this.deps.audit.append(trx, now, {
      actor,
      action: 'key.create',
      target: id,
      details: { name, scopes: [...scopes], ...(person ? { person } : {}) },
    });
    return { ...toInfo(row), key: `fbk_${id}_${secret}` };
  }

  async list(): Promise<ApiKeyInfo[]> {
    const rows = await this.deps.store.db
      .selectFrom('api_keys')
      .selectAll()
      .orderBy('created_at', 'asc')
      .execute();
    return rows.map(toInfo);
  }

  async revoke(actor: string, id: string): Promise<ApiKeyInfo> {
    const now = this.deps.clock.now();
    return this.deps.store.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw new FirebreakError('FB_ERR_KEY_NOT_FOUND', { id });
      if (row.revoked_at) return toInfo(row);
      if ((JSON.parse(row.scopes) as Scope[]).includes('admin')) {
        const admins = await trx
          .selectFrom('api_keys')
          .select(['scopes'])
          .where('revoked_at', 'is', null)
          .execute();
        const active = admins.filter((k) => (JSON.parse(k.scopes) as Scope[]).includes('admin')).length;
        // Without an admin key nobody could create keys again, short of editing the database.
        if (active <= 1) throw new FirebreakError('FB_ERR_LAST_ADMIN_KEY', { id });
      }
      await trx.updateTable('api_keys').set({ revoked_at: now.toISOString() }).where('id', '=', id).execute();
      await this.deps.audit.append(trx, now, {
        actor,
        action: 'key.revoke',
        target: id,
        details: { name: row.name },
      });
      return toInfo({ ...row, revoked_at: now.toISOString() });
    });
  }

  /** The caller behind a key, or FB_ERR_AUTH_INVALID. */
  async authenticate(key: string): Promise<Principal> {
    const match = KEY_FORMAT.exec(key);
    if (!match) throw new FirebreakError('FB_ERR_AUTH_INVALID');
    const [, id, secret] = match as unknown as [string, string, string];
    const row = await this.deps.store.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    const expected = Buffer.from(row?.secret_hash ?? '0'.repeat(64), 'hex');
    const given = Buffer.from(hashSecret(secret), 'hex');
    // Compare even when the id is unknown, so timing does not tell which ids exist.
    const same = timingSafeEqual(expected, given);
    if (!row || !same || row.revoked_at) throw new FirebreakError('FB_ERR_AUTH_INVALID');
    const info = toInfo(row);
    return {
      keyId: id,
      name: info.name,
      scopes: info.scopes,
      actor: row.person ? `person:${row.person} (key ${id})` : `key:${id} (${info.name})`,
      ...(row.person ? { person: row.person } : {}),
    };
  }
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function toInfo(row: ApiKeyTable): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as Scope[],
    created_at: row.created_at,
    created_by: row.created_by,
    revoked_at: row.revoked_at,
    person: row.person ?? null,
  };
}
