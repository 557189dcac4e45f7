import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refusal } from '../../test/helpers/refusal.js';
import { DIALECTS, freshStore, POSTGRES_URL, type TestStore } from '../../test/helpers/stores.js';
import type { EcsEvent } from '../events/index.js';
import { VirtualClock } from '../kernel/index.js';
import { openStore, type Store } from '../store/index.js';
import { type AppendOptions, EventLog, type LoggedEvent, RECENT_EVENTS } from './event-log.js';

const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const DAY = 86_400_000;

function login(n: number, extra: Record<string, unknown> = {}): { event: EcsEvent; epochMs: number } {
  const epochMs = T0 + n * 1000;
  return {
    epochMs,
    event: {
      '@timestamp': new Date(epochMs).toISOString(),
      event: { action: 'login', category: ['authentication'], outcome: n % 2 ? 'failure' : 'success' },
      user: { name: `user${n % 5}` },
      source: { ip: `203.0.113.${n % 256}` },
      ...extra,
    },
  };
}

const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`EventLog on ${d.name}`, () => {
    let ts: TestStore;
    let clock: VirtualClock;
    let log: EventLog;
    const extraStores: Store[] = [];

    beforeEach(async () => {
      ts = await freshStore(d.name);
      clock = new VirtualClock(T0);
      log = new EventLog({ store: ts.store, clock });
    });
    afterEach(async () => {
      for (const store of extraStores.splice(0)) await store.close();
      await ts.cleanup();
    });

    /** A second store on the same database, as a second server process would have. */
    const secondStore = async () => {
      const store =
        d.name === 'sqlite'
          ? await openStore({ dataDir: ts.dataDir! })
          : await openStore({ dataDir: '', databaseUrl: POSTGRES_URL, schema: ts.schema! });
      extraStores.push(store);
      return store;
    };

    const options = (extra: Partial<AppendOptions> = {}): AppendOptions => ({
      source: 'http',
      receivedAt: clock.now(),
      answer: (r) => ({ accepted: r.count, first_seq: r.first, last_seq: r.last }),
      ...extra,
    });
    const appendN = (from: number, n: number, extra: Partial<AppendOptions> = {}) =>
      log.append(
        range(from, from + n - 1).map((i) => login(i)),
        options(extra),
      );

    describe('append and read', () => {
      it('starts empty: head 0, count 0, nothing to read', async () => {
        expect(await log.head()).toBe(0);
        expect(await log.count()).toBe(0);
        expect(await log.read(0, 10)).toEqual([]);
      });

      it('gives each batch the next seqs and reads them back in order, as JS numbers', async () => {
        const a = await appendN(0, 3);
        clock.advance(1000);
        const b = await log.append([login(3), login(4)], options({ source: 'syslog' }));
        expect(a).toEqual({
          first: 1,
          last: 3,
          count: 3,
          answer: { accepted: 3, first_seq: 1, last_seq: 3 },
          replayed: false,
        });
        expect(b).toMatchObject({ first: 4, last: 5, count: 2, replayed: false });
        expect(await log.head()).toBe(5);
        expect(await log.count()).toBe(5);

        const read = await log.read(0, 100);
        expect(read.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
        expect(read[0]).toEqual({
          seq: 1,
          receivedAt: new Date(T0).toISOString(),
          epochMs: T0,
          source: 'http',
          event: login(0).event,
        } satisfies LoggedEvent);
        expect(read[4]).toMatchObject({ source: 'syslog', receivedAt: new Date(T0 + 1000).toISOString() });
        for (const e of read) {
          expect(typeof e.seq).toBe('number');
          expect(typeof e.epochMs).toBe('number');
        }
        expect((await log.read(2, 2)).map((e) => e.seq)).toEqual([3, 4]);
        expect(await log.read(5, 10)).toEqual([]);
      });

      it('appends a batch larger than one INSERT as one contiguous run', async () => {
        const result = await appendN(0, 1234);
        expect(result).toMatchObject({ first: 1, last: 1234, count: 1234 });
        const read = await log.read(0, 2000);
        expect(read.map((e) => e.seq)).toEqual(range(1, 1234));
        expect(read.map((e) => e.epochMs)).toEqual(range(0, 1233).map((i) => T0 + i * 1000));
      });

      it('serves recent appends from memory exactly as the database has them', async () => {
        const big: EcsEvent = { '@timestamp': new Date(T0).toISOString(), message: 'x'.repeat(5000) };
        await log.append(
          [
            login(0),
            // The text a client sent (spaced out) stands for the event; it must parse to it.
            { ...login(1), json: JSON.stringify(login(1).event, null, 2) },
            { event: big, epochMs: T0 },
          ],
          options(),
        );
        await appendN(3, 2);
        const fromDatabase = new EventLog({ store: await secondStore(), clock });
        const all = await fromDatabase.read(0, 100);
        expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
        expect(await log.read(0, 100)).toEqual(all);
        expect(await log.read(1, 3)).toEqual(all.slice(1, 4));
        expect(all[2]!.event).toEqual(big);
      });

      it('reads past what it keeps in memory from the database', async () => {
        const total = RECENT_EVENTS + 1500;
        for (let start = 0; start < total; start += 5000) await appendN(start, Math.min(5000, total - start));
        const fromDatabase = new EventLog({ store: await secondStore(), clock });
        // The oldest 1,500 are no longer in memory: a read spanning the edge joins both.
        expect(await log.read(1400, 300)).toEqual(await fromDatabase.read(1400, 300));
        expect((await log.read(total - 2, 10)).map((e) => e.seq)).toEqual([total - 1, total]);
      });

      it('keeps unicode and nested values exactly', async () => {
        const event: EcsEvent = {
          '@timestamp': new Date(T0).toISOString(),
          message: 'Zürich 東京 🔥 "quoted" \\ back',
          firebreak: { records: 25, flags: [true, null, 1.5], deep: { a: { b: { c: [] } } } },
        };
        await log.append([{ event, epochMs: T0 }], options());
        expect((await log.read(0, 1))[0]!.event).toEqual(event);
      });

      it('rolls back a batch whose answer fails: nothing appended, no seq used up', async () => {
        await expect(
          log.append(
            [login(0)],
            options({
              answer: () => {
                throw new Error('boom');
              },
            }),
          ),
        ).rejects.toThrow('boom');
        expect(await log.head()).toBe(0);
        expect(await log.count()).toBe(0);
        expect((await appendN(0, 1)).first).toBe(1);
      });
    });

    describe('idempotency keys', () => {
      const idem = { keyId: 'k1', key: 'batch-42' };

      it('stores a batch sent again once, and answers as the first time', async () => {
        let calls = 0;
        const answer = (r: { first: number; count: number }) => {
          calls += 1;
          return { accepted: r.count, first_seq: r.first, at: new Date(T0).toISOString() };
        };
        await appendN(100, 2);
        const first = await appendN(0, 3, { idempotency: idem, answer });
        clock.advance(60_000);
        const again = await appendN(0, 3, { idempotency: idem, answer });
        expect(first).toMatchObject({ first: 3, last: 5, count: 3, replayed: false });
        expect(again).toEqual({ ...first, replayed: true });
        expect(again.answer).toEqual({ accepted: 3, first_seq: 3, at: new Date(T0).toISOString() });
        expect(calls).toBe(1);
        expect(await log.count()).toBe(5);
        expect(await log.head()).toBe(5);
      });

      it('scopes a key to the API key that sent it', async () => {
        const a = await appendN(0, 2, { idempotency: { keyId: 'k1', key: 'same' } });
        const b = await appendN(0, 2, { idempotency: { keyId: 'k2', key: 'same' } });
        expect(a.replayed || b.replayed).toBe(false);
        expect(b).toMatchObject({ first: 3, last: 4 });
        expect(await log.count()).toBe(4);
      });

      it('stores the answer of an empty batch, appending nothing', async () => {
        await appendN(0, 2);
        const empty = await log.append([], options({ idempotency: idem }));
        expect(empty).toEqual({
          first: 3,
          last: 2,
          count: 0,
          answer: { accepted: 0, first_seq: 3, last_seq: 2 },
          replayed: false,
        });
        expect(await log.append([], options({ idempotency: idem }))).toEqual({ ...empty, replayed: true });
        // Sent again with events (a client bug), it is still the batch already answered.
        expect(await appendN(0, 4, { idempotency: idem })).toEqual({ ...empty, replayed: true });
        expect(await log.count()).toBe(2);
        expect(await log.head()).toBe(2);
      });

      it('appends once when five appends with one key race', async () => {
        const results = await Promise.all(range(1, 5).map(() => appendN(0, 10, { idempotency: idem })));
        expect(results.filter((r) => !r.replayed)).toHaveLength(1);
        for (const r of results) {
          expect(r).toMatchObject({ first: 1, last: 10, count: 10, answer: results[0]!.answer });
        }
        expect(await log.count()).toBe(10);
      });

      // Two writing stores exist only on PostgreSQL (two servers sharing a database): on SQLite
      // the data-directory lock admits one writing process, and better-sqlite3 would block this
      // thread on the second writer. So the case is not defined for SQLite at all.
      const ifTwoWriters = d.name === 'postgres' ? it : () => undefined;
      ifTwoWriters('appends once when appends with one key race through two stores', async () => {
        const other = new EventLog({ store: await secondStore(), clock });
        const results = await Promise.all(
          range(1, 6).map((i) =>
            (i % 2 ? log : other).append(
              range(0, 9).map((n) => login(n)),
              options({ idempotency: idem }),
            ),
          ),
        );
        expect(results.filter((r) => !r.replayed)).toHaveLength(1);
        expect(await log.count()).toBe(10);
      });
    });

    it('gives concurrent appends disjoint contiguous ranges, and a reader never sees a gap', async () => {
      // PostgreSQL: writers on two pools, as two servers sharing a database. SQLite has one writing
      // process (the data directory lock), and better-sqlite3 blocks the thread while it waits for
      // a lock, so two writing connections in one process would only wait on each other.
      const logs = d.name === 'postgres' ? [log, new EventLog({ store: await secondStore(), clock })] : [log];
      const sizes = range(0, 59).map((i) => 1 + ((i * 37) % 45));
      const total = sizes.reduce((a, b) => a + b, 0);
      let writing = true;
      const seen: number[] = [];
      const readerLog = new EventLog({ store: await secondStore(), clock });
      const reader = (async () => {
        let after = 0;
        for (;;) {
          const stillWriting = writing;
          const page = await readerLog.read(after, 97);
          for (const e of page) {
            // A jump here would be a seq that commits later (or never): the reader would skip it.
            expect(e.seq).toBe(after + 1);
            after = e.seq;
            seen.push(e.seq);
          }
          if (page.length === 0 && !stillWriting) return;
          if (page.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();
      const settled = await Promise.allSettled(
        sizes.map((n, i) =>
          logs[i % logs.length]!.append(
            range(0, n - 1).map((k) => login(i * 100 + k)),
            options({ idempotency: i % 3 ? { keyId: 'k1', key: `batch-${i}` } : undefined }),
          ),
        ),
      );
      writing = false;
      await reader;
      const results = settled.map((s) => {
        if (s.status === 'rejected') throw s.reason;
        return s.value;
      });

      const ranges = results.map((r, i) => {
        expect(r.count).toBe(sizes[i]);
        expect(r.last - r.first + 1).toBe(r.count);
        return range(r.first, r.last);
      });
      expect(ranges.flat().sort((a, b) => a - b)).toEqual(range(1, total));
      expect(seen).toEqual(range(1, total));
      expect((await log.read(0, total + 10)).map((e) => e.seq)).toEqual(range(1, total));
      // Each batch's events are together, in the order given.
      const all = await log.read(0, total);
      results.forEach((r, i) => {
        expect(all.slice(r.first - 1, r.last).map((e) => e.epochMs)).toEqual(
          range(0, sizes[i]! - 1).map((k) => T0 + (i * 100 + k) * 1000),
        );
      });
    });

    describe('checkpoints', () => {
      it('saves, reads and overwrites a consumer checkpoint', async () => {
        expect(await log.getCheckpoint('detect')).toBeUndefined();
        await log.saveCheckpoint('detect', 5, { windows: { r1: [1, 2] } });
        expect(await log.getCheckpoint('detect')).toEqual({
          consumer: 'detect',
          seq: 5,
          state: { windows: { r1: [1, 2] } },
          updatedAt: new Date(T0).toISOString(),
        });
        clock.advance(1000);
        await log.saveCheckpoint('detect', 9);
        await log.saveCheckpoint('other', 1, 'x');
        expect(await log.getCheckpoint('detect')).toEqual({
          consumer: 'detect',
          seq: 9,
          state: null,
          updatedAt: new Date(T0 + 1000).toISOString(),
        });
        expect((await log.getCheckpoint('other'))?.state).toBe('x');
      });
    });

    describe('retention', () => {
      it('deletes events received before the age limit, and old idempotency records', async () => {
        await appendN(0, 3, { idempotency: { keyId: 'k1', key: 'old' } });
        clock.advance(2 * DAY);
        await appendN(3, 2);
        clock.advance(5 * DAY);
        await appendN(5, 4, { idempotency: { keyId: 'k1', key: 'new' } });
        await log.saveCheckpoint('detect', 9);

        // Keep 3 days: the first two batches (received 7 and 5 days ago) go.
        const result = await log.prune({ olderThanMs: 3 * DAY, now: clock.now() });
        expect(result).toEqual({ deleted: 5, batchesDeleted: 1, overrun: [] });
        expect((await log.read(0, 100)).map((e) => e.seq)).toEqual([6, 7, 8, 9]);
        expect(await log.head()).toBe(9);
        expect(await log.count()).toBe(4);
        // The old key's record is gone, so the batch is new again; the newer key still replays.
        expect(await appendN(0, 3, { idempotency: { keyId: 'k1', key: 'old' } })).toMatchObject({
          first: 10,
          replayed: false,
        });
        expect((await appendN(5, 4, { idempotency: { keyId: 'k1', key: 'new' } })).replayed).toBe(true);
        // Nothing more is old enough.
        expect(await log.prune({ olderThanMs: 3 * DAY, now: clock.now() })).toEqual({
          deleted: 0,
          batchesDeleted: 0,
          overrun: [],
        });
      });

      it('keeps the newest events up to the cap, and seqs go on after deleting everything', async () => {
        await appendN(0, 25);
        expect((await log.prune({ maxEvents: 10, now: clock.now() })).deleted).toBe(15);
        expect((await log.read(0, 100)).map((e) => e.seq)).toEqual(range(16, 25));
        expect((await log.prune({ maxEvents: 0, now: clock.now() })).deleted).toBe(10);
        expect(await log.count()).toBe(0);
        expect(await log.head()).toBe(25);
        expect(await appendN(0, 2)).toMatchObject({ first: 26, last: 27 });
      });

      it('deletes in steps when there is a lot to delete', async () => {
        for (let i = 0; i < 5; i += 1) await appendN(i * 5000, 5000);
        expect((await log.prune({ maxEvents: 1, now: clock.now() })).deleted).toBe(24_999);
        expect((await log.read(0, 10)).map((e) => e.seq)).toEqual([25_000]);
      });

      it('wins over a stalled consumer, and names it', async () => {
        await appendN(0, 20);
        await log.saveCheckpoint('detect', 4);
        await log.saveCheckpoint('caught-up', 20);
        const result = await log.prune({ maxEvents: 5, now: clock.now() });
        expect(result).toEqual({
          deleted: 15,
          batchesDeleted: 0,
          overrun: [{ consumer: 'detect', seq: 4, skippedTo: 15, lost: 11 }],
        });
        // The consumer sees the jump: its next event is 16, not 5.
        expect((await log.read(4, 1))[0]!.seq).toBe(16);
      });
    });

    describe('search', () => {
      beforeEach(async () => {
        await log.append(
          range(0, 9).map((i) =>
            login(i * 3600, {
              http: { response: { status_code: i % 2 ? 200 : 404 } },
              tags: i < 5 ? ['early', 'x'] : ['late'],
              user: { name: `user${i % 3}`, roles: i === 4 ? ['admin', 'ops'] : [] },
            }),
          ),
          options(),
        );
      });
      const hour = (h: number) => new Date(T0 + h * 3600_000);

      it('finds events in [from, to) by event time, in time order', async () => {
        const { events, truncated } = await log.search({ from: hour(2), to: hour(5), limit: 100 });
        expect(events.map((e) => e.epochMs)).toEqual([2, 3, 4].map((h) => hour(h).getTime()));
        expect(truncated).toBe(false);
        expect((await log.search({ from: hour(20), to: hour(30), limit: 10 })).events).toEqual([]);
      });

      it('filters by dotted fields: strings, numbers by their text, array elements', async () => {
        const search = async (where: Record<string, string>) =>
          (await log.search({ from: hour(0), to: hour(10), where, limit: 100 })).events.map((e) =>
            Math.round((e.epochMs - T0) / 3600_000),
          );
        expect(await search({ 'user.name': 'user1' })).toEqual([1, 4, 7]);
        expect(await search({ 'http.response.status_code': '404' })).toEqual([0, 2, 4, 6, 8]);
        expect(await search({ 'user.name': 'user1', 'http.response.status_code': '404' })).toEqual([4]);
        expect(await search({ tags: 'late' })).toEqual([5, 6, 7, 8, 9]);
        expect(await search({ 'user.roles': 'ops' })).toEqual([4]);
        expect(await search({ 'event.category': 'authentication', 'source.ip': '203.0.113.16' })).toEqual([
          1,
        ]);
        expect(await search({ 'user.name.first': 'user1' })).toEqual([]);
        expect(await search({ 'no.such': 'x' })).toEqual([]);
        expect(await search({ http: '200' })).toEqual([]);
      });

      it('stops at the limit and says there is more', async () => {
        const all = await log.search({ from: hour(0), to: hour(10), limit: 3 });
        expect(all.events).toHaveLength(3);
        expect(all.truncated).toBe(true);
        const exact = await log.search({ from: hour(0), to: hour(10), limit: 10 });
        expect(exact).toMatchObject({ truncated: false });
        expect(exact.events).toHaveLength(10);
        const filtered = await log.search({ from: hour(0), to: hour(10), where: { tags: 'late' }, limit: 5 });
        expect(filtered).toMatchObject({ truncated: false });
        expect(filtered.events).toHaveLength(5);
        expect(
          await log.search({ from: hour(0), to: hour(10), where: { tags: 'late' }, limit: 4 }),
        ).toMatchObject({ truncated: true });
      });

      it('pages through many non-matching events to fill the limit', async () => {
        const base = T0 + 20 * DAY;
        await log.append(
          range(0, 2999).map((i) => ({
            epochMs: base + i,
            event: { '@timestamp': new Date(base + i).toISOString(), n: i % 10 === 0 ? 'hit' : 'miss' },
          })),
          options(),
        );
        const { events, truncated } = await log.search({
          from: new Date(base),
          to: new Date(base + DAY),
          where: { n: 'hit' },
          limit: 250,
        });
        expect(events.map((e) => e.epochMs - base)).toEqual(range(0, 249).map((i) => i * 10));
        expect(truncated).toBe(true);
        const rest = await log.search({
          from: new Date(base),
          to: new Date(base + DAY),
          where: { n: 'hit' },
          limit: 300,
        });
        expect(rest).toMatchObject({ truncated: false });
        expect(rest.events).toHaveLength(300);
      });

      it('refuses ranges over 31 days, reversed or invalid ranges and bad limits', async () => {
        const bad = [
          { from: hour(0), to: new Date(T0 + 31 * DAY + 1), limit: 10, path: 'to' },
          { from: hour(5), to: hour(4), limit: 10, path: 'to' },
          { from: new Date(Number.NaN), to: hour(4), limit: 10, path: 'from' },
          { from: hour(0), to: hour(4), limit: 0, path: 'limit' },
          { from: hour(0), to: hour(4), limit: 10_001, path: 'limit' },
          { from: hour(0), to: hour(4), limit: 1.5, path: 'limit' },
          { from: hour(0), to: hour(4), limit: 10, where: { 'a..b': 'x' }, path: 'where.a..b' },
        ];
        for (const { path, ...query } of bad) {
          const error = await refusal(log.search(query));
          expect(error.code).toBe('FB_ERR_EVENT_SEARCH_INVALID');
          expect(error.kind).toBe('invalid');
          expect(error.details[0]?.path).toBe(path);
        }
        expect((await refusal(log.search(bad[0]!))).message).toContain('32 days');
        // Exactly 31 days and 10,000 are allowed.
        expect(
          (await log.search({ from: hour(0), to: new Date(T0 + 31 * DAY), limit: 10_000 })).events,
        ).toHaveLength(10);
      });
    });

    describe('compression', () => {
      const rawRow = (seq: number) =>
        ts.store.db
          .selectFrom('event_log')
          .select(['event', 'event_deflated'])
          .where('seq', '=', seq)
          .executeTakeFirstOrThrow();

      it('stores a large compressible event deflated and reads it back the same', async () => {
        const big = login(0, {
          error: {
            stack_trace: range(0, 40)
              .map((k) => `    at handler${k} (/app/node_modules/lib/dist/index.js:${100 + k}:7)`)
              .join('\n'),
          },
        });
        expect(JSON.stringify(big.event).length).toBeGreaterThan(2000);
        await log.append([big, login(1)], options());
        const stored = await rawRow(1);
        expect(stored.event).toBeNull();
        expect(stored.event_deflated!.length).toBeLessThan(JSON.stringify(big.event).length * 0.7);
        expect((await rawRow(2)).event).not.toBeNull();
        const read = await log.read(0, 2);
        expect(read[0]!.event).toEqual(big.event);
        expect(read[1]!.event).toEqual(login(1).event);
        expect(
          (await log.search({ from: new Date(T0), to: new Date(T0 + 1), limit: 1 })).events[0]!.event,
        ).toEqual(big.event);
      });

      it('keeps a large event that does not compress well as text', async () => {
        const noisy = login(0, { blob: randomBytes(1500).toString('base64') });
        await log.append([noisy], options());
        const stored = await rawRow(1);
        expect(stored.event_deflated).toBeNull();
        expect(JSON.parse(stored.event!)).toEqual(noisy.event);
      });
    });

    it('keeps events, head, checkpoints and idempotency records across a restart', async () => {
      const idem = { keyId: 'k1', key: 'before-restart' };
      const first = await appendN(0, 3, { idempotency: idem });
      await appendN(3, 2);
      await log.prune({ maxEvents: 4, now: clock.now() });
      await log.saveCheckpoint('detect', 3, { engine: 'v1' });
      const before = await log.read(0, 100);

      for (let i = 0; i < 2; i += 1) {
        const store = await ts.reopen();
        log = new EventLog({ store, clock });
        expect(await log.read(0, 100)).toEqual(before);
        expect(await log.head()).toBe(5);
        expect(await log.getCheckpoint('detect')).toMatchObject({ seq: 3, state: { engine: 'v1' } });
        expect(await appendN(0, 3, { idempotency: idem })).toEqual({ ...first, replayed: true });
      }
      expect(await appendN(9, 1)).toMatchObject({ first: 6, last: 6 });
    });
  });
}
