/**
 * `npm run bench:detect`: the detection engine against the floor of any JSON pipeline, in one
 * run on one core. Prints events/s for
 *   (a) the engine alone on parsed events,
 *   (b) NDJSON bytes → events → alerts (what `firebreak detect` and ingest do per event),
 *   (c) the floor: JSON.parse plus one Map increment per event, on the same bytes,
 * then (b)/(c), and the heap bytes per live group with a million groups (an attacker rotating
 * through a million source addresses). Aims: (b)/(c) ≥ 0.5, (a) ≥ 1M events/s, ≤ 200 B/group.
 */
import { fileURLToPath } from 'node:url';
import { DetectionEngine, loadRules, readRuleFiles } from '../src/detect/index.js';
import { createLineParser, type EcsEvent } from '../src/events/index.js';
import { buildShopTraffic } from './shop-traffic.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 1_000_000);
const ROUNDS = 3;
/** How far out of order events arrive: up to this many ms late, as merged collectors deliver them. */
const JITTER_MS = Number(process.env.BENCH_JITTER_MS ?? 2000);
/** The pack in the repository (this file runs from dist-bench/bench/). */
const RULES_DIR = fileURLToPath(new URL('../../rules/', import.meta.url));
const START = Date.parse('2026-11-23T08:00:00Z');

function best(label: string, run: () => number): number {
  let top = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    const events = run();
    const rate = events / ((performance.now() - started) / 1000);
    if (rate > top) top = rate;
  }
  console.log(`${label.padEnd(44)} ${Math.round(top).toLocaleString('en-US').padStart(12)} events/s`);
  return top;
}

/** Splits NDJSON the way both (b) and (c) do, so they differ only in what is done per line. */
function forEachLine(text: string, each: (line: string) => void): void {
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) break;
    each(text.slice(start, nl));
    start = nl + 1;
  }
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with node --expose-gc (npm run bench:detect does)');
  collect();
  collect();
}

/**
 * Heap per live group: one failed login from each of GROUPS addresses inside one window, on
 * a fresh heap (measured first, before the throughput runs fill it).
 */
function heapPerGroup(nodes: ReturnType<typeof loadRules>): string {
  let engine: DetectionEngine | undefined = new DetectionEngine(nodes);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < GROUPS; i++) {
    const at = START + Math.floor((i / GROUPS) * 60_000);
    const event: EcsEvent = {
      '@timestamp': new Date(at).toISOString(),
      event: { action: 'login', outcome: 'failure' },
      user: { name: 'victim' },
      source: { ip: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}` },
    };
    engine.process(event, at);
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  const live = engine.stats().liveGroups;
  engine = undefined;
  gc();
  return `heap per live group: ${Math.round((after - before) / live)} bytes with ${live.toLocaleString('en-US')} live groups (aim ≤ 200)`;
}

function main(): void {
  const nodes = loadRules(readRuleFiles(RULES_DIR));
  const rules = nodes.filter((n) => !n.id.includes('/')).length;
  const memory = heapPerGroup(nodes);
  // About 300 events a second over an hour, from 5,000 addresses and 5,000 customers.
  const lines = buildShopTraffic(EVENTS, {
    startMs: START,
    spacingMs: 3.6,
    jitterMs: JITTER_MS,
    addresses: 5000,
    customers: 5000,
  });
  const ndjson = `${lines.join('\n')}\n`;
  const parse = createLineParser('ecs');
  const parsed: { event: EcsEvent; epochMs: number }[] = [];
  let rejected = 0;
  forEachLine(ndjson, (line) => {
    const outcome = parse(line, 0);
    if (outcome?.ok) parsed.push({ event: outcome.event, epochMs: outcome.epochMs });
    else rejected++;
  });
  if (rejected > 0) throw new Error(`${rejected} generated events were rejected`);
  console.log(
    `bench:detect — ${EVENTS.toLocaleString('en-US')} events, ${rules} rules, ${(ndjson.length / 1e6).toFixed(0)} MB of NDJSON, node ${process.version}`,
  );

  let alerts: Readonly<Record<string, number>> = {};
  const a = best('(a) engine alone, parsed events', () => {
    const engine = new DetectionEngine(nodes);
    for (const { event, epochMs } of parsed) engine.process(event, epochMs);
    alerts = engine.stats().alerts;
    return parsed.length;
  });
  const b = best('(b) NDJSON bytes → alerts', () => {
    const engine = new DetectionEngine(nodes);
    const lineParser = createLineParser('ecs');
    let n = 0;
    let lineNo = 0;
    forEachLine(ndjson, (line) => {
      const outcome = lineParser(line, ++lineNo);
      if (outcome?.ok) {
        engine.process(outcome.event, outcome.epochMs);
        n++;
      }
    });
    return n;
  });
  const c = best('(c) floor: JSON.parse + one Map increment', () => {
    const counts = new Map<string, number>();
    let n = 0;
    forEachLine(ndjson, (line) => {
      const value = JSON.parse(line) as { source?: { ip?: string } };
      const key = value.source?.ip ?? '';
      counts.set(key, (counts.get(key) ?? 0) + 1);
      n++;
    });
    return n;
  });
  console.log(
    `alerts per run: ${Object.entries(alerts)
      .map(([rule, n]) => `${rule} ${n}`)
      .join(', ')}`,
  );
  console.log(`(b)/(c) = ${(b / c).toFixed(2)}   (aim ≥ 0.50)`);
  console.log(`(a) = ${(a / 1e6).toFixed(2)} M events/s (aim ≥ 1.00)`);
  console.log(memory);
}

main();
