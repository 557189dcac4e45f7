/**
 * One contract suite per capability (DESIGN.md style rule 6): store-backed tests loop over
 * both dialects. PostgreSQL tests run against the server on 127.0.0.1:5432 (database `test`),
 * each in a schema of its own; where no server answers they are skipped with the reason, and
 * under CI=true they fail instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, POSTGRES_SCHEMA_LOCK, type Store } from '../../src/store/index.js';

export const POSTGRES_URL =
  process.env.FIREBREAK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const inCi = process.env.CI === 'true' || process.env.CI === '1';

async function probePostgres(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return `no PostgreSQL server at ${POSTGRES_URL}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. Throws under CI. */
export const postgresUnavailable: string | undefined = await (async () => {
  const reason = await probePostgres();
  if (reason && inCi) throw new Error(`CI=true and PostgreSQL tests cannot run: ${reason}`);
  if (reason) console.warn(`[firebreak tests] skipping PostgreSQL tests: ${reason}`);
  return reason;
})();

export interface TestStore {
  readonly store: Store;
  readonly dialect: DialectName;
  /** SQLite: the data directory. */
  readonly dataDir?: string;
  /** PostgreSQL: the schema the test runs in. */
  readonly schema?: string;
  /** Reopens the same database (for restart tests). */
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

export type DialectName = 'sqlite' | 'postgres';

export const DIALECTS: readonly { name: DialectName; skip: string | undefined }[] = [
  { name: 'sqlite', skip: undefined },
  { name: 'postgres', skip: postgresUnavailable },
];

/** A fresh, migrated, empty store of the given dialect. */
export async function freshStore(dialect: DialectName): Promise<TestStore> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'firebreak-test-'));
    return reopenable(
      { dialect, dataDir: dir },
      () => openStore({ dataDir: dir }),
      async () => rmSync(dir, { recursive: true, force: true }),
    );
  }
  const schema = `fb_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const dropSchema = async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      // Not while another test's store is migrating: Kysely's table listing would trip over it.
      await client.query('select pg_advisory_lock($1)', [POSTGRES_SCHEMA_LOCK]);
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await client.end();
    }
  };
  return reopenable(
    { dialect, schema },
    () => openStore({ dataDir: '', databaseUrl: POSTGRES_URL, schema }),
    dropSchema,
  );
}

/** Opens a store, and on failure or cleanup removes what it was stored in. */
async function reopenable(
  where: { dialect: DialectName; dataDir?: string; schema?: string },
  open: () => Promise<Store>,
  remove: () => Promise<void>,
): Promise<TestStore> {
  let store: Store;
  try {
    store = await open();
  } catch (error) {
    // A failed open may have created the directory or schema already; leave nothing behind.
    await remove().catch(() => {});
    throw error;
  }
  return {
    ...where,
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = await open();
      return store;
    },
    async cleanup() {
      await store.close();
      await remove();
    },
  };
}

/** A raw connection for tests that tamper with the database behind Firebreak's back. */
export async function rawPostgres<T>(schema: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}
