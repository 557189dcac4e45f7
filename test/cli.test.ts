/**
 * The `firebreak` command end to end: `node dist/main.js` spawned against a server started in
 * this process, with an environment of its own (no FIREBREAK_* or DATABASE_URL from the
 * developer's shell) and a scratch working directory (no firebreak.yaml picked up by accident).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyInfo } from '../src/api/index.js';
import type { AuditEntry } from '../src/audit/index.js';
import { buildProgram } from '../src/cli/program.js';
import type { Incident, IncidentPage, TimelineRecord } from '../src/incidents/index.js';
import { type CliResult, ensureBuilt, runFirebreak } from './helpers/cli.js';
import { call, DEFAULT_POLICY, keySecret, startTestServer, type TestServer } from './helpers/server.js';

let workDir: string;

function cli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeout = 20_000,
): Promise<CliResult> {
  return runFirebreak(workDir, args, env, timeout);
}

/** Runs a few at a time: the machine has two cores. */
async function inBatches<T, R>(
  items: readonly T[],
  size: number,
  run: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    results.push(...(await Promise.all(items.slice(i, i + size).map(run))));
  }
  return results;
}

/** The reason line of a usage error, and that nothing else but commander's hint was printed. */
function expectOneLineReason(result: CliResult, pattern: RegExp): void {
  expect(result.stdout).toBe('');
  expect(result.stderr.trim(), 'a reason on stderr').not.toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  const reasons = lines.filter((l) => !l.startsWith('(add --help'));
  expect(reasons, result.stderr).toHaveLength(1);
  expect(reasons[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

const INC_ID = /INC-\d{4}-\d{3,}/;

let s: TestServer;
let env: Record<string, string>;
const admin = () => ({ key: s.adminKey });

beforeAll(async () => {
  ensureBuilt();
  workDir = mkdtempSync(join(tmpdir(), 'firebreak-cli-'));
  s = await startTestServer('sqlite');
  env = { FIREBREAK_URL: s.url, FIREBREAK_API_KEY: s.adminKey };
}, 120_000);

afterAll(async () => {
  await s?.cleanup();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

async function state() {
  const [incidents, audit] = await Promise.all([
    call<IncidentPage>(s.url, 'GET', '/v1/incidents?limit=200', admin()),
    call<AuditEntry[]>(s.url, 'GET', '/v1/audit?limit=500', admin()),
  ]);
  return { incidents: incidents.body.items, audit: audit.body };
}

describe('firebreak incident', () => {
  let first: string;

  it('create prints the new incident; --json prints it as JSON', async () => {
    const table = await cli(
      [
        'incident',
        'create',
        '--title',
        'Card testing on checkout',
        '--severity',
        'P0',
        '--summary',
        'many declines',
      ],
      env,
    );
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    first = INC_ID.exec(table.stdout)![0];
    expect(table.stdout).toContain('Card testing on checkout');
    expect(table.stdout).toContain('detected (detection and assessment)');
    const stored = await call<Incident>(s.url, 'GET', `/v1/incidents/${first}`, admin());
    expect(stored.body).toMatchObject({
      title: 'Card testing on checkout',
      severity: 'P0',
      summary: 'many declines',
      status: 'detected',
    });

    const json = await cli(['incident', 'create', '--title', 'Port scan', '--severity', 'P3', '--json'], env);
    expect(json.code).toBe(0);
    const created = JSON.parse(json.stdout) as Incident;
    expect(created).toMatchObject({ title: 'Port scan', severity: 'P3', status: 'detected', version: 1 });
    expect(Number(created.id.split('-')[2])).toBe(Number(first.split('-')[2]) + 1);
    expect((await call<Incident>(s.url, 'GET', `/v1/incidents/${created.id}`, admin())).body).toEqual({
      ...created,
      timeline: [expect.objectContaining({ kind: 'created' })],
    });
  });

  it('list prints a table, filters, pages and --json', async () => {
    const { incidents } = await state();
    const table = await cli(['incident', 'list'], env);
    expect(table.code).toBe(0);
    for (const i of incidents) expect(table.stdout).toContain(i.id);

    const json = await cli(['--json', 'incident', 'list'], env);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as IncidentPage).items.map((i) => i.id)).toEqual(
      incidents.map((i) => i.id),
    );

    const filtered = await cli(
      ['incident', 'list', '--severity', 'P0', '--status', 'detected,closed', '--json'],
      env,
    );
    expect((JSON.parse(filtered.stdout) as IncidentPage).items.map((i) => i.id)).toEqual([first]);

    const page1 = await cli(['incident', 'list', '--limit', '1'], env);
    expect(page1.code).toBe(0);
    const cursor = /more: firebreak incident list --cursor (\S+)/.exec(page1.stdout)?.[1];
    expect(cursor).toBeDefined();
    const page2 = await cli(['incident', 'list', '--limit', '1', '--cursor', cursor!, '--json'], env);
    expect((JSON.parse(page2.stdout) as IncidentPage).items.map((i) => i.id)).toEqual([incidents[1]!.id]);
  });

  it('show prints the incident and its timeline', async () => {
    const table = await cli(['incident', 'show', first], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(first);
    expect(table.stdout).toMatch(/created/);
    const json = JSON.parse((await cli(['incident', 'show', first, '--json'], env)).stdout) as Incident & {
      timeline: TimelineRecord[];
    };
    expect(json.id).toBe(first);
    expect(json.timeline.map((t) => t.kind)).toEqual(['created']);
  });

  it('ack, move, classify, note and assign change the incident', async () => {
    const acked = await cli(['incident', 'ack', first], env);
    expect(acked.code).toBe(0);
    expect(acked.stdout).toContain('acknowledged (detection and assessment)');

    const moved = await cli(
      ['incident', 'move', first, 'contained', '--reason', 'card form behind captcha', '--json'],
      env,
    );
    expect(moved.code).toBe(0);
    expect(JSON.parse(moved.stdout)).toMatchObject({ status: 'contained', phase: 'containment', version: 3 });

    const classified = await cli(
      [
        'incident',
        'classify',
        first,
        '--yes',
        'admin_access_compromised',
        '--data',
        'high',
        '--service',
        'low',
        '--customer',
        'low',
        '--reason',
        'admin takeover, no card data',
        '--json',
      ],
      env,
    );
    expect(classified.stderr).toBe('');
    expect(JSON.parse(classified.stdout)).toMatchObject({
      severity: 'P1',
      classification: { severity: 'P1' },
    });

    const noted = await cli(['incident', 'note', first, 'Blocked 203.0.113.7 at Cloudflare'], env);
    expect(noted.code).toBe(0);

    const assigned = await cli(['incident', 'assign', first, 'incident_commander', 'Dana (CTO)'], env);
    expect(assigned.code).toBe(0);
    expect(assigned.stdout).toContain('incident commander');
    expect(assigned.stdout).toContain('Dana (CTO)');
    const assignedJson = await cli(['incident', 'assign', first, 'security_lead', 'Sam', '--json'], env);
    expect(JSON.parse(assignedJson.stdout).roles).toEqual({
      incident_commander: 'Dana (CTO)',
      security_lead: 'Sam',
    });

    const stored = (
      await call<Incident & { timeline: TimelineRecord[] }>(s.url, 'GET', `/v1/incidents/${first}`, admin())
    ).body;
    expect(stored).toMatchObject({ status: 'contained', severity: 'P1', version: 7 });
    expect(stored.timeline.map((t) => t.kind)).toEqual([
      'created',
      'transitioned',
      'transitioned',
      'classified',
      'note_added',
      'role_assigned',
      'role_assigned',
    ]);
    expect(stored.timeline[2]!.data).toEqual({
      from: 'acknowledged',
      to: 'contained',
      reason: 'card form behind captcha',
    });
    expect(stored.timeline[4]!.data).toEqual({ text: 'Blocked 203.0.113.7 at Cloudflare' });
  });

  it('an illegal move exits 4 naming the allowed next status, and changes nothing', async () => {
    const before = await state();
    const result = await cli(['incident', 'move', first, 'closed'], env);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /cannot move from contained to closed; allowed next: eradicated \[FB_ERR_ILLEGAL_TRANSITION\]/,
    );
    expect(await state()).toEqual(before);
  });

  it('a move that needs a reason exits 2 without one', async () => {
    const created = JSON.parse(
      (await cli(['incident', 'create', '--title', 'FP', '--severity', 'P2', '--json'], env)).stdout,
    );
    expect((await cli(['incident', 'ack', created.id], env)).code).toBe(0);
    const before = await state();
    const refused = await cli(['incident', 'move', created.id, 'resolved'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/needs a reason.*\[FB_ERR_REASON_REQUIRED\]/);
    expect(await state()).toEqual(before);
    const resolved = await cli(
      ['incident', 'move', created.id, 'resolved', '--reason', 'false positive', '--json'],
      env,
    );
    expect(resolved.code).toBe(0);
    expect(JSON.parse(resolved.stdout).status).toBe('resolved');
  });

  it('an unknown incident exits 3; a malformed id exits 2', async () => {
    const missing = await cli(['incident', 'show', 'INC-1999-999'], env);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/incident INC-1999-999 does not exist \[FB_ERR_INCIDENT_NOT_FOUND\]/);
    const malformed = await cli(['incident', 'ack', 'nope'], env);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/params\.id.*\[FB_ERR_VALIDATION\]/);
  });
});

describe('firebreak key', () => {
  it('create shows the key once, list never shows secrets, revoke locks the key out', async () => {
    const created = await cli(['key', 'create', '--name', 'on-call-laptop', '--scope', 'read,write'], env);
    expect(created.code).toBe(0);
    const id = /created key ([0-9a-f]{12}) \(on-call-laptop, scopes read, write\)/.exec(created.stdout)?.[1];
    const key = /key: (fbk_[0-9a-f]{12}_[A-Za-z0-9_-]{43})/.exec(created.stdout)?.[1];
    expect(id).toBeDefined();
    expect(key).toBe(`${key!.slice(0, 4)}${id}${key!.slice(16)}`);
    expect(created.stdout).toContain('not shown again');

    const readJson = await cli(['key', 'create', '--name', 'ci', '--scope', 'read', '--json'], env);
    const readKey = JSON.parse(readJson.stdout) as ApiKeyInfo & { key: string };
    expect(readKey).toMatchObject({ name: 'ci', scopes: ['read'], revoked_at: null });

    const listTable = await cli(['key', 'list'], env);
    expect(listTable.code).toBe(0);
    expect(listTable.stdout).toContain(id!);
    expect(listTable.stdout).toContain('on-call-laptop');
    const listJson = await cli(['key', 'list', '--json'], env);
    const listed = JSON.parse(listJson.stdout) as Record<string, unknown>[];
    expect(listed.map((k) => k.name)).toEqual(['admin (first start)', 'on-call-laptop', 'ci']);
    for (const k of listed) expect(k).not.toHaveProperty('key');
    for (const secret of [key!, readKey.key, s.adminKey]) {
      expect(listTable.stdout + listJson.stdout).not.toContain(keySecret(secret));
    }

    // The write key works, and a read key cannot write.
    const withKey = { ...env, FIREBREAK_API_KEY: key! };
    expect((await cli(['incident', 'list'], withKey)).code).toBe(0);
    const before = await state();
    const scoped = await cli(['incident', 'create', '--title', 'x', '--severity', 'P3'], {
      ...env,
      FIREBREAK_API_KEY: readKey.key,
    });
    expect(scoped.code).toBe(5);
    expect(scoped.stderr).toMatch(/needs scope write.*\[FB_ERR_SCOPE\]/);
    const notAdmin = await cli(['key', 'list'], withKey);
    expect(notAdmin.code).toBe(5);
    expect(await state()).toEqual(before);

    const revoked = await cli(['key', 'revoke', id!], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`revoked key ${id} \\(on-call-laptop\\) at \\d{4}-`));
    const locked = await cli(['incident', 'list'], withKey);
    expect(locked.code).toBe(5);
    expect(locked.stderr).toContain('FB_ERR_AUTH_INVALID');
    // --key overrides the environment.
    expect((await cli(['--key', readKey.key, 'incident', 'list', '--json'], withKey)).code).toBe(0);

    const unknown = await cli(['key', 'revoke', '0123456789ab'], env);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('FB_ERR_KEY_NOT_FOUND');
  });

  it('no key at all exits 5 and says how to get one', async () => {
    const result = await cli(['incident', 'list'], { FIREBREAK_URL: s.url });
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('FB_ERR_AUTH_MISSING');
  });
});

describe('firebreak events search', () => {
  const at = (minute: number) => `2026-03-02T10:${String(minute).padStart(2, '0')}:00.000Z`;
  const sent = [
    {
      '@timestamp': at(1),
      event: { action: 'login', outcome: 'failure' },
      user: { name: 'dana' },
      source: { ip: '203.0.113.7' },
    },
    {
      '@timestamp': at(2),
      event: { action: 'login', outcome: 'failure' },
      user: { name: 'mallory' },
      source: { ip: '198.51.100.4' },
    },
    {
      '@timestamp': at(3),
      event: { action: 'login', outcome: 'failure' },
      user: { name: 'dana' },
      source: { ip: '203.0.113.7' },
    },
    {
      '@timestamp': at(4),
      event: { action: 'login', outcome: 'success' },
      user: { name: 'dana' },
      source: { ip: '203.0.113.7' },
    },
    {
      '@timestamp': at(5),
      event: { action: 'password-reset' },
      user: { name: 'Dana Smith', roles: ['admin', 'owner'] },
    },
  ];
  const range = ['--from', '2026-03-02T10:00:00Z', '--to', '2026-03-02T11:00:00Z'];
  let ingestKey = '';

  beforeAll(async () => {
    // Sent with an ingest key made by the CLI: the shop's servers only get that scope.
    const created = await cli(['key', 'create', '--name', 'storefront', '--scope', 'ingest', '--json'], env);
    expect(created.code).toBe(0);
    ingestKey = (JSON.parse(created.stdout) as ApiKeyInfo & { key: string }).key;
    const response = await call(s.url, 'POST', '/v1/events', {
      key: ingestKey,
      raw: sent.map((e) => JSON.stringify(e)).join('\n'),
      contentType: 'application/x-ndjson',
    });
    expect(response.body).toMatchObject({ accepted: sent.length, rejected: [] });
  });

  it('prints the matching events as a table, oldest first', async () => {
    const result = await cli(
      ['events', 'search', ...range, '--where', 'user.name=dana', '--where', 'event.outcome=failure'],
      env,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    const header = lines.find((l) => l.includes('seq'))!;
    for (const column of ['seq', 'time', 'event.action', 'user.name', 'source.ip', 'outcome']) {
      expect(header).toContain(column);
    }
    const rows = lines.filter((l) => l.includes('2026-03-02T10:'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/2026-03-02T10:01:00\.000Z.*login.*dana.*203\.0\.113\.7.*failure/);
    expect(rows[1]).toContain('2026-03-02T10:03:00.000Z');
    expect(result.stdout).not.toContain('mallory');
    expect(result.stdout).toMatch(/^2 events$/m);
  });

  it('--json prints the answer; values with spaces and array fields match', async () => {
    const result = await cli(
      [
        '--json',
        'events',
        'search',
        ...range,
        '--where',
        'user.name=Dana Smith',
        '--where',
        'user.roles=admin',
      ],
      env,
    );
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout) as {
      events: { seq: number; source: string; event: unknown }[];
      truncated: boolean;
    };
    expect(answer.truncated).toBe(false);
    expect(answer.events.map((e) => e.event)).toEqual([sent[4]]);
    expect(answer.events[0]!.source).toBe('http');
  });

  it('--limit cuts the list and says that more match', async () => {
    const result = await cli(['events', 'search', ...range, '--limit', '2'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('2026-03-02T10:01:00.000Z');
    expect(result.stdout).toContain('2026-03-02T10:02:00.000Z');
    expect(result.stdout).not.toContain('2026-03-02T10:03:00.000Z');
    expect(result.stdout).toMatch(/2 events shown; more match/);
  });

  it('an ingest key cannot search (exit 5); a range over 31 days exits 2', async () => {
    const ingestOnly = await cli(['events', 'search', ...range], {
      ...env,
      FIREBREAK_API_KEY: ingestKey,
    });
    expect(ingestOnly.code).toBe(5);
    expect(ingestOnly.stderr).toMatch(/needs scope read.*\[FB_ERR_SCOPE\]/);
    const wide = await cli(
      ['events', 'search', '--from', '2026-01-01T00:00:00Z', '--to', '2026-03-01T00:00:00Z'],
      env,
    );
    expect(wide.code).toBe(2);
    expect(wide.stderr).toMatch(/spans 59 days.*\[FB_ERR_EVENT_SEARCH_INVALID\]/);
  });

  it.each([
    ['--where without =', ['--where', 'user.name'], /expected field=value/],
    ['--where twice for one field', ['--where', 'a=1', '--where', 'a=2'], /a is given twice/],
    ['--limit 0', ['--limit', '0'], /expected a number 1-10000/],
  ])('%s exits 2 with a one-line reason', async (_name, args, reason) => {
    const result = await cli(['events', 'search', ...range, ...args], env);
    expect(result.code).toBe(2);
    expectOneLineReason(result, reason);
  });

  it('without --from exits 2', async () => {
    const result = await cli(['events', 'search', '--to', '2026-03-02T11:00:00Z'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("required option '--from <iso>' not specified");
  });
});

describe('bad input exits 2 with a one-line reason and changes nothing', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown option', ['incident', 'list', '--bogus'], /unknown option '--bogus'/],
    ['unknown command', ['incident', 'frobnicate'], /unknown command 'frobnicate'/],
    [
      'invalid --severity',
      ['incident', 'create', '--title', 'x', '--severity', 'P9'],
      /'P9' is invalid.*P0, P1, P2, P3/,
    ],
    ['invalid --status', ['incident', 'list', '--status', 'nope'], /'nope' is invalid.*statuses/],
    ['missing required option', ['incident', 'create', '--title', 'x'], /required option '--severity/],
    ['missing argument', ['incident', 'show'], /missing required argument 'id'/],
    ['invalid --limit', ['incident', 'list', '--limit', '0'], /'0' is invalid.*1-200/],
    [
      'invalid status to move to',
      ['incident', 'move', 'INC-2026-001', 'fixed'],
      /expected a status: detected, /,
    ],
    [
      'invalid role',
      ['incident', 'assign', 'INC-2026-001', 'janitor', 'Dana'],
      /expected a role: incident_commander/,
    ],
    [
      'invalid impact level',
      ['incident', 'classify', 'INC-2026-001', '--data', 'huge', '--service', 'low', '--customer', 'low'],
      /'huge' is invalid.*low, medium, high, critical/,
    ],
    [
      'unknown classification question',
      [
        'incident',
        'classify',
        'INC-2026-001',
        '--yes',
        'aliens',
        '--data',
        'low',
        '--service',
        'low',
        '--customer',
        'low',
      ],
      /'aliens' is invalid/,
    ],
    [
      'invalid --scope',
      ['key', 'create', '--name', 'x', '--scope', 'root'],
      /'root' is invalid.*read, write, admin and\/or ingest/,
    ],
    [
      'a date the server refuses',
      ['incident', 'create', '--title', 'x', '--severity', 'P1', '--detected-at', 'yesterday'],
      /body\.detected_at must match format "date-time" \[FB_ERR_VALIDATION\]/,
    ],
  ];

  it.each(cases)('%s', async (_name, args, reason) => {
    const before = await state();
    const result = await cli(args, env);
    expect(result.code).toBe(2);
    expectOneLineReason(result, reason);
    expect(await state()).toEqual(before);
  });
});

describe('every command has --help with an example', () => {
  const commands = [
    [],
    ['serve'],
    ['incident'],
    ['incident', 'list'],
    ['incident', 'show'],
    ['incident', 'create'],
    ['incident', 'ack'],
    ['incident', 'move'],
    ['incident', 'classify'],
    ['incident', 'note'],
    ['incident', 'assign'],
    ['key'],
    ['key', 'create'],
    ['key', 'list'],
    ['key', 'revoke'],
    ['events'],
    ['events', 'search'],
    ['audit'],
    ['audit', 'verify'],
    ['policy'],
    ['policy', 'check'],
    ['oncall'],
    ['oncall', 'now'],
    ['oncall', 'check'],
    ['rules'],
    ['rules', 'check'],
    ['playbook'],
    ['playbook', 'list'],
    ['playbook', 'show'],
    ['playbook', 'check'],
    ['playbook', 'run'],
    ['playbook', 'runs'],
    ['playbook', 'status'],
    ['playbook', 'approve'],
    ['playbook', 'refuse'],
    ['playbook', 'undo'],
    ['secrets'],
    ['secrets', 'set'],
    ['secrets', 'list'],
    ['secrets', 'delete'],
    ['detect'],
    ['ingest'],
    ['alerts'],
    ['alerts', 'list'],
    ['decisions'],
    ['decisions', 'list'],
    ['decisions', 'add'],
    ['decisions', 'delete'],
    ['switches'],
    ['switches', 'list'],
    ['switches', 'set'],
  ];

  const quiet = { json: false, out: () => undefined, err: () => undefined };

  it('lists every command the program has', () => {
    const program = buildProgram(
      { startServer: async () => Promise.reject(new Error('unused')) },
      quiet,
      '0.0.0',
    );
    const walk = (command: Command, path: string[]): string[][] => [
      path,
      ...command.commands.filter((c) => c.name() !== 'help').flatMap((c) => walk(c, [...path, c.name()])),
    ];
    expect(
      walk(program, [])
        .map((c) => c.join(' '))
        .sort(),
    ).toEqual(commands.map((c) => c.join(' ')).sort());
  });

  it('exits 0 and shows "Example" for all of them', async () => {
    const results = await inBatches(commands, 4, async (command) => ({
      command: command.join(' ') || '(root)',
      result: await cli([...command, '--help'], {}),
    }));
    for (const { command, result } of results) {
      expect({ command, code: result.code, stderr: result.stderr }).toEqual({ command, code: 0, stderr: '' });
      expect(result.stdout, command).toMatch(/^Usage: firebreak/);
      expect(result.stdout, command).toMatch(/\nExamples?:\n {2}\$ firebreak /);
    }
  });
});

describe('firebreak policy check', () => {
  it('a good file exits 0', async () => {
    const result = await cli(['policy', 'check', DEFAULT_POLICY], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('valid policy "KCT Menswear"');
    const json = await cli(['policy', 'check', DEFAULT_POLICY, '--json'], {});
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'KCT Menswear', timeZone: 'UTC' });
  });

  it('a bad file exits 2 with file:line in stderr', async () => {
    const text = readFileSync(DEFAULT_POLICY, 'utf8');
    const lines = text.split('\n');
    const index = lines.findIndex((l) => l.trim() === 'response_time: 15m');
    expect(index).toBeGreaterThan(0);
    lines[index] = lines[index]!.replace('15m', '15 minutes');
    const file = join(workDir, 'bad-duration.yaml');
    writeFileSync(file, lines.join('\n'));
    const result = await cli(['policy', 'check', file], {});
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${file}:${index + 1}: severities.P0.response_time`);
    expect(result.stderr).toContain('[FB_ERR_POLICY_INVALID]');

    // Several problems: each on its own file:line.
    const many = join(workDir, 'bad-many.yaml');
    writeFileSync(many, `${text}\nsurprise: 1\n`.replace('time_zone: UTC', 'time_zone: Mars/Olympus'));
    const manyResult = await cli(['policy', 'check', many], {});
    expect(manyResult.code).toBe(2);
    const surpriseLine = `${text}\nsurprise: 1\n`.split('\n').indexOf('surprise: 1') + 1;
    expect(manyResult.stderr).toContain(`${many}:${surpriseLine}: surprise: is not a known field`);

    const missing = await cli(['policy', 'check', join(workDir, 'nope.yaml')], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml: ENOENT \[FB_ERR_POLICY_UNREADABLE\]/);
  });
});

describe('firebreak audit verify', () => {
  let audited: TestServer;
  let copies: string;

  beforeAll(async () => {
    audited = await startTestServer('sqlite');
    copies = mkdtempSync(join(tmpdir(), 'firebreak-audit-'));
    const key = { key: audited.adminKey };
    // seq 1: the first admin key; 2, 3: creations; 4: a move; 5: a note.
    const a = await call<Incident>(audited.url, 'POST', '/v1/incidents', {
      ...key,
      json: { title: 'one', severity: 'P2' },
    });
    await call(audited.url, 'POST', '/v1/incidents', { ...key, json: { title: 'two', severity: 'P3' } });
    await call(audited.url, 'POST', `/v1/incidents/${a.body.id}/transitions`, {
      ...key,
      json: { to: 'acknowledged' },
    });
    await call(audited.url, 'POST', `/v1/incidents/${a.body.id}/notes`, { ...key, json: { text: 'looked' } });
  });
  afterAll(async () => {
    await audited?.cleanup();
    if (copies) rmSync(copies, { recursive: true, force: true });
  });

  /** A copy of the stopped server's data directory with some SQL applied behind Firebreak's back. */
  const tampered = (name: string, sqlText: string) => {
    const dir = join(copies, name);
    cpSync(audited.dataDir, dir, { recursive: true });
    const db = new BetterSqlite3(join(dir, 'firebreak.db'));
    try {
      db.exec(sqlText);
    } finally {
      db.close();
    }
    return dir;
  };

  it('exits 0 on an intact log, even beside the running server', async () => {
    const result = await cli(['audit', 'verify', '--data-dir', audited.dataDir], {});
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('audit log intact: 5 entries');
    expect(result.stdout).toMatch(/head hash [0-9a-f]{64}/);
    const json = await cli(['audit', 'verify', '--data-dir', audited.dataDir, '--json'], {});
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, entries: 5 });
  });

  it.each([
    [
      'an edited entry',
      'edited',
      'UPDATE audit_log SET details = \'{"title":"changed"}\' WHERE seq = 2',
      2,
      /entry 2 was edited/,
    ],
    ['a deleted entry', 'deleted', 'DELETE FROM audit_log WHERE seq = 2', 2, /entry 2 is missing/],
    [
      'two swapped entries',
      'reordered',
      'UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -1;',
      2,
      /entry 2 does not follow entry 1/,
    ],
    ['a deleted last entry', 'truncated', 'DELETE FROM audit_log WHERE seq = 5', 5, /entry 5 is missing/],
  ] as const)('exits 6 naming the first bad entry after %s', async (_what, name, sqlText, seq, problem) => {
    await audited.stop();
    const dir = tampered(name, sqlText);
    const result = await cli(['audit', 'verify', '--data-dir', dir], {});
    expect(result.code).toBe(6);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(new RegExp(`^firebreak: audit log entry ${seq} `));
    expect(result.stderr).toMatch(problem);
    expect(result.stderr).toContain('[FB_ERR_AUDIT_CHAIN_BROKEN]');
    const json = await cli(['audit', 'verify', '--data-dir', dir, '--json'], {});
    expect(json.code).toBe(6);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, firstBad: { seq } });
  });
});

describe('servers that cannot be reached or started', () => {
  it('an unreachable server exits 7 and says to run firebreak serve', async () => {
    const port = await freePort();
    const result = await cli(['incident', 'list'], {
      FIREBREAK_URL: `http://127.0.0.1:${port}`,
      FIREBREAK_API_KEY: s.adminKey,
    });
    expect(result.code).toBe(7);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`http://127.0.0.1:${port}`);
    expect(result.stderr).toContain('firebreak serve');
    expect(result.stderr).toContain('[FB_ERR_SERVER_UNREACHABLE]');
  });

  it('serve on a data directory in use exits 7 (FB_ERR_DATA_DIR_LOCKED)', async () => {
    const result = await cli(['serve', '--data-dir', s.dataDir, '--port', '0'], {}, 15_000);
    expect(result.code).toBe(7);
    expect(result.stderr).toContain('[FB_ERR_DATA_DIR_LOCKED]');
    expect(result.stderr).toContain(`(pid ${process.pid})`);
    // The running server is unharmed.
    expect((await call(s.url, 'GET', '/health')).status).toBe(200);
  });
});
