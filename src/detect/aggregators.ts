/**
 * One aggregator per kind of aggregation: how a group's state takes an event, what value it
 * tests against the threshold, what it can forget, and how it is saved in a checkpoint.
 * Times here are relative to the engine's base (small integers); the engine converts.
 *
 * Evaluation points: an event in order is evaluated at its own time over [t − W, t]. A late
 * event (older than the group's newest, within the allowed lateness) is put in its place in
 * time, then evaluated at its own time over [t − W, t] and, when that does not hold, at the
 * group's newest time: it counts in every window it belongs to from then on.
 */
import type { EcsEvent } from '../events/index.js';
import { CountSeries, NO_TIME } from './count-series.js';
import {
  type AggregateNode,
  type Aggregation,
  type BaselineMeasure,
  meetsThreshold,
  type Threshold,
} from './rule-definition.js';
import { compileDetection } from './sigma-detection.js';
import { compileFieldPath, type FieldReader } from './sigma-field-path.js';
import { type FieldValue, nearestRank, ValueSeries } from './value-series.js';

/** What one evaluation found. One instance is reused for every event: no allocation. */
export class Evaluation {
  value = 0;
  start = 0;
  end = 0;
  events = 0;
}

export interface GroupState {
  lastAlert: number;
}

export interface Aggregator {
  /** After an alert, the group stays quiet this long (0: no quiet period). */
  readonly quietMs: number;
  create(): GroupState;
  /**
   * Adds one event that came through input `input` at relative time `t` and tests the rule.
   * Returns true, with `out` filled, when the threshold holds; false when it does not or the
   * event does not take part (a missing or non-numeric field).
   */
  accept(state: GroupState, t: number, event: EcsEvent, input: number, seq: number, out: Evaluation): boolean;
  /** Forgets what no window ending at `now` or later can need. */
  trim(state: GroupState, now: number): void;
  /** Nothing left but, perhaps, the time of the last alert. */
  isEmpty(state: GroupState): boolean;
  save(state: GroupState): unknown;
  load(raw: unknown): GroupState;
}

/** Reads a field as a number: numbers and numeric strings; anything else is NaN. */
function numberOf(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string' && raw.trim() !== '') return Number(raw);
  return Number.NaN;
}

/** Reads a field as a value to count distinct: strings and numbers by their string form. */
function distinctValueOf(raw: unknown): FieldValue | undefined {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  if (Array.isArray(raw) && raw.length > 0) return raw.map(String).join(',');
  return undefined;
}

function holds(threshold: Threshold | undefined, value: number): boolean {
  return threshold === undefined || meetsThreshold(threshold, value);
}

/** What the windowed aggregators keep per group: CountSeries or ValueSeries. */
interface WindowSeries extends GroupState {
  readonly size: number;
  trim(before: number): void;
  entries(): unknown[];
}

/** Trimming, emptiness and saving are the same for every aggregator over one window series. */
abstract class WindowAggregator {
  constructor(protected readonly windowMs: number) {}

  trim(state: GroupState, now: number): void {
    (state as WindowSeries).trim(now - this.windowMs);
  }

  isEmpty(state: GroupState): boolean {
    return (state as WindowSeries).size === 0;
  }

  save(state: GroupState): unknown {
    const s = state as WindowSeries;
    return { lastAlert: s.lastAlert, entries: s.entries() };
  }
}

// ---------------------------------------------------------------------------------------
// count, sum, avg, ratio: sums of two numbers per event over the window

/** Per event: (a, b), or false when the event takes no part. */
type Extract = (event: EcsEvent, pair: [number, number]) => boolean;
/** The tested value from the window's totals (a, b); NaN when there is nothing to test. */
type Measure = (a: number, b: number) => number;

class SumsAggregator extends WindowAggregator implements Aggregator {
  private readonly pair: [number, number] = [0, 0];
  constructor(
    windowMs: number,
    private readonly threshold: Threshold | undefined,
    private readonly extract: Extract,
    private readonly measure: Measure,
    readonly quietMs: number,
  ) {
    super(windowMs);
  }

  create(): GroupState {
    return new CountSeries();
  }

