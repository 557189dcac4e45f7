/**
 * Opens the database Firebreak keeps its records in: embedded SQLite by default, PostgreSQL
 * when a URL is given. Migrations run here, so a store that opens is a store that is current.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { FirebreakError } from '../kernel/index.js';
import { type DataDirLock, lockDataDir } from './data-dir-lock.js';
import type { Database } from './database.js';
import { CodeMigrationProvider, type Dialect } from './migrations.js';

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** For messages: the file path, or the server without its password. */
  readonly location: string;
  /** True when the database answers a trivial query. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Embedded database directory; ignored when databaseUrl is set. */
  readonly dataDir: string;
  readonly databaseUrl?: string | undefined;
  /** PostgreSQL schema to use (tests isolate themselves in one); created when missing. */
  readonly schema?: string;
  /**
   * Take the data directory's lock (the server does). Read-only tools such as
   * `firebreak audit verify` open without it.
   */
  readonly exclusive?: boolean;
  readonly readonly?: boolean;
}

export const SQLITE_FILE = 'firebreak.db';

export async function openStore(options: StoreOptions): Promise<Store> {
  const store = options.databaseUrl ? await openPostgres(options.databaseUrl, options) : openSqlite(options);
  if (!options.readonly) {
    try {
      await migrate(store);
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}

function openSqlite(options: StoreOptions): Store {
  if (options.readonly) {
    if (!existsSync(join(options.dataDir, SQLITE_FILE))) {
      throw new FirebreakError('FB_ERR_DATABASE_UNAVAILABLE', {
        target: join(options.dataDir, SQLITE_FILE),
        reason: 'no Firebreak database there; check --data-dir or FIREBREAK_DATA_DIR',
      });
    }
  } else {
    mkdirSync(options.dataDir, { recursive: true });
  }
  const lock: DataDirLock | undefined = options.exclusive ? lockDataDir(options.dataDir) : undefined;
  const path = join(options.dataDir, SQLITE_FILE);
  let connection: BetterSqlite3.Database;
  try {
    // better-sqlite3 rejects an undefined fileMustExist: both options must be real booleans.
    const readonly = options.readonly ?? false;
    connection = new BetterSqlite3(path, { readonly, fileMustExist: readonly });
    if (!options.readonly) {
      connection.pragma('journal_mode = WAL');
      // FULL: a commit is on disk (WAL fsynced) before it returns, so nothing acknowledged is lost on power loss.
      connection.pragma('synchronous = FULL');
      connection.pragma('foreign_keys = ON');
    }
    connection.pragma('busy_timeout = 5000');
  } catch (error) {
    lock?.release();
    throw new FirebreakError('FB_ERR_DATABASE_UNAVAILABLE', {
      target: path,
      reason: (error as Error).message,
    });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) });
  return {
    db,
    dialect: 'sqlite',
    location: path,
    ping: () => ping(db),
    async close() {
      await db.destroy();
      lock?.release();
    },
  };
}

async function openPostgres(url: string, options: StoreOptions): Promise<Store> {
  const location = redact(url);
  if (options.schema && !/^[a-z_][a-z0-9_]*$/.test(options.schema)) {
    throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
      source: 'schema',
      problem: 'must be a plain identifier',
    });
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 5_000,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', () => {});
  try {
    const client = await pool.connect();
    try {
      if (options.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw new FirebreakError('FB_ERR_DATABASE_UNAVAILABLE', {
      target: location,
      reason: (error as Error).message,
    });
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', location, ping: () => ping(db), close: () => db.destroy() };
}

/**
 * Serialises schema work on one PostgreSQL database: migrations of several Firebreak servers
 * starting at once, and tools that drop schemas. Kysely lists every table of every schema before
 * migrating, and a schema dropped meanwhile makes that listing fail (SQLSTATE 3F000); whoever drops
 * a schema Firebreak used takes this lock first.
 */
export const POSTGRES_SCHEMA_LOCK = 7_340_001;

async function migrate(store: Store): Promise<void> {
  const run = async (db: Kysely<Database>) => {
    // Kysely looks for its migration tables in every schema unless told which one: pin them to ours,
    // or another schema's tables (a second Firebreak, another app) make it skip creating them here.
    const migrationTableSchema =
      store.dialect === 'postgres'
        ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
        : undefined;
    const migrator = new Migrator({
      db,
      provider: new CodeMigrationProvider(store.dialect),
      ...(migrationTableSchema ? { migrationTableSchema } : {}),
    });
    return (await migrator.migrateToLatest()).error;
  };
  const error =
    store.dialect === 'postgres'
      ? await store.db.connection().execute(async (conn) => {
          // A session lock on the one connection the whole migration runs on.
          await sql`select pg_advisory_lock(${POSTGRES_SCHEMA_LOCK})`.execute(conn);
          try {
            return await run(conn);
          } finally {
            await sql`select pg_advisory_unlock(${POSTGRES_SCHEMA_LOCK})`.execute(conn);
          }
        })
      : await run(store.db);
  if (error) {
    throw new FirebreakError('FB_ERR_DATABASE_UNAVAILABLE', {
      target: store.location,
      reason: `migration failed: ${(error as Error).message}`,
    });
  }
}

async function ping(db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres (unparseable URL)';
  }
}
