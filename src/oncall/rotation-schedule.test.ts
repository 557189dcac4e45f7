import { describe, expect, it } from 'vitest';
import { handoffAt, memberAt, type Rotation, turnAt } from './rotation-schedule.js';

const weekly: Rotation = {
  id: 'security-weekly',
  members: ['dana', 'eli', 'fay'],
  handoffDay: 'mon',
  handoffMinute: 9 * 60,
  timeZone: 'Europe/Berlin',
  start: '2026-01-05',
};

const at = (iso: string) => new Date(iso);
const ms = (iso: string, delta: number) => new Date(Date.parse(iso) + delta);
const who = (rotation: Rotation, when: Date, offset = 0) =>
  memberAt(rotation, turnAt(rotation, when).turn, offset);

describe('turnAt: hand-off boundaries', () => {
  // 2026-01-05 09:00 in Berlin (CET, +01:00) is 08:00 UTC.
  const first = '2026-01-05T08:00:00Z';

  it('the new turn holds from the hand-off instant on', () => {
    expect(handoffAt(weekly, 0)).toEqual(at(first));
    expect(who(weekly, ms(first, -1))).toBe('fay');
    expect(who(weekly, at(first))).toBe('dana');
    expect(who(weekly, ms(first, 1))).toBe('dana');
    expect(who(weekly, ms('2026-01-12T08:00:00Z', -1))).toBe('dana');
    expect(who(weekly, at('2026-01-12T08:00:00Z'))).toBe('eli');
  });

  it('reports when the turn began and when it ends', () => {
    expect(turnAt(weekly, at('2026-01-07T12:00:00Z'))).toEqual({
      turn: 0,
      since: at(first),
      until: at('2026-01-12T08:00:00Z'),
    });
  });

  it('wraps round after a full cycle, and keeps going for years', () => {
    const turns = [0, 1, 2, 3, 4].map((i) => who(weekly, ms(first, i * 7 * 86_400_000 + 3_600_000)));
    expect(turns).toEqual(['dana', 'eli', 'fay', 'dana', 'eli']);
    // 2031-01-06 is 261 weeks after the start: 261 % 3 === 0.
    expect(who(weekly, at('2031-01-06T08:00:00Z'))).toBe('dana');
    expect(turnAt(weekly, at('2031-01-06T08:00:00Z')).turn).toBe(261);
  });

  it('before the start, runs backwards in the same order', () => {
    expect(turnAt(weekly, ms(first, -1)).turn).toBe(-1);
    expect(who(weekly, at('2025-12-30T00:00:00Z'))).toBe('fay');
    expect(who(weekly, at('2025-12-23T00:00:00Z'))).toBe('eli');
    expect(who(weekly, at('2025-12-16T00:00:00Z'))).toBe('dana');
    expect(who(weekly, at('2020-01-01T00:00:00Z'))).toBe(who(weekly, at('2020-01-01T00:00:00Z'), 3));
  });

  it('offsets give the next members, never the current one', () => {
    for (let week = -4; week < 10; week += 1) {
      const when = ms(first, week * 7 * 86_400_000);
      const [a, b, c] = [0, 1, 2].map((o) => who(weekly, when, o));
      expect(new Set([a, b, c]).size).toBe(3);
    }
    expect(who(weekly, at(first), 1)).toBe('eli');
    expect(who(weekly, at(first), 2)).toBe('fay');
  });
});

describe('turnAt: daylight saving', () => {
  it('Europe/Berlin: 09:00 local on both sides of the spring and autumn changes', () => {
    // Clocks go forward on Sunday 2026-03-29 and back on Sunday 2026-10-25.
    expect(handoffAt(weekly, 11)).toEqual(at('2026-03-23T08:00:00Z')); // CET
    expect(handoffAt(weekly, 12)).toEqual(at('2026-03-30T07:00:00Z')); // CEST
    expect(handoffAt(weekly, 41)).toEqual(at('2026-10-19T07:00:00Z'));
    expect(handoffAt(weekly, 42)).toEqual(at('2026-10-26T08:00:00Z'));
    // The week across the change is an hour short: 167 hours.
    const turn = turnAt(weekly, at('2026-03-29T12:00:00Z'));
    expect(turn.until.getTime() - turn.since.getTime()).toBe(167 * 3_600_000);
    expect(who(weekly, ms('2026-03-30T07:00:00Z', -1))).not.toBe(who(weekly, at('2026-03-30T07:00:00Z')));
  });

  it('America/New_York: 09:00 local on both sides of the changes', () => {
    const ny: Rotation = { ...weekly, timeZone: 'America/New_York' };
    expect(handoffAt(ny, 8)).toEqual(at('2026-03-02T14:00:00Z')); // EST
    expect(handoffAt(ny, 9)).toEqual(at('2026-03-09T13:00:00Z')); // EDT
    expect(handoffAt(ny, 43)).toEqual(at('2026-11-02T14:00:00Z')); // EST again
  });

  const sunday = (timeZone: string, start: string, minute: number): Rotation => ({
    ...weekly,
    handoffDay: 'sun',
    handoffMinute: minute,
    timeZone,
    start,
  });

  it('a hand-off at a time the clocks skip happens that long after the jump (02:30 → 03:30)', () => {
    const berlin = sunday('Europe/Berlin', '2026-03-22', 2 * 60 + 30);
    expect(handoffAt(berlin, 0)).toEqual(at('2026-03-22T01:30:00Z')); // 02:30 CET
    expect(handoffAt(berlin, 1)).toEqual(at('2026-03-29T01:30:00Z')); // 03:30 CEST
    expect(handoffAt(berlin, 2)).toEqual(at('2026-04-05T00:30:00Z')); // 02:30 CEST
    expect(who(berlin, at('2026-03-29T01:29:59.999Z'))).toBe('dana');
    expect(who(berlin, at('2026-03-29T01:30:00Z'))).toBe('eli');

    const ny = sunday('America/New_York', '2026-03-01', 2 * 60 + 30);
    expect(handoffAt(ny, 1)).toEqual(at('2026-03-08T07:30:00Z')); // 03:30 EDT
  });

  it('a hand-off at a time that happens twice is the first of the two', () => {
    const berlin = sunday('Europe/Berlin', '2026-10-18', 2 * 60 + 30);
    expect(handoffAt(berlin, 1)).toEqual(at('2026-10-25T00:30:00Z')); // 02:30 CEST, not CET
    const ny = sunday('America/New_York', '2026-10-25', 60 + 30);
    expect(handoffAt(ny, 1)).toEqual(at('2026-11-01T05:30:00Z')); // 01:30 EDT, not EST
    expect(who(ny, at('2026-11-01T05:29:59.999Z'))).toBe('dana');
    expect(who(ny, at('2026-11-01T05:30:00Z'))).toBe('eli');
  });
});
