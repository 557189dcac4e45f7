/** DecisionService on both dialects: matching, expiry, undo, the stream's cursor, switches, audit. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from '../../../test/helpers/stores.js';
import { AuditLog } from '../../audit/index.js';
import { FirebreakError, VirtualClock } from '../../kernel/index.js';
import { type AddDecisionInput, type Decision, DecisionService } from './decision-service.js';

const NOW = '2026-03-02T12:00:00.000Z';
const H = 3_600_000;
const ACTOR = 'key:0a1b2c3d4e5f (dana)';

const ban = (
  value: string,
  durationMs = H,
  scope: 'ip' | 'cidr' = value.includes('/') ? 'cidr' : 'ip',
): AddDecisionInput => ({
  type: 'ban',
  scope,
  value,
  origin: 'person:dana',
  reason: 'test',
  durationMs,
});

function fieldOf(error: unknown): string | undefined {
  expect(error).toBeInstanceOf(FirebreakError);
  const e = error as FirebreakError;
  expect(e.code).toBe('FB_ERR_VALIDATION');
  return e.details[0]?.path;
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

const ids = (ds: readonly Decision[]) => ds.map((d) => d.id).sort();

describe.each(DIALECTS)('DecisionService ($name)', ({ name, skip }) => {
  let ts: TestStore;
  let clock: VirtualClock;
  let svc: DecisionService;

  beforeEach(async () => {
    if (skip) return;
    ts = await freshStore(name);
    clock = new VirtualClock(NOW);
    svc = new DecisionService({ store: ts.store, clock, audit: new AuditLog(ts.store.dialect) });
  });
  afterEach(async () => {
    await ts?.cleanup();
  });

  it.skipIf(skip)(
    'finds an exact IP, IPv6 in any spelling, and a v4-mapped address under an IPv4 ban',
    async () => {
      const v4 = await svc.add(ban('203.0.113.7'), ACTOR);
      const v6 = await svc.add(ban('2001:DB8:0:0::1'), ACTOR);
      expect(v6.value).toBe('2001:db8::1');
      expect(ids(await svc.lookup('203.0.113.7'))).toEqual([v4.id]);
      expect(ids(await svc.lookup('::ffff:203.0.113.7'))).toEqual([v4.id]);
      expect(ids(await svc.lookup('2001:db8::0:1'))).toEqual([v6.id]);
      expect(await svc.lookup('203.0.113.8')).toEqual([]);
    },
  );

  it.skipIf(skip)('matches CIDRs at the boundaries, a /0, and the cache follows changes', async () => {
    const net = await svc.add(ban('198.51.100.77/24'), ACTOR);
    expect(net.value).toBe('198.51.100.0/24');
    expect(ids(await svc.lookup('198.51.100.0'))).toEqual([net.id]);
    expect(ids(await svc.lookup('198.51.100.255'))).toEqual([net.id]);
    expect(await svc.lookup('198.51.101.0')).toEqual([]);
    expect(await svc.lookup('198.51.99.255')).toEqual([]);
    const all = await svc.add(ban('0.0.0.0/0'), ACTOR);
    expect(ids(await svc.lookup('198.51.101.0'))).toEqual([all.id]);
    expect(ids(await svc.lookup('198.51.100.1'))).toEqual([net.id, all.id].sort());
    expect(await svc.lookup('2001:db8::1')).toEqual([]);
    await svc.delete(all.id, ACTOR);
    expect(await svc.lookup('198.51.101.0')).toEqual([]);
  });

  it.skipIf(skip)('is in force until 1 ms before expires_at, not at it', async () => {
    const d = await svc.add(ban('203.0.113.7', H), ACTOR);
    const n = await svc.add(ban('203.0.113.0/24', H), ACTOR);
    expect(d.expires_at).toBe('2026-03-02T13:00:00.000Z');
    clock.advance(H - 1);
    expect(ids(await svc.lookup('203.0.113.7'))).toEqual([d.id, n.id].sort());
    clock.advance(1);
    expect(await svc.lookup('203.0.113.7')).toEqual([]);
    expect((await svc.list()).items).toEqual([]);
    expect((await svc.list({ active: false })).items).toHaveLength(2);
  });

  it.skipIf(skip)('delete is the undo, idempotent, and every change is audited', async () => {
    const d = await svc.add({ ...ban('203.0.113.7'), origin: 'rule:card-testing' }, ACTOR);
    const ended = await svc.delete(d.id, 'key:ffffffffffff (sam)');
    expect(ended).toMatchObject({ deleted_at: NOW, deleted_by: 'key:ffffffffffff (sam)' });
    expect(await svc.lookup('203.0.113.7')).toEqual([]);
    expect(await svc.delete(d.id, ACTOR)).toEqual(ended);
    const missing = await failure(svc.delete('dec_0000000000000000', ACTOR));
    expect((missing as FirebreakError).code).toBe('FB_ERR_DECISION_NOT_FOUND');
    await svc.setSwitch('checkout_enabled', false, ACTOR, 'card testing');
    const audit = await ts.store.db
      .selectFrom('audit_log')
      .select(['action', 'target', 'actor'])
      .orderBy('seq')
      .execute();
    expect(audit).toEqual([
      { action: 'decision.add', target: d.id, actor: ACTOR },
      { action: 'decision.delete', target: d.id, actor: 'key:ffffffffffff (sam)' },
      { action: 'switch.set', target: 'checkout_enabled', actor: ACTOR },
    ]);
  });

  it.skipIf(skip)('refuses bad input naming the field', async () => {
    const cases: [AddDecisionInput, string][] = [
      [ban('203.0.113.256'), 'body.value'],
      [ban('10.0.0.1/33', H, 'cidr'), 'body.value'],
      [ban('10.0.0.1', H, 'cidr'), 'body.value'],
      [ban('10.0.0.0/8', H, 'ip'), 'body.value'],
      [ban('203.0.113.7', 0), 'body.duration'],
      [ban('203.0.113.7', 365 * 24 * H + 1), 'body.duration'],
      [{ ...ban('203.0.113.7'), type: 'tarpit' }, 'body.type'],
      [{ ...ban('203.0.113.7'), scope: 'asn' }, 'body.scope'],
      [{ ...ban('203.0.113.7'), origin: 'robot:x' }, 'body.origin'],
      [{ ...ban('203.0.113.7'), incidentId: 'INC-2026-999' }, 'body.incident_id'],
    ];
    for (const [input, field] of cases)
      expect(fieldOf(await failure(svc.add(input, ACTOR))), field).toBe(field);
    expect(fieldOf(await failure(svc.lookup('not-an-ip')))).toBe('query.ip');
    expect(fieldOf(await failure(svc.setSwitch('checkout', false, ACTOR, 'x')))).toBe('params.name');
    expect(await ts.store.db.selectFrom('decisions').selectAll().execute()).toEqual([]);
    // 365 d exactly is allowed.
    await svc.add(ban('203.0.113.7', 365 * 24 * H), ACTOR);
  });

  it.skipIf(skip)('stream: startup, then additions, deletions and expiries exactly once', async () => {
    const a = await svc.add(ban('203.0.113.1', H), ACTOR);
    const b = await svc.add(ban('203.0.113.2', 3 * H), ACTOR);
    const first = await svc.stream('startup');
    expect(ids(first.new)).toEqual([a.id, b.id].sort());
    expect(first.deleted).toEqual([]);

    const c = await svc.add(ban('10.0.0.0/8', 2 * H), ACTOR);
    await svc.delete(b.id, ACTOR);
    const gone = await svc.add(ban('203.0.113.3', H), ACTOR);
    await svc.delete(gone.id, ACTOR);
    const second = await svc.stream(first.cursor);
    expect(ids(second.new)).toEqual([c.id]);
    expect(ids(second.deleted)).toEqual([b.id]);

    const third = await svc.stream(second.cursor);
    expect(third).toMatchObject({ new: [], deleted: [] });

    clock.advance(H); // a expires now: it ends at its expires_at
    const fourth = await svc.stream(third.cursor);
    expect(fourth.new).toEqual([]);
    expect(ids(fourth.deleted)).toEqual([a.id]);
    const fifth = await svc.stream(fourth.cursor);
    expect(fifth).toMatchObject({ new: [], deleted: [] });

    clock.advance(H);
    expect(ids((await svc.stream(fifth.cursor)).deleted)).toEqual([c.id]);
    // A reader that slept through everything gets the net difference.
    expect(await svc.stream(first.cursor)).toMatchObject({ new: [], deleted: expect.any(Array) });
    expect(ids((await svc.stream(first.cursor)).deleted)).toEqual([a.id, b.id].sort());
  });

  it.skipIf(skip)('stream refuses garbage and cursors from the future', async () => {
    const first = await svc.stream('startup');
    expect(fieldOf(await failure(svc.stream('garbage')))).toBe('query.cursor');
    expect(fieldOf(await failure(svc.stream(Buffer.from('v1.99.0').toString('base64url'))))).toBe(
      'query.cursor',
    );
    const future = Buffer.from(`v1.0.${Date.parse(NOW) + 1}`).toString('base64url');
    expect(fieldOf(await failure(svc.stream(future)))).toBe('query.cursor');
    expect((await svc.stream(first.cursor)).new).toEqual([]);
  });

  it.skipIf(skip)('switches are on by default and remember who set them', async () => {
    expect((await svc.switches()).map((s) => [s.name, s.enabled])).toEqual([
      ['checkout_enabled', true],
      ['signups_enabled', true],
      ['admin_login_enabled', true],
      ['api_writes_enabled', true],
    ]);
    await svc.setSwitch('checkout_enabled', false, ACTOR, 'card testing');
    await svc.setSwitch('checkout_enabled', false, ACTOR, 'still');
    const off = (await svc.switches()).find((s) => s.name === 'checkout_enabled');
    expect(off).toMatchObject({ enabled: false, updated_by: ACTOR, reason: 'still', updated_at: NOW });
    await svc.setSwitch('checkout_enabled', true, ACTOR, 'over');
    expect((await svc.switches()).every((s) => s.enabled)).toBe(true);
  });

  it.skipIf(skip)('lists newest first in pages', async () => {
    const made: Decision[] = [];
    for (let i = 1; i <= 5; i++) made.push(await svc.add(ban(`192.0.2.${i}`), ACTOR));
    const p1 = await svc.list({ limit: 2 });
    expect(p1.items.map((d) => d.id)).toEqual([made[4]!.id, made[3]!.id]);
    const p2 = await svc.list({ limit: 2, cursor: p1.next_cursor! });
    const p3 = await svc.list({ limit: 2, cursor: p2.next_cursor! });
    expect([...p2.items, ...p3.items].map((d) => d.id)).toEqual([made[2]!.id, made[1]!.id, made[0]!.id]);
    expect(p3.next_cursor).toBeNull();
  });
});