  accept(
    state: GroupState,
    t: number,
    event: EcsEvent,
    _input: number,
    _seq: number,
    out: Evaluation,
  ): boolean {
    const series = state as CountSeries;
    if (!this.extract(event, this.pair)) return false;
    const inOrder = series.add(t, this.pair[0], this.pair[1], this.windowMs);
    if (!inOrder) {
      const [a, b] = series.sumsEndingAt(t, this.windowMs);
      if (this.test(a, b, out)) {
        out.start = series.firstAtOrAfter(t - this.windowMs);
        out.end = t;
        return true;
      }
    }
    if (!this.test(series.totalA, series.windowB(), out)) return false;
    out.start = series.windowStart;
    out.end = series.last;
    return true;
  }

  private test(a: number, b: number, out: Evaluation): boolean {
    const value = this.measure(a, b);
    if (Number.isNaN(value) || !holds(this.threshold, value)) return false;
    out.value = value;
    out.events = a;
    return true;
  }

  load(raw: unknown): GroupState {
    const saved = raw as { lastAlert: number; entries: number[][] };
    const s = new CountSeries();
    for (const [t, a, b] of saved.entries) s.add(t!, a!, b!, this.windowMs);
    s.lastAlert = saved.lastAlert;
    return s;
  }
}

// ---------------------------------------------------------------------------------------
// baseline: this window against the windows before it

/**
 * The current window exactly, plus history in buckets of W/300 (1 s for a 5-minute window):
 * entries move into the history as they leave the current window, and a bucket is dropped
 * once it lies wholly before the baseline's far edge. So the near edge is exact and the far
 * edge is exact to a bucket.
 */
class BaselineSeries extends CountSeries {
  bucketStarts: number[] = [];
  bucketA: number[] = [];
  bucketB: number[] = [];
  historyA = 0;
  historyB = 0;
  constructor(private readonly bucketMs: number) {
    super();
  }

  protected override left(t: number, a: number, b: number): void {
    const start = Math.floor(t / this.bucketMs) * this.bucketMs;
    const n = this.bucketStarts.length;
    let i = n - 1;
    while (i >= 0 && this.bucketStarts[i]! > start) i--;
    if (i >= 0 && this.bucketStarts[i] === start) {
      this.bucketA[i] = this.bucketA[i]! + a;
      this.bucketB[i] = this.bucketB[i]! + b;
    } else {
      this.bucketStarts.splice(i + 1, 0, start);
      this.bucketA.splice(i + 1, 0, a);
      this.bucketB.splice(i + 1, 0, b);
    }
    this.historyA += a;
    this.historyB += b;
  }

  dropHistoryBefore(edge: number): void {
    let k = 0;
    while (k < this.bucketStarts.length && this.bucketStarts[k]! + this.bucketMs <= edge) {
      this.historyA -= this.bucketA[k]!;
      this.historyB -= this.bucketB[k]!;
      k++;
    }
    if (k > 0) {
      this.bucketStarts.splice(0, k);
      this.bucketA.splice(0, k);
      this.bucketB.splice(0, k);
    }
  }
}

class BaselineAggregator implements Aggregator {
  private readonly pair: [number, number] = [0, 0];
  private readonly bucketMs: number;
  constructor(
    private readonly windowMs: number,
    private readonly windows: number,
    private readonly minEvents: number,
    private readonly floor: number,
    private readonly threshold: Threshold | undefined,
    private readonly extract: Extract,
    private readonly measure: Measure,
    /** count: a per-window mean; avg and ratio are pooled (history sums / history count). */
    private readonly perWindow: boolean,
    readonly quietMs: number,
  ) {
    this.bucketMs = Math.max(1, Math.floor(windowMs / 300));
  }

  create(): GroupState {
    return new BaselineSeries(this.bucketMs);
  }

  accept(
    state: GroupState,
    t: number,
    event: EcsEvent,
    _input: number,
    _seq: number,
    out: Evaluation,
  ): boolean {
    const s = state as BaselineSeries;
    if (!this.extract(event, this.pair)) return false;
    s.add(t, this.pair[0], this.pair[1], this.windowMs);
    s.dropHistoryBefore(s.last - (this.windows + 1) * this.windowMs);
    if (s.totalA < this.minEvents || s.historyA === 0) return false;
    const current = this.measure(s.totalA, s.windowB());
    let base = this.perWindow ? s.historyA / this.windows : this.measure(s.historyA, s.historyB);
    if (Number.isNaN(current) || Number.isNaN(base)) return false;
    base = Math.max(base, this.floor);
    if (base <= 0) return false;
    const value = current / base;
    if (!holds(this.threshold, value)) return false;
    out.value = value;
    out.events = s.totalA;
    out.start = s.windowStart;
    out.end = s.last;
    return true;
  }

