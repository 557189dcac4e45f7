/**
 * Issue 4's crash test, with real processes: `node dist/main.js serve` as a child, a client in
 * this process streaming NDJSON batches to `POST /v1/events` (each with its own Idempotency-Key,
 * several requests in flight), and SIGKILL for the child part-way through. The server is started
 * again on the same data; the client sends again, with the same key and body, every batch whose
 * answer it did not get, then the rest. Afterwards:
 *
 *  - every event of the stream is in the log exactly once, the seqs are gapless, and every
 *    acknowledged answer's `first_seq..last_seq` holds exactly that batch's events;
 *  - every batch sent once more is replayed (`Idempotent-Replayed: true`) with its first answer;
 *  - once detection has caught up, the incidents (severity and the rule and group of their
 *    alerts) are the ones the stream was built to produce, and the same as in a run of the same
 *    stream without the crash.
 *
 * The stream is fixed. The kill point (after how many answers, 20-70% of the batches) comes from
 * a seeded PRNG; the seed is in the test's name: FIREBREAK_CRASH_SEED=<seed> repeats it. The
 * client kills the server as soon as it has read the answer at the kill point, so the newest
 * acknowledgement is the one a server answering before its commit would lose. The answer just
 * before it is ignored (as when the connection breaks right after the server wrote it), so
 * every run has a batch that was stored but not acknowledged, whose retry must be a replay.
 *
 * Why every event lies within 48 s: batches sent again after the restart reach the log after
 * later ones, and detection only places an event in its window when it is at most the allowed
 * lateness (60 s) older than the newest event seen. Within 48 s the log order cannot change which
 * alerts the rules raise, only when, and every (rule, group) alerts exactly once (its quiet
 * period is its window, at least 1 min).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../src/store/index.js';
import { type ChildServer, spawnServer } from './helpers/child-server.js';
import { ensureBuilt } from './helpers/cli.js';
import { freshPostgresDatabase } from './helpers/server.js';
import { DIALECTS, type DialectName } from './helpers/stores.js';

const BATCHES = 200;
const BATCH_SIZE = 50;
const EVENTS = BATCHES * BATCH_SIZE;
const CONCURRENCY = 4;
/** A Monday 10:00 UTC (business hours); the stream's events lie within [T0, T0 + SPAN_MS). */
const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const SPAN_MS = 48_000;
/** The stream's own seed: the events and their order never change. */
const STREAM_SEED = 7340;

const SEED = (() => {
  const given = process.env.FIREBREAK_CRASH_SEED;
  if (given === undefined || given === '') return Math.floor(Math.random() * 2 ** 32);
  const seed = Number(given);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`FIREBREAK_CRASH_SEED=${given}: not a seed`);
  return seed;
})();

/** mulberry32: a small PRNG, the same numbers for the same seed everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** After how many answers the server is killed: 20-70% of the batches. */
function killPoint(dialect: DialectName): number {
  const random = prng(SEED + (dialect === 'postgres' ? 1 : 0));
  return Math.floor(BATCHES * (0.2 + 0.5 * random()));
}

// ---------------------------------------------------------------------------------------------
// The stream

interface Batch {
  readonly index: number;
  readonly idempotencyKey: string;
  readonly body: string;
  /** The `event.id`s of its events, in order. */
  readonly ids: readonly string[];
}

interface Stream {
  readonly batches: readonly Batch[];
  /** The incidents the stream makes, as signatures (see `signature`), sorted. */
  readonly expected: readonly string[];
}

type Fields = Record<string, unknown>;

const failedLogin = (user: string, ip: string, admin: boolean): Fields => ({
  event: { action: 'login', category: ['authentication'], outcome: 'failure' },
  user: { name: user, roles: [admin ? 'admin' : 'customer'] },
  source: { ip },
});
const dataAccess = (user: string, records: number): Fields => ({
  event: { action: 'data-access', category: ['database'] },
  user: { name: user },
  firebreak: { records },
});
/** Matches no rule: the bulk of the stream. */
const productView = (n: number): Fields => ({
  event: { action: 'product-view', category: ['web'] },
  user: { name: `shopper-${n % 500}` },
  source: { ip: `192.0.2.${n % 250}` },
});

