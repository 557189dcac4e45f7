/**
 * The `postgres` connector against the PostgreSQL server on these machines: a throw-away
 * database holding a small shop schema (admin_users, admin_sessions, settings, orders,
 * creator_profiles with row level security) and application roles made for this run. Each
 * operation's effect is read back from the database, then undone (with the undo the outcome
 * names, passed through JSON as the runner would store it) and read back again.
 */
import { Ajv } from 'ajv';
import pg from 'pg';
import { Compile } from 'typebox/compile';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import {
  createPostgresConnector,
  maskConnectionString,
  PostgresConnectorError,
  postgresConnectorManifest,
  quoteIdentifier,
} from '../src/connectors/index.js';
import { FirebreakError, VirtualClock } from '../src/kernel/index.js';
import {
  type ActionOutcome,
  type Connector,
  type ConnectorDeps,
  isPermanentFailure,
  KNOWN_CONNECTOR_OPERATIONS,
} from '../src/respond/index.js';
import { SecretStore } from '../src/store/index.js';
import { freshPostgresDatabase } from './helpers/server.js';
import { freshStore, POSTGRES_URL, postgresUnavailable, type TestStore } from './helpers/stores.js';

const suffix = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const APP = `shop_app_${suffix}`;
const OWNER = `shop_owner_${suffix}`;

async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  sql: string,
  values: unknown[] = [],
  role?: string,
): Promise<pg.QueryResult<T>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    if (role) await client.query(`SET ROLE ${role}`);
    return await client.query<T>(sql, values);
  } finally {
    await client.end();
  }
}

async function failure(promise: Promise<unknown>): Promise<{ code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string };
  }
  throw new Error('expected a failure');
}

async function undo(connector: Connector, outcome: ActionOutcome): Promise<ActionOutcome> {
  if (!outcome.undo) throw new Error('no undo');
  const { operation, params } = JSON.parse(JSON.stringify(outcome.undo)) as NonNullable<
    ActionOutcome['undo']
  >;
  const op = connector.operations[operation];
  if (!op) throw new Error(`no operation ${operation}`);
  expect(op.validate(params)).toEqual([]);
  return op.run(params);
}

