/**
 * The events of one group over time, kept sorted and merged per millisecond, with running
 * totals over the current window [newest − W, newest]. Counts, sums, averages and ratios are
 * all sums of per-event numbers, so one structure serves them: `a` and `b` are two such
 * numbers per entry (count and part count, count and sum ...).
 *
 * Memory matters more than anything here: an attack rotating through a million addresses
 * makes a million groups that mostly hold one event. So a series with one entry is five
 * fields; the arrays and the bookkeeping of a longer series live in an `Entries` object made
 * on the second entry, and its `a`/`b` arrays exist only once some entry differs from
 * (a=1, b=0). Times are relative to the engine's base so they stay small integers (V8 keeps
 * those unboxed).
 */
/**
 * "No time": a small integer rather than NaN, because a field that ever holds a non-integer
 * makes V8 box every instance's value on the heap.
 */
export const NO_TIME = -1_073_741_824;

/**
 * The pair that rangeSums and sumsEndingAt return: one shared array, overwritten by each call,
 * because late events can be half of a busy stream and an array per call is garbage per event.
 * Read it before the next call.
 */
const SUMS: [number, number] = [0, 0];

function sums(a: number, b: number): [number, number] {
  SUMS[0] = a;
  SUMS[1] = b;
  return SUMS;
}

/** Two or more entries: the arrays and their bookkeeping. */
class Entries {
  /** Entry times, oldest first. */
  readonly times: number[];
  /** Per-entry `a`; null while every entry has a = 1. */
  as: number[] | null = null;
  /** Per-entry `b`; null while every entry has b = 0. */
  bs: number[] | null = null;
  /** First retained entry (entries before it were trimmed but not yet compacted away). */
  head = 0;
  /** First entry inside the current window. */
  lo = 0;
  /** Totals over entries lo..end. */
  totalA: number;
  totalB: number;
  /**
   * Set once a `b` is not an integer. Integer sums are exact, so the running total is a
   * function of the window's contents; sums of fractions drift as events enter and leave, so
   * then the window is summed afresh each time (see windowB).
   */
  fractional: boolean;

  constructor(t: number, a: number, b: number) {
    this.times = [t];
    if (a !== 1) this.as = [a];
    if (b !== 0) this.bs = [b];
    this.totalA = a;
    this.totalB = b;
    this.fractional = !Number.isInteger(b);
  }

  a(i: number): number {
    return this.as === null ? 1 : this.as[i]!;
  }

  b(i: number): number {
    return this.bs === null ? 0 : this.bs[i]!;
  }

  bump(i: number, a: number, b: number): void {
    this.as ??= new Array<number>(this.times.length).fill(1);
    this.as[i] = this.as[i]! + a;
    if (b !== 0) {
      this.bs ??= new Array<number>(this.times.length).fill(0);
      this.bs[i] = this.bs[i]! + b;
    }
  }

  push(t: number, a: number, b: number): void {
    const times = this.times;
    times.push(t);
    const n = times.length;
    if (this.as !== null) this.as.push(a);
    else if (a !== 1) {
      this.as = new Array<number>(n).fill(1);
      this.as[n - 1] = a;
    }
    if (this.bs !== null) this.bs.push(b);
    else if (b !== 0) {
      this.bs = new Array<number>(n).fill(0);
      this.bs[n - 1] = b;
    }
  }

  insert(i: number, t: number, a: number, b: number): void {
    insertAt(this.times, i, t);
    if (this.as !== null) insertAt(this.as, i, a);
    else if (a !== 1) {
      this.as = new Array<number>(this.times.length).fill(1);
      this.as[i] = a;
    }
    if (this.bs !== null) insertAt(this.bs, i, b);
    else if (b !== 0) {
      this.bs = new Array<number>(this.times.length).fill(0);
      this.bs[i] = b;
    }
  }

  compact(): void {
    const h = this.head;
    this.times.splice(0, h);
    this.as?.splice(0, h);
    this.bs?.splice(0, h);
    this.lo -= h;
    this.head = 0;
  }
}

export class CountSeries {
  /** Newest entry time; NO_TIME when empty. */
  last = NO_TIME;
  /** When this group last alerted; NO_TIME when never (kept here to save an object per group). */
  lastAlert = NO_TIME;
  /** The single entry's a and b while there is one entry. */
  private soloA = 0;
  private soloB = 0;
  /** Set from the second entry on. */
  private m: Entries | null = null;

  get size(): number {
    const m = this.m;
    if (m === null) return this.last === NO_TIME ? 0 : 1;
    return m.times.length - m.head;
  }

  /** Totals over the current window. */
  get totalA(): number {
    return this.m === null ? this.soloA : this.m.totalA;
  }

  /** The time of the oldest entry inside the current window. */
  get windowStart(): number {
    const m = this.m;
    if (m === null) return this.last;
    return m.lo < m.times.length ? m.times[m.lo]! : this.last;
  }

