/**
 * HTTP ingest (`POST /v1/events`) and the forensic search (`GET /v1/events`) end to end: a real
 * server spoken to with fetch. What was accepted is read back from the database itself (a second
 * store on the server's database), not only through the API. The main flow runs on both dialects;
 * the bad-input matrix runs on SQLite and checks after every refused request that the log did not
 * change and the server still answers.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../src/api/http-errors.js';
import type { ApiKeyInfo } from '../src/api/index.js';
import {
  EventLog,
  INGEST_MAX_BODY_BYTES,
  INGEST_MAX_DECODED_BYTES,
  INGEST_MAX_EVENTS,
  type IngestAnswer,
  type LoggedEvent,
} from '../src/ingest/index.js';
import { VirtualClock } from '../src/kernel/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

type CreatedKey = ApiKeyInfo & { key: string };
interface SearchAnswer {
  events: { seq: number; received_at: string; source: string; event: Record<string, unknown> }[];
  truncated: boolean;
}

const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const NOW = '2026-03-02T12:00:00.000Z';

function login(n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    '@timestamp': new Date(T0 + n * 1000).toISOString(),
    event: { action: 'login', outcome: n % 2 ? 'failure' : 'success' },
    user: { name: `user${n % 3}` },
    source: { ip: `203.0.113.${n % 256}` },
    ...extra,
  };
}
const ndjson = (items: readonly unknown[]) => `${items.map((i) => JSON.stringify(i)).join('\n')}\n`;

interface SendOptions {
  readonly key?: string | undefined;
  readonly contentType?: string | undefined;
  readonly encoding?: string;
  readonly idempotencyKey?: string;
  readonly headers?: Record<string, string>;
}

/** POST /v1/events with a body given as text or bytes (fetch sets Content-Length). */
async function send(url: string, body: string | Uint8Array | undefined, options: SendOptions = {}) {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  if (options.encoding !== undefined) headers['content-encoding'] = options.encoding;
  if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
  const response = await fetch(new URL('/v1/events', url), {
    method: 'POST',
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

function expectError(response: { status: number; body: unknown }, status: number, code: string): ErrorBody {
  const body = response.body as ErrorBody;
  expect({ status: response.status, code: body?.error?.code }).toEqual({ status, code });
  expect(body.error.message.length).toBeGreaterThan(0);
  return body;
}

/** The server's event log, read through a store of its own (as another process would). */
async function openLog(s: TestServer): Promise<{ log: EventLog; store: Store }> {
  const store = await openStore(
    s.dialect === 'postgres'
      ? { dataDir: '', databaseUrl: s.databaseUrl! }
      : { dataDir: s.dataDir, readonly: true },
  );
  return { store, log: new EventLog({ store, clock: new VirtualClock(NOW) }) };
}

async function newKey(s: TestServer, name: string, scopes: string[]): Promise<string> {
  const created = await call<CreatedKey>(s.url, 'POST', '/v1/keys', {
    key: s.adminKey,
    json: { name, scopes },
  });
  expect(created.status).toBe(201);
  return created.body.key;
}

describe.each(DIALECTS)('event ingest and search ($name)', ({ name: dialect, skip }) => {
  let s: TestServer;
  let clock: VirtualClock;
  let log: EventLog;
  let store: Store;
  const keys = { ingest: '', read: '', ingest2: '' };

  beforeAll(async () => {
    if (skip) return;
    clock = new VirtualClock(NOW);
    s = await startTestServer(dialect, { clock });
    ({ log, store } = await openLog(s));
    keys.ingest = await newKey(s, 'storefront', ['ingest']);
    keys.ingest2 = await newKey(s, 'checkout', ['ingest']);
    keys.read = await newKey(s, 'responder', ['read']);
  });
  afterAll(async () => {
    await store?.close();
    await s?.cleanup();
  });

  const ingest = (body: string | Uint8Array, options: SendOptions = {}) =>
    send(s.url, body, { key: keys.ingest, contentType: 'application/json', ...options });
  const all = async (): Promise<LoggedEvent[]> => log.read(0, 100_000);

  it.skipIf(skip)('a JSON object is one event, durable and stamped by the server', async () => {
    const response = await ingest(JSON.stringify(login(0)));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ accepted: 1, rejected: [], first_seq: 1, last_seq: 1 });
    expect(response.headers.get('idempotent-replayed')).toBeNull();
    const events = await all();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ seq: 1, receivedAt: NOW, source: 'http', epochMs: T0 });
    expect(events[0]!.event).toEqual(login(0));
  });

  it.skipIf(skip)('a JSON array is many events; dotted keys and epoch times are normalized', async () => {
    const dotted = { '@timestamp': T0 + 5000, 'event.action': 'logout', 'user.name': 'dana' };
    const response = await ingest(JSON.stringify([login(1), login(2), dotted]));
    expect(response.body).toEqual({ accepted: 3, rejected: [], first_seq: 2, last_seq: 4 });
    const stored = (await all()).slice(1).map((e) => e.event);
    expect(stored).toEqual([
      login(1),
      login(2),
      {
        '@timestamp': new Date(T0 + 5000).toISOString(),
        event: { action: 'logout' },
        user: { name: 'dana' },
      },
    ]);
  });

  it.skipIf(skip)('NDJSON: one object per line, blank lines and CRLF skipped, both media types', async () => {
    const text = `${JSON.stringify(login(3))}\r\n\r\n   \n${JSON.stringify(login(4))}`;
    const first = await ingest(text, { contentType: 'application/x-ndjson' });
    expect(first.body).toEqual({ accepted: 2, rejected: [], first_seq: 5, last_seq: 6 });
    const second = await ingest(ndjson([login(5)]), { contentType: 'application/ndjson; charset=utf-8' });
    expect(second.body).toEqual({ accepted: 1, rejected: [], first_seq: 7, last_seq: 7 });
    expect((await all()).slice(4).map((e) => e.event)).toEqual([login(3), login(4), login(5)]);
  });

  it.skipIf(skip)('gzip: NDJSON and JSON bodies are decompressed', async () => {
    const a = await ingest(gzipSync(ndjson([login(6), login(7)])), {
      contentType: 'application/x-ndjson',
      encoding: 'gzip',
    });
    expect(a.body).toEqual({ accepted: 2, rejected: [], first_seq: 8, last_seq: 9 });
    const b = await ingest(gzipSync(JSON.stringify([login(8)])), { encoding: 'GZIP' });
    expect(b.body).toEqual({ accepted: 1, rejected: [], first_seq: 10, last_seq: 10 });
    expect((await all()).slice(7).map((e) => e.event)).toEqual([login(6), login(7), login(8)]);
  });

  it.skipIf(skip)('mixed good and bad: the good are stored, the bad reported by index', async () => {
    const before = await log.count();
    const lines = [
      JSON.stringify(login(9)),
      '{"@timestamp": "2026-03-02T10:00:00Z", "event": ',
      JSON.stringify({ '@timestamp': 'yesterday' }),
      '',
      JSON.stringify([login(10)]),
      JSON.stringify({ event: { action: 'login' } }),
      JSON.stringify(login(11)),
    ].join('\n');
    const response = await ingest(lines, { contentType: 'application/x-ndjson' });
    expect(response.status).toBe(200);
    const answer = response.body as IngestAnswer;
    expect(answer).toMatchObject({ accepted: 2, first_seq: 11, last_seq: 12 });
    expect(answer.rejected.map((r) => [r.index, r.line])).toEqual([
      [1, 2],
      [2, 3],
      [3, 5],
      [4, 6],
    ]);
    expect(answer.rejected[0]!.reason).toMatch(/^not JSON: /);
    expect(answer.rejected[1]!.reason).toContain('yesterday');
    expect(answer.rejected[2]!.reason).toBe('expected a JSON object, got an array');
    expect(answer.rejected[3]!.reason).toContain('@timestamp');
    expect(await log.count()).toBe(before + 2);
    expect((await all()).slice(-2).map((e) => e.event)).toEqual([login(9), login(11)]);

    const array = await ingest(JSON.stringify([5, login(12), null, { '@timestamp': 'soon' }]));
    expect(array.body).toMatchObject({ accepted: 1, first_seq: 13, last_seq: 13 });
    expect((array.body as IngestAnswer).rejected).toEqual([
      { index: 0, reason: 'expected a JSON object, got number' },
      { index: 2, reason: 'expected a JSON object, got null' },
      { index: 3, reason: expect.stringContaining('soon') },
    ]);
  });

  it.skipIf(skip)('all rejected is still a 200 bulk answer, with no seqs and nothing stored', async () => {
    const before = await log.head();
    const response = await ingest(JSON.stringify([{ no: 'time' }, 'text']));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ accepted: 0, first_seq: null, last_seq: null });
    expect((response.body as IngestAnswer).rejected).toHaveLength(2);
    const empty = await ingest('[]');
    expect(empty.body).toEqual({ accepted: 0, rejected: [], first_seq: null, last_seq: null });
    expect(await log.head()).toBe(before);
  });

  it.skipIf(skip)('Idempotency-Key: a retry is stored once and answered as the first time', async () => {
    const body = ndjson([login(20), { bad: true }, login(21)]);
    const options = { contentType: 'application/x-ndjson', idempotencyKey: 'batch-2026-03-02-0001' };
    const first = await ingest(body, options);
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const count = await log.count();

    clock.advance(60_000);
    const retry = await ingest(body, options);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    // Even a retry whose body differs appends nothing: the key names the batch.
    const changed = await ingest(ndjson([login(22)]), options);
    expect(changed.body).toEqual(first.body);
    expect(await log.count()).toBe(count);

    // After a restart too.
    await s.restart();
    const afterRestart = await ingest(body, options);
    expect(afterRestart.body).toEqual(first.body);
    expect(afterRestart.headers.get('idempotent-replayed')).toBe('true');
    expect(await log.count()).toBe(count);

    // Keys are scoped to the API key: another sender's same key is another batch.
    const other = await send(s.url, body, { ...options, key: keys.ingest2 });
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect((other.body as IngestAnswer).accepted).toBe(2);
    expect(await log.count()).toBe(count + 2);
  });

  it.skipIf(skip)('scopes: ingest keys send but cannot read; read keys cannot send', async () => {
    const body = JSON.stringify(login(30));
    expectError(await send(s.url, body, { contentType: 'application/json' }), 401, 'FB_ERR_AUTH_MISSING');
    const read = expectError(
      await send(s.url, body, { key: keys.read, contentType: 'application/json' }),
      403,
      'FB_ERR_SCOPE',
    );
    expect(read.error.message).toContain('needs scope ingest');
    expect((await send(s.url, body, { key: s.adminKey, contentType: 'application/json' })).status).toBe(200);
    for (const path of [
      '/v1/incidents',
      '/v1/policy',
      '/v1/events?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z',
    ]) {
      const refused = await call(s.url, 'GET', path, { key: keys.ingest });
      expect(expectError(refused, 403, 'FB_ERR_SCOPE').error.message).toContain('needs scope read');
    }
    const create = await call(s.url, 'POST', '/v1/incidents', {
      key: keys.ingest,
      json: { title: 'x', severity: 'P3' },
    });
    expectError(create, 403, 'FB_ERR_SCOPE');
  });

  it.skipIf(skip)('search: by event time, field values and limit, in event-time order', async () => {
    const base = '/v1/events?from=2026-03-02T10:00:00Z&to=2026-03-02T10:00:10Z';
    const window = await call<SearchAnswer>(s.url, 'GET', base, { key: keys.read });
    expect(window.status).toBe(200);
    expect(window.body.truncated).toBe(false);
    // login(0) .. login(9) fall in [10:00:00, 10:00:10); the dotted logout at 10:00:05 too.
    const times = window.body.events.map((e) => e.event['@timestamp'] as string);
    expect(times).toEqual([...times].sort());
    expect(window.body.events.map((e) => (e.event.event as { action: string }).action).sort()).toEqual([
      ...Array(10).fill('login'),
      'logout',
    ]);
    expect(window.body.events[0]).toEqual({
      seq: 1,
      received_at: NOW,
      source: 'http',
      event: login(0),
    });

    const filtered = await call<SearchAnswer>(
      s.url,
      'GET',
      `${base}&q=${encodeURIComponent('event.outcome:failure user.name:user1')}`,
      { key: keys.read },
    );
    // n odd and n % 3 == 1: 1 and 7.
    expect(filtered.body.events.map((e) => e.event)).toEqual([login(1), login(7)]);

    const quoted = await call<SearchAnswer>(
      s.url,
      'GET',
      `${base}&q=${encodeURIComponent('user.name:"dana"')}`,
      { key: keys.read },
    );
    expect(quoted.body.events.map((e) => (e.event.event as { action: string }).action)).toEqual(['logout']);

    const limited = await call<SearchAnswer>(s.url, 'GET', `${base}&limit=3`, { key: keys.read });
    expect(limited.body.events.map((e) => e.event)).toEqual([login(0), login(1), login(2)]);
    expect(limited.body.truncated).toBe(true);

    const tooLong = await call(s.url, 'GET', '/v1/events?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z', {
      key: keys.read,
    });
    expect(expectError(tooLong, 400, 'FB_ERR_EVENT_SEARCH_INVALID').error.message).toContain('days');
  });
});