describe.skipIf(postgresUnavailable !== undefined)('postgres connector', () => {
  let db: { url: string; drop(): Promise<void> };
  let connector: Connector;
  const op = (name: string) => {
    const found = connector.operations[name];
    if (!found) throw new Error(`no operation ${name}`);
    return found;
  };

  beforeAll(async () => {
    db = await freshPostgresDatabase();
    await query(POSTGRES_URL, `CREATE ROLE ${APP} NOLOGIN`);
    await query(POSTGRES_URL, `CREATE ROLE ${OWNER} NOLOGIN`);
    await query(
      db.url,
      `
      CREATE TABLE admin_users (id serial PRIMARY KEY, email text NOT NULL, is_active boolean NOT NULL,
        must_reset_password boolean);
      INSERT INTO admin_users (email, is_active, must_reset_password) VALUES
        ('a@shop.test', true, false), ('b@shop.test', true, true), ('c@shop.test', false, false), ('d@shop.test', true, NULL);
      CREATE TABLE admin_sessions (id serial PRIMARY KEY, admin_user_id int NOT NULL, is_active boolean NOT NULL,
        terminated_reason text);
      INSERT INTO admin_sessions (admin_user_id, is_active) VALUES (1, true), (2, true), (3, false);
      CREATE TABLE settings (key text PRIMARY KEY, value text);
      INSERT INTO settings VALUES ('checkout_enabled', 'true'), ('currency', 'GBP');
      CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL);
      INSERT INTO orders (total) VALUES (10), (20);
      CREATE TABLE creator_profiles (id serial PRIMARY KEY, name text NOT NULL, public boolean NOT NULL);
      INSERT INTO creator_profiles (name, public) VALUES ('open', true), ('hidden', false), ('also open', true);
      ALTER TABLE creator_profiles OWNER TO ${OWNER};
      ALTER TABLE creator_profiles ENABLE ROW LEVEL SECURITY;
      CREATE POLICY public_only ON creator_profiles FOR SELECT USING (public);
      GRANT USAGE ON SCHEMA public TO ${APP}, ${OWNER};
      GRANT SELECT, INSERT, UPDATE, DELETE ON orders, settings TO ${APP};
      GRANT SELECT, INSERT ON admin_sessions TO ${APP};
      GRANT UPDATE ON orders TO ${APP} WITH GRANT OPTION;
      GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${APP};
    `,
    );
    connector = createPostgresConnector({
      connectionString: db.url,
      columns: { passwordReset: 'must_reset_password' },
    });
  });

  afterAll(async () => {
    await db?.drop();
    await query(POSTGRES_URL, `DROP ROLE IF EXISTS ${APP}`);
    await query(POSTGRES_URL, `DROP ROLE IF EXISTS ${OWNER}`);
  });

  it('is named postgres and refuses unknown parameters and names that are not plain SQL names', () => {
    expect(connector.name).toBe('postgres');
    expect(op('revoke_writes').validate({ roles: [APP], extra: 1 })).toEqual([
      'extra: unknown parameter (expected roles)',
    ]);
    expect(op('force_row_level_security').validate({ tables: ['orders; drop table x'] })).toEqual([
      'tables[0]: "orders; drop table x" is not a plain SQL name (letters, digits, _ and $)',
    ]);
    expect(op('revoke_writes').validate({ roles: [] })).toEqual([
      'roles: expected a non-empty list of names',
    ]);
    expect(op('read_only_mode').validate({ terminate_sessions: 'yes' })).toEqual([
      'terminate_sessions: expected true or false',
    ]);
    expect(
      op('grant_writes').validate({
        grants: [{ role: APP, table: 'orders', privilege: 'TRUNCATE', grantable: false }],
      }),
    ).toHaveLength(1);
    expect(() => op('force_row_level_security').plan({ tables: ['x"; drop table orders; --'] })).toThrow(
      PostgresConnectorError,
    );
    expect(quoteIdentifier('a"b; drop')).toBe('"a""b; drop"');
    expect(() => createPostgresConnector({ connectionString: db.url, schema: 'public; drop' })).toThrow(
      /plain SQL name/,
    );
  });

  it('refuses to run with bad parameters, touching nothing', async () => {
    await expect(op('force_row_level_security').run({ tables: ['orders; drop table x'] })).rejects.toThrow(
      /invalid parameters/,
    );
    expect((await query(db.url, 'SELECT count(*)::int AS n FROM orders')).rows[0]?.n).toBe(2);
  });

  it('plans show the exact SQL and never the password', () => {
    const withSecret = createPostgresConnector({
      connectionString: 'postgres://shop:s3cret-pw@db.internal:5432/shop',
    });
    const plan = withSecret.operations.revoke_writes?.plan({ roles: ['authenticated', 'anon'] });
    expect(plan?.summary).toBe(
      'revoke INSERT, UPDATE, DELETE on all tables in schema public from authenticated, anon',
    );
    expect(plan?.detail).toEqual([
      '-- on postgres://shop:***@db.internal:5432/shop',
      'REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "public" FROM "authenticated"',
      'REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "public" FROM "anon"',
    ]);
    const all = [
      withSecret.operations.end_admin_sessions?.plan({}),
      withSecret.operations.force_admin_password_reset?.plan({}),
      withSecret.operations.read_only_mode?.plan({ terminate_sessions: true }),
      withSecret.operations.force_row_level_security?.plan({ tables: ['orders'] }),
      withSecret.operations.checkout_off?.plan({}),
    ];
    expect(JSON.stringify(all)).not.toContain('s3cret');
    expect(
      JSON.stringify(withSecret.operations.read_only_mode?.plan({ terminate_sessions: true })),
    ).toContain('ALTER DATABASE \\"shop\\" SET default_transaction_read_only = on');
    expect(maskConnectionString('not a url with s3cret')).toBe('***');
  });

  it('end_admin_sessions ends every active session, records their ids and says it cannot be undone', async () => {
    const plan = op('end_admin_sessions').plan({});
    expect(plan.detail[1]).toBe(
      'UPDATE "public"."admin_sessions" SET "is_active" = false, "terminated_reason" = $1 WHERE "is_active" = true RETURNING "id"::text AS id -- $1 = "security_incident"',
    );
    const outcome = await op('end_admin_sessions').run({});
    expect(outcome.undo).toBeUndefined();
    expect(outcome.changed).toMatchObject({ count: 2, sessionIds: ['1', '2'] });
    expect(String(outcome.changed.irreversible)).toMatch(/not restored/);
    const rows = (
      await query(db.url, 'SELECT id, is_active, terminated_reason FROM admin_sessions ORDER BY id')
    ).rows;
    expect(rows).toEqual([
      { id: 1, is_active: false, terminated_reason: 'security_incident' },
      { id: 2, is_active: false, terminated_reason: 'security_incident' },
      { id: 3, is_active: false, terminated_reason: null },
    ]);
  });

  it('force_admin_password_reset flags active admins and the undo puts back each previous value', async () => {
    const before = (await query(db.url, 'SELECT id, must_reset_password AS v FROM admin_users ORDER BY id'))
      .rows;
    const outcome = await op('force_admin_password_reset').run({});
    expect(outcome.changed.previous).toEqual([
      { id: '1', value: false },
      { id: '2', value: true },
      { id: '4', value: null },
    ]);
    const after = (await query(db.url, 'SELECT id, must_reset_password AS v FROM admin_users ORDER BY id'))
      .rows;
    expect(after).toEqual([
      { id: 1, v: true },
      { id: 2, v: true },
      { id: 3, v: false },
      { id: 4, v: true },
    ]);
    await undo(connector, outcome);
    expect(
      (await query(db.url, 'SELECT id, must_reset_password AS v FROM admin_users ORDER BY id')).rows,
    ).toEqual(before);
  });

  it('read_only_mode makes new sessions read-only (a write fails with 25006); the undo lets them write', async () => {
    const insert = 'INSERT INTO orders (total) VALUES (1)';
    const existing = new pg.Client({ connectionString: db.url });
    existing.on('error', () => undefined);
    await existing.connect();
    const outcome = await op('read_only_mode').run({});
    onTestFailed(async () => {
      const reset = new pg.Client({
        connectionString: db.url,
        options: '-c default_transaction_read_only=off',
      });
      await reset.connect();
      await reset.query('ALTER DATABASE CURRENT RESET default_transaction_read_only');
      await reset.end();
    });
    expect(outcome.changed).toMatchObject({ previous: null, terminatedSessions: 0 });
    expect((await failure(query(db.url, insert))).code).toBe('25006');
    // A session opened before is unaffected unless terminate_sessions is set.
    await existing.query(insert);
    // While read-only, the connector itself still works.
    const checkout = await op('checkout_off').run({});
    await undo(connector, checkout);
    await undo(connector, outcome);
    await query(db.url, insert);
    expect(
      (
        await query(
          db.url,
          'SELECT count(*)::int AS n FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())',
        )
      ).rows[0]?.n,
    ).toBe(0);

    // terminate_sessions ends the sessions already open.
    const again = await op('read_only_mode').run({ terminate_sessions: true });
    expect(again.changed.terminatedSessions).toBeGreaterThanOrEqual(1);
    // pg reports the ended session as a connection error, without a SQLSTATE.
    await expect(existing.query('SELECT 1')).rejects.toThrow();
    await existing.end().catch(() => undefined);
    await undo(connector, again);
    await query(db.url, insert);
  });

  it('revoke_writes stops the app role writing, keeps its reads, and the undo grants back exactly what it had', async () => {
    const grants = `SELECT c.relname AS t, a.privilege_type AS p, a.is_grantable AS g FROM pg_class c, aclexplode(c.relacl) a
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.grantee = '${APP}'::regrole ORDER BY 1, 2`;
    const before = (await query(db.url, grants)).rows;
    const outcome = await op('revoke_writes').run({ roles: [APP] });
    expect(outcome.changed.revoked).toHaveLength(7);
    expect((await failure(query(db.url, 'INSERT INTO orders (total) VALUES (5)', [], APP))).code).toBe(
      '42501',
    );
    expect(
      (await query(db.url, 'SELECT count(*)::int AS n FROM orders', [], APP)).rows[0]?.n,
    ).toBeGreaterThan(0);
    expect((await query(db.url, grants)).rows.map((r) => `${r.t}:${r.p}`)).toEqual([
      'admin_sessions:SELECT',
      'orders:SELECT',
      'settings:SELECT',
    ]);
    await undo(connector, outcome);
    expect((await query(db.url, grants)).rows).toEqual(before);
    await query(db.url, 'INSERT INTO orders (total) VALUES (5)', [], APP);
    // Not more than before: UPDATE on admin_sessions was never granted and is still refused.
    expect((await failure(query(db.url, 'UPDATE admin_sessions SET is_active = false', [], APP))).code).toBe(
      '42501',
    );
  });

  it('revoke_writes fails, not retryable, for a role that does not exist', async () => {
    const error = (await failure(
      op('revoke_writes').run({ roles: [`no_such_${suffix}`] }),
    )) as PostgresConnectorError;
    expect(error).toBeInstanceOf(PostgresConnectorError);
    expect(error.retryable).toBe(false);
  });

  it('force_row_level_security makes the table owner see only permitted rows; the undo restores all', async () => {
    const visible = () => query(db.url, 'SELECT name FROM creator_profiles ORDER BY id', [], OWNER);
    expect((await visible()).rowCount).toBe(3);
    const outcome = await op('force_row_level_security').run({ tables: ['creator_profiles', 'orders'] });
    expect(outcome.changed.previous).toEqual([
      { table: 'creator_profiles', enabled: true, forced: false },
      { table: 'orders', enabled: false, forced: false },
    ]);
    expect((await visible()).rows.map((r) => r.name)).toEqual(['open', 'also open']);
    await undo(connector, outcome);
    expect((await visible()).rowCount).toBe(3);
    const flags = await query(
      db.url,
      "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname IN ('creator_profiles', 'orders') ORDER BY 1",
    );
    expect(flags.rows).toEqual([
      { relname: 'creator_profiles', relrowsecurity: true, relforcerowsecurity: false },
      { relname: 'orders', relrowsecurity: false, relforcerowsecurity: false },
    ]);
  });

  it('force_row_level_security refuses a table that does not exist and changes nothing', async () => {
    const error = (await failure(
      op('force_row_level_security').run({ tables: ['orders', 'no_such_table'] }),
    )) as PostgresConnectorError;
    expect(error.message).toMatch(/no table no_such_table/);
    const flags = await query(db.url, "SELECT relrowsecurity FROM pg_class WHERE relname = 'orders'");
    expect(flags.rows[0]?.relrowsecurity).toBe(false);
  });

  it('checkout_off sets the settings row to false and the undo restores it (or removes a row it added)', async () => {
    const value = async () =>
      (await query(db.url, "SELECT value FROM settings WHERE key = 'checkout_enabled'")).rows[0]?.value;
    const outcome = await op('checkout_off').run({});
    expect(outcome.changed.previous).toEqual({ existed: true, value: 'true' });
    expect(await value()).toBe('false');
    await undo(connector, outcome);
    expect(await value()).toBe('true');

    await query(db.url, "DELETE FROM settings WHERE key = 'checkout_enabled'");
    const inserted = await op('checkout_off').run({});
    expect(await value()).toBe('false');
    await undo(connector, inserted);
    expect(await value()).toBeUndefined();
  });
});

