import { describe, expect, it } from 'vitest';
import { endOfCurrentOrNextWindow, isInsideWindow, type WeeklyWindow } from './time-windows.js';

const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri'] as const;
const utcBusiness: WeeklyWindow = {
  days: weekdays,
  startMinute: 9 * 60,
  endMinute: 18 * 60,
  timeZone: 'UTC',
};
const inside = (w: WeeklyWindow, at: string) => isInsideWindow(w, new Date(at));

describe('isInsideWindow (start inclusive, end exclusive)', () => {
  // 2026-03-04 is a Wednesday.
  it.each([
    ['one ms before start', '2026-03-04T08:59:59.999Z', false],
    ['at start', '2026-03-04T09:00:00.000Z', true],
    ['one ms after start', '2026-03-04T09:00:00.001Z', true],
    ['one ms before end', '2026-03-04T17:59:59.999Z', true],
    ['at end', '2026-03-04T18:00:00.000Z', false],
    ['one ms after end', '2026-03-04T18:00:00.001Z', false],
  ])('%s → %s', (_name, at, expected) => {
    expect(inside(utcBusiness, at)).toBe(expected);
  });

  it('is outside on a day the window does not list, at any time of day', () => {
    for (const at of ['2026-03-07T09:00:00.000Z', '2026-03-07T12:00:00.000Z', '2026-03-08T17:59:59.999Z']) {
      expect(inside(utcBusiness, at)).toBe(false);
    }
  });

  it('reads the day and the time in the window’s zone', () => {
    const ny: WeeklyWindow = { ...utcBusiness, timeZone: 'America/New_York' };
    // Wednesday 09:00 EST = 14:00 UTC.
    expect(inside(ny, '2026-03-04T13:59:59.999Z')).toBe(false);
    expect(inside(ny, '2026-03-04T14:00:00.000Z')).toBe(true);
    expect(inside(ny, '2026-03-04T22:59:59.999Z')).toBe(true);
    expect(inside(ny, '2026-03-04T23:00:00.000Z')).toBe(false);
    // Saturday 01:00 UTC is still Friday 20:00 in New York: a Friday window open until 21:00 contains it,
    // a Saturday one does not.
    expect(inside({ ...ny, endMinute: 21 * 60 }, '2026-03-07T01:00:00.000Z')).toBe(true);
    expect(inside({ ...ny, days: ['sat'], startMinute: 0 }, '2026-03-07T01:00:00.000Z')).toBe(false);
    // After the spring-forward weekend, 09:00 EDT = 13:00 UTC.
    expect(inside(ny, '2026-03-09T12:59:59.999Z')).toBe(false);
    expect(inside(ny, '2026-03-09T13:00:00.000Z')).toBe(true);
  });

  it('handles windows that do not start on the hour', () => {
    const maintenance: WeeklyWindow = {
      days: ['sun'],
      startMinute: 2 * 60 + 30,
      endMinute: 4 * 60 + 15,
      timeZone: 'UTC',
    };
    expect(inside(maintenance, '2026-03-08T02:29:59.999Z')).toBe(false);
    expect(inside(maintenance, '2026-03-08T02:30:00.000Z')).toBe(true);
    expect(inside(maintenance, '2026-03-08T04:14:59.999Z')).toBe(true);
    expect(inside(maintenance, '2026-03-08T04:15:00.000Z')).toBe(false);
  });
});

describe('endOfCurrentOrNextWindow', () => {
  const end = (w: WeeklyWindow, at: string) => endOfCurrentOrNextWindow(w, new Date(at)).toISOString();

  it('is the end of the window it is in, or of the next one', () => {
    expect(end(utcBusiness, '2026-03-04T17:59:59.999Z')).toBe('2026-03-04T18:00:00.000Z');
    expect(end(utcBusiness, '2026-03-04T18:00:00.000Z')).toBe('2026-03-05T18:00:00.000Z');
    expect(end(utcBusiness, '2026-03-06T18:00:00.000Z')).toBe('2026-03-09T18:00:00.000Z');
  });

  it('finds a once-a-week window a full week later', () => {
    const sunday: WeeklyWindow = { days: ['sun'], startMinute: 120, endMinute: 240, timeZone: 'UTC' };
    expect(end(sunday, '2026-03-08T04:00:00.000Z')).toBe('2026-03-15T04:00:00.000Z');
    expect(end(sunday, '2026-03-08T03:59:59.999Z')).toBe('2026-03-08T04:00:00.000Z');
  });

  it('throws for a window with no days', () => {
    expect(() => end({ ...utcBusiness, days: [] }, '2026-03-04T10:00:00.000Z')).toThrow(RangeError);
  });
});