/** One incident's content: its severity and its alerts' (rule, group), sorted. */
function signature(severity: string, alerts: readonly { rule: string; group: string }[]): string {
  const parts = alerts.map((a) => `${a.rule}{${a.group}}`).sort();
  return `${severity} ${parts.join(' + ')}`;
}

function buildStream(): Stream {
  const signals: Fields[] = [];
  const expected: string[] = [];
  const repeat = (times: number, make: () => Fields) => {
    for (let i = 0; i < times; i++) signals.push(make());
  };
  for (let i = 0; i < 6; i++) {
    // 4 failed admin logins: admin-login-failures (> 3 in 5 min), P0.
    const user = `admin-guessed-${i}`;
    repeat(4, () => failedLogin(user, `10.1.0.${i}`, true));
    expected.push(signature('P0', [{ rule: 'admin-login-failures', group: `user.name=${user}` }]));
  }
  for (let i = 0; i < 6; i++) {
    // 7: admin-login-failures, and account-login-failures (> 5 in 15 min) joins it by user.name.
    const user = `admin-hammered-${i}`;
    repeat(7, () => failedLogin(user, `10.2.0.${i}`, true));
    expected.push(
      signature('P0', [
        { rule: 'admin-login-failures', group: `user.name=${user}` },
        { rule: 'account-login-failures', group: `user.name=${user}` },
      ]),
    );
  }
  for (let i = 0; i < 4; i++) repeat(3, () => failedLogin(`admin-typo-${i}`, `10.3.0.${i}`, true));
  for (let i = 0; i < 8; i++) {
    // 6 failed customer logins: account-login-failures, P2.
    const user = `customer-locked-${i}`;
    repeat(6, () => failedLogin(user, `10.4.0.${i}`, false));
    expected.push(signature('P2', [{ rule: 'account-login-failures', group: `user.name=${user}` }]));
  }
  for (let i = 0; i < 8; i++) repeat(5, () => failedLogin(`customer-careless-${i}`, `10.5.0.${i}`, false));
  for (let ip = 1; ip <= 3; ip++) {
    // 51 failed logins from one address, 3 to each of 17 accounts: user-login-failures-per-ip, P1.
    for (let u = 0; u < 17; u++)
      repeat(3, () => failedLogin(`sprayed-${ip}-${u}`, `198.51.100.${ip}`, false));
    expected.push(
      signature('P1', [{ rule: 'user-login-failures-per-ip', group: `source.ip=198.51.100.${ip}` }]),
    );
  }
  // 50 from one address: not more than 50, no alert.
  for (let u = 0; u < 10; u++) repeat(5, () => failedLogin(`sprayed-9-${u}`, '198.51.100.9', false));
  for (let i = 0; i < 4; i++) {
    // 6 failed logins (P2) and 1,200 records read in 3 accesses (bulk-data-access, P0): one
    // incident through user.name, P0 whichever alert opened it.
    const user = `customer-exporter-${i}`;
    repeat(6, () => failedLogin(user, `10.6.0.${i}`, false));
    repeat(3, () => dataAccess(user, 400));
    expected.push(
      signature('P0', [
        { rule: 'account-login-failures', group: `user.name=${user}` },
        { rule: 'bulk-data-access', group: `user.name=${user}` },
      ]),
    );
  }
  for (let i = 0; i < 4; i++) repeat(2, () => dataAccess(`customer-reader-${i}`, 500));

  const events = [...signals];
  for (let n = 0; events.length < EVENTS; n++) events.push(productView(n));
  const random = prng(STREAM_SEED);
  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [events[i], events[j]] = [events[j]!, events[i]!];
  }

  const batches: Batch[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const ids: string[] = [];
    const lines: string[] = [];
    for (let k = 0; k < BATCH_SIZE; k++) {
      const n = b * BATCH_SIZE + k;
      const id = `crash-${String(n).padStart(5, '0')}`;
      const fields = events[n]!;
      const event = { ...(fields.event as Fields), id };
      ids.push(id);
      lines.push(
        JSON.stringify({
          '@timestamp': new Date(T0 + Math.floor((n * SPAN_MS) / EVENTS)).toISOString(),
          ...fields,
          event,
        }),
      );
    }
    batches.push({
      index: b,
      idempotencyKey: `crash-stream/batch-${String(b).padStart(3, '0')}`,
      body: `${lines.join('\n')}\n`,
      ids,
    });
  }
  return { batches, expected: expected.sort() };
}