describe('the postgres connector manifest', () => {
  const manifest = postgresConnectorManifest;
  const check = Compile(manifest.configSchema as Parameters<typeof Compile>[0]);
  const noSecrets: ConnectorDeps = {
    secret: async (name) => {
      throw new Error(`no secret should be read (asked for ${name})`);
    },
  };

  it('names the connector, its operations and the undo of each', () => {
    const connector = manifest.create({ connection_secret: 'shop_db' }, noSecrets);
    expect(manifest.id).toBe('postgres');
    expect(connector.name).toBe('postgres');
    expect([...manifest.operations]).toEqual(Object.keys(connector.operations));
    expect([...manifest.operations].sort()).toEqual([...(KNOWN_CONNECTOR_OPERATIONS.postgres ?? [])].sort());
    expect(Object.keys(manifest.undoneBy)).toEqual([...manifest.operations]);
    for (const undo of Object.values(manifest.undoneBy)) {
      if (undo !== null) expect(manifest.operations).toContain(undo);
    }
    expect(manifest.undoneBy.end_admin_sessions).toBeNull();
    expect(manifest.undoneBy.revoke_writes).toBe('grant_writes');
  });

  it('the schema takes a secret name and the table and column names, and refuses the rest', () => {
    const good = {
      connection_secret: 'shop_db',
      schema: 'shop',
      tables: { admin_sessions: 'staff_sessions', admin_users: 'staff', settings: 'shop_settings' },
      columns: {
        id: 'uid',
        password_reset: 'must_reset',
        session_terminated_reason: null,
        user_active: null,
      },
      checkout_key: 'checkout.enabled',
      connect_timeout_ms: 5000,
    };
    expect(check.Check(good)).toBe(true);
    const bad: Array<[Record<string, unknown>, string]> = [
      [{}, 'connection_secret is required'],
      [{ connection_secret: 'postgres://shop:pw@db/shop' }, 'a URL is not a secret name'],
      [{ connection_secret: 'shop_db', connection_string: 'postgres://shop:pw@db/shop' }, 'no URL setting'],
      [{ connection_secret: 'shop_db', schema: 'public; drop table orders' }, 'schema is a plain name'],
      [{ connection_secret: 'shop_db', tables: { orders: 'orders' } }, 'unknown table key'],
      [{ connection_secret: 'shop_db', columns: { user_active: 1 } }, 'column names are text or null'],
      [{ connection_secret: 'shop_db', connect_timeout_ms: 5 }, 'timeout too short'],
    ];
    // The registry checks blocks with Ajv; TypeBox's own compiler agrees.
    const ajv = new Ajv({ allErrors: true, strict: false }).compile(manifest.configSchema as object);
    expect(ajv(good)).toBe(true);
    for (const [settings, why] of bad) {
      expect(check.Check(settings), why).toBe(false);
      expect(ajv(settings), why).toBe(false);
    }

    let refused: unknown;
    try {
      manifest.create({ connection_secret: 'shop_db', schema: 'public; drop' }, noSecrets);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(FirebreakError);
    expect((refused as FirebreakError).code).toBe('FB_ERR_CONNECTOR_CONFIG');
    expect((refused as FirebreakError).message).toMatch(/^connectors\.postgres\.schema: /);
  });

  it('plans without reading the secret, naming it instead of the URL', () => {
    const connector = manifest.create({ connection_secret: 'shop_db' }, noSecrets);
    const plan = connector.operations.read_only_mode?.plan({});
    expect(plan?.summary).toBe(
      'make new sessions of the database of connection secret shop_db read-only (existing sessions are unaffected)',
    );
    expect(plan?.detail[0]).toBe('-- on connection secret shop_db');
    expect(connector.operations.revoke_writes?.plan({ roles: ['shop_app'] }).detail).toEqual([
      '-- on connection secret shop_db',
      'REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "public" FROM "shop_app"',
    ]);
  });

  it('a secret that cannot be read fails with its catalogue error; only an unreachable store may be retried', async () => {
    const failing = (error: FirebreakError): ConnectorDeps => ({
      secret: async () => {
        throw error;
      },
    });
    const run = async (deps: ConnectorDeps) => {
      const connector = manifest.create({ connection_secret: 'shop_db' }, deps);
      try {
        await connector.operations.checkout_off?.run({});
      } catch (error) {
        return error as FirebreakError;
      }
      throw new Error('expected a failure');
    };
    const sealed = await run(
      failing(new FirebreakError('FB_ERR_SECRET_KEY', { name: 'shop_db', reason: 'x' })),
    );
    expect(sealed.code).toBe('FB_ERR_SECRET_KEY');
    expect(isPermanentFailure(sealed)).toBe(true);
    const down = await run(
      failing(new FirebreakError('FB_ERR_DATABASE_UNAVAILABLE', { target: 'store', reason: 'ECONNREFUSED' })),
    );
    expect(down.code).toBe('FB_ERR_DATABASE_UNAVAILABLE');
    expect(isPermanentFailure(down)).toBe(false);
    expect((down as unknown as { retryable: boolean }).retryable).toBe(true);
  });

  describe.skipIf(postgresUnavailable !== undefined)('with a SecretStore on SQLite', () => {
    let db: { url: string; drop(): Promise<void> };
    let ts: TestStore;
    let secrets: SecretStore;
    const reads: string[] = [];
    const deps: ConnectorDeps = {
      secret: (name) => {
        reads.push(name);
        return secrets.get(name);
      },
    };
    const checkout = async () =>
      (await query(db.url, "SELECT value FROM shop_settings WHERE key = 'checkout.enabled'")).rows[0]?.value;

    beforeAll(async () => {
      db = await freshPostgresDatabase();
      await query(
        db.url,
        "CREATE TABLE shop_settings (key text PRIMARY KEY, value text); INSERT INTO shop_settings VALUES ('checkout.enabled', 'yes')",
      );
      ts = await freshStore('sqlite');
      secrets = new SecretStore({
        store: ts.store,
        clock: new VirtualClock('2026-03-02T12:00:00Z'),
        key: Buffer.alloc(32, 3),
      });
    });
    afterAll(async () => {
      await ts?.cleanup();
      await db?.drop();
    });

    it('reads the URL from the secret when an operation runs, and runs it', async () => {
      await secrets.set('shop_db', db.url, 'cli:test');
      const connector = postgresConnectorManifest.create(
        {
          connection_secret: 'shop_db',
          tables: { settings: 'shop_settings' },
          checkout_key: 'checkout.enabled',
          connect_timeout_ms: 5000,
        },
        deps,
      );
      const op = connector.operations.checkout_off!;
      expect(op.plan({}).detail[0]).toBe('-- on connection secret shop_db');
      expect(reads).toEqual([]);

      const outcome = await op.run({});
      expect(reads).toEqual(['shop_db']);
      expect(outcome.changed.previous).toEqual({ existed: true, value: 'yes' });
      expect(await checkout()).toBe('false');
      // Once read, plans show the URL, password masked.
      expect(op.plan({}).detail[0]).toBe(`-- on ${maskConnectionString(db.url)}`);

      await undo(connector, outcome);
      expect(await checkout()).toBe('yes');
      // Each run reads the secret afresh: a replaced secret takes effect on the next run.
      expect(reads).toEqual(['shop_db', 'shop_db']);
      const stranger = new URL(db.url);
      stranger.username = `no_such_role_${suffix}`;
      stranger.password = 'wrong-pw-not-shown';
      await secrets.set('shop_db', stranger.toString(), 'cli:test');
      const denied = (await failure(op.run({}))) as PostgresConnectorError;
      expect(denied).toBeInstanceOf(PostgresConnectorError);
      expect(denied.message).not.toContain('wrong-pw-not-shown');
      expect(await checkout()).toBe('yes');
      expect(op.plan({}).detail[0]).toContain(':***@');
      await secrets.set('shop_db', db.url, 'cli:test');
    });

    it('a missing secret fails with FB_ERR_SECRET_NOT_FOUND, not retryable, before connecting', async () => {
      const connector = postgresConnectorManifest.create(
        { connection_secret: 'no_such_db', tables: { settings: 'shop_settings' } },
        deps,
      );
      const error = (await failure(connector.operations.checkout_off!.run({}))) as FirebreakError;
      expect(error).toBeInstanceOf(FirebreakError);
      expect(error.code).toBe('FB_ERR_SECRET_NOT_FOUND');
      expect(error.kind).toBe('not_found');
      expect(error.message).toBe(
        'no secret is named no_such_db; store it with `firebreak secrets set no_such_db`',
      );
      expect(isPermanentFailure(error)).toBe(true);
      expect(await checkout()).toBe('yes');
    });
  });
});
