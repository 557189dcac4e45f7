/**
 * Behaviours added after review: the key is checked before the body is read, the last admin
 * key cannot be revoked, and a refused content type is named in the answer.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../src/api/http-errors.js';
import type { ApiKeyInfo } from '../src/api/index.js';
import { openStore } from '../src/store/index.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer('sqlite');
});
afterAll(async () => {
  await server.cleanup();
});

const code = (body: unknown) => (body as ErrorBody).error.code;

describe('authentication comes before the body', () => {
  it.each([
    ['malformed JSON', { raw: '{"title":' }],
    ['a text/plain body', { raw: 'hello', contentType: 'text/plain' }],
    ['an oversized body', { raw: JSON.stringify({ title: 'x'.repeat(70_000), severity: 'P1' }) }],
  ])('no key and %s → 401, not a body error', async (_name, request) => {
    const response = await call(server.url, 'POST', '/v1/incidents', request);
    expect(response.status).toBe(401);
    expect(code(response.body)).toBe('FB_ERR_AUTH_MISSING');
  });

  it('with a key, a text/plain body is refused with 415 naming the content type', async () => {
    const response = await call(server.url, 'POST', '/v1/incidents', {
      key: server.adminKey,
      raw: 'hello',
      contentType: 'text/plain',
    });
    expect(response.status).toBe(415);
    expect(code(response.body)).toBe('FB_ERR_UNSUPPORTED_MEDIA_TYPE');
    expect((response.body as ErrorBody).error.message).toContain('"text/plain"');
  });
});

describe('the last admin key', () => {
  it('cannot be revoked; once a second admin key exists, the first can', async () => {
    const keys = (await call<ApiKeyInfo[]>(server.url, 'GET', '/v1/keys', { key: server.adminKey })).body;
    const first = keys.find((k) => k.scopes.includes('admin') && !k.revoked_at)!;
    const refused = await call(server.url, 'DELETE', `/v1/keys/${first.id}`, { key: server.adminKey });
    expect(refused.status).toBe(409);
    expect(code(refused.body)).toBe('FB_ERR_LAST_ADMIN_KEY');
    expect((await call(server.url, 'GET', '/v1/keys', { key: server.adminKey })).status).toBe(200);

    const second = await call<ApiKeyInfo & { key: string }>(server.url, 'POST', '/v1/keys', {
      key: server.adminKey,
      json: { name: 'second admin', scopes: ['admin'] },
    });
    expect(second.status).toBe(201);
    const revoked = await call<ApiKeyInfo>(server.url, 'DELETE', `/v1/keys/${first.id}`, {
      key: second.body.key,
    });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    // The second is now the last one.
    const again = await call(server.url, 'DELETE', `/v1/keys/${second.body.id}`, { key: second.body.key });
    expect(code(again.body)).toBe('FB_ERR_LAST_ADMIN_KEY');
  });
});

describe('read-only opening', () => {
  it('of a directory with no database fails clearly and creates nothing', async () => {
    const missing = join(server.dataDir, 'no-such-dir');
    await expect(openStore({ dataDir: missing, readonly: true })).rejects.toMatchObject({
      code: 'FB_ERR_DATABASE_UNAVAILABLE',
      message: expect.stringContaining('no Firebreak database there'),
    });
    expect(existsSync(missing)).toBe(false);
  });
});
