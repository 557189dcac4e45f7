/**
 * `firebreak ingest` end to end: the built command against a real server started here, with an
 * ingest-scope key, and what it sent read back through `GET /v1/events`. The follow case spawns
 * the command itself, grows, truncates and rotates its file while it runs, and stops it with
 * SIGTERM. A small proxy in front of the server loses an answer and refuses once with 503, to
 * show that a retried batch is stored once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, ensureBuilt, ROOT, runFirebreak } from './helpers/cli.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

interface Summary {
  inputs: string[];
  events_read: number;
  events_sent: number;
  accepted: number;
  rejected_locally: number;
  rejected_by_server: number;
  batches: number;
  replayed_batches: number;
  retries: number;
  seconds: number;
  events_per_second: number;
  samples: { rejected_locally: string[]; rejected_by_server: string[] };
  held_back: { input: string; bytes: number }[];
  stopped_by: string | null;
}

interface SearchAnswer {
  events: { seq: number; source: string; event: Record<string, unknown> }[];
  truncated: boolean;
}

let s: TestServer;
let workDir: string;
let ingestKey: string;

beforeAll(async () => {
  ensureBuilt();
  workDir = mkdtempSync(join(tmpdir(), 'firebreak-ingest-'));
  s = await startTestServer('sqlite');
  const created = await call<{ key: string }>(s.url, 'POST', '/v1/keys', {
    key: s.adminKey,
    json: { name: 'cli-ingest', scopes: ['ingest'] },
  });
  expect(created.status).toBe(201);
  ingestKey = created.body.key;
}, 120_000);

afterAll(async () => {
  await s?.cleanup();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function ingest(
  args: readonly string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<CliResult> {
  return runFirebreak(
    workDir,
    ['ingest', ...args],
    { FIREBREAK_URL: s.url, FIREBREAK_API_KEY: ingestKey, ...env },
    30_000,
    stdin,
  );
}

function write(name: string, text: string): string {
  const file = join(workDir, name);
  writeFileSync(file, text);
  return file;
}

/** One event of `dataset` on 2026-03-`day`, `n` seconds after 10:00, numbered n. */
function event(dataset: string, day: number, n: number): string {
  return JSON.stringify({
    '@timestamp': new Date(Date.UTC(2026, 2, day, 10, 0, n)).toISOString(),
    event: { action: 'login', outcome: 'failure', dataset },
    user: { name: `user${n % 7}` },
    source: { ip: `203.0.113.${n % 250}` },
    firebreak: { n },
  });
}

function events(dataset: string, day: number, from: number, to: number): string[] {
  const lines: string[] = [];
  for (let n = from; n <= to; n++) lines.push(event(dataset, day, n));
  return lines;
}

/** The events of a day in the log (admin key: ingest keys cannot read), optionally of one dataset. */
async function logged(day: number, dataset?: string): Promise<Record<string, unknown>[]> {
  const from = new Date(Date.UTC(2026, 2, day)).toISOString();
  const to = new Date(Date.UTC(2026, 2, day + 1)).toISOString();
  const query = new URLSearchParams({ from, to, limit: '10000' });
  if (dataset) query.set('q', `event.dataset:${dataset}`);
  const found = await call<SearchAnswer>(s.url, 'GET', `/v1/events?${query}`, { key: s.adminKey });
  expect(found.status).toBe(200);
  expect(found.body.truncated).toBe(false);
  return found.body.events.map((e) => e.event);
}

const numbers = (found: Record<string, unknown>[]) =>
  found.map((e) => (e.firebreak as { n: number }).n).sort((a, b) => a - b);

function summary(result: CliResult): Summary {
  expect(result.stdout, result.stderr).not.toBe('');
  return JSON.parse(result.stdout) as Summary;
}

