/**
 * The values of one field over time for one group, sorted by time, with a count per distinct
 * value over the current window [newest − W, newest]. Serves distinct counts, Sigma's
 * value_percentile (how common a value is) and numeric percentiles.
 */
import { insertAt, lowerBound, NO_TIME } from './count-series.js';

export type FieldValue = string | number;

export class ValueSeries {
  readonly times: number[] = [];
  readonly values: FieldValue[] = [];
  head = 0;
  lo = 0;
  /** When this group last alerted; NO_TIME when never. */
  lastAlert = NO_TIME;
  /** Occurrences of each value among entries lo..end. */
  readonly inWindow = new Map<FieldValue, number>();

  get size(): number {
    return this.times.length - this.head;
  }

  get last(): number {
    return this.times.length > this.head ? this.times[this.times.length - 1]! : Number.NaN;
  }

  /** Events inside the current window. */
  get windowCount(): number {
    return this.times.length - this.lo;
  }

  get windowStart(): number {
    return this.lo < this.times.length ? this.times[this.lo]! : Number.NaN;
  }

  /** Returns true when in order (the window's counts then describe the window ending at `t`). */
  add(t: number, value: FieldValue, windowMs: number): boolean {
    const times = this.times;
    const n = times.length;
    if (n === this.head || t >= times[n - 1]!) {
      times.push(t);
      this.values.push(value);
      this.inWindow.set(value, (this.inWindow.get(value) ?? 0) + 1);
      const from = t - windowMs;
      while (this.lo < times.length && times[this.lo]! < from) this.leave(this.lo++);
      if (this.lo < this.head) this.lo = this.head;
      return true;
    }
    const newest = times[n - 1]!;
    const idx = upperBound(times, t, this.head, n);
    insertAt(times, idx, t);
    insertAt(this.values, idx, value);
    if (t >= newest - windowMs) this.inWindow.set(value, (this.inWindow.get(value) ?? 0) + 1);
    else this.lo += 1;
    return false;
  }

  /**
   * For a late t: distinct values, occurrences of `value` and events in [t − W, t], derived
   * from the current window's counts by visiting only the entries newer than t and those
   * between the two windows' starts (not the whole window).
   */
  statsEndingAt(
    t: number,
    windowMs: number,
    value: FieldValue,
  ): { distinct: number; same: number; total: number } {
    const times = this.times;
    const removed = new Map<FieldValue, number>();
    let total = this.windowCount;
    for (let i = times.length - 1; i >= this.lo && times[i]! > t; i--) {
      const v = this.values[i]!;
      removed.set(v, (removed.get(v) ?? 0) + 1);
      total -= 1;
    }
    const present = (v: FieldValue) => (this.inWindow.get(v) ?? 0) - (removed.get(v) ?? 0);
    let distinct = this.inWindow.size;
    for (const [v, n] of removed) if (this.inWindow.get(v) === n) distinct -= 1;
    const added = new Map<FieldValue, number>();
    for (let i = this.lo - 1; i >= this.head && times[i]! >= t - windowMs; i--) {
      const v = this.values[i]!;
      if (present(v) <= 0 && !added.has(v)) distinct += 1;
      added.set(v, (added.get(v) ?? 0) + 1);
      total += 1;
    }
    return { distinct, same: present(value) + (added.get(value) ?? 0), total };
  }

  /** Values with time in [from, to], by scanning: for late evaluations. */
  valuesIn(from: number, to: number): FieldValue[] {
    const out: FieldValue[] = [];
    for (let i = lowerBound(this.times, from, this.head, this.times.length); i < this.times.length; i++) {
      if (this.times[i]! > to) break;
      out.push(this.values[i]!);
    }
    return out;
  }

  /** First entry time ≥ from, for an alert's start. */
  firstAtOrAfter(from: number): number {
    const i = lowerBound(this.times, from, this.head, this.times.length);
    return i < this.times.length ? this.times[i]! : this.last;
  }

  /** The current window's values. */
  windowValues(): FieldValue[] {
    return this.values.slice(this.lo);
  }

  trim(before: number): void {
    const times = this.times;
    while (this.head < times.length && times[this.head]! < before) {
      if (this.head >= this.lo) {
        this.leave(this.head);
        this.lo = this.head + 1;
      }
      this.head += 1;
    }
    if (this.head > 16 && this.head * 2 > times.length) {
      const h = this.head;
      times.splice(0, h);
      this.values.splice(0, h);
      this.lo -= h;
      this.head = 0;
    }
  }

  entries(): [number, FieldValue][] {
    const out: [number, FieldValue][] = [];
    for (let i = this.head; i < this.times.length; i++) out.push([this.times[i]!, this.values[i]!]);
    return out;
  }

  private leave(i: number): void {
    const v = this.values[i]!;
    const c = (this.inWindow.get(v) ?? 1) - 1;
    if (c === 0) this.inWindow.delete(v);
    else this.inWindow.set(v, c);
  }
}

/** First index in [lo, hi) whose value is > x. Equal times keep arrival order. */
function upperBound(values: readonly number[], x: number, lo: number, hi: number): number {
  let l = lo;
  let h = hi;
  while (l < h) {
    const mid = (l + h) >>> 1;
    if (values[mid]! <= x) l = mid + 1;
    else h = mid;
  }
  return l;
}

/** Nearest-rank percentile (p in (0, 100]) of numbers; NaN for none. */
export function nearestRank(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}
