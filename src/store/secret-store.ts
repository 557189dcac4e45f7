/**
 * Connector secrets, encrypted at rest (DESIGN.md principle 6): a database URL with its
 * password, an API token. Each value is sealed with AES-256-GCM under the server's secret key
 * (FIREBREAK_SECRET_KEY, else `<data dir>/secret.key`), with a fresh 12-byte IV per write and
 * the secret's name as additional authenticated data, so a ciphertext copied onto another name
 * does not open. The plain text is returned by `get` only (for connectors); nothing here lists,
 * logs or shows it.
 *
 * The store module comes before `audit` in the stage order, so it cannot import the audit log.
 * It takes a small audit port instead (the AuditLog class fits it) and appends inside the same
 * transaction as the change, so a change and its audit entry commit together.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Transaction } from 'kysely';
import { type Clock, FirebreakError } from '../kernel/index.js';
import type { Database, SecretTable } from './database.js';
import type { Store } from './open-store.js';

/** Secret names: lower-case letters, digits and `_`, starting with a letter; at most 64. */
export const SECRET_NAME_PATTERN = '^[a-z][a-z0-9_]{0,63}$';
/** The largest value accepted, in UTF-8 bytes. */
export const SECRET_VALUE_MAX_BYTES = 16_384;
/** The file the key is kept in when FIREBREAK_SECRET_KEY is not set. */
export const SECRET_KEY_FILE = 'secret.key';

const NAME = new RegExp(SECRET_NAME_PATTERN);
/** `v1:` + base64(iv | tag | ciphertext). A new format gets a new prefix; old rows still open. */
const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** What may be shown about a secret: never its value. */
export interface SecretInfo {
  readonly name: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly updated_by: string;
  /** Fingerprint of the key that sealed it (see `secretKeyId`). */
  readonly key_id: string;
  /** False when the server's key is another one: the secret cannot be opened here. */
  readonly key_matches: boolean;
}

/**
 * The subset of the audit log this store needs (DESIGN.md style rule 5): `AuditLog` from
 * src/audit fits it. Called inside the transaction that makes the change.
 */
export interface SecretAuditPort {
  append(
    trx: Transaction<Database>,
    at: Date,
    entry: { actor: string; action: string; target: string; details?: Record<string, unknown> },
  ): Promise<unknown>;
}

export interface SecretStoreDeps {
  readonly store: Store;
  /** Every set and delete is appended here (name only); the server always passes one. */
  readonly audit?: SecretAuditPort;
  readonly clock: Clock;
  /** 32 bytes; see `loadSecretKey`. */
  readonly key: Buffer;
}

/** The first 16 hex characters of the key's SHA-256: names a key without revealing it. */
export function secretKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/**
 * @example
 * const secrets = new SecretStore({ store, audit, clock, key: loadSecretKey(config) });
 * await secrets.set('shop_db', 'postgres://firebreak:pw@db.internal/shop', 'cli:gus');
 * const url = await secrets.get('shop_db');
 */
export class SecretStore {
  private readonly keyId: string;

  constructor(private readonly deps: SecretStoreDeps) {
    assertKey(deps.key, 'the key given to SecretStore');
    this.keyId = secretKeyId(deps.key);
  }

  /** Stores or replaces a secret; `created` tells which. The value is never returned. */
  async set(name: string, value: string, actor: string): Promise<SecretInfo & { readonly created: boolean }> {
    checkName(name);
    checkValue(value);
    const now = this.deps.clock.now().toISOString();
    const ciphertext = seal(this.deps.key, name, value);
    return this.deps.store.db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom('secrets')
        .select('created_at')
        .where('name', '=', name)
        .executeTakeFirst();
      const row: SecretTable = {
        name,
        ciphertext,
        key_id: this.keyId,
        created_at: existing?.created_at ?? now,
        updated_at: now,
        updated_by: actor,
      };
      // An upsert, so two first writes racing on PostgreSQL do not fail on the primary key.
      await trx
        .insertInto('secrets')
        .values(row)
        .onConflict((oc) =>
          oc
            .column('name')
            .doUpdateSet({ ciphertext, key_id: this.keyId, updated_at: now, updated_by: actor }),
        )
        .execute();
      await this.deps.audit?.append(trx, new Date(now), {
        actor,
        action: 'secret.set',
        target: name,
        details: { created: existing === undefined },
      });
      return { ...this.info(row), created: existing === undefined };
    });
  }

  /**
   * The plain text of a secret (for connectors only). FB_ERR_SECRET_NOT_FOUND when there is
   * none; FB_ERR_SECRET_KEY when it was sealed with another key or does not verify.
   */
  async get(name: string): Promise<string> {
    checkName(name);
    const row = await this.deps.store.db
      .selectFrom('secrets')
      .select(['ciphertext', 'key_id'])
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw new FirebreakError('FB_ERR_SECRET_NOT_FOUND', { name });
    if (row.key_id !== this.keyId) {
      throw new FirebreakError('FB_ERR_SECRET_KEY', {
        name,
        reason:
          `it was sealed with key ${row.key_id} and this server's key is ${this.keyId}: the secret key differs ` +
          '(FIREBREAK_SECRET_KEY or <data dir>/secret.key changed); restore that key or set the secret again',
      });
    }
    return open(this.deps.key, name, row.ciphertext);
  }

  /** Every secret's name, dates and author, by name; never a value. */
  async list(): Promise<SecretInfo[]> {
    const rows = await this.deps.store.db
      .selectFrom('secrets')
      .select(['name', 'key_id', 'created_at', 'updated_at', 'updated_by'])
      .orderBy('name', 'asc')
      .execute();
    return rows.map((row) => this.info(row));
  }

  /** Removes a secret; FB_ERR_SECRET_NOT_FOUND when there is none. */
  async delete(name: string, actor: string): Promise<void> {
    checkName(name);
    await this.deps.store.db.transaction().execute(async (trx) => {
      const deleted = await trx.deleteFrom('secrets').where('name', '=', name).executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) throw new FirebreakError('FB_ERR_SECRET_NOT_FOUND', { name });
      await this.deps.audit?.append(trx, this.deps.clock.now(), {
        actor,
        action: 'secret.delete',
        target: name,
      });
    });
  }

  private info(row: Omit<SecretTable, 'ciphertext'>): SecretInfo {
    return {
      name: row.name,
      created_at: row.created_at,
      updated_at: row.updated_at,
      updated_by: row.updated_by,
      key_id: row.key_id,
      key_matches: row.key_id === this.keyId,
    };
  }
}

