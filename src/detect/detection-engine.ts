/**
 * The streaming detection engine: ECS events in (with their event time), alerts out. Pure and
 * deterministic: no clock, no I/O; the same events in the same order give the same alerts,
 * which is what makes replay after a crash and drills the same code path as live detection.
 *
 * Semantics (README "Detection semantics" says the same for users):
 *  - A window of W ending at t holds the matching events with time in [t − W, t].
 *  - A (rule, group) that alerted at a stays quiet while |t − a| ≤ W, then alerts again if the
 *    rule still holds (single-event rules: their own quiet period, 0 by default).
 *  - An event older than the newest event seen minus the allowed lateness is late: it is
 *    counted and reported, single-event rules still see it, windows do not.
 *  - A group is evicted once nothing in it can fall in a future window; a rule holds at most
 *    `maxGroupsPerRule` groups, and events that would open one more are shed and counted.
 *  - An event missing a group-by field is not counted by that rule (`ungrouped`).
 */
import type { EcsEvent } from '../events/index.js';
import { type Aggregator, createAggregator, Evaluation, type GroupState } from './aggregators.js';
import { type Alert, alertFingerprint, type EventRef } from './alert.js';
import { NO_TIME } from './count-series.js';
import { allowedByCalendar, DEFAULT_CALENDAR, type DetectionCalendar } from './detection-calendar.js';
import type { AggregateNode, CalendarLimit, FilterNode, RuleNode } from './rule-definition.js';
import { type CompiledDetection, compileDetection } from './sigma-detection.js';
import { compileFieldPath, type FieldReader } from './sigma-field-path.js';

export interface DetectionEngineOptions {
  /** How far out of order an event may arrive and still count in windows. Default 60 s. */
  readonly latenessMs?: number;
  /** Live groups one rule may hold. Default 1,000,000. */
  readonly maxGroupsPerRule?: number;
  readonly calendar?: DetectionCalendar;
}

export interface DetectionStats {
  readonly events: number;
  /** Events older than the allowed lateness: not counted in windows. */
  readonly late: number;
  /** The first few late events, as the caller named them. */
  readonly lateSamples: readonly EventRef[];
  /** Events a rule could not count because it already held its maximum of groups. */
  readonly shed: number;
  /** Events a rule could not count because a group-by field was missing. */
  readonly ungrouped: number;
  readonly evicted: number;
  readonly liveGroups: number;
  readonly alerts: Readonly<Record<string, number>>;
}

/** Saved engine state; JSON-serializable. */
export interface EngineCheckpoint {
  readonly version: 1;
  readonly base: number | null;
  readonly newest: number;
  readonly rules: Readonly<
    Record<string, { readonly signature: string; readonly groups: [string, unknown][] }>
  >;
  readonly counters: { events: number; late: number; shed: number; ungrouped: number; evicted: number };
}

const DEFAULT_LATENESS_MS = 60_000;
const DEFAULT_MAX_GROUPS = 1_000_000;
const LATE_SAMPLES = 5;
/** No rule is swept more often than once per second of event time. */
const MIN_SWEEP_EVERY_MS = 1_000;
const NO_ALERTS: readonly Alert[] = Object.freeze([]);
const KEY_SEPARATOR = '\u0001';

interface IndexEntry {
  readonly read: FieldReader;
  readonly rules: Map<string, FilterRuntime[]>;
}

interface Consumer {
  readonly rule: AggregateRuntime;
  readonly input: number;
}

/**
 * A compiled filter shared by every rule with the same filter (the pack has five rules on
 * `event.action: request`), with the answer for the current event remembered: one match per
 * event, not one per rule.
 */
interface SharedMatcher {
  readonly detection: CompiledDetection;
  seq: number;
  result: boolean;
}

interface FilterRuntime {
  readonly node: FilterNode;
  readonly matcher: SharedMatcher;
  readonly metaFilters: readonly CompiledDetection[];
  readonly consumers: Consumer[];
  readonly groupReaders: readonly FieldReader[];
  /** Single-event rules with a quiet period: group → relative time of the last alert. */
  readonly quiet: Map<string, number>;
  /** Sequence number of the last event routed here, so an event meets a rule once. */
  stamp: number;
  nextSweep: number;
}

/**
 * The group key of the current event for one list of group-by fields, shared by every rule
 * grouping by the same fields (four pack rules group requests by service.name).
 */
