import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refusal } from '../../test/helpers/refusal.js';
import { DIALECTS, freshStore, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import { FirebreakError, VirtualClock } from '../kernel/index.js';
import { loadSecretKey, SECRET_KEY_FILE, SECRET_VALUE_MAX_BYTES, SecretStore, secretKeyId } from './index.js';

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 9);
const URL_VALUE = 'postgres://firebreak:s3cret-Pässword@db.internal:5432/shop';

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`SecretStore on ${d.name}`, () => {
    let ts: TestStore;
    let clock: VirtualClock;
    let audit: AuditLog;
    let secrets: SecretStore;
    const make = (key: Buffer) => new SecretStore({ store: ts.store, audit, clock, key });
    const row = (name: string) =>
      ts.store.db.selectFrom('secrets').selectAll().where('name', '=', name).executeTakeFirstOrThrow();

    beforeEach(async () => {
      ts = await freshStore(d.name);
      clock = new VirtualClock('2026-03-02T10:00:00.000Z');
      audit = new AuditLog(ts.store.dialect);
      secrets = make(KEY);
    });
    afterEach(async () => {
      await ts.cleanup();
    });

    it('stores a value encrypted and gives it back; the row holds neither the value nor its base64', async () => {
      const info = await secrets.set('shop_db', URL_VALUE, 'cli:gus');
      expect(info).toEqual({
        name: 'shop_db',
        created_at: '2026-03-02T10:00:00.000Z',
        updated_at: '2026-03-02T10:00:00.000Z',
        updated_by: 'cli:gus',
        key_id: secretKeyId(KEY),
        key_matches: true,
        created: true,
      });
      expect(await secrets.get('shop_db')).toBe(URL_VALUE);

      const stored = await row('shop_db');
      expect(stored.key_id).toMatch(/^[0-9a-f]{16}$/);
      expect(stored.ciphertext).toMatch(/^v1:[A-Za-z0-9+/]+=*$/);
      expect(JSON.stringify(stored)).not.toContain('s3cret');
      expect(JSON.stringify(stored)).not.toContain(Buffer.from(URL_VALUE).toString('base64').slice(0, 20));
      // iv (12) + tag (16) + the UTF-8 bytes of the value.
      expect(Buffer.from(stored.ciphertext.slice(3), 'base64').length).toBe(
        28 + Buffer.byteLength(URL_VALUE),
      );
    });

    it('replaces a value with a fresh IV, keeping created_at, and says it was not created', async () => {
      await secrets.set('shop_db', URL_VALUE, 'cli:gus');
      const first = (await row('shop_db')).ciphertext;
      clock.advance(60_000);
      const again = await secrets.set('shop_db', URL_VALUE, 'key:abc (ops)');
      expect(again).toMatchObject({
        created: false,
        created_at: '2026-03-02T10:00:00.000Z',
        updated_at: '2026-03-02T10:01:00.000Z',
        updated_by: 'key:abc (ops)',
      });
      expect((await row('shop_db')).ciphertext).not.toBe(first);
      await secrets.set('shop_db', 'postgres://other', 'cli:gus');
      expect(await secrets.get('shop_db')).toBe('postgres://other');
    });

    it('lists names, dates and authors by name, never a value or a ciphertext', async () => {
      await secrets.set('stripe_key', 'sk_live_abc', 'cli:gus');
      clock.advance(1000);
      await secrets.set('cloudflare_token', 'cf-token-xyz', 'cli:ana');
      const list = await secrets.list();
      expect(list.map((s) => s.name)).toEqual(['cloudflare_token', 'stripe_key']);
      expect(Object.keys(list[0]!).sort()).toEqual(
        ['created_at', 'key_id', 'key_matches', 'name', 'updated_at', 'updated_by'].sort(),
      );
      expect(list[0]).toMatchObject({ updated_by: 'cli:ana', updated_at: '2026-03-02T10:00:01.000Z' });
      const text = JSON.stringify(list);
      expect(text).not.toContain('sk_live_abc');
      expect(text).not.toContain('cf-token-xyz');
      expect(text).not.toContain('v1:');
    });

    it('deletes a secret; a missing one is FB_ERR_SECRET_NOT_FOUND for get and delete', async () => {
      await secrets.set('shop_db', URL_VALUE, 'cli:gus');
      await secrets.delete('shop_db', 'cli:gus');
      const missing = await refusal(secrets.get('shop_db'));
      expect(missing.code).toBe('FB_ERR_SECRET_NOT_FOUND');
      expect(missing.kind).toBe('not_found');
      expect(missing.message).toBe(
        'no secret is named shop_db; store it with `firebreak secrets set shop_db`',
      );
      expect((await refusal(secrets.delete('shop_db', 'cli:gus'))).code).toBe('FB_ERR_SECRET_NOT_FOUND');
      expect(await secrets.list()).toEqual([]);
    });

    it('refuses bad names and values of 0 or more than 16384 bytes, naming the field', async () => {
      for (const name of ['', 'Shop', '1db', 'shop-db', 'shop db', 'a'.repeat(65), 'ünï']) {
        const error = await refusal(secrets.set(name, 'x', 'cli:gus'));
        expect(error.code).toBe('FB_ERR_VALIDATION');
        expect(error.details[0]?.path).toBe('name');
      }
      expect((await refusal(secrets.get('Bad-Name'))).details[0]?.path).toBe('name');
      expect((await refusal(secrets.delete('Bad-Name', 'x'))).details[0]?.path).toBe('name');
      await secrets.set('a'.repeat(64), 'x', 'cli:gus');

      const empty = await refusal(secrets.set('shop_db', '', 'cli:gus'));
      expect(empty.details).toEqual([{ path: 'value', message: 'must be 1 to 16384 bytes (got 0)' }]);
      // Bytes, not characters: 8193 two-byte characters are 16386 bytes.
      const big = await refusal(secrets.set('shop_db', 'é'.repeat(8193), 'cli:gus'));
      expect(big.details[0]?.message).toBe('must be 1 to 16384 bytes (got 16386)');
      expect(big.message).not.toContain('é');
      const largest = 'x'.repeat(SECRET_VALUE_MAX_BYTES);
      await secrets.set('shop_db', largest, 'cli:gus');
      expect(await secrets.get('shop_db')).toBe(largest);
    });

    it('opened with another key: FB_ERR_SECRET_KEY naming the secret and saying the key differs', async () => {
      await secrets.set('shop_db', URL_VALUE, 'cli:gus');
      const other = make(OTHER_KEY);
      const error = await refusal(other.get('shop_db'));
      expect(error.code).toBe('FB_ERR_SECRET_KEY');
      expect(error.kind).toBe('integrity');
      expect(error.message).toContain('secret shop_db cannot be opened');
      expect(error.message).toContain('the secret key differs');
      expect(error.message).toContain(secretKeyId(KEY));
      expect(error.message).toContain(secretKeyId(OTHER_KEY));
      expect(error.message).not.toContain('s3cret');
      expect(await other.list()).toEqual([expect.objectContaining({ name: 'shop_db', key_matches: false })]);
      // Setting it again under the new key makes it readable again.
      await other.set('shop_db', URL_VALUE, 'cli:gus');
      expect(await other.get('shop_db')).toBe(URL_VALUE);
    });

    it('a ciphertext copied onto another name, or altered, does not open', async () => {
      await secrets.set('shop_db', URL_VALUE, 'cli:gus');
      await secrets.set('stripe_key', 'sk_live_abc', 'cli:gus');
      const { ciphertext } = await row('shop_db');
      await ts.store.db.updateTable('secrets').set({ ciphertext }).where('name', '=', 'stripe_key').execute();
      const moved = await refusal(secrets.get('stripe_key'));
      expect(moved.code).toBe('FB_ERR_SECRET_KEY');
      expect(moved.message).toMatch(/secret stripe_key cannot be opened: its ciphertext does not verify/);

      const raw = Buffer.from(ciphertext.slice(3), 'base64');
      raw[raw.length - 1]! ^= 1;
      await ts.store.db
        .updateTable('secrets')
        .set({ ciphertext: `v1:${raw.toString('base64')}` })
        .where('name', '=', 'shop_db')
        .execute();
      expect((await refusal(secrets.get('shop_db'))).code).toBe('FB_ERR_SECRET_KEY');
      await ts.store.db
        .updateTable('secrets')
        .set({ ciphertext: `v9:${raw.toString('base64')}` })
        .where('name', '=', 'shop_db')
        .execute();
      expect((await refusal(secrets.get('shop_db'))).message).toMatch(
        /not one this version of Firebreak reads/,
      );
    });

    it('appends secret.set and secret.delete to the audit log with the name only; a failed delete appends nothing', async () => {
      await secrets.set('shop_db', URL_VALUE, 'cli:gus');
      await secrets.set('shop_db', `${URL_VALUE}2`, 'cli:gus');
      await secrets.delete('shop_db', 'key:1 (ops)');
      await refusal(secrets.delete('shop_db', 'key:1 (ops)'));
      const entries = await audit.list(ts.store.db, { limit: 10 });
      expect(entries.map((e) => [e.action, e.target, e.actor, e.details])).toEqual([
        ['secret.delete', 'shop_db', 'key:1 (ops)', {}],
        ['secret.set', 'shop_db', 'cli:gus', { created: false }],
        ['secret.set', 'shop_db', 'cli:gus', { created: true }],
      ]);
      expect(JSON.stringify(entries)).not.toContain('s3cret');
      expect(await audit.verify(ts.store.db)).toMatchObject({ ok: true, entries: 3 });
    });

    it('keeps secrets across a reopen of the database', async () => {
      await secrets.set('shop_db', URL_VALUE, 'cli:gus');
      const store = await ts.reopen();
      expect(await new SecretStore({ store, clock, key: KEY }).get('shop_db')).toBe(URL_VALUE);
    });
  });
}