function checkName(name: string): void {
  if (typeof name === 'string' && NAME.test(name)) return;
  const message = `must match ${SECRET_NAME_PATTERN} (lower-case letters, digits and _, starting with a letter)`;
  throw new FirebreakError(
    'FB_ERR_VALIDATION',
    { summary: `name ${message}` },
    { details: [{ path: 'name', message }] },
  );
}

function checkValue(value: string): void {
  const bytes = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0;
  if (bytes >= 1 && bytes <= SECRET_VALUE_MAX_BYTES) return;
  const message = `must be 1 to ${SECRET_VALUE_MAX_BYTES} bytes (got ${bytes})`;
  throw new FirebreakError(
    'FB_ERR_VALIDATION',
    { summary: `value ${message}` },
    { details: [{ path: 'value', message }] },
  );
}

function seal(key: Buffer, name: string, value: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(name, 'utf8'));
  const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return `${FORMAT}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
}

function open(key: Buffer, name: string, stored: string): string {
  const broken = (reason: string) => new FirebreakError('FB_ERR_SECRET_KEY', { name, reason });
  const [format, payload] = stored.split(':', 2);
  if (format !== FORMAT || payload === undefined) {
    throw broken(`its stored form ${JSON.stringify(format)} is not one this version of Firebreak reads`);
  }
  const raw = Buffer.from(payload, 'base64');
  if (raw.length <= IV_BYTES + TAG_BYTES) throw broken('its stored ciphertext is cut short');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(name, 'utf8'));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    // The key id matched, so the row itself was altered or copied from another secret's name.
    throw broken(
      'its ciphertext does not verify (it was altered, or copied from another secret); set it again',
    );
  }
}

function assertKey(key: Buffer, where: string): void {
  if (!Buffer.isBuffer(key) || key.length !== 32) {
    throw new FirebreakError('FB_ERR_SECRET_KEY', {
      name: `key ${where}`,
      reason: `a secret key is 32 bytes, got ${Buffer.isBuffer(key) ? key.length : typeof key}`,
    });
  }
}

/**
 * The key that seals secrets: FIREBREAK_SECRET_KEY when set, else the 64 hex characters in
 * `<dataDir>/secret.key`, made (mode 0600) on first use. A key file that other users may read,
 * or that does not hold a key, is refused with FB_ERR_SECRET_KEY naming the file.
 *
 * @example const key = loadSecretKey(config); // config.secretKey, config.dataDir
 */
export function loadSecretKey(options: {
  readonly secretKey: Buffer | undefined;
  readonly dataDir: string;
}): Buffer {
  if (options.secretKey !== undefined) {
    assertKey(options.secretKey, 'FIREBREAK_SECRET_KEY');
    return options.secretKey;
  }
  const path = join(options.dataDir, SECRET_KEY_FILE);
  return readKeyFile(path) ?? createKeyFile(path);
}

/** The key in the file, or undefined when there is no file. */
function readKeyFile(path: string): Buffer | undefined {
  const refuse = (reason: string) =>
    new FirebreakError('FB_ERR_SECRET_KEY', { name: `key file ${path}`, reason });
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw refuse(`cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  if (!stat.isFile()) throw refuse('it is not a regular file');
  // Windows has no group/other bits to speak of; everywhere else the key is for this user only.
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw refuse(`other users may read it (mode ${mode}); run \`chmod 600 ${path}\``);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw refuse(`cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const hex = text.replace(/\r?\n$/, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw refuse(
      'it must hold 64 hex characters (32 bytes, such as the output of `openssl rand -hex 32`) and nothing else',
    );
  }
  return Buffer.from(hex, 'hex');
}

/**
 * Writes a new key to a temporary file (created exclusively, mode 0600, synced), then links it
 * into place. Unlike a rename, a link fails when the file exists, so two servers starting at
 * once on one data directory end up with one key: the loser reads the winner's.
 */
function createKeyFile(path: string): Buffer {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${key.toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  let failed: NodeJS.ErrnoException | undefined;
  try {
    linkSync(tmp, path);
  } catch (error) {
    failed = error as NodeJS.ErrnoException;
  } finally {
    unlinkSync(tmp);
  }
  if (failed) {
    const refuse = (reason: string) =>
      new FirebreakError('FB_ERR_SECRET_KEY', { name: `key file ${path}`, reason });
    if (failed.code !== 'EEXIST') throw refuse(`cannot create it (${failed.code ?? failed.message})`);
    // Another process made it first: use theirs.
    const theirs = readKeyFile(path);
    if (!theirs) throw refuse('it was removed while it was being created; start again');
    return theirs;
  }
  syncDir(dir);
  return key;
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some platforms (Windows) cannot open a directory; the file itself is synced already.
  }
}