describe('firebreak ingest', () => {
  it('sends the good lines of an NDJSON file, reports the bad ones with file and line, and exits 0', async () => {
    const lines = [
      ...events('good-bad', 2, 1, 3),
      'this is not json',
      JSON.stringify({ event: { action: 'login' } }),
      '',
      ...events('good-bad', 2, 4, 5),
    ];
    const file = write('good-bad.ndjson', `${lines.join('\n')}\n`);
    const result = await ingest(['--json', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(summary(result)).toMatchObject({
      inputs: [file],
      events_read: 5,
      events_sent: 5,
      accepted: 5,
      rejected_locally: 2,
      rejected_by_server: 0,
      batches: 1,
      replayed_batches: 0,
      retries: 0,
      held_back: [],
      stopped_by: null,
    });
    const samples = summary(result).samples.rejected_locally;
    expect(samples[0]).toMatch(/good-bad\.ndjson: line 4: not JSON/);
    expect(samples[1]).toMatch(/good-bad\.ndjson: line 5: @timestamp is missing/);

    const found = await logged(2, 'good-bad');
    expect(numbers(found)).toEqual([1, 2, 3, 4, 5]);
    expect(found[0]).toMatchObject({
      event: { action: 'login', dataset: 'good-bad' },
      user: { name: 'user1' },
    });
  });

  it('prints a readable summary on stderr without --json', async () => {
    const file = write('readable.ndjson', `${[...events('readable', 3, 1, 2), 'oops'].join('\n')}\n`);
    const result = await ingest([file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^firebreak ingest: 2 events from 1 input\(s\) in [\d.]+ s \([\d,]+ events\/s sent\)$/m,
    );
    expect(result.stderr).toContain('sent: 2 in 1 batch(es); accepted by the server: 2; retries: 0');
    expect(result.stderr).toMatch(/rejected here, not sent: 1, first: .*readable\.ndjson: line 3: not JSON/);
    expect(result.stderr).toContain('rejected by the server: 0');
  });

  it('recognises an nginx access log and sends its requests as events', async () => {
    const file = write(
      'access.log',
      [
        '203.0.113.7 - - [04/Mar/2026:10:00:00 +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" "curl/8.5.0"',
        '203.0.113.8 - dana [04/Mar/2026:10:00:01 +0000] "POST /admin/login HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
        'a line that is not a request',
        '',
      ].join('\n'),
    );
    const result = await ingest(['--json', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(summary(result)).toMatchObject({ events_read: 2, accepted: 2, rejected_locally: 1, batches: 1 });
    const found = await logged(4);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatchObject({
      event: { category: ['web'], outcome: 'failure' },
      url: { original: '/wp-login.php' },
      source: { ip: '203.0.113.7' },
      http: { response: { status_code: 404 } },
    });
    expect(found[1]).toMatchObject({ user: { name: 'dana' }, http: { request: { method: 'POST' } } });
  });

  it('reads stdin for -', async () => {
    const result = await ingest(['--json', '-'], {}, `${events('stdin', 5, 1, 3).join('\n')}\n`);
    expect(result.code, result.stderr).toBe(0);
    expect(summary(result)).toMatchObject({ inputs: ['stdin'], events_read: 3, accepted: 3, batches: 1 });
    expect(numbers(await logged(5, 'stdin'))).toEqual([1, 2, 3]);
  });

  it('sends 2,500 events in 3 batches, and a second run stores nothing twice', async () => {
    const file = write('many.ndjson', `${events('many', 6, 1, 2500).join('\n')}\n`);
    const first = await ingest(['--json', file]);
    expect(first.code, first.stderr).toBe(0);
    expect(summary(first)).toMatchObject({
      events_read: 2500,
      events_sent: 2500,
      accepted: 2500,
      batches: 3,
      replayed_batches: 0,
    });
    expect((await logged(6, 'many')).length).toBe(2500);

    // The same batches get the same Idempotency-Keys: the server answers them from the first run.
    const again = await ingest(['--json', file]);
    expect(again.code, again.stderr).toBe(0);
    expect(summary(again)).toMatchObject({
      events_sent: 2500,
      accepted: 2500,
      batches: 3,
      replayed_batches: 3,
    });
    const found = await logged(6, 'many');
    expect(found.length).toBe(2500);
    expect(new Set(numbers(found)).size).toBe(2500);
  });

  it('sends a batch again after a lost answer and a 503, with the same key, and it is stored once', async () => {
    // 1,200 events: a first batch of 1,000 (over 64 KiB, so gzip) and a second of 200 (not).
    const file = write('retried.ndjson', `${events('retried', 7, 1, 1200).join('\n')}\n`);
    const proxy = await faultyProxy(['forward-then-drop', 'refuse-503']);
    try {
      const result = await ingest(['--json', file], { FIREBREAK_URL: proxy.url });
      expect(result.code, result.stderr).toBe(0);
      expect(summary(result)).toMatchObject({
        events_sent: 1200,
        accepted: 1200,
        batches: 2,
        retries: 2,
        // The third attempt of the first batch is answered from the first, which was stored.
        replayed_batches: 1,
      });
      expect(result.stderr).toMatch(/sending it again in [\d.]+ s \(attempt 2 of 5\)/);
      expect(result.stderr).toMatch(
        /cannot reach the database.*sending it again in 0\.0 s \(attempt 3 of 5\)/,
      );
      const [a, b, c, d] = proxy.requests;
      expect(proxy.requests).toHaveLength(4);
      expect(a!['idempotency-key']).toMatch(/^firebreak-ingest-[0-9a-f]{64}$/);
      expect([b!['idempotency-key'], c!['idempotency-key']]).toEqual([
        a!['idempotency-key'],
        a!['idempotency-key'],
      ]);
      expect(d!['idempotency-key']).not.toBe(a!['idempotency-key']);
      expect(a!['content-encoding']).toBe('gzip');
      expect(d!['content-encoding']).toBeUndefined();
      expect(a!['content-type']).toBe('application/x-ndjson');
    } finally {
      await proxy.close();
    }
    const found = await logged(7, 'retried');
    expect(found.length).toBe(1200);
    expect(new Set(numbers(found)).size).toBe(1200);
  });

  it('--follow sends what is appended, across truncation and rotation, until SIGTERM (exit 0)', async () => {
    const file = write('follow.log', `${events('follow', 8, 1, 3).join('\n')}\n`);
    const child = spawnFirebreak(['ingest', '--follow', '--json', file]);
    try {
      await waitFor(() => child.stderr.includes('caught up; following'), 'caught up');
      await waitForLogged(8, 'follow', 3);

      appendFileSync(file, `${events('follow', 8, 4, 5).join('\n')}\n`);
      await waitForLogged(8, 'follow', 5);

      // Truncated (copytruncate, or `> file`) and written again.
      writeFileSync(file, `${event('follow', 8, 6)}\n`);
      await waitForLogged(8, 'follow', 6);

      // Rotated: the old file renamed and written to once more, a new one created in its place.
      renameSync(file, `${file}.1`);
      appendFileSync(`${file}.1`, `${event('follow', 8, 7)}\n`);
      writeFileSync(file, `${events('follow', 8, 8, 9).join('\n')}\n`);
      await waitForLogged(8, 'follow', 9);

      // A complete line goes out; a line still being written waits for its newline.
      appendFileSync(file, `${event('follow', 8, 10)}\n{"@timestamp":`);
      await waitForLogged(8, 'follow', 10);

      child.process.kill('SIGTERM');
      const code = await child.exited;
      expect(code, child.stderr).toBe(0);
      expect(child.stderr).toContain('follow.log was truncated; reading it again from the start');
      expect(child.stderr).toContain('follow.log was rotated; reading the new file from the start');
      expect(JSON.parse(child.stdout)).toMatchObject({
        events_read: 10,
        events_sent: 10,
        accepted: 10,
        rejected_locally: 0,
        held_back: [{ input: file, bytes: '{"@timestamp":'.length }],
        stopped_by: 'SIGTERM',
      });
      expect(numbers(await logged(8, 'follow'))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    } finally {
      child.process.kill('SIGKILL');
    }
  });

  it('exits 5 for a wrong, missing or read-only key, and nothing is stored', async () => {
    const file = write('auth.ndjson', `${events('auth', 9, 1, 2).join('\n')}\n`);
    const wrong = await ingest([file], { FIREBREAK_API_KEY: 'fbk_000000000000_not-a-real-key' });
    expect(wrong.code).toBe(5);
    expect(wrong.stderr).toContain('[FB_ERR_AUTH_INVALID]');
    const read = await call<{ key: string }>(s.url, 'POST', '/v1/keys', {
      key: s.adminKey,
      json: { name: 'cli-ingest-read', scopes: ['read'] },
    });
    const scope = await ingest([file], { FIREBREAK_API_KEY: read.body.key });
    expect(scope.code).toBe(5);
    expect(scope.stderr).toContain('[FB_ERR_SCOPE]');
    const missing = await runFirebreak(workDir, ['ingest', file], { FIREBREAK_URL: s.url });
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('[FB_ERR_AUTH_MISSING]');
    expect(await logged(9, 'auth')).toEqual([]);
  });

  it('exits 7 when the server is unreachable, after retrying', async () => {
    const file = write('unreachable.ndjson', `${event('unreachable', 10, 1)}\n`);
    const port = await closedPort();
    const result = await ingest(['--retries', '1', file], { FIREBREAK_URL: `http://127.0.0.1:${port}` });
    expect(result.code).toBe(7);
    expect(result.stderr).toContain('(attempt 2 of 2)');
    expect(result.stderr).toMatch(
      /cannot reach the Firebreak server .*ECONNREFUSED.*\[FB_ERR_SERVER_UNREACHABLE\]/,
    );
  });

  it('exits 2 for a missing file (checked before anything is sent), an unknown format or a bad flag', async () => {
    const good = write('before-missing.ndjson', `${event('missing', 11, 1)}\n`);
    const missing = await ingest([good, join(workDir, 'no-such.log')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*no-such\.log: no such file \[FB_ERR_INPUT_UNREADABLE\]/);
    expect(await logged(11, 'missing')).toEqual([]);

    const prose = write('prose.txt', 'Dear diary,\ntoday nothing happened.\n');
    const unknown = await ingest([prose]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('[FB_ERR_INPUT_FORMAT_UNKNOWN]');

    for (const args of [
      ['--retries', 'many', good],
      ['--format', 'csv', good],
    ]) {
      const bad = await ingest(args);
      expect(bad.code, args.join(' ')).toBe(2);
    }
  });
});

/** The CLI as a child process of its own, for the case that has to signal it. */
function spawnFirebreak(args: readonly string[]) {
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'dist', 'main.js'), ...args], {
    cwd: workDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: workDir,
      NO_COLOR: '1',
      FIREBREAK_URL: s.url,
      FIREBREAK_API_KEY: ingestKey,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk: Buffer) => {
    out.stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    out.stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  return {
    process: child,
    exited,
    get stdout() {
      return out.stdout;
    },
    get stderr() {
      return out.stderr;
    },
  };
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

async function waitForLogged(day: number, dataset: string, count: number): Promise<void> {
  let seen: Record<string, unknown>[] = [];
  await waitFor(async () => {
    seen = await logged(day, dataset);
    return seen.length >= count;
  }, `${count} events of ${dataset}`).catch((error: Error) => {
    throw new Error(`${error.message}; the log has ${JSON.stringify(numbers(seen))}`);
  });
  expect(seen.length).toBe(count);
}

/** A port nothing listens on: bound, noted, and closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

type Fault = 'forward-then-drop' | 'refuse-503';

/**
 * Forwards to the test server, except that the first requests meet the faults given, in order:
 * `forward-then-drop` stores the batch and loses the answer (a timeout, as far as the client
 * knows); `refuse-503` answers as a server whose database is briefly away.
 */
async function faultyProxy(faults: Fault[]): Promise<{
  url: string;
  requests: IncomingHttpHeaders[];
  close(): Promise<void>;
}> {
  const requests: IncomingHttpHeaders[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    requests.push(req.headers);
    const fault = faults.shift();
    if (fault === 'refuse-503') {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end(
        JSON.stringify({
          error: {
            code: 'FB_ERR_DATABASE_UNAVAILABLE',
            kind: 'unavailable',
            message: 'cannot reach the database (test): restarting',
            details: [],
          },
        }),
      );
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'content-encoding', 'idempotency-key']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const upstream = await fetch(new URL(req.url ?? '/', s.url), {
      method: req.method ?? 'GET',
      headers,
      body: Buffer.concat(chunks),
    });
    const text = await upstream.text();
    if (fault === 'forward-then-drop') {
      req.socket.destroy();
      return;
    }
    const replayed = upstream.headers.get('idempotent-replayed');
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/json',
      ...(replayed ? { 'idempotent-replayed': replayed } : {}),
    });
    res.end(text);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
