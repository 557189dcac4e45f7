import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refusal } from '../../test/helpers/refusal.js';
import { DIALECTS, freshStore, rawPostgres, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import { AUDIT_GENESIS_HASH, openStore, type Store } from './index.js';

describe('openStore on SQLite: the data directory lock', () => {
  let dir: string;
  const open: Store[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-lock-'));
  });
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const track = (store: Store) => {
    open.push(store);
    return store;
  };

  it('refuses a second exclusive open with FB_ERR_DATA_DIR_LOCKED naming the directory; opens after the first closes', async () => {
    const first = await openStore({ dataDir: dir, exclusive: true });
    const error = await refusal(openStore({ dataDir: dir, exclusive: true }));
    expect(error.code).toBe('FB_ERR_DATA_DIR_LOCKED');
    expect(error.kind).toBe('unavailable');
    expect(error.message).toContain(dir);
    expect(error.message).toContain(`(pid ${process.pid})`);
    // Still refused while the first is open, however often it is tried.
    expect((await refusal(openStore({ dataDir: dir, exclusive: true }))).code).toBe('FB_ERR_DATA_DIR_LOCKED');

    await first.close();
    const second = track(await openStore({ dataDir: dir, exclusive: true }));
    expect(await second.ping()).toBe(true);
  });

  it('lets a read-only tool open beside the holder of the lock', async () => {
    const server = track(await openStore({ dataDir: dir, exclusive: true }));
    await server.db.transaction().execute((trx) => new AuditLog('sqlite').append(trx, new Date(0), sample));
    const reader = track(await openStore({ dataDir: dir, readonly: true }));
    expect(await new AuditLog('sqlite').verify(reader.db)).toMatchObject({ ok: true, entries: 1 });
  });

  it('refuses a read-only open of a directory with no database', async () => {
    const error = await refusal(openStore({ dataDir: dir, readonly: true }));
    expect(error.code).toBe('FB_ERR_DATABASE_UNAVAILABLE');
    expect(error.message).toContain(join(dir, 'firebreak.db'));
  });

  it('opens with WAL, synchronous=FULL and foreign keys on', async () => {
    const store = track(await openStore({ dataDir: dir }));
    const pragma = async (name: string) =>
      Object.values((await sql.raw(`PRAGMA ${name}`).execute(store.db)).rows[0] as object)[0];
    expect(await pragma('journal_mode')).toBe('wal');
    expect(await pragma('synchronous')).toBe(2);
    expect(await pragma('foreign_keys')).toBe(1);
    expect(store.location).toBe(join(dir, 'firebreak.db'));
  });

  describe('held by another process', () => {
    let child: ChildProcess | undefined;
    afterEach(() => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child = undefined;
    });

    it('is refused while the other process runs, and free once it is killed (even with SIGKILL)', async () => {
      const storeModule = fileURLToPath(new URL('./index.js', import.meta.url));
      const script = join(dir, 'holder.ts');
      writeFileSync(
        script,
        `import { openStore } from ${JSON.stringify(storeModule)};\n` +
          'await openStore({ dataDir: process.argv[2], exclusive: true });\n' +
          "process.stdout.write('locked\\n');\n" +
          'setInterval(() => {}, 1000);\n',
      );
      const viteNode = fileURLToPath(new URL('../../node_modules/.bin/vite-node', import.meta.url));
      const holder = spawn(viteNode, [script, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = holder;
      await new Promise<void>((resolve, reject) => {
        let out = '';
        let err = '';
        holder.stdout!.on('data', (chunk) => {
          out += String(chunk);
          if (out.includes('locked')) resolve();
        });
        holder.stderr!.on('data', (chunk) => {
          err += String(chunk);
        });
        holder.on('exit', (code) => reject(new Error(`holder exited early (${code}): ${err}`)));
      });

      const error = await refusal(openStore({ dataDir: dir, exclusive: true }));
      expect(error.code).toBe('FB_ERR_DATA_DIR_LOCKED');
      expect(error.message).toContain(dir);
      expect(error.message).toContain(`(pid ${holder.pid})`);

      const exited = new Promise((resolve) => holder.once('exit', resolve));
      holder.kill('SIGKILL');
      await exited;
      const store = track(await openStore({ dataDir: dir, exclusive: true }));
      expect(await store.ping()).toBe(true);
    });
  });
});

const sample = { actor: 'system', action: 'test.write', target: 't1', details: { n: 1 } };

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`reopening a ${d.name} store`, () => {
    let ts: TestStore;
    beforeEach(async () => {
      ts = await freshStore(d.name);
    });
    afterEach(async () => {
      await ts.cleanup();
    });

    it('keeps the data and does not re-apply migrations', async () => {
      const audit = new AuditLog(ts.store.dialect);
      for (let n = 0; n < 3; n += 1) {
        await ts.store.db.transaction().execute((trx) => audit.append(trx, new Date(n * 1000), sample));
      }
      await ts.store.db.insertInto('incident_counters').values({ year: 2026, last_number: 7 }).execute();
      const before = await audit.verify(ts.store.db);
      expect(before).toMatchObject({ ok: true, entries: 3 });
      expect(before.headHash).not.toBe(AUDIT_GENESIS_HASH);

      for (let i = 0; i < 2; i += 1) {
        const store = await ts.reopen();
        expect(await audit.verify(store.db)).toEqual(before);
        expect(await store.db.selectFrom('incident_counters').selectAll().execute()).toEqual([
          { year: 2026, last_number: 7 },
        ]);
        const migrations = await store.db
          .selectFrom('kysely_migration' as never)
          .select(sql<string>`name`.as('name'))
          .execute();
        expect(migrations.map((m) => m.name)).toEqual([
          '0001_incident_core',
          '0002_event_log',
          '0003_alerts',
          '0004_outside_alerts',
          '0005_alerts_by_time',
          '0006_paging',
          '0007_decisions',
          '0008_playbook_runs',
        ]);
      }
      // And it still takes writes where it left off.
      const next = await ts.store.db
        .transaction()
        .execute((trx) => audit.append(trx, new Date(5000), sample));
      expect(next.seq).toBe(4);
    });
  });
}