interface GroupKeyMemo {
  readonly readers: readonly FieldReader[];
  seq: number;
  key: string | undefined;
}

interface AggregateRuntime {
  readonly node: AggregateNode;
  readonly aggregator: Aggregator;
  readonly groups: Map<string, GroupState>;
  /** Per input, per group-by field: how to read it. */
  readonly readers: readonly (readonly FieldReader[])[];
  /** Per input: the shared group key of the current event. */
  readonly keys: readonly GroupKeyMemo[];
  readonly consumers: Consumer[];
  readonly sweepEveryMs: number;
  nextSweep: number;
}

export class DetectionEngine {
  private readonly latenessMs: number;
  private readonly maxGroups: number;
  private readonly calendar: DetectionCalendar;
  private readonly filters: FilterRuntime[] = [];
  private readonly aggregates: AggregateRuntime[] = [];
  private readonly byId = new Map<string, FilterRuntime | AggregateRuntime>();
  /** Routing: field → lowercased value → rules that need that value there. */
  private readonly index = new Map<string, IndexEntry>();
  /** The same entries as an array: iterated once per event, so no Map iterator per event. */
  private indexEntries: IndexEntry[] = [];
  private readonly unindexed: FilterRuntime[] = [];
  private readonly matchers = new Map<string, SharedMatcher>();
  private readonly keyMemos = new Map<string, GroupKeyMemo>();
  /** The soonest any rule wants a sweep: most events need not look at each rule. */
  private nextSweep = 0;
  private readonly evaluation = new Evaluation();

  /** Epoch ms that relative time 0 stands for: the first event's time. */
  private base: number | null = null;
  /** Newest relative event time seen. */
  private newest = NO_TIME;
  /** Real events taken: the identity filter stamps and shared matchers remember. */
  private seq = 0;
  /** The event being evaluated: the real one's seq, or a negative one for a chained alert. */
  private evalSeq = 0;
  private syntheticSeq = 0;
  private readonly counters = { events: 0, late: 0, shed: 0, ungrouped: 0, evicted: 0 };
  private readonly lateSamples: EventRef[] = [];
  private readonly alertCounts = new Map<string, number>();
  private out: Alert[] | null = null;

  constructor(nodes: readonly RuleNode[], options: DetectionEngineOptions = {}) {
    this.latenessMs = options.latenessMs ?? DEFAULT_LATENESS_MS;
    this.maxGroups = options.maxGroupsPerRule ?? DEFAULT_MAX_GROUPS;
    this.calendar = options.calendar ?? DEFAULT_CALENDAR;
    for (const node of nodes) {
      if (node.type === 'filter') this.addFilter(node);
      else this.addAggregate(node);
    }
    for (const rt of this.aggregates) {
      rt.node.inputs.forEach((input, i) => {
        const source = this.byId.get(input.node);
        if (source === undefined) throw new Error(`rule ${rt.node.id} reads unknown rule ${input.node}`);
        source.consumers.push({ rule: rt, input: i });
      });
    }
    this.buildIndex();
  }

  /**
   * Takes one event at its event time (epoch ms) and returns the alerts it causes, usually
   * none. `ref` names the event in alerts and in the late-event samples.
   */
  process(event: EcsEvent, epochMs: number, ref?: EventRef): readonly Alert[] {
    this.out = null;
    this.seq += 1;
    this.evalSeq = this.seq;
    this.counters.events += 1;
    if (this.base === null) this.base = epochMs;
    const t = epochMs - this.base;
    const late = this.newest !== NO_TIME && t < this.newest - this.latenessMs;
    if (late) {
      this.counters.late += 1;
      if (this.lateSamples.length < LATE_SAMPLES && ref !== undefined) this.lateSamples.push(ref);
    } else if (t > this.newest) {
      this.newest = t;
    }

    for (let i = 0; i < this.indexEntries.length; i++) {
      const entry = this.indexEntries[i]!;
      const raw = entry.read(event);
      if (raw === undefined || raw === null) continue;
      if (Array.isArray(raw)) {
        for (const item of raw) this.route(lookup(entry.rules, item), event, t, late, ref);
      } else {
        this.route(lookup(entry.rules, raw), event, t, late, ref);
      }
    }
    if (this.unindexed.length > 0) this.route(this.unindexed, event, t, late, ref);

    if (!late) this.maybeSweep();
    return this.out ?? NO_ALERTS;
  }

