/**
 * When a weekly rotation hands off, and whose turn it is at an instant. Hand-offs are wall-clock
 * times in the rotation's time zone, so they stay at 09:00 local across daylight saving changes.
 * Pure functions of the rotation and the instant.
 */
import { DateTime } from 'luxon';
import type { Weekday } from '../policy/index.js';

export interface Rotation {
  readonly id: string;
  /** Person ids, in order of turns. */
  readonly members: readonly string[];
  readonly handoffDay: Weekday;
  /** Wall-clock hand-off time, minutes after local midnight. */
  readonly handoffMinute: number;
  /** IANA zone, e.g. Europe/Berlin. */
  readonly timeZone: string;
  /** YYYY-MM-DD, a `handoffDay`: its hand-off starts members[0]'s turn. */
  readonly start: string;
}

export interface RotationTurn {
  /** Turns since `start`'s hand-off (0 is the first; negative before it). */
  readonly turn: number;
  /** When this turn began and when the next one begins. */
  readonly since: Date;
  readonly until: Date;
}

const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * The instant of hand-off number `turn` (0: the one on `start`). A wall-clock time the clocks
 * skip (02:30 on a spring-forward night) is read with the offset before the gap, so it falls
 * that far after the jump (03:30); a time that happens twice (fall-back) is the first of the
 * two. That is what RFC 5545 calendars and JavaScript's Temporal (`compatible`) do.
 */
export function handoffAt(rotation: Rotation, turn: number): Date {
  const date = DateTime.fromISO(rotation.start, { zone: 'utc' }).plus({ days: 7 * turn });
  const local = DateTime.fromObject(
    {
      year: date.year,
      month: date.month,
      day: date.day,
      hour: Math.floor(rotation.handoffMinute / 60),
      minute: rotation.handoffMinute % 60,
    },
    { zone: rotation.timeZone },
  );
  // Luxon picks the later of two equal wall-clock times; try the earlier one.
  const offsetBefore = local.minus({ hours: 3 }).offset;
  if (local.offset < offsetBefore) {
    const earlier = local.minus({ minutes: offsetBefore - local.offset });
    if (earlier.hour === local.hour && earlier.minute === local.minute && earlier.day === local.day) {
      return earlier.toJSDate();
    }
  }
  return local.toJSDate();
}

/** The turn that holds at `at`: hand-off instants are start-inclusive, so at a hand-off the new turn holds. */
export function turnAt(rotation: Rotation, at: Date): RotationTurn {
  const t = at.getTime();
  // A week is 168 hours give or take a daylight saving hour: the estimate is off by at most one.
  let turn = Math.floor((t - handoffAt(rotation, 0).getTime()) / WEEK_MS);
  while (handoffAt(rotation, turn).getTime() > t) turn -= 1;
  while (handoffAt(rotation, turn + 1).getTime() <= t) turn += 1;
  return { turn, since: handoffAt(rotation, turn), until: handoffAt(rotation, turn + 1) };
}

/**
 * The member whose turn it is, `offset` turns ahead (1: the next one). Before `start` the
 * rotation runs backwards in the same order, as if it had always been running.
 */
export function memberAt(rotation: Rotation, turn: number, offset = 0): string {
  const n = rotation.members.length;
  return rotation.members[(((turn + offset) % n) + n) % n]!;
}