describe('OpenAPI', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite');
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it('documents both event routes, the media types and the Idempotency-Key header', async () => {
    const doc = (
      await call<{
        paths: Record<
          string,
          Record<
            string,
            {
              requestBody?: { content: Record<string, unknown> };
              parameters?: { name: string; in: string }[];
            }
          >
        >;
      }>(s.url, 'GET', '/openapi.json')
    ).body;
    const route = doc.paths['/v1/events']!;
    expect(Object.keys(route).sort()).toEqual(['get', 'post']);
    expect(Object.keys(route.post!.requestBody!.content).sort()).toEqual([
      'application/json',
      'application/ndjson',
      'application/x-ndjson',
    ]);
    expect(route.post!.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'idempotency-key', in: 'header' })]),
    );
    expect(route.get!.parameters!.map((p) => p.name).sort()).toEqual(['from', 'limit', 'q', 'to']);
  });
});

describe('bad ingest requests change nothing (sqlite)', () => {
  let s: TestServer;
  let log: EventLog;
  let store: Store;
  const keys = { ingest: '', read: '', write: '' };

  beforeAll(async () => {
    s = await startTestServer('sqlite', { clock: new VirtualClock(NOW) });
    ({ log, store } = await openLog(s));
    keys.ingest = await newKey(s, 'storefront', ['ingest']);
    keys.read = await newKey(s, 'responder', ['read']);
    keys.write = await newKey(s, 'on-call', ['write']);
    // Something in the log already, so "unchanged" means more than "empty".
    const seeded = await send(s.url, ndjson([login(0), login(1)]), {
      key: keys.ingest,
      contentType: 'application/x-ndjson',
    });
    expect(seeded.status).toBe(200);
  });
  afterAll(async () => {
    await store?.close();
    await s?.cleanup();
  });

  /** Runs a refused request and checks the log and the server afterwards. */
  async function refused(
    request: () => Promise<{ status: number; body: unknown }>,
    status: number,
    code: string,
  ): Promise<ErrorBody> {
    const head = await log.head();
    const count = await log.count();
    const error = expectError(await request(), status, code);
    expect(await log.head()).toBe(head);
    expect(await log.count()).toBe(count);
    expect((await call(s.url, 'GET', '/health')).status).toBe(200);
    return error;
  }

  const ingest = (body: string | Uint8Array | undefined, options: SendOptions = {}) =>
    send(s.url, body, { key: keys.ingest, contentType: 'application/json', ...options });

  it.each([
    ['JSON cut short', '{"@timestamp":', 'application/json'],
    ['not JSON at all', 'hello, events', 'application/json'],
    ['an empty body', '', 'application/json'],
    ['only whitespace', ' \n\t\n', 'application/json'],
    ['NDJSON with not one JSON line', 'hello\nworld\n', 'application/x-ndjson'],
    ['NDJSON with only blank lines', '\n\n\n', 'application/x-ndjson'],
    ['pretty-printed JSON sent as NDJSON', JSON.stringify(login(2), null, 2), 'application/x-ndjson'],
  ])('%s → 400 FB_ERR_MALFORMED_JSON', async (_name, body, contentType) => {
    await refused(() => ingest(body, { contentType }), 400, 'FB_ERR_MALFORMED_JSON');
  });

  it('no body at all → 400', async () => {
    await refused(() => ingest(undefined, { contentType: undefined }), 400, 'FB_ERR_MALFORMED_JSON');
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['form data', 'application/x-www-form-urlencoded'],
    ['XML', 'application/xml'],
  ])('content type %s → 415 naming the accepted types', async (_name, contentType) => {
    const error = await refused(
      () => ingest(JSON.stringify(login(2)), { contentType }),
      415,
      'FB_ERR_UNSUPPORTED_MEDIA_TYPE',
    );
    expect(error.error.message).toContain(`"${contentType}"`);
    expect(error.error.message).toContain('application/x-ndjson');
  });

  it('bytes without a content type → 415', async () => {
    await refused(
      () => ingest(new TextEncoder().encode(JSON.stringify(login(2))), { contentType: undefined }),
      415,
      'FB_ERR_UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it.each(['br', 'deflate', 'gzip, br'])('Content-Encoding %s → 415', async (encoding) => {
    const error = await refused(
      () => ingest(JSON.stringify(login(2)), { encoding }),
      415,
      'FB_ERR_UNSUPPORTED_ENCODING',
    );
    expect(error.error.message).toContain(encoding);
  });

  it('a body over 8 MiB → 413', async () => {
    const line = `${JSON.stringify(login(3, { padding: 'x'.repeat(1000) }))}\n`;
    const body = line.repeat(Math.ceil((INGEST_MAX_BODY_BYTES + 1) / line.length));
    expect(body.length).toBeGreaterThan(INGEST_MAX_BODY_BYTES);
    const error = await refused(
      () => ingest(body, { contentType: 'application/x-ndjson' }),
      413,
      'FB_ERR_BODY_TOO_LARGE',
    );
    expect(error.error.message).toContain(String(INGEST_MAX_BODY_BYTES));
  });

  it('a streamed body (no Content-Length) over 8 MiB → 413', async () => {
    const chunk = new TextEncoder().encode(
      `${JSON.stringify(login(3, { padding: 'x'.repeat(64 * 1024) }))}\n`,
    );
    const chunks = Math.ceil((INGEST_MAX_BODY_BYTES + 1) / chunk.length);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < chunks) controller.enqueue(chunk);
        else controller.close();
      },
    });
    await refused(
      async () => {
        const response = await fetch(new URL('/v1/events', s.url), {
          method: 'POST',
          headers: { authorization: `Bearer ${keys.ingest}`, 'content-type': 'application/x-ndjson' },
          body: stream,
          duplex: 'half',
        } as RequestInit);
        return { status: response.status, body: await response.json() };
      },
      413,
      'FB_ERR_BODY_TOO_LARGE',
    );
  });

  it(`more than ${INGEST_MAX_EVENTS} events → 413; exactly ${INGEST_MAX_EVENTS} are accepted`, async () => {
    const one = JSON.stringify({ '@timestamp': '2026-03-02T11:00:00Z', event: { action: 'ping' } });
    const lines = (n: number) => `${one}\n`.repeat(n);
    await refused(
      () => ingest(lines(INGEST_MAX_EVENTS + 1), { contentType: 'application/x-ndjson' }),
      413,
      'FB_ERR_TOO_MANY_EVENTS',
    );
    // Rejected items count too: the limit is on what is sent.
    await refused(
      () =>
        ingest(
          `[${Array(INGEST_MAX_EVENTS + 1)
            .fill('1')
            .join(',')}]`,
        ),
      413,
      'FB_ERR_TOO_MANY_EVENTS',
    );
    const before = await log.count();
    const ok = await ingest(lines(INGEST_MAX_EVENTS), { contentType: 'application/x-ndjson' });
    expect(ok.status).toBe(200);
    expect((ok.body as IngestAnswer).accepted).toBe(INGEST_MAX_EVENTS);
    expect(await log.count()).toBe(before + INGEST_MAX_EVENTS);
  });

  it('a gzip bomb (1 GiB of zeros in about 1 MiB) → 413 quickly, and the server carries on', async () => {
    // Gzip members may be concatenated (RFC 1952 §2.2); sixteen 64 MiB members make 1 GiB.
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const bomb = Buffer.concat(Array(16).fill(member));
    expect(bomb.length).toBeLessThan(INGEST_MAX_BODY_BYTES);
    const started = performance.now();
    const error = await refused(
      () => ingest(bomb, { contentType: 'application/x-ndjson', encoding: 'gzip' }),
      413,
      'FB_ERR_BODY_DECOMPRESSED_TOO_LARGE',
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error.error.message).toContain(String(INGEST_MAX_DECODED_BYTES));
    // Without a key the bomb is not even read.
    expectError(
      await send(s.url, bomb, { contentType: 'application/x-ndjson', encoding: 'gzip' }),
      401,
      'FB_ERR_AUTH_MISSING',
    );
    const after = await ingest(gzipSync(ndjson([login(4)])), {
      contentType: 'application/x-ndjson',
      encoding: 'gzip',
    });
    expect((after.body as IngestAnswer).accepted).toBe(1);
  });

  it.each([
    ['random bytes', () => randomBytes(2048)],
    ['gzip cut short', () => gzipSync(ndjson([login(5), login(6)])).subarray(0, 20)],
    ['plain JSON labelled gzip', () => new TextEncoder().encode(JSON.stringify(login(5)))],
    ['an empty body labelled gzip', () => new Uint8Array()],
  ])('corrupt gzip (%s) → 400 FB_ERR_MALFORMED_GZIP', async (_name, body) => {
    await refused(() => ingest(body(), { encoding: 'gzip' }), 400, 'FB_ERR_MALFORMED_GZIP');
  });

  const sender: Record<string, () => string | undefined> = {
    'no key': () => undefined,
    'an unknown key': () => `fbk_000000000000_${'A'.repeat(43)}`,
    'a read-scope key': () => keys.read,
    'a write-scope key': () => keys.write,
  };
  it.each([
    ['no key', 401, 'FB_ERR_AUTH_MISSING'],
    ['an unknown key', 401, 'FB_ERR_AUTH_INVALID'],
    ['a read-scope key', 403, 'FB_ERR_SCOPE'],
    ['a write-scope key', 403, 'FB_ERR_SCOPE'],
  ] as const)('%s → %i %s', async (name, status, code) => {
    const key = sender[name]!;
    const body = JSON.stringify(login(7));
    await refused(() => send(s.url, body, { key: key(), contentType: 'application/json' }), status, code);
  });

  it.each([
    ['empty', ''],
    ['longer than 255 characters', 'k'.repeat(256)],
  ])('an Idempotency-Key that is %s → 400', async (_name, idempotencyKey) => {
    const error = await refused(
      () => ingest(JSON.stringify(login(8)), { idempotencyKey }),
      400,
      'FB_ERR_VALIDATION',
    );
    expect(error.error.details[0]?.path).toBe('headers.idempotency-key');
  });

  it('a 255-character Idempotency-Key is fine', async () => {
    const response = await ingest(JSON.stringify(login(8)), { idempotencyKey: 'k'.repeat(255) });
    expect(response.status).toBe(200);
  });

  it.each([
    ['no from', '/v1/events?to=2026-03-02T11:00:00Z', 'FB_ERR_VALIDATION', 'query.from'],
    [
      'a from that is no time',
      '/v1/events?from=yesterday&to=2026-03-02T11:00:00Z',
      'FB_ERR_VALIDATION',
      'query.from',
    ],
    [
      'to before from',
      '/v1/events?from=2026-03-02T11:00:00Z&to=2026-03-02T10:00:00Z',
      'FB_ERR_EVENT_SEARCH_INVALID',
      'to',
    ],
    [
      '32 days',
      '/v1/events?from=2026-03-01T00:00:00Z&to=2026-04-02T00:00:00Z',
      'FB_ERR_EVENT_SEARCH_INVALID',
      'to',
    ],
    [
      'limit 10001',
      '/v1/events?from=2026-03-02T10:00:00Z&to=2026-03-02T11:00:00Z&limit=10001',
      'FB_ERR_VALIDATION',
      'query.limit',
    ],
    [
      'a q term without a colon',
      '/v1/events?from=2026-03-02T10:00:00Z&to=2026-03-02T11:00:00Z&q=login',
      'FB_ERR_VALIDATION',
      'query.q',
    ],
    [
      'an unknown parameter',
      '/v1/events?from=2026-03-02T10:00:00Z&to=2026-03-02T11:00:00Z&where=x',
      'FB_ERR_VALIDATION',
      'query.where',
    ],
  ])('search with %s → 400', async (_name, path, code, detail) => {
    const response = await call(s.url, 'GET', path, { key: keys.read });
    const error = expectError(response, 400, code);
    expect(error.error.details.map((d) => d.path)).toContain(detail);
  });

  it('search without a key → 401', async () => {
    const response = await call(s.url, 'GET', '/v1/events?from=2026-03-02T10:00:00Z&to=2026-03-02T11:00:00Z');
    expectError(response, 401, 'FB_ERR_AUTH_MISSING');
  });

  it('the rest of the API keeps its 64 KiB JSON bodies', async () => {
    const response = await call(s.url, 'POST', '/v1/incidents', {
      key: s.adminKey,
      raw: JSON.stringify({ title: 'x', severity: 'P3', summary: 'y'.repeat(70_000) }),
    });
    expectError(response, 413, 'FB_ERR_BODY_TOO_LARGE');
    const ndjsonIncident = await call(s.url, 'POST', '/v1/incidents', {
      key: s.adminKey,
      raw: JSON.stringify({ title: 'x', severity: 'P3' }),
      contentType: 'application/x-ndjson',
    });
    expectError(ndjsonIncident, 415, 'FB_ERR_UNSUPPORTED_MEDIA_TYPE');
  });
});
