/**
 * `npm run bench:ingest`: the real server on loopback, driven over HTTP the way a shop's
 * collectors drive it. One run prints
 *   (1) accepted events/s with durability on (each answer after the commit), NDJSON batches
 *       of 1,000 from a few concurrent senders, detection running as in production;
 *   (2) p50/p99 acknowledgement latency at a fixed offered load (open loop: measured from when
 *       each batch was due, so a stalled server cannot hide its stall by slowing the sender);
 *   (3) p99 time from an event's acceptance to its incident being readable through the API,
 *       at that same load: probes of 4 failed admin logins (the admin-login-failures rule
 *       fires on the 4th) ride in the traffic, and a poller reads GET /v1/incidents;
 *   (4) beside them, the detect benchmark's floor on the same events (JSON.parse plus one Map
 *       increment per event, one core, no I/O), and (1) as a fraction of it.
 * Aims on a 2-core machine: (1) ≥ 100,000 events/s; (3) p99 < 250 ms at 20,000 events/s.
 *
 * The server is `node dist/main.js serve` as a child process on embedded SQLite in a fresh
 * data directory (BENCH_DATABASE_URL: PostgreSQL instead), so the load generator (this process)
 * and the server each have a core, as on a real host with a collector beside it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildShopTraffic, jsonFloor } from './shop-traffic.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const THROUGHPUT_EVENTS = Number(process.env.BENCH_EVENTS ?? 300_000);
const BATCH = 1000;
const SENDERS = Number(process.env.BENCH_SENDERS ?? 4);
const RATE = Number(process.env.BENCH_RATE ?? 20_000);
const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARM_SECONDS = 2;
/** At the fixed load: one request every TICK_MS carrying RATE × TICK_MS / 1000 events. */
const TICK_MS = 10;
/** A probe (a new incident) every this many ticks. */
const PROBE_EVERY = 10;
const POLL_MS = 5;

interface Server {
  readonly url: string;
  readonly key: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

async function startServer(dataDir: string): Promise<Server> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dataDir,
    NO_COLOR: '1',
    FIREBREAK_HOST: '127.0.0.1',
    FIREBREAK_PORT: '0',
    FIREBREAK_DATA_DIR: join(dataDir, 'data'),
    FIREBREAK_POLICY: join(ROOT, 'policies', 'kct-menswear.yaml'),
    FIREBREAK_LOG_LEVEL: 'silent',
    ...(process.env.BENCH_DATABASE_URL ? { DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}),
  };
  // BENCH_SERVER_ARGS: node flags for the server, e.g. --cpu-prof to profile it.
  const nodeArgs = (process.env.BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'dist', 'main.js'), 'serve'], {
    cwd: dataDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  // Never leave a server behind, whatever way this process ends.
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
    const key = /^ {2}(fbk_[0-9a-f]{12}_\S+)$/m.exec(out)?.[1];
    if (url !== undefined && key !== undefined && /^detection: /m.test(out)) {
      return {
        url,
        key,
        child,
        async stop() {
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`firebreak serve did not start; it printed:\n${out}`);
    }
    await new Promise((done) => setTimeout(done, 20));
  }
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** Node's fetch (undici): keep-alive connections, one per request in flight. */
async function call(server: Server, method: string, path: string, body?: string): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/x-ndjson' }),
    },
    body,
  });
  return { status: response.status, body: await response.text() };
}

/** Posts one NDJSON batch; resolves with the number accepted, or throws on anything but 200. */
/** Thrown for 429 and 503: the server refusing under load, which the fixed-load phase counts. */
class Refused extends Error {}

async function send(server: Server, ndjson: string): Promise<number> {
  const answer = await call(server, 'POST', '/v1/events', ndjson);
  if (answer.status === 429 || answer.status === 503) throw new Refused(answer.body);
  if (answer.status !== 200) throw new Error(`POST /v1/events answered ${answer.status}: ${answer.body}`);
  const parsed = JSON.parse(answer.body) as { accepted: number; rejected: unknown[] };
  if (parsed.rejected.length > 0) throw new Error(`events rejected: ${answer.body.slice(0, 500)}`);
  return parsed.accepted;
}

