import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, POSTGRES_URL, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import { VirtualClock } from '../kernel/index.js';
import { openStore } from '../store/index.js';
import { ApiKeyService, hasScope } from './api-keys.js';

describe('scopes nest', () => {
  it.each([
    [['admin'], 'read', true],
    [['admin'], 'write', true],
    [['write'], 'read', true],
    [['write'], 'admin', false],
    [['read'], 'write', false],
    [[], 'read', false],
    [['admin'], 'ingest', true],
    [['write'], 'ingest', false],
    [['read'], 'ingest', false],
    [['ingest'], 'ingest', true],
    [['ingest'], 'read', false],
    [['ingest'], 'write', false],
    [['ingest'], 'admin', false],
    [['ingest', 'read'], 'read', true],
  ] as const)('%j grants %s: %s', (granted, needed, expected) => {
    expect(hasScope([...granted], needed)).toBe(expected);
  });
});

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`API keys on ${d.name}`, () => {
    let ts: TestStore;
    const clock = new VirtualClock('2026-03-02T10:00:00Z');
    afterEach(async () => ts?.cleanup());

    const service = (store = ts.store) =>
      new ApiKeyService({ store, audit: new AuditLog(store.dialect), clock });

    it('creates the first admin key once, and never again', async () => {
      ts = await freshStore(d.name);
      const key = await service().createFirstAdminKey();
      expect(key).toMatch(/^fbk_[0-9a-f]{12}_/);
      expect((await service().authenticate(key!)).scopes).toEqual(['admin']);
      expect(await service().createFirstAdminKey()).toBeUndefined();
      expect(await service().list()).toHaveLength(1);
    });

    it('authenticates only the exact key, and not once revoked', async () => {
      ts = await freshStore(d.name);
      const keys = service();
      await keys.createFirstAdminKey();
      const reader = await keys.create('test', 'reader', ['read']);
      expect((await keys.authenticate(reader.key)).actor).toBe(`key:${reader.id} (reader)`);
      const tampered = `${reader.key.slice(0, -1)}${reader.key.endsWith('A') ? 'B' : 'A'}`;
      await expect(keys.authenticate(tampered)).rejects.toMatchObject({ code: 'FB_ERR_AUTH_INVALID' });
      await expect(keys.authenticate('not-a-key')).rejects.toMatchObject({ code: 'FB_ERR_AUTH_INVALID' });
      await keys.revoke('test', reader.id);
      await expect(keys.authenticate(reader.key)).rejects.toMatchObject({ code: 'FB_ERR_AUTH_INVALID' });
    });

    if (d.name === 'postgres') {
      it('two servers starting at once on an empty database make one first key between them', async () => {
        ts = await freshStore(d.name);
        const others = await Promise.all(
          [1, 2, 3].map(() => openStore({ dataDir: '', databaseUrl: POSTGRES_URL, schema: ts.schema! })),
        );
        try {
          const results = await Promise.all(
            [ts.store, ...others].map((s) => service(s).createFirstAdminKey()),
          );
          expect(results.filter((k) => k !== undefined)).toHaveLength(1);
          expect(await service().list()).toHaveLength(1);
        } finally {
          await Promise.all(others.map((s) => s.close()));
        }
      });
    }
  });
}
