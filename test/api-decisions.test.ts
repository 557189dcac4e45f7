/**
 * The decisions connector over HTTP on a real server, both dialects: /v1/decisions (lookup, list,
 * add, delete, stream) and /v1/switches, and the decisions API under concurrent reads while bans
 * are added, deleted and expire on the virtual clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../src/api/index.js';
import type { Decision, DecisionPage, DecisionStream } from '../src/connectors/index.js';
import { VirtualClock } from '../src/kernel/index.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

const NOW = '2026-03-02T12:00:00.000Z';
const MIN = 60_000;

interface Lookup {
  ip: string;
  decisions: Decision[];
}

describe.each(DIALECTS)('decisions API ($name)', ({ name: dialect, skip }) => {
  let s: TestServer;
  let clock: VirtualClock;
  const keys = { read: '', write: '' };

  const get = <T>(path: string, key = keys.read) => call<T>(s.url, 'GET', path, { key });
  const add = (json: Record<string, unknown>, key = keys.write) =>
    call<Decision & ErrorBody>(s.url, 'POST', '/v1/decisions', { key, json });
  const failedField = (answer: { status: number; body: unknown; text: string }) => {
    expect(answer.status, answer.text).toBe(400);
    return (answer.body as ErrorBody).error.details.map((d) => d.path);
  };

  beforeAll(async () => {
    if (skip) return;
    clock = new VirtualClock(NOW);
    s = await startTestServer(dialect, { clock, startDetection: false });
    for (const scope of ['read', 'write'] as const) {
      const created = await call<{ key: string }>(s.url, 'POST', '/v1/keys', {
        key: s.adminKey,
        json: { name: `bouncer-${scope}`, scopes: [scope] },
      });
      expect(created.status).toBe(201);
      keys[scope] = created.body.key;
    }
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it.skipIf(skip)('adds, looks up, lists and deletes; write needs scope write', async () => {
    const none = await get<Lookup>('/v1/decisions?ip=192.0.2.1');
    expect(none.status).toBe(200);
    expect(none.body).toEqual({ ip: '192.0.2.1', decisions: [] });

    const refused = await add({ type: 'ban', scope: 'ip', value: '192.0.2.1', duration: '4h' }, keys.read);
    expect(refused.status).toBe(403);

    const made = await add({
      type: 'ban',
      scope: 'cidr',
      value: '192.0.2.9/24',
      duration: '4h',
      reason: 'card testing',
    });
    expect(made.status, made.text).toBe(201);
    expect(made.body).toMatchObject({
      type: 'ban',
      scope: 'cidr',
      value: '192.0.2.0/24',
      origin: 'person:bouncer-write',
      reason: 'card testing',
      created_at: NOW,
      expires_at: '2026-03-02T16:00:00.000Z',
      deleted_at: null,
    });
    const hit = await get<Lookup>('/v1/decisions?ip=::ffff:192.0.2.255');
    expect(hit.body.decisions.map((d) => d.id)).toEqual([made.body.id]);
    const listed = await get<DecisionPage>('/v1/decisions');
    expect(listed.body.items.map((d) => d.id)).toContain(made.body.id);

    const readDelete = await call(s.url, 'DELETE', `/v1/decisions/${made.body.id}`, { key: keys.read });
    expect(readDelete.status).toBe(403);
    const deleted = await call<Decision>(s.url, 'DELETE', `/v1/decisions/${made.body.id}`, {
      key: keys.write,
    });
    expect(deleted.status).toBe(200);
    expect(deleted.body.deleted_by).toMatch(/bouncer-write/);
    expect((await get<Lookup>('/v1/decisions?ip=192.0.2.1')).body.decisions).toEqual([]);
    const missing = await call<ErrorBody>(s.url, 'DELETE', '/v1/decisions/dec_0000000000000000', {
      key: keys.write,
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('FB_ERR_DECISION_NOT_FOUND');

    const audit = await get<{ action: string; target: string }[]>('/v1/audit?limit=50', s.adminKey);
    expect(audit.status).toBe(200);
    const actions = audit.body.filter((e) => e.target === made.body.id).map((e) => e.action);
    expect(actions.sort()).toEqual(['decision.add', 'decision.delete']);
  });

  it.skipIf(skip)('refuses bad input with 400 naming the field', async () => {
    expect(failedField(await get('/v1/decisions?ip=10.0.0.256'))).toEqual(['query.ip']);
    const base = { type: 'ban', scope: 'ip', value: '192.0.2.1', duration: '1h' };
    expect(failedField(await add({ ...base, value: 'nope' }))).toEqual(['body.value']);
    expect(failedField(await add({ ...base, scope: 'cidr', value: '10.0.0.1/33' }))).toEqual(['body.value']);
    expect(failedField(await add({ ...base, duration: '0s' }))).toEqual(['body.duration']);
    expect(failedField(await add({ ...base, duration: '366d' }))).toEqual(['body.duration']);
    expect(failedField(await add({ ...base, duration: 'soon' }))).toEqual(['body.duration']);
    expect(failedField(await add({ ...base, type: 'tarpit' }))[0]).toBe('body.type');
    expect(failedField(await get('/v1/decisions/stream?cursor=garbage'))).toEqual(['query.cursor']);
    expect(failedField(await get('/v1/decisions/stream'))).toEqual(['query.cursor']);
    const future = Buffer.from(`v1.0.${clock.now().getTime() + 1}`).toString('base64url');
    expect(failedField(await get(`/v1/decisions/stream?cursor=${future}`))).toEqual(['query.cursor']);
  });

  it.skipIf(skip)('switches: on by default, turned off and on by a write key', async () => {
    const before = await get<{ switches: Record<string, boolean> }>('/v1/switches');
    expect(before.status).toBe(200);
    expect(before.body.switches).toEqual({
      checkout_enabled: true,
      signups_enabled: true,
      admin_login_enabled: true,
      api_writes_enabled: true,
    });
    const put = (name: string, json: unknown, key = keys.write) =>
      call<{ enabled: boolean }>(s.url, 'PUT', `/v1/switches/${name}`, { key, json });
    expect((await put('checkout_enabled', { enabled: false, reason: 'x' }, keys.read)).status).toBe(403);
    expect(failedField(await put('checkout', { enabled: false, reason: 'x' }))).toEqual(['params.name']);
    const off = await put('checkout_enabled', { enabled: false, reason: 'card testing wave' });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect(
      (await get<{ switches: Record<string, boolean> }>('/v1/switches')).body.switches.checkout_enabled,
    ).toBe(false);
    await put('checkout_enabled', { enabled: true, reason: 'over' });
    expect(
      (await get<{ switches: Record<string, boolean> }>('/v1/switches')).body.switches.checkout_enabled,
    ).toBe(true);
  });

  it.skipIf(skip)(
    'answers concurrent lookups consistently while bans are added, deleted and expire',
    async () => {
      const TARGET = '203.0.113.7';
      /** An operation counter: what the writer had done when a reader started and finished. */
      let tick = 0;
      interface Known {
        id: string;
        covers: boolean;
        addedTick: number;
        deleteTick?: number;
        expiresMs: number;
      }
      const known = new Map<string, Known>();
      let writing = true;
      const problems: string[] = [];
      let reads = 0;

      const writer = async () => {
        for (let i = 0; i < 40; i++) {
          const kind = i % 4;
          const value =
            kind === 0
              ? TARGET
              : kind === 1
                ? '203.0.113.0/24'
                : kind === 2
                  ? '203.0.112.0/24'
                  : '::ffff:203.0.113.7';
          const answer = await add({
            type: 'ban',
            scope: value.includes('/') ? 'cidr' : 'ip',
            value,
            duration: `${1 + (i % 5)}m`,
          });
          if (answer.status !== 201) problems.push(`add ${answer.status} ${answer.text}`);
          known.set(answer.body.id, {
            id: answer.body.id,
            covers: kind !== 2,
            addedTick: ++tick,
            expiresMs: Date.parse(answer.body.expires_at),
          });
          if (i % 3 === 2) {
            const victim = [...known.values()].find((k) => k.deleteTick === undefined && k.covers);
            if (victim) {
              victim.deleteTick = ++tick;
              const gone = await call(s.url, 'DELETE', `/v1/decisions/${victim.id}`, { key: keys.write });
              if (gone.status !== 200) problems.push(`delete ${gone.status}`);
            }
          }
          clock.advance(30_000);
          tick++;
          await new Promise((r) => setTimeout(r, 2));
        }
        writing = false;
      };

      const reader = async () => {
        while (writing) {
          const t0 = tick;
          const before = clock.now().getTime();
          const answer = await get<Lookup>(`/v1/decisions?ip=${TARGET}`);
          const after = clock.now().getTime();
          const t1 = tick;
          reads++;
          if (answer.status !== 200) {
            problems.push(`lookup ${answer.status} ${answer.text}`);
            continue;
          }
          const seen = new Set(answer.body.decisions.map((d) => d.id));
          for (const d of answer.body.decisions) {
            if (!d.id || !d.value || !d.created_at || !d.expires_at || d.type !== 'ban') {
              problems.push(`partial row ${JSON.stringify(d)}`);
            }
            if (Date.parse(d.created_at) > after) problems.push(`${d.id} seen before it was created`);
            if (Date.parse(d.expires_at) <= before) problems.push(`${d.id} seen after it expired`);
            if (d.deleted_at !== null) problems.push(`${d.id} seen deleted`);
            if (d.value === '203.0.112.0/24') problems.push(`${d.id} does not cover ${TARGET}`);
            const k = known.get(d.id);
            if (k?.deleteTick !== undefined && k.deleteTick < t0)
              problems.push(`${d.id} seen after its deletion`);
          }
          // Every ban confirmed before the read, not deleted or expired by its end, is there.
          for (const k of known.values()) {
            if (!k.covers || k.addedTick > t0) continue;
            if (k.deleteTick !== undefined && k.deleteTick <= t1) continue;
            if (k.expiresMs <= after) continue;
            if (!seen.has(k.id)) problems.push(`${k.id} missing from a lookup`);
          }
        }
      };

      /** A bouncer keeping its own copy through the stream. */
      const copy = new Map<string, Decision>();
      let cursor = '';
      const follow = async () => {
        const apply = (answer: { status: number; body: DecisionStream; text: string }) => {
          if (answer.status !== 200) {
            problems.push(`stream ${answer.status} ${answer.text}`);
            return;
          }
          for (const d of answer.body.deleted) {
            if (!copy.delete(d.id)) problems.push(`stream deleted ${d.id}, which the copy did not hold`);
          }
          for (const d of answer.body.new) {
            if (copy.has(d.id)) problems.push(`stream sent ${d.id} twice`);
            copy.set(d.id, d);
          }
          cursor = answer.body.cursor;
        };
        // Decisions made by earlier tests are in the copy from the start.
        apply(await get<DecisionStream>('/v1/decisions/stream?startup=true'));
        while (writing) {
          apply(await get<DecisionStream>(`/v1/decisions/stream?cursor=${cursor}`));
          await new Promise((r) => setTimeout(r, 5));
        }
        apply(await get<DecisionStream>(`/v1/decisions/stream?cursor=${cursor}`));
      };

      await Promise.all([writer(), follow(), ...Array.from({ length: 8 }, reader)]);
      expect(problems).toEqual([]);
      expect(reads).toBeGreaterThan(40);

      const active = await get<DecisionPage>('/v1/decisions?limit=1000');
      expect([...copy.keys()].sort()).toEqual(active.body.items.map((d) => d.id).sort());
      expect(active.body.items.length).toBeGreaterThan(0);

      // Let everything expire: the stream reports each one once, and the copy empties.
      clock.advance(10 * MIN);
      const last = await get<DecisionStream>(`/v1/decisions/stream?cursor=${cursor}`);
      for (const d of last.body.deleted) copy.delete(d.id);
      expect(last.body.new).toEqual([]);
      expect(copy.size).toBe(0);
      expect((await get<Lookup>(`/v1/decisions?ip=${TARGET}`)).body.decisions).toEqual([]);
    },
  );
});