// ---------------------------------------------------------------------------------------------
// The client

interface IngestAnswer {
  accepted: number;
  rejected: unknown[];
  first_seq: number | null;
  last_seq: number | null;
}

interface Ack {
  readonly answer: IngestAnswer;
  readonly replayed: boolean;
}

interface KillAt {
  /**
   * Kill once this answer (counted from 1 within the phase) is read; the answer before it is
   * ignored, as if lost on the way.
   */
  readonly answer: number;
  readonly server: ChildServer;
}

/** An answer the server gave, whether or not the client took it as the acknowledgement. */
interface Answered {
  readonly batch: number;
  readonly status: number;
  readonly replayed: boolean;
}

interface PhaseResult {
  /** Batches acknowledged in this phase, by index. */
  readonly acks: Map<number, Ack>;
  /** Every answer that arrived, the ignored one included. */
  readonly answered: Answered[];
  /** Batches not acknowledged, in the order given: lost answers, failed requests, never sent. */
  readonly unacknowledged: number[];
  /** The batch whose answer was dropped. */
  readonly lost: number | undefined;
  /** Batches whose request failed because the server was gone. */
  readonly failed: number[];
}

async function post(url: string, key: string, batch: Batch): Promise<Response> {
  return fetch(new URL('/v1/events', url), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/x-ndjson',
      'idempotency-key': batch.idempotencyKey,
    },
    body: batch.body,
  });
}

/**
 * Sends `order`'s batches with CONCURRENCY requests in flight. With `killAt`, ignores the answer
 * before that one, kills the server on that one and sends nothing more; requests that fail after
 * that are not acknowledged.
 * Any other failure, and any answer but 200, fails the test.
 */
