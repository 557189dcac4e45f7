/**
 * /v1/secrets on a real server, both dialects: set, replace, list, delete, the errors, admin
 * scope, the audit entries, and the value sealed under the server's key file. The value must
 * never come back: every answer body, everything the server prints, and (in the last suite)
 * the request log of a `firebreak serve` at trace level are searched for it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ErrorBody } from '../src/api/index.js';
import type { AuditEntry } from '../src/audit/index.js';
import { VirtualClock } from '../src/kernel/index.js';
import { loadSecretKey, openStore, type SecretInfo, SecretStore } from '../src/store/index.js';
import { ensureBuilt, ROOT } from './helpers/cli.js';
import {
  type ApiRequest,
  type ApiResponse,
  call,
  startTestServer,
  type TestServer,
} from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

const NOW = '2026-03-02T12:00:00.000Z';
const PASSWORD = `Sup3r-S3cret-${Math.random().toString(36).slice(2, 10)}`;
const VALUE = `postgres://shop:${PASSWORD}@db.internal:5432/shop`;
const SECOND = `sk_live_${Math.random().toString(36).slice(2, 12)}`;

type Info = SecretInfo & { created: boolean };

/** Every place the value could leak to, searched for the password and for the second value. */
function expectNoValue(texts: readonly string[]): void {
  const all = texts.join('\n');
  expect(all).not.toContain(PASSWORD);
  expect(all).not.toContain(SECOND);
  expect(all).not.toContain(Buffer.from(VALUE).toString('base64').slice(0, 24));
}