const postgresSkip = DIALECTS.find((d) => d.name === 'postgres')?.skip;

describe.skipIf(postgresSkip)('openStore on PostgreSQL beside another schema', () => {
  const stores: TestStore[] = [];
  afterEach(async () => {
    for (const ts of stores.splice(0)) await ts.cleanup();
  });

  it('migrates a new schema while another schema of the same database already has the tables', async () => {
    stores.push(await freshStore('postgres'));
    // Before the fix, Kysely found the first schema's migration tables and skipped creating its own.
    stores.push(await freshStore('postgres'));
    for (const ts of stores) {
      const tables = await rawPostgres(ts.schema!, (c) =>
        c.query<{ table_name: string }>(
          'select table_name from information_schema.tables where table_schema = $1 order by 1',
          [ts.schema],
        ),
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual([
        'ack_links',
        'alert_entities',
        'alert_intake_lock',
        'alerts',
        'api_keys',
        'audit_head',
        'audit_log',
        'consumer_checkpoints',
        'decision_head',
        'decisions',
        'escalation_timers',
        'event_log',
        'event_log_head',
        'incident_counters',
        'incident_timeline',
        'incidents',
        'ingest_batches',
        'kysely_migration',
        'kysely_migration_lock',
        'notifications',
        'outside_alerts',
        'playbook_run_steps',
        'playbook_runs',
        'secrets',
        'switches',
      ]);
    }
    // And each reopens, finding its own migration record.
    expect(await (await stores[1]!.reopen()).ping()).toBe(true);
  });
});

describe('openStore on PostgreSQL: failures a person can act on', () => {
  it('names an unreachable server without its password', async () => {
    const error = await refusal(
      openStore({ dataDir: '', databaseUrl: 'postgres://fb:hunter2@127.0.0.1:1/firebreak' }),
    );
    expect(error.code).toBe('FB_ERR_DATABASE_UNAVAILABLE');
    expect(error.message).toContain('127.0.0.1:1');
    expect(error.message).not.toContain('hunter2');
  });

  it('refuses a schema that is not a plain identifier', async () => {
    const error = await refusal(
      openStore({ dataDir: '', databaseUrl: 'postgres://postgres@127.0.0.1:1/x', schema: 'x; DROP TABLE y' }),
    );
    expect(error.code).toBe('FB_ERR_CONFIG_INVALID');
  });
});