  trim(state: GroupState, now: number): void {
    const s = state as BaselineSeries;
    s.trim(now - this.windowMs);
    s.dropHistoryBefore(now - (this.windows + 1) * this.windowMs);
  }

  isEmpty(state: GroupState): boolean {
    const s = state as BaselineSeries;
    return s.size === 0 && s.bucketStarts.length === 0;
  }

  save(state: GroupState): unknown {
    const s = state as BaselineSeries;
    return {
      lastAlert: s.lastAlert,
      entries: s.entries(),
      buckets: s.bucketStarts.map((start, i) => [start, s.bucketA[i]!, s.bucketB[i]!]),
    };
  }

  load(raw: unknown): GroupState {
    const saved = raw as { lastAlert: number; entries: number[][]; buckets: number[][] };
    const s = new BaselineSeries(this.bucketMs);
    for (const [start, a, b] of saved.buckets) {
      s.bucketStarts.push(start!);
      s.bucketA.push(a!);
      s.bucketB.push(b!);
      s.historyA += a!;
      s.historyB += b!;
    }
    for (const [t, a, b] of saved.entries) s.add(t!, a!, b!, this.windowMs);
    s.lastAlert = saved.lastAlert;
    return s;
  }
}

// ---------------------------------------------------------------------------------------
// distinct, share (Sigma value_percentile), percentile: the values themselves

class ValuesAggregator extends WindowAggregator implements Aggregator {
  constructor(
    windowMs: number,
    private readonly threshold: Threshold | undefined,
    private readonly read: FieldReader,
    private readonly kind: 'distinct' | 'share' | 'percentile',
    private readonly percentile: number,
    readonly quietMs: number,
  ) {
    super(windowMs);
  }

  create(): GroupState {
    return new ValueSeries();
  }

  accept(
    state: GroupState,
    t: number,
    event: EcsEvent,
    _input: number,
    _seq: number,
    out: Evaluation,
  ): boolean {
    const s = state as ValueSeries;
    const raw = this.read(event);
    let value: FieldValue | undefined;
    if (this.kind === 'percentile') {
      const n = numberOf(raw);
      value = Number.isFinite(n) ? n : undefined;
    } else {
      value = distinctValueOf(raw);
    }
    if (value === undefined) return false;
    if (!s.add(t, value, this.windowMs)) {
      // Late: first the window ending at the event's own time.
      let held: boolean;
      if (this.kind === 'percentile' || t < s.last - this.windowMs) {
        held = this.test(s.valuesIn(t - this.windowMs, t), value, out);
      } else {
        const { distinct, same, total } = s.statsEndingAt(t, this.windowMs, value);
        held =
          this.kind === 'distinct'
            ? this.pass(distinct, total, out)
            : this.pass((100 * same) / total, total, out);
      }
      if (held) {
        out.start = s.firstAtOrAfter(t - this.windowMs);
        out.end = t;
        return true;
      }
    }
    if (!this.testWindow(s, value, out)) return false;
    out.start = s.windowStart;
    out.end = s.last;
    return true;
  }

  private testWindow(s: ValueSeries, value: FieldValue, out: Evaluation): boolean {
    if (this.kind === 'distinct') return this.pass(s.inWindow.size, s.windowCount, out);
    if (this.kind === 'share')
      return this.pass((100 * (s.inWindow.get(value) ?? 0)) / s.windowCount, s.windowCount, out);
    return this.pass(nearestRank(s.windowValues() as number[], this.percentile), s.windowCount, out);
  }

  private test(values: FieldValue[], value: FieldValue, out: Evaluation): boolean {
    if (values.length === 0) return false;
    if (this.kind === 'distinct') return this.pass(new Set(values).size, values.length, out);
    if (this.kind === 'share') {
      const same = values.filter((v) => v === value).length;
      return this.pass((100 * same) / values.length, values.length, out);
    }
    return this.pass(nearestRank(values as number[], this.percentile), values.length, out);
  }

  private pass(value: number, events: number, out: Evaluation): boolean {
    if (Number.isNaN(value) || !holds(this.threshold, value)) return false;
    out.value = value;
    out.events = events;
    return true;
  }