function batches(lines: readonly string[], size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i += size) out.push(`${lines.slice(i, i + size).join('\n')}\n`);
  return out;
}

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function detectionLag(server: Server): Promise<number> {
  const text = (await call(server, 'GET', '/metrics')).body;
  const lag = /^firebreak_detection_lag_events (\d+)/m.exec(text)?.[1];
  if (lag === undefined) throw new Error('GET /metrics has no firebreak_detection_lag_events');
  return Number(lag);
}

async function waitForDetection(server: Server): Promise<number> {
  const started = performance.now();
  while ((await detectionLag(server)) > 0) await sleep(50);
  return performance.now() - started;
}

/** (1): SENDERS senders each post their next batch as soon as the last is answered. */
async function throughput(server: Server, bodies: readonly string[]): Promise<number> {
  let next = 0;
  let accepted = 0;
  const sender = async () => {
    while (next < bodies.length) {
      // Not `accepted += await ...`: that reads `accepted` before the await and loses the others' counts.
      const n = await send(server, bodies[next++]!);
      accepted += n;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: SENDERS }, sender));
  return accepted / ((performance.now() - started) / 1000);
}

/** Four failed logins to a fresh admin account: one P0 incident, titled with the name. */
function probe(n: number, at: number): string[] {
  const event = {
    '@timestamp': new Date(at).toISOString(),
    event: { action: 'login', category: ['authentication'], outcome: 'failure' },
    user: { name: `probe-${n}`, roles: ['admin'] },
    source: { ip: `100.64.${(n >>> 8) & 255}.${n & 255}` },
  };
  const line = JSON.stringify(event);
  return [line, line, line, line];
}

interface LoadResult {
  readonly ackMs: number[];
  readonly incidentMs: number[];
  readonly missing: number;
  /** Requests answered 429 or 503 (backpressure) after the warm-up. */
  readonly refused: number;
  readonly offered: number;
  readonly seconds: number;
}

