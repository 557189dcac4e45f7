/**
 * Weekly time windows in a time zone: business hours and maintenance windows. Pure functions
 * of an instant, so detection rules and deadlines can ask "is this inside?" for event time.
 */
import { DateTime } from 'luxon';
import type { Weekday } from './policy-schema.js';

export interface WeeklyWindow {
  readonly days: readonly Weekday[];
  /** Minutes after local midnight. */
  readonly startMinute: number;
  readonly endMinute: number;
  /** IANA zone, e.g. Europe/Berlin. */
  readonly timeZone: string;
}

const LUXON_WEEKDAY: Record<Weekday, number> = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 };

/** Start inclusive, end exclusive: 09:00–18:00 contains 09:00 and 17:59:59.999, not 18:00. */
export function isInsideWindow(window: WeeklyWindow, at: Date): boolean {
  const local = DateTime.fromJSDate(at, { zone: window.timeZone });
  if (!window.days.some((d) => LUXON_WEEKDAY[d] === local.weekday)) return false;
  const minute = local.hour * 60 + local.minute + (local.second * 1000 + local.millisecond) / 60_000;
  return minute >= window.startMinute && minute < window.endMinute;
}

/**
 * The end of the window `at` falls in, or of the next window when `at` is outside one.
 * "Respond within business hours" is due then.
 */
export function endOfCurrentOrNextWindow(window: WeeklyWindow, at: Date): Date {
  let day = DateTime.fromJSDate(at, { zone: window.timeZone }).startOf('day');
  // Eight days always reach the next occurrence of any window that has at least one day.
  for (let i = 0; i < 8; i += 1) {
    if (window.days.some((d) => LUXON_WEEKDAY[d] === day.weekday)) {
      // Set the wall-clock time, not midnight + N minutes: on a day the clocks change, those differ by an hour.
      const end = day.set({ hour: Math.floor(window.endMinute / 60), minute: window.endMinute % 60 });
      if (end.toMillis() > at.getTime()) return end.toJSDate();
    }
    day = day.plus({ days: 1 }).startOf('day');
  }
  throw new RangeError('window has no days');
}
