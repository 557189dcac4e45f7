/**
 * Event time: parses `@timestamp` values (ISO 8601 strings or epoch milliseconds) and builds
 * instants from calendar parts, with checks a `Date` constructor would silently skip
 * (`2024-02-30` rolling over to March, two-digit years landing in the 1900s).
 */

/** The range of a JavaScript Date: ±100,000,000 days around the epoch. */
const MAX_EPOCH_MS = 8.64e15;

// Compiled once; hot path. Seconds and zone are optional; a space may stand for the `T`.
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** Days in `month` (1-12) of `year`. */
export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/**
 * Epoch ms of a UTC calendar time, or undefined when a part is out of range. Unlike
 * `Date.UTC`, years 0-99 stay years 0-99 and `Feb 30` is refused rather than becoming `Mar 1`.
 */
export function utcEpochMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millisecond: number,
): number | undefined {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // A leap second (:60) is not representable in epoch time; refuse it rather than guess.
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millisecond);
  const ms = date.getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Epoch ms of an ISO 8601 date-time, or undefined when it is not one.
 * A time without a zone is taken as UTC: servers log in UTC far more often than not, and a
 * fixed rule beats guessing the sender's zone. Fractions beyond milliseconds are truncated.
 *
 * @example parseIsoTime('2003-08-24T05:14:15.000003-07:00') // 1061727255000
 */
export function parseIsoTime(text: string): number | undefined {
  const m = ISO_8601.exec(text);
  if (m === null) return undefined;
  const fraction = m[7];
  const ms = fraction === undefined ? 0 : Number(`${fraction}00`.slice(0, 3));
  const local = utcEpochMs(
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    m[6] === undefined ? 0 : Number(m[6]),
    ms,
  );
  if (local === undefined) return undefined;
  const zone = m[8];
  if (zone === undefined || zone === 'Z' || zone === 'z') return inRange(local);
  const sign = zone[0] === '-' ? -1 : 1;
  const hours = Number(zone.slice(1, 3));
  const minutes = zone.length > 3 ? Number(zone.slice(zone.length - 2)) : 0;
  if (hours > 23 || minutes > 59) return undefined;
  return inRange(local - sign * (hours * 60 + minutes) * 60_000);
}

function inRange(ms: number): number | undefined {
  return ms >= -MAX_EPOCH_MS && ms <= MAX_EPOCH_MS ? ms : undefined;
}

/**
 * Reads an `@timestamp` value: an ISO 8601 string or epoch milliseconds (a JSON number;
 * a fraction of a millisecond is dropped). Returns the epoch ms, or a reason for a person.
 * Numeric strings are refused on purpose: `"1700000000"` could be seconds or milliseconds.
 */
export function parseTimestampValue(value: unknown): number | string {
  if (value === undefined) return '@timestamp is missing';
  if (typeof value === 'number') {
    if (Number.isFinite(value)) {
      const ms = inRange(Math.floor(value));
      if (ms !== undefined) return ms;
    }
  } else if (typeof value === 'string') {
    const ms = parseIsoTime(value);
    if (ms !== undefined) return ms;
  }
  return `@timestamp ${preview(value)} is not ISO 8601 or epoch milliseconds`;
}

/** A short JSON rendering of a bad value, so a reason never echoes a megabyte back. */
export function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}
