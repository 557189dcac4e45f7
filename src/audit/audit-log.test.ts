import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, rawPostgres, type TestStore } from '../../test/helpers/stores.js';
import { AUDIT_GENESIS_HASH, SQLITE_FILE } from '../store/index.js';
import { type AuditEntry, type AuditEntryInput, AuditLog, entryHash } from './audit-log.js';

const T0 = Date.parse('2026-03-04T10:00:00.000Z');

/** Runs SQL on the database behind Firebreak's back: a separate connection, as an attacker would. */
async function tamper(ts: TestStore, statements: string): Promise<void> {
  if (ts.dialect === 'sqlite') {
    const raw = new BetterSqlite3(join(ts.dataDir!, SQLITE_FILE));
    try {
      raw.exec(statements);
    } finally {
      raw.close();
    }
  } else {
    await rawPostgres(ts.schema!, (client) => client.query(statements));
  }
}

async function append(ts: TestStore, audit: AuditLog, n: number, input: Partial<AuditEntryInput> = {}) {
  return ts.store.db.transaction().execute((trx) =>
    audit.append(trx, new Date(T0 + n * 1000), {
      actor: 'key:k1 (ops)',
      action: 'incident.transition',
      target: `INC-2026-00${n}`,
      details: { n, note: 'naïve “quotes” ✓', nested: { list: [1, 2, n] } },
      ...input,
    }),
  );
}

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`AuditLog on ${d.name}`, () => {
    let ts: TestStore;
    let audit: AuditLog;
    let written: AuditEntry[];

    beforeEach(async () => {
      ts = await freshStore(d.name);
      audit = new AuditLog(ts.store.dialect);
      written = [];
    });
    afterEach(async () => {
      await ts.cleanup();
    });

    const appendFive = async () => {
      for (let n = 1; n <= 5; n += 1) written.push(await append(ts, audit, n));
    };
    const verify = (pageSize?: number) => audit.verify(ts.store.db, pageSize);

    it('an empty log verifies, with the genesis hash as its head', async () => {
      expect(await verify()).toEqual({ ok: true, entries: 0, headHash: AUDIT_GENESIS_HASH });
    });

    it('chains appended entries and verifies them', async () => {
      await appendFive();
      expect(written.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(written[0]!.prevHash).toBe(AUDIT_GENESIS_HASH);
      for (let i = 1; i < written.length; i += 1) expect(written[i]!.prevHash).toBe(written[i - 1]!.hash);
      for (const e of written) expect(e.hash).toBe(entryHash(e.prevHash, e));
      expect(written[2]!.at).toBe('2026-03-04T10:00:03.000Z');

      expect(await verify()).toEqual({ ok: true, entries: 5, headHash: written[4]!.hash });
      expect(await audit.count(ts.store.db)).toBe(5);
      // Read back, the details are the ones written.
      const listed = await audit.list(ts.store.db, { limit: 2 });
      expect(listed.map((e) => e.seq)).toEqual([5, 4]);
      expect(listed[0]).toEqual(written[4]);
      expect((await audit.list(ts.store.db, { limit: 10, beforeSeq: 3 })).map((e) => e.seq)).toEqual([2, 1]);
    });

    it('verifies in pages: page size under, at and over the number of entries', async () => {
      await appendFive();
      for (const pageSize of [1, 2, 4, 5, 6]) {
        expect(await verify(pageSize), `page size ${pageSize}`).toMatchObject({ ok: true, entries: 5 });
      }
    });

    it('keeps nothing from a transaction that rolls back, and continues the chain after it', async () => {
      await append(ts, audit, 1);
      await expect(
        ts.store.db.transaction().execute(async (trx) => {
          await audit.append(trx, new Date(T0), { actor: 'system', action: 'x', target: 'y' });
          throw new Error('the change failed');
        }),
      ).rejects.toThrow('the change failed');
      expect(await audit.count(ts.store.db)).toBe(1);
      const next = await append(ts, audit, 2);
      expect(next.seq).toBe(2);
      expect(await verify()).toMatchObject({ ok: true, entries: 2 });
    });

    it('appends several entries in one transaction in order', async () => {
      const entries = await ts.store.db
        .transaction()
        .execute(async (trx) => [
          await audit.append(trx, new Date(T0), { actor: 'a', action: 'one', target: 't' }),
          await audit.append(trx, new Date(T0), { actor: 'a', action: 'two', target: 't' }),
        ]);
      expect(entries.map((e) => e.seq)).toEqual([1, 2]);
      expect(entries[0]!.details).toEqual({});
      expect(await verify()).toMatchObject({ ok: true, entries: 2 });
    });

    describe('after tampering', () => {
      beforeEach(appendFive);

      it('an edited middle entry is named', async () => {
        await tamper(ts, `UPDATE audit_log SET details = '{"n":3,"note":"nothing to see"}' WHERE seq = 3`);
        const result = await verify();
        expect(result.ok).toBe(false);
        expect(result.firstBad).toEqual({ seq: 3, problem: expect.stringMatching(/edited/) });
        expect(result.entries).toBe(2);
        // The same with a page boundary just before it.
        expect((await verify(2)).firstBad?.seq).toBe(3);
      });

      it('an edited last entry is named', async () => {
        await tamper(ts, `UPDATE audit_log SET actor = 'someone else' WHERE seq = 5`);
        expect((await verify()).firstBad).toEqual({ seq: 5, problem: expect.stringMatching(/edited/) });
      });

      it('an edit whose hash was recomputed is caught by the next entry', async () => {
        const forged = { ...written[2]!, details: { n: 3, forged: true } };
        const hash = entryHash(forged.prevHash, forged);
        await tamper(
          ts,
          `UPDATE audit_log SET details = '{"n":3,"forged":true}', hash = '${hash}' WHERE seq = 3`,
        );
        expect((await verify()).firstBad).toEqual({
          seq: 4,
          problem: expect.stringMatching(/does not follow entry 3/),
        });
      });

      it('a deleted middle entry is named', async () => {
        await tamper(ts, 'DELETE FROM audit_log WHERE seq = 3');
        expect((await verify()).firstBad).toEqual({
          seq: 3,
          problem: expect.stringMatching(/missing.*from entry 2 to 4/),
        });
        expect((await verify(2)).firstBad?.seq).toBe(3);
      });

      it('a deleted first entry is named', async () => {
        await tamper(ts, 'DELETE FROM audit_log WHERE seq = 1');
        expect((await verify()).firstBad?.seq).toBe(1);
      });

      it('a deleted last entry is named, thanks to the head', async () => {
        await tamper(ts, 'DELETE FROM audit_log WHERE seq = 5');
        const result = await verify();
        expect(result.ok).toBe(false);
        expect(result.firstBad).toEqual({ seq: 5, problem: expect.stringMatching(/missing.*head says 5/) });
      });

      it('a truncated tail with a rewritten head verifies, but with a different head hash', async () => {
        // The documented limit: only a head hash written down elsewhere catches this.
        await tamper(
          ts,
          `DELETE FROM audit_log WHERE seq = 5; UPDATE audit_head SET seq = 4, hash = '${written[3]!.hash}' WHERE id = 1`,
        );
        const result = await verify();
        expect(result).toEqual({ ok: true, entries: 4, headHash: written[3]!.hash });
        expect(result.headHash).not.toBe(written[4]!.hash);
      });

      it('two swapped entries (reordered) are named at the first of them', async () => {
        await tamper(
          ts,
          'UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -2',
        );
        expect((await verify()).firstBad).toEqual({
          seq: 2,
          problem: expect.stringMatching(/does not follow entry 1/),
        });
      });

      it('the last two swapped are named at the fourth', async () => {
        await tamper(
          ts,
          'UPDATE audit_log SET seq = -4 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = -4',
        );
        expect((await verify()).firstBad?.seq).toBe(4);
      });

      it('an entry added behind the head is named', async () => {
        const extra = {
          seq: 6,
          at: '2026-03-04T11:00:00.000Z',
          actor: 'x',
          action: 'y',
          target: 'z',
          details: {},
        };
        const hash = entryHash(written[4]!.hash, extra);
        await tamper(
          ts,
          `INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash)
           VALUES (6, '${extra.at}', 'x', 'y', 'z', '{}', '${written[4]!.hash}', '${hash}')`,
        );
        expect((await verify()).firstBad).toEqual({
          seq: 6,
          problem: expect.stringMatching(/not covered by the head/),
        });
      });

      it('details that are not JSON are named', async () => {
        await tamper(ts, `UPDATE audit_log SET details = 'not json' WHERE seq = 2`);
        expect((await verify()).firstBad).toEqual({ seq: 2, problem: expect.stringMatching(/not JSON/) });
      });

      it('a missing head row is reported', async () => {
        await tamper(ts, 'DELETE FROM audit_head');
        expect((await verify()).firstBad).toEqual({
          seq: 6,
          problem: expect.stringMatching(/head row is missing/),
        });
      });
    });

    it('keeps one chain under concurrent appends', async () => {
      const entries = await Promise.all(Array.from({ length: 20 }, (_, i) => append(ts, audit, i + 1)));
      expect(entries.map((e) => e.seq).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      expect(await verify()).toMatchObject({ ok: true, entries: 20 });
    });
  });
}
