/**
 * `firebreak alerts list` end to end: `node dist/main.js` spawned against a server started in
 * this process, holding a detection alert and a few Alertmanager alerts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertPage } from '../src/incidents/index.js';
import { VirtualClock } from '../src/kernel/index.js';
import { type CliResult, ensureBuilt, runFirebreak } from './helpers/cli.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

const NOW = '2026-03-02T12:00:00.000Z';
const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const MIN = 60_000;

let workDir: string;
let s: TestServer;
let env: Record<string, string>;
let ingestKey = '';

const cli = (args: readonly string[], extra: Record<string, string> = {}): Promise<CliResult> =>
  runFirebreak(workDir, args, { ...env, ...extra });
const api = async (query: string) =>
  (await call<AlertPage>(s.url, 'GET', `/v1/alerts?${query}`, { key: s.adminKey })).body;

const alertmanagerAlert = (name: string, severity: string, startsAt: string, i: number) => ({
  status: 'firing',
  labels: { alertname: name, job: 'shop', severity },
  annotations: { summary: `${name} ${i}` },
  startsAt,
  fingerprint: `f${i}`,
});

beforeAll(async () => {
  ensureBuilt();
  workDir = mkdtempSync(join(tmpdir(), 'firebreak-cli-alerts-'));
  s = await startTestServer('sqlite', { clock: new VirtualClock(NOW) });
  env = { FIREBREAK_URL: s.url, FIREBREAK_API_KEY: s.adminKey };
  const created = await call<{ key: string }>(s.url, 'POST', '/v1/keys', {
    key: s.adminKey,
    json: { name: 'storefront', scopes: ['ingest'] },
  });
  ingestKey = created.body.key;

  // Four failed admin logins: admin-login-failures, P0, for user.name dana, at 10:03.
  await call(s.url, 'POST', '/v1/events', {
    key: ingestKey,
    json: [0, 1, 2, 3].map((i) => ({
      '@timestamp': new Date(T0 + i * MIN).toISOString(),
      event: { action: 'login', category: ['authentication'], outcome: 'failure' },
      user: { name: 'dana', roles: ['admin'] },
      source: { ip: '203.0.113.7' },
    })),
  });
  const deadline = Date.now() + 5_000;
  while ((await api('')).items.length === 0) {
    if (Date.now() > deadline) throw new Error('detection made no alert');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const sent = await call(s.url, 'POST', '/v1/webhooks/alertmanager', {
    key: ingestKey,
    json: {
      version: '4',
      groupKey: '{}:{job="shop"}',
      status: 'firing',
      receiver: 'firebreak',
      groupLabels: { job: 'shop' },
      commonLabels: { job: 'shop' },
      commonAnnotations: {},
      externalURL: 'http://alertmanager.example.com:9093',
      alerts: [
        alertmanagerAlert('DiskFull', 'warning', '2026-03-02T09:30:00Z', 1),
        alertmanagerAlert('DiskFull', 'warning', '2026-03-02T11:00:00Z', 2),
        alertmanagerAlert('CheckoutErrorRate', 'critical', '2026-03-02T11:30:00Z', 3),
      ],
    },
  });
  expect(sent.status).toBe(200);
}, 120_000);

afterAll(async () => {
  await s?.cleanup();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('firebreak alerts list', () => {
  it('prints a table newest first: end, severity, rule, group, value, incident', async () => {
    const result = await cli(['alerts', 'list']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    const header = lines.find((l) => l.includes('rule'))!;
    for (const column of ['end', 'sev', 'rule', 'group', 'value', 'incident'])
      expect(header).toContain(column);
    const rows = lines.filter((l) => /2026-03-02T/.test(l));
    const { items } = await api('');
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(
      new RegExp(
        `2026-03-02T11:30:00\\.000Z.*P0.*alertmanager:CheckoutErrorRate.*job=shop.*1.*${items[0]!.incident_id}`,
      ),
    );
    expect(rows[2]).toMatch(
      new RegExp(
        `2026-03-02T10:03:00\\.000Z.*P0.*admin-login-failures.*user\\.name=dana.*4.*${items[2]!.incident_id}`,
      ),
    );
    expect(rows[3]).toContain('2026-03-02T09:30:00.000Z');
    expect(result.stdout).toMatch(/^4 alerts$/m);
  });

  it("--json prints the API's answer", async () => {
    const result = await cli(['alerts', 'list', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(await api(''));
    const global = await cli(['--json', 'alerts', 'list', '--severity', 'P2']);
    expect(JSON.parse(global.stdout)).toEqual(await api('severity=P2'));
  });

  it('filters by rule, incident, severity, since and until', async () => {
    const { items } = await api('');
    const json = async (...args: string[]) => {
      const result = await cli(['alerts', 'list', '--json', ...args]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      return (JSON.parse(result.stdout) as AlertPage).items.map((a) => a.fingerprint);
    };
    const fingerprints = (keep: (a: AlertPage['items'][number]) => boolean) =>
      items.filter(keep).map((a) => a.fingerprint);

    expect(await json('--rule', 'alertmanager:DiskFull')).toEqual(
      fingerprints((a) => a.rule === 'alertmanager:DiskFull'),
    );
    expect(await json('--rule', 'admin-login-failures', '--rule', 'alertmanager:CheckoutErrorRate')).toEqual(
      fingerprints((a) => a.rule !== 'alertmanager:DiskFull'),
    );
    const incident = items.find((a) => a.rule === 'admin-login-failures')!.incident_id;
    expect(await json('--incident', incident)).toEqual(fingerprints((a) => a.incident_id === incident));
    expect(await json('--severity', 'P0')).toEqual(fingerprints((a) => a.severity === 'P0'));
    expect(await json('--severity', 'P2', '--severity', 'P0')).toEqual(fingerprints(() => true));
    expect(await json('--severity', 'P1,P2')).toEqual(fingerprints((a) => a.severity === 'P2'));
    expect(await json('--since', '2026-03-02T10:03:00Z', '--until', '2026-03-02T11:30:00Z')).toEqual(
      fingerprints((a) => a.end >= '2026-03-02T10:03:00.000Z' && a.end < '2026-03-02T11:30:00.000Z'),
    );
  });

  it('--limit pages and prints the cursor for the next page', async () => {
    const first = await cli(['alerts', 'list', '--limit', '3']);
    expect(first.code).toBe(0);
    const cursor = /more: repeat with --cursor (\S+)/.exec(first.stdout)?.[1];
    expect(cursor, first.stdout).toBeDefined();
    expect(first.stdout).toMatch(/^3 alerts shown; more/m);
    const rest = await cli(['alerts', 'list', '--limit', '3', '--cursor', cursor!, '--json']);
    expect(JSON.parse(rest.stdout)).toEqual({ items: [(await api('')).items[3]], next_cursor: null });
  });

  it.each([
    ['--since', ['--since', 'yesterday'], /option '--since <iso>' argument 'yesterday' is invalid.*ISO 8601/],
    ['--until', ['--until', '2026-02-30T00:00:00Z'], /option '--until <iso>' argument .* is invalid/],
    ['--incident', ['--incident', 'INC-7'], /option '--incident <id>' argument 'INC-7' is invalid/],
    ['--severity', ['--severity', 'P9'], /option '--severity .*' argument 'P9' is invalid/],
    ['--limit', ['--limit', '0'], /option '--limit <n>' argument '0' is invalid.*1-500/],
  ])('a bad %s exits 2 naming the option', async (_name, args, reason) => {
    const result = await cli(['alerts', 'list', ...args]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(reason);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('a bad cursor exits 2 with the server naming query.cursor; an ingest key exits 5', async () => {
    const cursor = await cli(['alerts', 'list', '--cursor', 'nonsense']);
    expect(cursor.code).toBe(2);
    expect(cursor.stderr).toMatch(/query\.cursor must be a next_cursor value.*\[FB_ERR_VALIDATION\]/);
    const ingest = await cli(['alerts', 'list'], { FIREBREAK_API_KEY: ingestKey });
    expect(ingest.code).toBe(5);
    expect(ingest.stderr).toMatch(/needs scope read.*\[FB_ERR_SCOPE\]/);
  });

  it('has --help with an example', async () => {
    for (const command of [['alerts'], ['alerts', 'list']]) {
      const result = await cli([...command, '--help'], {});
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: firebreak alerts/);
      expect(result.stdout).toMatch(/\nExamples?:\n {2}\$ firebreak alerts /);
    }
  });
});