describe.each(DIALECTS)('/v1/secrets ($name)', ({ name: dialect, skip }) => {
  let s: TestServer;
  let clock: VirtualClock;
  let writeKey = '';
  const bodies: string[] = [];
  const printed: string[] = [];
  const spies: Array<{ mockRestore(): void }> = [];

  /** Every answer's body is kept for the final search. */
  const api = async <T = unknown>(method: string, path: string, request: ApiRequest = {}) => {
    const answer: ApiResponse<T> = await call<T>(s.url, method, path, { key: s.adminKey, ...request });
    bodies.push(answer.text);
    return answer;
  };
  const put = (name: string, json: unknown, key?: string) =>
    api<Info & ErrorBody>('PUT', `/v1/secrets/${name}`, { json, ...(key ? { key } : {}) });

  beforeAll(async () => {
    if (skip) return;
    // Whatever the server prints while these tests run.
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      spies.push(
        vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
          printed.push(String(chunk));
          return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
        }) as typeof stream.write),
      );
    }
    clock = new VirtualClock(NOW);
    s = await startTestServer(dialect, { clock, startDetection: false });
    const created = await api<{ key: string }>('POST', '/v1/keys', {
      json: { name: 'ops-write', scopes: ['read', 'write'] },
    });
    expect(created.status).toBe(201);
    writeKey = created.body.key;
  });
  afterAll(async () => {
    for (const spy of spies.splice(0)) spy.mockRestore();
    await s?.cleanup();
  });

  it.skipIf(skip)(
    'PUT stores a secret (201), replaces it (200), and never answers with the value',
    async () => {
      const made = await put('shop_db', { value: VALUE });
      expect(made.status, made.text).toBe(201);
      expect(made.body).toMatchObject({
        name: 'shop_db',
        created: true,
        created_at: NOW,
        updated_at: NOW,
        key_matches: true,
      });
      expect(made.body.updated_by).toMatch(/^key:[0-9a-f]{12} \(admin \(first start\)\)$/);
      expect(Object.keys(made.body).sort()).toEqual(
        ['created', 'created_at', 'key_id', 'key_matches', 'name', 'updated_at', 'updated_by'].sort(),
      );

      clock.advance(60_000);
      const replaced = await put('shop_db', { value: `${VALUE}?sslmode=require` });
      expect(replaced.status, replaced.text).toBe(200);
      expect(replaced.body).toMatchObject({
        created: false,
        created_at: NOW,
        updated_at: '2026-03-02T12:01:00.000Z',
      });
      expect((await put('stripe_key', { value: SECOND })).status).toBe(201);
    },
  );

  it.skipIf(skip)('GET lists names, dates and who set them, by name', async () => {
    const list = await api<SecretInfo[]>('GET', '/v1/secrets');
    expect(list.status).toBe(200);
    expect(list.body.map((x) => x.name)).toEqual(['shop_db', 'stripe_key']);
    expect(list.body[0]).toMatchObject({ updated_at: '2026-03-02T12:01:00.000Z', key_matches: true });
    expect(Object.keys(list.body[0]!)).not.toContain('value');
  });

  it.skipIf(skip)('the server sealed the value under <data dir>/secret.key: that key opens it', async () => {
    const store = await openStore({
      dataDir: s.dataDir,
      ...(s.databaseUrl ? { databaseUrl: s.databaseUrl } : {}),
      readonly: true,
    });
    try {
      const key = loadSecretKey({ secretKey: undefined, dataDir: s.dataDir });
      const secrets = new SecretStore({ store, clock, key });
      expect(await secrets.get('shop_db')).toBe(`${VALUE}?sslmode=require`);
      const rows = await store.db.selectFrom('secrets').selectAll().execute();
      expectNoValue([JSON.stringify(rows)]);
    } finally {
      await store.close();
    }
  });

  it.skipIf(skip)('no route returns a value', async () => {
    const one = await api<ErrorBody>('GET', '/v1/secrets/shop_db');
    expect(one.status).toBe(404);
    expect(one.body.error.code).toBe('FB_ERR_ROUTE_NOT_FOUND');
    const openapi = await api<{ paths: Record<string, Record<string, unknown>> }>('GET', '/openapi.json');
    expect(Object.keys(openapi.body.paths['/v1/secrets/{name}'] ?? {}).sort()).toEqual(['delete', 'put']);
    expect(Object.keys(openapi.body.paths['/v1/secrets'] ?? {})).toEqual(['get']);
  });

  it.skipIf(skip)('DELETE removes a secret (204); a missing one is 404 FB_ERR_SECRET_NOT_FOUND', async () => {
    const gone = await api('DELETE', '/v1/secrets/stripe_key');
    expect(gone.status).toBe(204);
    expect(gone.text).toBe('');
    const again = await api<ErrorBody>('DELETE', '/v1/secrets/stripe_key');
    expect(again.status).toBe(404);
    expect(again.body.error).toMatchObject({
      code: 'FB_ERR_SECRET_NOT_FOUND',
      message: 'no secret is named stripe_key; store it with `firebreak secrets set stripe_key`',
    });
    expect((await api<SecretInfo[]>('GET', '/v1/secrets')).body.map((x) => x.name)).toEqual(['shop_db']);
  });

  it.skipIf(skip)('bad input is 400 naming the field, and the answer does not echo the value', async () => {
    const fields = (answer: ApiResponse<Info & ErrorBody>) => {
      expect(answer.status, answer.text).toBe(400);
      expect(answer.body.error.code).toMatch(/^FB_ERR_(VALIDATION|MALFORMED_JSON)$/);
      return answer.body.error.details.map((d) => d.path);
    };
    for (const name of ['Shop_DB', '1db', 'shop-db', 'a'.repeat(65)]) {
      expect(fields(await put(name, { value: VALUE }))).toEqual(['params.name']);
    }
    expect(fields(await put('shop_db', { value: '' }))).toEqual(['body.value']);
    expect(fields(await put('shop_db', {}))).toEqual(['body.value']);
    expect(fields(await put('shop_db', { value: 42 }))).toEqual(['body.value']);
    expect(fields(await put('shop_db', { value: 'x'.repeat(16_385) }))).toEqual(['body.value']);
    // 16384 characters but more bytes: the store's own check names the field.
    expect(fields(await put('shop_db', { value: `${'é'.repeat(16_000)}${PASSWORD}` }))).toEqual(['value']);
    expect(fields(await put('shop_db', { value: VALUE, secret: SECOND }))).toEqual(['body.secret']);
    // A body that is not JSON is refused without quoting it back.
    const malformed = await api<Info & ErrorBody>('PUT', '/v1/secrets/shop_db', {
      raw: `{"value": ${VALUE}}`,
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('FB_ERR_MALFORMED_JSON');
    // Nothing changed.
    expect((await api<SecretInfo[]>('GET', '/v1/secrets')).body.map((x) => x.updated_at)).toEqual([
      '2026-03-02T12:01:00.000Z',
    ]);
  });

  it.skipIf(skip)('needs an admin key: 403 for a write key, 401 without a key', async () => {
    for (const [method, path, json] of [
      ['PUT', '/v1/secrets/shop_db', { value: SECOND }],
      ['GET', '/v1/secrets', undefined],
      ['DELETE', '/v1/secrets/shop_db', undefined],
    ] as const) {
      const refused = await api<ErrorBody>(method, path, { key: writeKey, ...(json ? { json } : {}) });
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(refused.body.error.code).toBe('FB_ERR_SCOPE');
      const anonymous = await call<ErrorBody>(s.url, method, path, json ? { json } : {});
      bodies.push(anonymous.text);
      expect(anonymous.status).toBe(401);
    }
    expect((await api<SecretInfo[]>('GET', '/v1/secrets')).body).toHaveLength(1);
  });

  it.skipIf(skip)('every set and delete is in the hash-chained audit log, with the name only', async () => {
    const entries = (await api<AuditEntry[]>('GET', '/v1/audit?limit=50')).body.filter((e) =>
      e.action.startsWith('secret.'),
    );
    expect(entries.map((e) => [e.action, e.target, e.details])).toEqual([
      ['secret.delete', 'stripe_key', {}],
      ['secret.set', 'stripe_key', { created: true }],
      ['secret.set', 'shop_db', { created: false }],
      ['secret.set', 'shop_db', { created: true }],
    ]);
    expect(entries.every((e) => /^key:[0-9a-f]{12} /.test(e.actor))).toBe(true);
    const verified = await api<{ ok: boolean }>('GET', '/v1/audit/verify');
    expect(verified.body.ok).toBe(true);
  });

  it.skipIf(skip)('the value is in no answer and nothing the server printed', () => {
    expect(bodies.length).toBeGreaterThan(20);
    expectNoValue([...bodies, ...printed, ...s.announced]);
  });
});

