/**
 * INC-YYYY-NNN is gapless per year and safe under concurrency (DESIGN.md, "Incident"): many
 * creations at once, from one pool or from two (two server processes on one database), get
 * distinct numbers 1..N, and a creation that fails after taking a number gives it back.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuditEntry, type AuditEntryInput, AuditLog } from '../src/audit/index.js';
import { IncidentService, type IncidentService as IncidentServiceType } from '../src/incidents/index.js';
import { VirtualClock } from '../src/kernel/index.js';
import { loadPolicyFile } from '../src/policy/index.js';
import { type Database, openStore, type Store, type Transaction } from '../src/store/index.js';
import { DIALECTS, freshStore, POSTGRES_URL, type TestStore } from './helpers/stores.js';

const POLICY = loadPolicyFile(fileURLToPath(new URL('../policies/kct-menswear.yaml', import.meta.url)));
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const numberOf = (id: string) => {
  const match = /^INC-2026-(\d{3,})$/.exec(id);
  if (!match) throw new Error(`not an INC-2026-NNN id: ${id}`);
  return Number(match[1]);
};
const sortedNumbers = (ids: string[]) => ids.map(numberOf).sort((a, b) => a - b);

/** An audit log that fails, after the counter update, for the titles it is told to. */
class FailingAuditLog extends AuditLog {
  readonly failFor = new Set<string>();

  override async append(trx: Transaction<Database>, at: Date, input: AuditEntryInput): Promise<AuditEntry> {
    if (this.failFor.has(String(input.details?.title)))
      throw new Error(`audit append failed for ${input.details?.title}`);
    return super.append(trx, at, input);
  }
}

function serviceFor(store: Store, audit: AuditLog = new AuditLog(store.dialect)): IncidentServiceType {
  return new IncidentService({
    store,
    audit,
    policy: POLICY,
    clock: new VirtualClock('2026-03-04T10:00:00Z'),
  });
}

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`incident ids on ${d.name}`, () => {
    let ts: TestStore;
    beforeEach(async () => {
      ts = await freshStore(d.name);
    });
    afterEach(async () => {
      await ts.cleanup();
    });

    const expectConsistent = async (count: number) => {
      const audit = new AuditLog(ts.store.dialect);
      expect(await audit.verify(ts.store.db)).toMatchObject({ ok: true, entries: count });
      const rows = await ts.store.db.selectFrom('incidents').select(['id', 'number']).execute();
      expect(rows.map((r) => r.number).sort((a, b) => a - b)).toEqual(range(count));
      const counter = await ts.store.db.selectFrom('incident_counters').selectAll().execute();
      expect(counter).toEqual([{ year: 2026, last_number: count }]);
    };

    it('gives 50 concurrent creations on one store the numbers 1..50', async () => {
      const service = serviceFor(ts.store);
      const created = await Promise.all(
        range(50).map((i) => service.create('load', { title: `incident ${i}`, severity: 'P2' })),
      );
      const ids = created.map((c) => c.id);
      expect(new Set(ids).size).toBe(50);
      expect(sortedNumbers(ids)).toEqual(range(50));
      await expectConsistent(50);
    });

    it('gives back the number of a creation that fails after taking it (audit append throws)', async () => {
      const audit = new FailingAuditLog(ts.store.dialect);
      audit.failFor.add('doomed');
      const service = serviceFor(ts.store, audit);

      expect((await service.create('u', { title: 'first', severity: 'P1' })).id).toBe('INC-2026-001');
      await expect(service.create('u', { title: 'doomed', severity: 'P1' })).rejects.toThrow(
        'audit append failed',
      );
      expect((await service.create('u', { title: 'second', severity: 'P1' })).id).toBe('INC-2026-002');
      await expectConsistent(2);
    });

    it('gives back the number of a creation the database refuses after the counter update', async () => {
      const service = serviceFor(ts.store);
      await expect(
        service.create('u', { title: null as unknown as string, severity: 'P1' }),
      ).rejects.toThrow();
      expect((await service.create('u', { title: 'after the failure', severity: 'P1' })).id).toBe(
        'INC-2026-001',
      );
      await expectConsistent(1);
    });

    it('stays gapless when some of 50 concurrent creations fail', async () => {
      const audit = new FailingAuditLog(ts.store.dialect);
      for (const i of range(50)) if (i % 5 === 0) audit.failFor.add(`incident ${i}`);
      const service = serviceFor(ts.store, audit);
      const results = await Promise.allSettled(
        range(50).map((i) => service.create('load', { title: `incident ${i}`, severity: 'P2' })),
      );
      const ids = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : []));
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(10);
      expect(sortedNumbers(ids)).toEqual(range(40));
      await expectConsistent(40);
    });

    // Two pools stand in for two server processes; SQLite has one writer process (the data dir lock).
    if (d.name === 'postgres') {
      it('gives 50 concurrent creations from two pools (two processes) on one schema the numbers 1..50', async () => {
        const second = await openStore({ dataDir: '', databaseUrl: POSTGRES_URL, schema: ts.schema! });
        try {
          const one = serviceFor(ts.store);
          const two = serviceFor(second);
          const created = await Promise.all(
            range(50).map((i) =>
              (i % 2 ? one : two).create(`proc${i % 2}`, { title: `incident ${i}`, severity: 'P2' }),
            ),
          );
          const ids = created.map((c) => c.id);
          expect(new Set(ids).size).toBe(50);
          expect(sortedNumbers(ids)).toEqual(range(50));
          await expectConsistent(50);
        } finally {
          await second.close();
        }
      });
    }
  });
}