  stats(): DetectionStats {
    let live = 0;
    for (const rt of this.aggregates) live += rt.groups.size;
    for (const f of this.filters) live += f.quiet.size;
    return {
      ...this.counters,
      lateSamples: [...this.lateSamples],
      liveGroups: live,
      alerts: Object.fromEntries(this.alertCounts),
    };
  }

  checkpoint(): EngineCheckpoint {
    const rules: Record<string, { signature: string; groups: [string, unknown][] }> = {};
    for (const rt of this.aggregates) {
      const groups: [string, unknown][] = [];
      for (const [key, state] of rt.groups) groups.push([key, rt.aggregator.save(state)]);
      rules[rt.node.id] = { signature: signatureOf(rt.node), groups };
    }
    for (const f of this.filters) {
      if (f.quiet.size > 0) rules[f.node.id] = { signature: signatureOf(f.node), groups: [...f.quiet] };
    }
    return { version: 1, base: this.base, newest: this.newest, rules, counters: { ...this.counters } };
  }

  /**
   * Loads a checkpoint into a fresh engine. State of a rule whose definition changed since
   * (window, aggregation, grouping, inputs) is dropped; returns the ids dropped.
   */
  restore(checkpoint: EngineCheckpoint): string[] {
    if (checkpoint.version !== 1) throw new Error(`unknown checkpoint version ${String(checkpoint.version)}`);
    if (this.counters.events > 0) throw new Error('restore needs a fresh engine');
    this.base = checkpoint.base;
    this.newest = checkpoint.newest;
    Object.assign(this.counters, checkpoint.counters);
    const dropped: string[] = [];
    for (const [id, saved] of Object.entries(checkpoint.rules)) {
      const rt = this.byId.get(id);
      if (rt === undefined || signatureOf(rt.node) !== saved.signature) {
        dropped.push(id);
        continue;
      }
      if ('aggregator' in rt) {
        for (const [key, raw] of saved.groups) rt.groups.set(key, rt.aggregator.load(raw));
      } else {
        for (const [key, at] of saved.groups) rt.quiet.set(key, at as number);
      }
    }
    return dropped;
  }

  // -------------------------------------------------------------------------------------

  private route(
    rules: readonly FilterRuntime[] | undefined,
    event: EcsEvent,
    t: number,
    late: boolean,
    ref?: EventRef,
  ) {
    if (rules === undefined) return;
    for (const f of rules) {
      if (f.stamp === this.seq) continue;
      f.stamp = this.seq;
      const m = f.matcher;
      if (m.seq !== this.seq) {
        m.seq = this.seq;
        m.result = m.detection.match(event);
      }
      if (!m.result) continue;
      if (f.metaFilters.length > 0 && !f.metaFilters.every((x) => x.match(event))) continue;
      if (!this.allowed(f.node.calendar, t)) continue;
      if (f.node.generates) this.singleEventAlert(f, event, t, ref);
      if (!late) for (const c of f.consumers) this.feed(c.rule, c.input, event, t, ref);
    }
  }

  private allowed(limit: CalendarLimit | undefined, t: number): boolean {
    return limit === undefined || allowedByCalendar(this.calendar, limit, t + this.base!);
  }

  private singleEventAlert(f: FilterRuntime, event: EcsEvent, t: number, ref?: EventRef): void {
    const key = groupKey(f.groupReaders, event);
    if (key === undefined) {
      this.counters.ungrouped += 1;
      return;
    }
    const quietMs = f.node.quietMs;
    if (quietMs > 0) {
      const last = f.quiet.get(key);
      if (last !== undefined && Math.abs(t - last) <= quietMs) return;
      if (last === undefined && f.quiet.size >= this.maxGroups) {
        this.counters.shed += 1;
        return;
      }
      f.quiet.set(key, t);
    }
    this.emit(f.node, f.node.groupBy, f.groupReaders, event, key, 1, t, t, 1, ref);
  }