describe('loadSecretKey', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-key-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const failure = (run: () => unknown): FirebreakError => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(FirebreakError);
      return error as FirebreakError;
    }
    throw new Error('expected a refusal');
  };

  it('uses the configured key and writes no file', () => {
    expect(loadSecretKey({ secretKey: KEY, dataDir: dir })).toBe(KEY);
    expect(readdirSync(dir)).toEqual([]);
    const short = failure(() => loadSecretKey({ secretKey: Buffer.alloc(16), dataDir: dir }));
    expect(short.code).toBe('FB_ERR_SECRET_KEY');
    expect(short.message).toContain('FIREBREAK_SECRET_KEY');
  });

  it('creates <data dir>/secret.key (mode 0600, 64 hex characters) once and reads it back after', () => {
    const dataDir = join(dir, 'not', 'yet');
    const key = loadSecretKey({ secretKey: undefined, dataDir });
    const path = join(dataDir, SECRET_KEY_FILE);
    expect(key).toHaveLength(32);
    expect(readFileSync(path, 'utf8')).toBe(`${key.toString('hex')}\n`);
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadSecretKey({ secretKey: undefined, dataDir })).toEqual(key);
    // No temporary file is left behind.
    expect(readdirSync(dataDir)).toEqual([SECRET_KEY_FILE]);
    // A key of another data directory is another key.
    expect(loadSecretKey({ secretKey: undefined, dataDir: dir })).not.toEqual(key);
  });

  it('reads a key file written by hand, with or without a final newline', () => {
    const path = join(dir, SECRET_KEY_FILE);
    writeFileSync(path, 'AB'.repeat(32), { mode: 0o600 });
    expect(loadSecretKey({ secretKey: undefined, dataDir: dir })).toEqual(Buffer.alloc(32, 0xab));
  });

  it.skipIf(process.platform === 'win32')('refuses a key file other users may read, naming it', () => {
    const path = join(dir, SECRET_KEY_FILE);
    writeFileSync(path, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    chmodSync(path, 0o640);
    const error = failure(() => loadSecretKey({ secretKey: undefined, dataDir: dir }));
    expect(error.code).toBe('FB_ERR_SECRET_KEY');
    expect(error.message).toBe(
      `secret key file ${path} cannot be opened: other users may read it (mode 0640); run \`chmod 600 ${path}\``,
    );
    chmodSync(path, 0o604);
    expect(failure(() => loadSecretKey({ secretKey: undefined, dataDir: dir })).message).toContain('0604');
  });

  it('refuses a key file that does not hold 64 hex characters, naming it', () => {
    const path = join(dir, SECRET_KEY_FILE);
    for (const text of [
      '',
      'ab'.repeat(31),
      `${'ab'.repeat(32)}00`,
      `${'zz'.repeat(32)}`,
      `${'ab'.repeat(32)}\n\n`,
    ]) {
      writeFileSync(path, text, { mode: 0o600 });
      chmodSync(path, 0o600);
      const error = failure(() => loadSecretKey({ secretKey: undefined, dataDir: dir }));
      expect(error.code).toBe('FB_ERR_SECRET_KEY');
      expect(error.message).toContain(path);
      expect(error.message).toContain('64 hex characters');
    }
  });

  it('refuses a key path that is not a file', () => {
    const path = join(dir, SECRET_KEY_FILE);
    mkdirSync(path);
    expect(failure(() => loadSecretKey({ secretKey: undefined, dataDir: dir })).message).toContain(
      'not a regular file',
    );
  });
});