  load(raw: unknown): GroupState {
    const saved = raw as { lastAlert: number; entries: [number, FieldValue][] };
    const s = this.create() as ValueSeries;
    for (const [t, v] of saved.entries) s.add(t, v, this.windowMs);
    s.lastAlert = saved.lastAlert;
    return s;
  }
}

// ---------------------------------------------------------------------------------------
// first_seen: a value new to the group within the lookback

class FirstSeenState implements GroupState {
  lastAlert = NO_TIME;
  /** Newest event of the group, with or without the field. */
  last = NO_TIME;
  readonly seen = new Map<FieldValue, number>();
}

class FirstSeenAggregator implements Aggregator {
  readonly quietMs = 0;
  constructor(
    private readonly lookbackMs: number,
    private readonly read: FieldReader,
  ) {}

  create(): GroupState {
    return new FirstSeenState();
  }

  accept(
    state: GroupState,
    t: number,
    event: EcsEvent,
    _input: number,
    _seq: number,
    out: Evaluation,
  ): boolean {
    const s = state as FirstSeenState;
    const from = t - this.lookbackMs;
    const hadHistory = s.last !== NO_TIME && s.last >= from;
    if (s.last === NO_TIME || t > s.last) s.last = t;
    const value = distinctValueOf(this.read(event));
    if (value === undefined) return false;
    const known = s.seen.get(value);
    if (known === undefined || t > known) s.seen.set(value, t);
    if (!hadHistory || (known !== undefined && known >= from)) return false;
    out.value = 1;
    out.events = 1;
    out.start = t;
    out.end = t;
    return true;
  }

  trim(state: GroupState, now: number): void {
    const s = state as FirstSeenState;
    const from = now - this.lookbackMs;
    for (const [value, at] of s.seen) if (at < from) s.seen.delete(value);
    if (s.last !== NO_TIME && s.last < from) s.last = NO_TIME;
  }

  isEmpty(state: GroupState): boolean {
    const s = state as FirstSeenState;
    return s.last === NO_TIME && s.seen.size === 0;
  }

  save(state: GroupState): unknown {
    const s = state as FirstSeenState;
    return { lastAlert: s.lastAlert, last: s.last, seen: [...s.seen] };
  }

  load(raw: unknown): GroupState {
    const saved = raw as { lastAlert: number; last: number; seen: [FieldValue, number][] };
    const s = new FirstSeenState();
    s.lastAlert = saved.lastAlert;
    s.last = saved.last;
    for (const [v, at] of saved.seen) s.seen.set(v, at);
    return s;
  }
}

// ---------------------------------------------------------------------------------------
// sequence (temporal_ordered) and unordered (temporal)

class StepsState implements GroupState {
  lastAlert = NO_TIME;
  /**
   * sequence: starts[i] = the latest start time of a chain that has reached step i;
   * unordered: the newest time step i was seen. NO_TIME when none.
   */
  readonly starts: number[];
  /** The event that last moved each step, so one event cannot take two steps at once. */
  readonly movedBy: number[];
  constructor(steps: number) {
    this.starts = new Array<number>(steps).fill(NO_TIME);
    this.movedBy = new Array<number>(steps).fill(0);
  }
}

class StepsAggregator implements Aggregator {
  constructor(
    private readonly windowMs: number,
    private readonly steps: number,
    private readonly ordered: boolean,
    private readonly threshold: Threshold | undefined,
    readonly quietMs: number,
  ) {}

  create(): GroupState {
    return new StepsState(this.steps);
  }

  accept(
    state: GroupState,
    t: number,
    _event: EcsEvent,
    input: number,
    seq: number,
    out: Evaluation,
  ): boolean {
    const s = state as StepsState;
    const from = t - this.windowMs;
    if (!this.ordered || input === 0) {
      if (s.starts[input] === NO_TIME || t > s.starts[input]!) {
        s.starts[input] = t;
        s.movedBy[input] = seq;
      }
    } else {
      const before = s.starts[input - 1]!;
      const reached = before !== NO_TIME && before >= from && s.movedBy[input - 1] !== seq;
      if (reached && (s.starts[input] === NO_TIME || before > s.starts[input]!)) {
        s.starts[input] = before;
        s.movedBy[input] = seq;
      }
    }
    let value = 0;
    let start = t;
    if (this.ordered) {
      for (let i = this.steps - 1; i >= 0; i--) {
        const at = s.starts[i]!;
        if (at !== NO_TIME && at >= from) {
          value = i + 1;
          start = at;
          break;
        }
      }
    } else {
      for (const at of s.starts) {
        if (at !== NO_TIME && at >= from && at <= t) {
          value += 1;
          if (at < start) start = at;
        }
      }
    }
    if (value === 0 || !holds(this.threshold, value)) return false;
    out.value = value;
    out.events = value;
    out.start = start;
    out.end = t;
    return true;
  }