  private feed(rt: AggregateRuntime, input: number, event: EcsEvent, t: number, ref?: EventRef): void {
    if (rt.node.calendar !== undefined && !this.allowed(rt.node.calendar, t)) return;
    const readers = rt.readers[input]!;
    const memo = rt.keys[input]!;
    if (memo.seq !== this.evalSeq) {
      memo.seq = this.evalSeq;
      memo.key = groupKey(readers, event);
    }
    const key = memo.key;
    if (key === undefined) {
      this.counters.ungrouped += 1;
      return;
    }
    let state = rt.groups.get(key);
    if (state === undefined) {
      if (rt.groups.size >= this.maxGroups) {
        this.counters.shed += 1;
        return;
      }
      state = rt.aggregator.create();
      rt.groups.set(key, state);
    }
    const ev = this.evaluation;
    if (!rt.aggregator.accept(state, t, event, input, this.evalSeq, ev)) return;
    const end = ev.end;
    const quietMs = rt.aggregator.quietMs;
    if (quietMs === 0 || state.lastAlert === NO_TIME || Math.abs(end - state.lastAlert) > quietMs) {
      state.lastAlert = end;
      this.emit(rt.node, rt.node.groupBy, readers, event, key, ev.value, ev.start, end, ev.events, ref);
    }
    // Chained correlations see every moment this one holds, quiet or not: the quiet period
    // limits alerts to people and must not hide from a sequence that the condition still holds.
    // Last, because the chained rules reuse the evaluation object.
    if (rt.consumers.length > 0) this.feedChained(rt, readers, event, end, ref);
  }

  private emit(
    node: RuleNode,
    groupBy: readonly string[],
    readers: readonly FieldReader[],
    event: EcsEvent,
    key: string,
    value: number,
    start: number,
    end: number,
    events: number,
    ref: EventRef | undefined,
  ): void {
    const group: Record<string, string> = {};
    groupBy.forEach((field, i) => {
      group[field] = groupValue(readers[i]!(event))!;
    });
    const base = this.base!;
    if (node.generates) {
      const alert: Alert = {
        rule: node.id,
        title: node.title,
        severity: node.severity,
        group,
        value,
        start: start + base,
        end: end + base,
        events,
        trigger: ref,
        fingerprint: alertFingerprint(node.id, key, end + base),
      };
      if (this.out === null) this.out = [alert];
      else this.out.push(alert);
      this.alertCounts.set(node.id, (this.alertCounts.get(node.id) ?? 0) + 1);
    }
  }

  /** Passes "this rule holds for this group at `end`" on as an event carrying the group's fields. */
  private feedChained(
    rt: AggregateRuntime,
    readers: readonly FieldReader[],
    event: EcsEvent,
    end: number,
    ref: EventRef | undefined,
  ): void {
    const synthetic: Record<string, unknown> = { '@timestamp': new Date(end + this.base!).toISOString() };
    rt.node.groupBy.forEach((field, i) => {
      synthetic[field] = groupValue(readers[i]!(event));
    });
    // The synthetic event is an event of its own for the per-event memos (group keys, steps):
    // it gets a negative identity of its own, and the real event's is restored after.
    const outer = this.evalSeq;
    this.evalSeq = --this.syntheticSeq;
    for (const c of rt.consumers) this.feed(c.rule, c.input, synthetic as EcsEvent, end, ref);
    this.evalSeq = outer;
  }

  private maybeSweep(): void {
    if (this.newest < this.nextSweep) return;
    this.nextSweep = this.newest + MIN_SWEEP_EVERY_MS;
    const watermark = this.newest - this.latenessMs;
    for (const rt of this.aggregates) {
      if (this.newest < rt.nextSweep) continue;
      rt.nextSweep = this.newest + rt.sweepEveryMs;
      const quietMs = rt.aggregator.quietMs;
      for (const [key, state] of rt.groups) {
        rt.aggregator.trim(state, watermark);
        if (!rt.aggregator.isEmpty(state)) continue;
        if (state.lastAlert !== NO_TIME && state.lastAlert >= watermark - quietMs) continue;
        rt.groups.delete(key);
        this.counters.evicted += 1;
      }
    }
    for (const f of this.filters) {
      if (f.quiet.size === 0 || this.newest < f.nextSweep) continue;
      f.nextSweep = this.newest + Math.max(MIN_SWEEP_EVERY_MS, Math.floor(f.node.quietMs / 2));
      for (const [key, at] of f.quiet) {
        if (at < watermark - f.node.quietMs) {
          f.quiet.delete(key);
          this.counters.evicted += 1;
        }
      }
    }
  }