/**
 * `firebreak serve` with its request log at trace level, as a process of its own: everything it
 * writes to stdout and stderr while secrets are set, listed, refused and deleted.
 */
describe('the request log of firebreak serve at trace level', () => {
  let workDir: string;
  let child: ChildProcess | undefined;
  let output = '';
  let url = '';
  let key = '';

  beforeAll(async () => {
    ensureBuilt();
    workDir = mkdtempSync(join(tmpdir(), 'firebreak-secrets-log-'));
    child = spawn(process.execPath, [join(ROOT, 'dist', 'main.js'), 'serve'], {
      cwd: workDir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: workDir,
        NO_COLOR: '1',
        FIREBREAK_HOST: '127.0.0.1',
        FIREBREAK_PORT: '0',
        FIREBREAK_DATA_DIR: join(workDir, 'data'),
        FIREBREAK_POLICY: join(ROOT, 'policies', 'kct-menswear.yaml'),
        FIREBREAK_LOG_LEVEL: 'trace',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const listening = /^Firebreak \S+ listening on (http:\/\/\S+)$/m.exec(output);
      const first = /^ {2}(fbk_[0-9a-f]{12}_\S+)$/m.exec(output);
      if (listening && first) {
        url = listening[1]!;
        key = first[1]!;
        break;
      }
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`firebreak serve did not start:\n${output}`);
      }
      await new Promise((done) => setTimeout(done, 20));
    }
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((done) => child!.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(workDir, { recursive: true, force: true });
  });

  it('logs the requests and never the value', async () => {
    const texts: string[] = [];
    const send = async (method: string, path: string, request: ApiRequest = {}) => {
      const answer = await call(url, method, path, { key, ...request });
      texts.push(answer.text);
      return answer.status;
    };
    expect(await send('PUT', '/v1/secrets/shop_db', { json: { value: VALUE } })).toBe(201);
    expect(await send('PUT', '/v1/secrets/shop_db', { json: { value: SECOND } })).toBe(200);
    expect(await send('PUT', '/v1/secrets/Bad', { json: { value: VALUE } })).toBe(400);
    expect(await send('PUT', '/v1/secrets/shop_db', { json: { value: VALUE, extra: SECOND } })).toBe(400);
    expect(await send('PUT', '/v1/secrets/shop_db', { raw: `{"value": ${VALUE}` })).toBe(400);
    expect(
      await send('PUT', '/v1/secrets/shop_db', { json: { value: VALUE }, key: 'fbk_000000000000_x' }),
    ).toBe(401);
    expect(await send('GET', '/v1/secrets')).toBe(200);
    expect(await send('DELETE', '/v1/secrets/shop_db')).toBe(204);
    expect(await send('DELETE', '/v1/secrets/shop_db')).toBe(404);
    // The log is written asynchronously: wait for the last request's line.
    const deadline = Date.now() + 5_000;
    while ((output.match(/"url":"\/v1\/secrets\/shop_db"/g) ?? []).length < 7 && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 20));
    }
    expect(output).toContain('"msg":"incoming request"');
    expect(output).toContain('"url":"/v1/secrets/shop_db"');
    expectNoValue([output, ...texts]);
  });
});