/** (2) and (3): RATE events/s for LOAD_SECONDS, open loop, with probes and a poller. */
async function fixedLoad(server: Server): Promise<LoadResult> {
  const perTick = Math.round((RATE * TICK_MS) / 1000);
  // The first WARM_SECONDS are sent and not measured: the server may still be saving the
  // checkpoint it takes when detection goes idle after (1).
  const warmTicks = Math.round((WARM_SECONDS * 1000) / TICK_MS);
  const ticks = warmTicks + Math.round((LOAD_SECONDS * 1000) / TICK_MS);
  const t0 = Date.now() + 200;
  // Event times follow the wall clock, as live traffic does; a pool of lines is re-stamped per tick.
  const pool = buildShopTraffic(perTick * 50, {
    startMs: 0,
    spacingMs: 0,
    jitterMs: 0,
    addresses: 65_000,
    customers: 500_000,
    seed: 7,
  }).map((line) => line.slice(line.indexOf(',') + 1));
  const ackMs: number[] = [];
  const acceptedAt = new Map<string, number>();
  const seenAt = new Map<string, number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const answer = await call(server, 'GET', '/v1/incidents?severity=P0&limit=20');
      const now = performance.now();
      for (const item of (JSON.parse(answer.body) as { items: { title: string }[] }).items) {
        const name = /\(user\.name (probe-\d+)\)/.exec(item.title)?.[1];
        if (name !== undefined && !seenAt.has(name)) seenAt.set(name, now);
      }
      await sleep(POLL_MS);
    }
  })();

  const inFlight: Promise<void>[] = [];
  let offered = 0;
  let refused = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const due = t0 + tick * TICK_MS;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const stamp = `{"@timestamp":"${new Date(due).toISOString()}",`;
    const lines: string[] = [];
    for (let i = 0; i < perTick; i++) lines.push(stamp + pool[(tick * perTick + i) % pool.length]!);
    let name: string | undefined;
    if (tick % PROBE_EVERY === 0) {
      const n = tick / PROBE_EVERY;
      name = `probe-${n}`;
      lines.splice(0, 4, ...probe(n, due));
    }
    offered += lines.length;
    const dueMono = performance.now() + (due - Date.now());
    inFlight.push(
      send(server, `${lines.join('\n')}\n`).then(
        () => {
          const now = performance.now();
          if (tick < warmTicks) return;
          ackMs.push(now - dueMono);
          if (name !== undefined) acceptedAt.set(name, now);
        },
        (error: unknown) => {
          // Refused batches are not retried: the offered load stays fixed. Counted and shown.
          if (!(error instanceof Refused)) throw error;
          if (tick >= warmTicks) refused++;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  // Give the last probes up to 5 s to become incidents.
  const deadline = performance.now() + 5000;
  while (performance.now() < deadline && [...acceptedAt.keys()].some((name) => !seenAt.has(name))) {
    await sleep(20);
  }
  polling = false;
  await poller;
  const incidentMs: number[] = [];
  let missing = 0;
  for (const [name, accepted] of acceptedAt) {
    const seen = seenAt.get(name);
    // Seen before its answer arrived (detection beat the HTTP reply): zero, not negative.
    if (seen === undefined) missing++;
    else incidentMs.push(Math.max(0, seen - accepted));
  }
  return { ackMs, incidentMs, missing, refused, offered, seconds: (Date.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-'));
  const storage = process.env.BENCH_DATABASE_URL ? 'PostgreSQL' : 'embedded SQLite (WAL, synchronous=FULL)';
  // Event times end now, so the live load that follows is never "late" for detection.
  const lines = buildShopTraffic(THROUGHPUT_EVENTS, {
    startMs: Date.now() - 120_000,
    spacingMs: 100_000 / THROUGHPUT_EVENTS,
    jitterMs: 2000,
    addresses: 65_000,
    customers: 500_000,
  });
  const bodies = batches(lines, BATCH);
  const mb = bodies.reduce((n, b) => n + b.length, 0) / 1e6;
  console.log(
    `bench:ingest — node ${process.version}, ${storage}; ${fmt(THROUGHPUT_EVENTS)} events (${mb.toFixed(0)} MB NDJSON) in batches of ${fmt(BATCH)}, ${SENDERS} senders`,
  );
  const server = await startServer(dir);
  let rate = 0;
  try {
    const warm = bodies.slice(0, Math.min(20, Math.floor(bodies.length / 10)));
    for (const body of warm) await send(server, body);
    rate = await throughput(server, bodies.slice(warm.length));
    const catchUp = await waitForDetection(server);
    console.log(
      `(1) accepted with durability on          ${fmt(rate).padStart(12)} events/s   (aim ≥ 100,000)`,
    );
    console.log(`    detection caught up ${fmt(catchUp)} ms after the last answer`);

    const load = await fixedLoad(server);
    console.log(
      `(2) acknowledgement at ${fmt(RATE)} events/s offered (${fmt(load.offered / load.seconds)} sent, batches of ${fmt((RATE * TICK_MS) / 1000)} every ${TICK_MS} ms, ${LOAD_SECONDS} s):`,
    );
    console.log(
      `    p50 ${percentile(load.ackMs, 50).toFixed(1)} ms, p99 ${percentile(load.ackMs, 99).toFixed(1)} ms, max ${percentile(load.ackMs, 100).toFixed(1)} ms (${load.ackMs.length} requests after ${WARM_SECONDS} s of warm-up${load.refused > 0 ? `; ${load.refused} refused with 429/503` : ''})`,
    );
    console.log(
      `(3) acceptance → incident readable via GET /v1/incidents (${load.incidentMs.length} probes, poll every ${POLL_MS} ms):`,
    );
    console.log(
      `    p50 ${percentile(load.incidentMs, 50).toFixed(1)} ms, p99 ${percentile(load.incidentMs, 99).toFixed(1)} ms   (aim p99 < 250)${load.missing > 0 ? `; ${load.missing} never appeared` : ''}`,
    );
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const floor = jsonFloor(lines);
  console.log(
    `(4) floor on the same events, one core   ${fmt(floor).padStart(12)} events/s (JSON.parse + Map increment)`,
  );
  console.log(
    `(1)/(4) = ${(rate / floor).toFixed(2)}: accepting durably costs ${(floor / rate).toFixed(1)}× the floor`,
  );
}

await main();