  private addFilter(node: FilterNode): void {
    const key = JSON.stringify(node.filter.detection);
    let matcher = this.matchers.get(key);
    if (matcher === undefined) {
      matcher = { detection: compileDetection(node.filter.detection), seq: 0, result: false };
      this.matchers.set(key, matcher);
    }
    const rt: FilterRuntime = {
      node,
      matcher,
      metaFilters: node.metaFilters.map((x) => compileDetection(x.detection)),
      consumers: [],
      groupReaders: node.groupBy.map(compileFieldPath),
      quiet: new Map(),
      stamp: 0,
      nextSweep: 0,
    };
    this.register(node.id, rt);
    this.filters.push(rt);
  }

  private addAggregate(node: AggregateNode): void {
    const rt: AggregateRuntime = {
      node,
      aggregator: createAggregator(node),
      groups: new Map(),
      readers: node.inputs.map((input) => node.groupBy.map((g) => compileFieldPath(input.fieldFor[g] ?? g))),
      keys: node.inputs.map((input) => this.keyMemo(node.groupBy.map((g) => input.fieldFor[g] ?? g))),
      consumers: [],
      sweepEveryMs: Math.max(MIN_SWEEP_EVERY_MS, Math.floor(node.windowMs / 2)),
      nextSweep: 0,
    };
    this.register(node.id, rt);
    this.aggregates.push(rt);
  }

  private keyMemo(fields: readonly string[]): GroupKeyMemo {
    const signature = JSON.stringify(fields);
    let memo = this.keyMemos.get(signature);
    if (memo === undefined) {
      memo = { readers: fields.map(compileFieldPath), seq: 0, key: undefined };
      this.keyMemos.set(signature, memo);
    }
    return memo;
  }

  private register(id: string, rt: FilterRuntime | AggregateRuntime): void {
    if (this.byId.has(id)) throw new Error(`two rules share the id ${id}`);
    this.byId.set(id, rt);
  }

  /**
   * Each filter is filed under one field it needs an exact value of, choosing the field most
   * filters need (in practice `event.action`), so an event meets only the rules its value of
   * that field can satisfy. Filters with no such field are tried on every event.
   */
  private buildIndex(): void {
    const popularity = new Map<string, number>();
    for (const f of this.filters) {
      for (const field of f.matcher.detection.requiredEquals.keys())
        popularity.set(field, (popularity.get(field) ?? 0) + 1);
    }
    for (const f of this.filters) {
      let best: string | undefined;
      for (const field of f.matcher.detection.requiredEquals.keys()) {
        if (best === undefined || popularity.get(field)! > popularity.get(best)!) best = field;
      }
      if (best === undefined) {
        this.unindexed.push(f);
        continue;
      }
      let entry = this.index.get(best);
      if (entry === undefined) {
        entry = { read: compileFieldPath(best), rules: new Map() };
        this.index.set(best, entry);
      }
      for (const value of f.matcher.detection.requiredEquals.get(best)!) {
        const list = entry.rules.get(value);
        if (list === undefined) entry.rules.set(value, [f]);
        else list.push(f);
      }
    }
    this.indexEntries = [...this.index.values()];
  }
}

/** Rules filed under a value; values are filed lowercased and most events already are. */
function lookup(rules: Map<string, FilterRuntime[]>, raw: unknown): FilterRuntime[] | undefined {
  if (typeof raw === 'string') return rules.get(raw) ?? rules.get(raw.toLowerCase());
  return rules.get(String(raw).toLowerCase());
}

/** A group-by value as a string; undefined when the field is missing. */
function groupValue(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw)) return raw.length === 0 ? undefined : raw.map(String).join(',');
  if (typeof raw === 'object') return JSON.stringify(raw);
  return String(raw);
}

function groupKey(readers: readonly FieldReader[], event: EcsEvent): string | undefined {
  if (readers.length === 0) return '';
  if (readers.length === 1) return groupValue(readers[0]!(event));
  let key = '';
  for (let i = 0; i < readers.length; i++) {
    const v = groupValue(readers[i]!(event));
    if (v === undefined) return undefined;
    key = i === 0 ? v : key + KEY_SEPARATOR + v;
  }
  return key;
}

/** What a checkpoint's state depends on: a rule edited since then starts afresh. */
function signatureOf(node: RuleNode): string {
  if (node.type === 'filter') return JSON.stringify(['filter', node.groupBy, node.quietMs]);
  return JSON.stringify(['aggregate', node.windowMs, node.aggregation, node.groupBy, node.inputs]);
}
