/**
 * Time is injected (DESIGN.md principle 1): domain code asks a Clock, never `Date.now()`,
 * so tests and drills can run the same code on a virtual clock.
 */
export interface Clock {
  /** The current instant. */
  now(): Date;
}

/** The real wall clock; only the composition root should create one. */
export const systemClock: Clock = { now: () => new Date() };

/**
 * A clock that moves only when told to. Used by tests and drills.
 *
 * @example
 * const clock = new VirtualClock('2026-01-05T10:00:00Z');
 * clock.advance(15 * 60_000); // fifteen minutes later
 */
export class VirtualClock implements Clock {
  private current: number;

  constructor(start: Date | string | number) {
    this.current = new Date(start).getTime();
    if (Number.isNaN(this.current)) throw new RangeError(`VirtualClock: invalid start time ${String(start)}`);
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): void {
    this.current += ms;
  }

  set(to: Date | string | number): void {
    this.current = new Date(to).getTime();
  }
}