async function sendPhase(
  stream: Stream,
  url: string,
  key: string,
  order: readonly number[],
  killAt?: KillAt,
): Promise<PhaseResult> {
  const acks = new Map<number, Ack>();
  let next = 0;
  let answers = 0;
  let dead = false;
  let lost: number | undefined;
  const failed: number[] = [];
  const answered: Answered[] = [];

  const worker = async () => {
    while (!dead && next < order.length) {
      const batch = stream.batches[order[next++]!]!;
      let response: Response;
      let text: string;
      try {
        response = await post(url, key, batch);
        const nth = ++answers;
        const replayed = response.headers.get('idempotent-replayed') === 'true';
        if (killAt && nth === killAt.answer - 1) {
          // Lost on its way, as when the connection drops just after the server wrote it.
          lost = batch.index;
          answered.push({ batch: batch.index, status: response.status, replayed });
          await response.arrayBuffer().catch(() => {});
          continue;
        }
        text = await response.text();
        answered.push({ batch: batch.index, status: response.status, replayed });
        if (response.status !== 200) {
          throw new Error(`batch ${batch.index}: HTTP ${response.status}: ${text}`);
        }
        acks.set(batch.index, { answer: JSON.parse(text) as IngestAnswer, replayed });
        if (killAt && nth === killAt.answer) {
          // Acknowledged; SIGKILL now, with the other requests still in flight.
          dead = true;
          void killAt.server.kill();
        }
      } catch (error) {
        if (!dead) throw error;
        failed.push(batch.index);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (killAt) await killAt.server.exited;
  return { acks, answered, unacknowledged: order.filter((b) => !acks.has(b)), lost, failed };
}

// ---------------------------------------------------------------------------------------------
// Reading the outcome from the database

interface LogSnapshot {
  /** The log's seqs, in order. */
  readonly seqs: number[];
  /** event.id by seq. */
  readonly idAt: Map<number, string>;
  readonly head: number;
  readonly idempotencyRecords: number;
}

interface Outcome extends LogSnapshot {
  readonly checkpoint: number;
  /** Incident signatures, sorted. */
  readonly incidents: string[];
  readonly incidentIds: string[];
  /** Per incident: alerts stored, and `alert_joined` records on its timeline. */
  readonly alertsVsTimeline: { id: string; alerts: number; joined: number }[];
  readonly statuses: string[];
}

function openReader(where: Where): Promise<Store> {
  return openStore({ dataDir: where.dataDir, databaseUrl: where.databaseUrl, readonly: true });
}

async function detectionPosition(where: Where): Promise<{ head: number; checkpoint: number }> {
  const reader = await openReader(where);
  try {
    const head = await reader.db.selectFrom('event_log_head').select('seq').executeTakeFirstOrThrow();
    const checkpoint = await reader.db
      .selectFrom('consumer_checkpoints')
      .select('seq')
      .where('consumer', '=', 'detect')
      .executeTakeFirst();
    return { head: Number(head.seq), checkpoint: Number(checkpoint?.seq ?? 0) };
  } finally {
    await reader.close();
  }
}

/** The log, its head and the idempotency records, as of one moment (one read transaction). */
async function readLog(where: Where): Promise<LogSnapshot> {
  const reader = await openReader(where);
  try {
    return await reader.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const rows = await trx
          .selectFrom('event_log')
          .select(['seq', 'event', 'event_deflated'])
          .orderBy('seq', 'asc')
          .execute();
        const seqs: number[] = [];
        const idAt = new Map<number, string>();
        for (const row of rows) {
          const seq = Number(row.seq);
          const json = row.event ?? inflateRawSync(row.event_deflated as Uint8Array).toString('utf8');
          seqs.push(seq);
          idAt.set(seq, (JSON.parse(json) as { event: { id: string } }).event.id);
        }
        const head = await trx.selectFrom('event_log_head').select('seq').executeTakeFirstOrThrow();
        const batches = await trx
          .selectFrom('ingest_batches')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .executeTakeFirstOrThrow();
        return { seqs, idAt, head: Number(head.seq), idempotencyRecords: Number(batches.n) };
      });
  } finally {
    await reader.close();
  }
}

async function readOutcome(where: Where): Promise<Outcome> {
  const log = await readLog(where);
  const { checkpoint } = await detectionPosition(where);
  const reader = await openReader(where);
  try {
    const db = reader.db;
    const incidents = await db
      .selectFrom('incidents')
      .select(['id', 'number', 'severity', 'status', 'created_by'])
      .orderBy('number', 'asc')
      .execute();
    const alerts = await db.selectFrom('alerts').select(['rule', 'group_key', 'incident_id']).execute();
    const joined = await db
      .selectFrom('incident_timeline')
      .select(['incident_id'])
      .where('kind', '=', 'alert_joined')
      .execute();
    return {
      ...log,
      checkpoint,
      incidents: incidents
        .map((incident) =>
          signature(
            incident.severity,
            alerts
              .filter((a) => a.incident_id === incident.id)
              .map((a) => ({ rule: a.rule, group: decodeURIComponent(a.group_key) })),
          ),
        )
        .sort(),
      incidentIds: incidents.map((i) => i.id),
      alertsVsTimeline: incidents.map((i) => ({
        id: i.id,
        alerts: alerts.filter((a) => a.incident_id === i.id).length,
        joined: joined.filter((j) => j.incident_id === i.id).length,
      })),
      statuses: [...new Set(incidents.map((i) => `${i.status} by ${i.created_by}`))],
    };
  } finally {
    await reader.close();
  }
}

// ---------------------------------------------------------------------------------------------
// One run: a fresh database, the whole stream, with or without a crash

interface Where {
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
}

interface RunReport {
  /** The log once every batch was acknowledged, before any was sent again. */
  readonly log: LogSnapshot;
  readonly outcome: Outcome;
  /** The acknowledgement each batch finally got. */
  readonly acks: Map<number, Ack>;
  /** Every answer before the batches were sent once more. */
  readonly answered: Answered[];
  /** The second answer to every batch, sent once more at the end. */
  readonly resent: Map<number, Ack>;
  readonly crash?: {
    readonly killedAfter: number;
    /** Batches acknowledged before the restart. */
    readonly ackedBeforeRestart: number;
    readonly lost: number;
    /** Batches whose request failed at the kill. */
    readonly failed: number[];
    readonly retried: number;
    /** Of the retried batches: those that turned out stored (replayed). */
    readonly replayed: number[];
    readonly lostBatchReplayed: boolean;
    /** The log's head and detection's checkpoint as the crash left them. */
    readonly atKill: { readonly head: number; readonly checkpoint: number };
  };
}

/** Waits until detection's checkpoint is the log's head (nothing is appended any more by then). */
async function waitForDetection(where: Where): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { head, checkpoint } = await detectionPosition(where);
    if (head > 0 && checkpoint === head) return;
    if (Date.now() > deadline)
      throw new Error(`detection did not catch up: head ${head}, checkpoint ${checkpoint}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

async function run(stream: Stream, where: Where, workDir: string, killAfter?: number): Promise<RunReport> {
  const all = stream.batches.map((b) => b.index);
  let server = await spawnServer({ workDir, ...where });
  const key = server.firstAdminKey;
  if (!key) throw new Error(`a fresh server printed no admin key:\n${server.stdout()}`);
  try {
    const acks = new Map<number, Ack>();
    const answered: Answered[] = [];
    let crash: RunReport['crash'];
    if (killAfter === undefined) {
      const phase = await sendPhase(stream, server.url, key, all);
      for (const [b, ack] of phase.acks) acks.set(b, ack);
      answered.push(...phase.answered);
    } else {
      const first = await sendPhase(stream, server.url, key, all, { answer: killAfter, server });
      expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
      for (const [b, ack] of first.acks) acks.set(b, ack);
      answered.push(...first.answered);
      const atKill = await detectionPosition(where);

      server = await spawnServer({ workDir, ...where });
      expect(server.firstAdminKey, 'a restart prints no key').toBeUndefined();
      const second = await sendPhase(stream, server.url, key, first.unacknowledged);
      expect(second.unacknowledged).toEqual([]);
      for (const [b, ack] of second.acks) acks.set(b, ack);
      answered.push(...second.answered);
      crash = {
        killedAfter: killAfter,
        ackedBeforeRestart: first.acks.size,
        lost: first.lost!,
        failed: first.failed,
        retried: first.unacknowledged.length,
        replayed: [...second.acks].filter(([, ack]) => ack.replayed).map(([b]) => b),
        lostBatchReplayed: second.acks.get(first.lost!)?.replayed === true,
        atKill,
      };
    }

    const log = await readLog(where);
    // Every batch once more: nothing is appended, and the first answer comes back.
    const again = await sendPhase(stream, server.url, key, all);
    expect(again.unacknowledged).toEqual([]);

    await waitForDetection(where);
    const verify = await fetch(new URL('/v1/audit/verify', server.url), {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(await verify.json()).toMatchObject({ ok: true });
    expect(await server.stop(), server.stderr()).toBe(0);
    return {
      log,
      outcome: await readOutcome(where),
      acks,
      answered,
      resent: again.acks,
      ...(crash ? { crash } : {}),
    };
  } finally {
    await server.kill();
  }
}

/** What every run must show, crash or not. */
function expectIntact(stream: Stream, report: RunReport): void {
  const { log, outcome, acks, answered, resent } = report;
  // Once every batch was acknowledged: seqs 1..EVENTS without a gap, every event of the stream
  // exactly once, and every answer naming where its batch is.
  expect(log.seqs.length).toBe(log.head);
  expect(log.seqs.every((seq, i) => seq === i + 1)).toBe(true);
  const ids = [...log.idAt.values()].sort();
  expect(new Set(ids).size, 'an event is in the log twice').toBe(ids.length);
  const all = new Set(ids);
  const missing = stream.batches.flatMap((b) => b.ids).filter((id) => !all.has(id));
  expect(missing, 'acknowledged events missing from the log').toEqual([]);
  expect(ids).toEqual(stream.batches.flatMap((b) => b.ids));
  expect(log.head).toBe(EVENTS);
  expect(log.idempotencyRecords).toBe(BATCHES);
  for (const batch of stream.batches) {
    const ack = acks.get(batch.index);
    expect(ack, `batch ${batch.index} was never acknowledged`).toBeDefined();
    const { answer } = ack!;
    expect(answer).toMatchObject({ accepted: BATCH_SIZE, rejected: [] });
    expect(answer.last_seq! - answer.first_seq! + 1).toBe(BATCH_SIZE);
    const stored = batch.ids.map((_, k) => log.idAt.get(answer.first_seq! + k));
    expect(stored, `batch ${batch.index}: the log at ${answer.first_seq}..${answer.last_seq}`).toEqual(
      batch.ids,
    );
  }

  // Each batch was stored by one request: one answer said so and any other was a replay, or,
  // when its request failed at the kill after storing it, every answer was a replay.
  const failedAtKill = new Set(report.crash?.failed ?? []);
  for (const batch of stream.batches) {
    const storing = answered.filter((a) => a.batch === batch.index && !a.replayed);
    if (storing.length === 0 && failedAtKill.has(batch.index)) continue;
    expect(storing, `batch ${batch.index}: answers that stored it`).toHaveLength(1);
  }

  // Every batch sent once more at the end: a replay of its first answer, nothing appended.
  for (const batch of stream.batches) {
    expect(resent.get(batch.index), `batch ${batch.index} sent again`).toEqual({
      answer: acks.get(batch.index)!.answer,
      replayed: true,
    });
  }
  expect(outcome.seqs).toEqual(log.seqs);
  expect(outcome.idAt).toEqual(log.idAt);
  expect(outcome.head).toBe(EVENTS);
  expect(outcome.idempotencyRecords).toBe(BATCHES);

  // Detection caught up, each alert once on its incident's timeline, incident numbers gapless.
  expect(outcome.checkpoint).toBe(EVENTS);
  for (const incident of outcome.alertsVsTimeline) {
    expect(incident.joined, `${incident.id}: alert_joined records`).toBe(incident.alerts);
  }
  expect(outcome.incidentIds).toEqual(
    outcome.incidentIds.map(
      (_, i) => `INC-${outcome.incidentIds[0]!.slice(4, 8)}-${String(i + 1).padStart(3, '0')}`,
    ),
  );
  expect(outcome.statuses).toEqual(['detected by detection']);
  expect(outcome.incidents, 'incidents: severity, and the rule and group of each alert').toEqual(
    stream.expected,
  );
}

// ---------------------------------------------------------------------------------------------

const stream = buildStream();

beforeAll(() => {
  ensureBuilt();
});

for (const d of DIALECTS) {
  const killAfter = killPoint(d.name);
  describe.skipIf(d.skip)(`SIGKILL while ingesting, on ${d.name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    let reference: RunReport;

    const fresh = async (): Promise<{ where: Where; workDir: string }> => {
      const workDir = mkdtempSync(join(tmpdir(), 'firebreak-crash-'));
      const dataDir = join(workDir, 'data');
      const database = d.name === 'postgres' ? await freshPostgresDatabase() : undefined;
      cleanups.push(async () => {
        await database?.drop();
        rmSync(workDir, { recursive: true, force: true });
      });
      return { where: { dataDir, databaseUrl: database?.url }, workDir };
    };

    afterAll(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    it('a run without a crash stores the stream once and opens the incidents it was built for', async () => {
      const { where, workDir } = await fresh();
      reference = await run(stream, where, workDir);
      expectIntact(stream, reference);
    }, 60_000);

    it(`after SIGKILL at answer ${killAfter} of ${BATCHES} and a restart, every acknowledged event is there once and the incidents are the same (seed ${SEED}; FIREBREAK_CRASH_SEED=${SEED} repeats it)`, async () => {
      const { where, workDir } = await fresh();
      expect(reference, 'the run without a crash').toBeDefined();
      const report = await run(stream, where, workDir, killAfter);
      const crash = report.crash!;
      console.log(
        `[crash-ingest ${d.name}] seed ${SEED}: killed at answer ${crash.killedAfter}, ignored the one ` +
          `before (batch ${crash.lost}); ` +
          `${crash.ackedBeforeRestart} batches acknowledged, ${crash.failed.length} requests failed ` +
          `(batches ${crash.failed.join(', ') || 'none'}), ` +
          `${crash.retried} batches sent after the restart, of which ${crash.replayed.length} had been stored ` +
          `(replayed: ${crash.replayed.join(', ') || 'none'}); the crash left seq ${crash.atKill.head} ` +
          `as the log's head and detection's checkpoint at ${crash.atKill.checkpoint}`,
      );
      expectIntact(stream, report);
      // The batch whose answer was ignored had been stored: its retry is a replay, not a second copy.
      expect(crash.lostBatchReplayed, `batch ${crash.lost}'s retry was not a replay`).toBe(true);
      expect(report.outcome.incidents, 'incidents, against the run without a crash').toEqual(
        reference.outcome.incidents,
      );
    }, 60_000);
  });
}