  /**
   * Adds an event at relative time `t` carrying (a, b). Returns true when it was in order
   * (not older than the newest entry), which is when the current window's totals describe
   * the window ending at `t`.
   */
  add(t: number, a: number, b: number, windowMs: number): boolean {
    if (this.size === 0) {
      this.m = null;
      this.last = t;
      this.soloA = a;
      this.soloB = b;
      return true;
    }
    if (this.m === null) this.m = new Entries(this.last, this.soloA, this.soloB);
    const m = this.m;
    if (!Number.isInteger(b)) m.fractional = true;
    const times = m.times;
    const n = times.length;
    const newest = times[n - 1]!;
    if (t >= newest) {
      if (t === newest) {
        m.bump(n - 1, a, b);
      } else {
        m.push(t, a, b);
        this.last = t;
      }
      m.totalA += a;
      m.totalB += b;
      this.slide(m, t - windowMs);
      return true;
    }
    // Late: insert in time order. It is inside the current window when not older than newest − W.
    const idx = lowerBound(times, t, m.head, n);
    const inWindow = t >= newest - windowMs;
    if (idx < n && times[idx] === t) {
      m.bump(idx, a, b);
    } else {
      m.insert(idx, t, a, b);
      if (!inWindow) m.lo += 1;
    }
    if (inWindow) {
      m.totalA += a;
      m.totalB += b;
    } else {
      this.left(t, a, b);
    }
    return false;
  }

  /** The sum of `b` over the current window, exact for integers, re-added for fractions. */
  windowB(): number {
    const m = this.m;
    if (m === null) return this.soloB;
    if (!m.fractional) return m.totalB;
    if (m.bs === null) return 0;
    let sum = 0;
    for (let i = m.lo; i < m.bs.length; i++) sum += m.bs[i]!;
    return sum;
  }

  /**
   * Sums of (a, b) over [t − W, t] for a late t (older than the newest entry). Starts from the
   * current window's totals and visits only the entries between t and the newest and between
   * the two windows' starts, so a flood of slightly late events costs what their lateness
   * spans, not what the window holds.
   */
  sumsEndingAt(t: number, windowMs: number): [number, number] {
    const m = this.m;
    if (m === null || m.fractional || t < this.last - windowMs) return this.rangeSums(t - windowMs, t);
    const times = m.times;
    let sa = m.totalA;
    let sb = m.totalB;
    for (let i = times.length - 1; i >= m.lo && times[i]! > t; i--) {
      sa -= m.a(i);
      sb -= m.b(i);
    }
    for (let i = m.lo - 1; i >= m.head && times[i]! >= t - windowMs; i--) {
      sa += m.a(i);
      sb += m.b(i);
    }
    return sums(sa, sb);
  }

  /** Sums of (a, b) over entries with time in [from, to], by scanning: for late evaluations. */
  rangeSums(from: number, to: number): [number, number] {
    const m = this.m;
    if (m === null) {
      return this.last !== NO_TIME && this.last >= from && this.last <= to
        ? sums(this.soloA, this.soloB)
        : sums(0, 0);
    }
    const times = m.times;
    let sa = 0;
    let sb = 0;
    for (let i = lowerBound(times, from, m.head, times.length); i < times.length && times[i]! <= to; i++) {
      sa += m.a(i);
      sb += m.b(i);
    }
    return sums(sa, sb);
  }

  /** First entry time ≥ from, for an alert's start. */
  firstAtOrAfter(from: number): number {
    const m = this.m;
    if (m === null) return this.last;
    const i = lowerBound(m.times, from, m.head, m.times.length);
    return i < m.times.length ? m.times[i]! : this.last;
  }

  /** Drops entries older than `before`; they can no longer fall in any window evaluated. */
  trim(before: number): void {
    const m = this.m;
    if (m === null) {
      if (this.last !== NO_TIME && this.last < before) {
        this.left(this.last, this.soloA, this.soloB);
        this.clear();
      }
      return;
    }
    const times = m.times;
    while (m.head < times.length && times[m.head]! < before) {
      if (m.head >= m.lo) {
        const a = m.a(m.head);
        const b = m.b(m.head);
        m.totalA -= a;
        m.totalB -= b;
        this.left(times[m.head]!, a, b);
        m.lo = m.head + 1;
      }
      m.head += 1;
    }
    if (m.head === times.length) this.clear();
    else if (m.head > 16 && m.head * 2 > times.length) m.compact();
  }

  /** Entries as [time, a, b] triples, for checkpoints. */
  entries(): number[][] {
    const m = this.m;
    if (m === null) return this.last === NO_TIME ? [] : [[this.last, this.soloA, this.soloB]];
    const out: number[][] = [];
    for (let i = m.head; i < m.times.length; i++) out.push([m.times[i]!, m.a(i), m.b(i)]);
    return out;
  }

  /** Called for each entry as it leaves the current window; a baseline keeps them. */
  protected left(_t: number, _a: number, _b: number): void {}

  private clear(): void {
    this.m = null;
    this.last = NO_TIME;
    this.soloA = 0;
    this.soloB = 0;
  }

  private slide(m: Entries, from: number): void {
    const times = m.times;
    while (m.lo < times.length && times[m.lo]! < from) {
      const a = m.a(m.lo);
      const b = m.b(m.lo);
      m.totalA -= a;
      m.totalB -= b;
      this.left(times[m.lo]!, a, b);
      m.lo += 1;
    }
  }
}

/**
 * Inserts by shifting the tail by hand: late events land near the end, so this moves a few
 * elements, where `splice` would allocate a result array per call.
 */
export function insertAt<T>(values: T[], i: number, value: T): void {
  const n = values.length;
  if (i === n) {
    values.push(value);
    return;
  }
  values.push(values[n - 1]!);
  for (let j = n - 1; j > i; j--) values[j] = values[j - 1]!;
  values[i] = value;
}

/** First index in [lo, hi) whose value is ≥ x (values sorted ascending). */
export function lowerBound(values: readonly number[], x: number, lo: number, hi: number): number {
  let l = lo;
  let h = hi;
  while (l < h) {
    const mid = (l + h) >>> 1;
    if (values[mid]! < x) l = mid + 1;
    else h = mid;
  }
  return l;
}