  trim(state: GroupState, now: number): void {
    const s = state as StepsState;
    for (let i = 0; i < s.starts.length; i++) if (s.starts[i]! < now - this.windowMs) s.starts[i] = NO_TIME;
  }

  isEmpty(state: GroupState): boolean {
    return (state as StepsState).starts.every((at) => at === NO_TIME);
  }

  save(state: GroupState): unknown {
    const s = state as StepsState;
    return { lastAlert: s.lastAlert, starts: [...s.starts] };
  }

  load(raw: unknown): GroupState {
    const saved = raw as { lastAlert: number; starts: number[] };
    const s = new StepsState(this.steps);
    s.lastAlert = saved.lastAlert;
    saved.starts.forEach((at, i) => {
      s.starts[i] = at;
    });
    return s;
  }
}

// ---------------------------------------------------------------------------------------

function extractFor(aggregation: Aggregation | BaselineMeasure): { extract: Extract; measure: Measure } {
  switch (aggregation.kind) {
    case 'count':
      return { extract: countOne, measure: (a) => a };
    case 'sum': {
      const read = compileFieldPath(aggregation.field);
      return { extract: numericField(read), measure: (_a, b) => b };
    }
    case 'avg': {
      const read = compileFieldPath(aggregation.field);
      return { extract: numericField(read), measure: (a, b) => (a === 0 ? Number.NaN : b / a) };
    }
    case 'ratio': {
      const part = compileDetection(aggregation.part.detection);
      return {
        extract: (event, pair) => {
          pair[0] = 1;
          pair[1] = part.match(event) ? 1 : 0;
          return true;
        },
        measure: (a, b) => (a === 0 ? Number.NaN : (100 * b) / a),
      };
    }
    default:
      throw new Error(`no sums for ${aggregation.kind}`);
  }
}

function countOne(_event: EcsEvent, pair: [number, number]): boolean {
  pair[0] = 1;
  pair[1] = 0;
  return true;
}

function numericField(read: FieldReader): Extract {
  return (event, pair) => {
    const n = numberOf(read(event));
    if (!Number.isFinite(n)) return false;
    pair[0] = 1;
    pair[1] = n;
    return true;
  };
}

/** Builds the aggregator of one aggregating rule. */
export function createAggregator(node: AggregateNode): Aggregator {
  const { aggregation: agg, windowMs, threshold } = node;
  switch (agg.kind) {
    case 'count':
    case 'sum':
    case 'avg': {
      const { extract, measure } = extractFor(agg);
      return new SumsAggregator(windowMs, threshold, extract, measure, windowMs);
    }
    case 'ratio': {
      const { extract, measure } = extractFor(agg);
      const min = agg.minEvents;
      return new SumsAggregator(
        windowMs,
        threshold,
        extract,
        (a, b) => (a < min ? Number.NaN : measure(a, b)),
        windowMs,
      );
    }
    case 'baseline': {
      const { extract, measure } = extractFor(agg.measure);
      return new BaselineAggregator(
        windowMs,
        agg.windows,
        agg.minEvents,
        agg.floor,
        threshold,
        extract,
        measure,
        agg.measure.kind === 'count',
        windowMs,
      );
    }
    case 'distinct':
    case 'share':
      return new ValuesAggregator(windowMs, threshold, compileFieldPath(agg.field), agg.kind, 0, windowMs);
    case 'percentile':
      return new ValuesAggregator(
        windowMs,
        threshold,
        compileFieldPath(agg.field),
        'percentile',
        agg.percentile,
        windowMs,
      );
    case 'first_seen':
      return new FirstSeenAggregator(agg.lookbackMs, compileFieldPath(agg.field));
    case 'sequence':
    case 'unordered':
      return new StepsAggregator(windowMs, node.inputs.length, agg.kind === 'sequence', threshold, windowMs);
  }
}
