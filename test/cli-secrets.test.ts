/**
 * `firebreak secrets set | list | delete` end to end: `node dist/main.js` spawned against a
 * server started in this process. Values go in on stdin only and are never printed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/kernel/index.js';
import { loadSecretKey, openStore, type SecretInfo, SecretStore } from '../src/store/index.js';
import { type CliResult, ensureBuilt, runFirebreak } from './helpers/cli.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const NOW = '2026-03-02T12:00:00.000Z';
const TOKEN = `cf-${Math.random().toString(36).slice(2, 12)}-token`;

let workDir: string;
let s: TestServer;
let env: Record<string, string>;
const results: CliResult[] = [];

const cli = async (args: readonly string[], stdin?: string, extra: Record<string, string> = {}) => {
  const result = await runFirebreak(workDir, args, { ...env, ...extra }, 20_000, stdin);
  results.push(result);
  return result;
};

/** What the server holds under a name, opened with its key file (the server keeps running). */
async function stored(name: string): Promise<string> {
  const store = await openStore({ dataDir: s.dataDir, readonly: true });
  try {
    const key = loadSecretKey({ secretKey: undefined, dataDir: s.dataDir });
    return await new SecretStore({ store, clock: new VirtualClock(NOW), key }).get(name);
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  ensureBuilt();
  workDir = mkdtempSync(join(tmpdir(), 'firebreak-cli-secrets-'));
  s = await startTestServer('sqlite', { clock: new VirtualClock(NOW), startDetection: false });
  env = { FIREBREAK_URL: s.url, FIREBREAK_API_KEY: s.adminKey };
});
afterAll(async () => {
  await s?.cleanup();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('firebreak secrets', () => {
  it('set reads the value from stdin, dropping one final newline', async () => {
    const made = await cli(['secrets', 'set', 'cloudflare_token'], `${TOKEN}\n`);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout.trim()).toBe(`stored secret cloudflare_token (${NOW})`);
    expect(await stored('cloudflare_token')).toBe(TOKEN);

    // Only one newline goes; a value may itself end in one, and CRLF counts as one.
    const again = await cli(['secrets', 'set', 'cloudflare_token'], `${TOKEN}\n\n`);
    expect(again.stdout.trim()).toBe(`replaced secret cloudflare_token (${NOW})`);
    expect(await stored('cloudflare_token')).toBe(`${TOKEN}\n`);
    await cli(['secrets', 'set', 'cloudflare_token'], `${TOKEN}\r\n`);
    expect(await stored('cloudflare_token')).toBe(TOKEN);

    const json = await cli(['secrets', 'set', 'shop_db', '--json'], 'postgres://shop:pw-xyz@db/shop');
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'shop_db', created: true, key_matches: true });
    expect(await stored('shop_db')).toBe('postgres://shop:pw-xyz@db/shop');
  });

  it('set refuses an empty value, a value on the command line and a bad name, storing nothing', async () => {
    for (const stdin of ['', '\n']) {
      const empty = await cli(['secrets', 'set', 'empty_one'], stdin);
      expect(empty.code).toBe(2);
      expect(empty.stderr).toContain('the value on stdin is empty');
    }
    const argv = await cli(['secrets', 'set', 'argv_one', TOKEN], '');
    expect(argv.code).toBe(2);
    expect(argv.stderr).toMatch(/too many arguments/);
    const badName = await cli(['secrets', 'set', 'Shop-DB'], TOKEN);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('a secret name is lower-case letters');
    const big = await cli(['secrets', 'set', 'big_one'], 'x'.repeat(16_385));
    expect(big.code).toBe(2);
    expect(big.stderr).toContain('larger than 16384 bytes');
    const list = await cli(['secrets', 'list', '--json']);
    expect((JSON.parse(list.stdout) as SecretInfo[]).map((x) => x.name)).toEqual([
      'cloudflare_token',
      'shop_db',
    ]);
  });

  it('list shows names, dates and authors as a table or JSON, never values', async () => {
    const text = await cli(['secrets', 'list']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('cloudflare_token');
    expect(text.stdout).toContain('shop_db');
    expect(text.stdout).toMatch(/updated by/);
    const json = await cli(['secrets', 'list', '--json']);
    const list = JSON.parse(json.stdout) as SecretInfo[];
    expect(list.map((x) => x.name)).toEqual(['cloudflare_token', 'shop_db']);
    expect(list[0]).toMatchObject({ created_at: NOW, key_matches: true });
    expect(list[0]?.updated_by).toMatch(/^key:/);
  });

  it('delete removes a secret; a missing one exits 3 with FB_ERR_SECRET_NOT_FOUND', async () => {
    const gone = await cli(['secrets', 'delete', 'shop_db']);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout.trim()).toBe('deleted secret shop_db');
    const again = await cli(['secrets', 'delete', 'shop_db']);
    expect(again.code).toBe(3);
    expect(again.stderr.trim()).toBe(
      'firebreak: no secret is named shop_db; store it with `firebreak secrets set shop_db` [FB_ERR_SECRET_NOT_FOUND]',
    );
    const list = await cli(['secrets', 'list', '--json']);
    expect((JSON.parse(list.stdout) as SecretInfo[]).map((x) => x.name)).toEqual(['cloudflare_token']);
  });

  it('needs an admin key, and says so before reading stdin', async () => {
    const none = await cli(['secrets', 'set', 'no_key'], TOKEN, { FIREBREAK_API_KEY: '' });
    expect(none.code).toBe(5);
    expect(none.stderr).toContain('FB_ERR_AUTH_MISSING');
    const created = await cli(['key', 'create', '--name', 'ops', '--scope', 'read,write', '--json']);
    const writeKey = (JSON.parse(created.stdout) as { key: string }).key;
    const refused = await cli(['secrets', 'list'], undefined, { FIREBREAK_API_KEY: writeKey });
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('FB_ERR_SCOPE');
  });

  it('every command has --help with an example', async () => {
    const group = await cli(['secrets', '--help']);
    expect(group.stdout).toContain('printf %s "$TOKEN" | firebreak secrets set cloudflare_token');
    const set = await cli(['secrets', 'set', '--help']);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('printf %s "$TOKEN" | firebreak secrets set cloudflare_token');
    expect(set.stdout).toContain('`ps`');
    expect((await cli(['secrets', 'list', '--help'])).stdout).toContain('$ firebreak secrets list --json');
    expect((await cli(['secrets', 'delete', '--help'])).stdout).toContain(
      '$ firebreak secrets delete cloudflare_token',
    );
  });

  it('never printed a value', () => {
    const all = results.map((r) => `${r.stdout}\n${r.stderr}`).join('\n');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('pw-xyz');
  });
});
