/**
 * Versioned schema migrations for both dialects, applied at start. A migration is never edited
 * once released: a change to the schema is a new entry at the end of the list.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** The "previous hash" of the first audit entry. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

function migrationsFor(dialect: Dialect): Record<string, Migration> {
  // The only difference the first schema needs: how an auto-numbered key is spelled.
  const autoId = (db: Kysely<unknown>, table: string) =>
    dialect === 'sqlite'
      ? db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      : db.schema.createTable(table).addColumn('id', 'serial', (c) => c.primaryKey());

  return {
    '0001_incident_core': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('incident_counters')
          .addColumn('year', 'integer', (c) => c.primaryKey())
          .addColumn('last_number', 'integer', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('incidents')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('year', 'integer', (c) => c.notNull())
          .addColumn('number', 'integer', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('summary', 'text', (c) => c.notNull())
          .addColumn('severity', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('detected_at', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('acknowledged_at', 'text')
          .addColumn('contained_at', 'text')
          .addColumn('eradicated_at', 'text')
          .addColumn('recovered_at', 'text')
          .addColumn('resolved_at', 'text')
          .addColumn('closed_at', 'text')
          .addColumn('clock_started_at', 'text', (c) => c.notNull())
          .addColumn('ack_by', 'text', (c) => c.notNull())
          .addColumn('respond_by', 'text', (c) => c.notNull())
          .addColumn('classification', 'text')
          .addColumn('roles', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addUniqueConstraint('incidents_year_number', ['year', 'number'])
          .execute();
        await db.schema
          .createIndex('incidents_status')
          .on('incidents')
          .columns(['status', 'severity'])
          .execute();

        await autoId(db, 'incident_timeline')
          .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id'))
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('incident_timeline_incident')
          .on('incident_timeline')
          .columns(['incident_id', 'id'])
          .execute();

        await db.schema
          .createTable('audit_log')
          .addColumn('seq', 'integer', (c) => c.primaryKey())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('details', 'text', (c) => c.notNull())
          .addColumn('prev_hash', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('audit_head')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        // The head exists from the start, so concurrent first appends lock one row instead of racing to insert it.
        await db
          .insertInto('audit_head' as never)
          .values({ id: 1, seq: 0, hash: AUDIT_GENESIS_HASH } as never)
          .execute();

        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('scopes', 'text', (c) => c.notNull())
          .addColumn('secret_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .execute();
      },
    },
  };
}

export class CodeMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return migrationsFor(this.dialect);
  }
}
