import { describe, expect, it } from 'vitest';
import {
  ALLOWED_MOVES,
  canMove,
  type IncidentStatus,
  isOpen,
  MOVES_NEEDING_REASON,
  phaseOf,
  STATUSES,
} from './lifecycle.js';

/** The lifecycle as DESIGN.md and the KCT plan's phases describe it, written out independently. */
const EXPECTED_MOVES: ReadonlyArray<readonly [IncidentStatus, IncidentStatus]> = [
  ['detected', 'acknowledged'],
  ['acknowledged', 'contained'],
  ['acknowledged', 'resolved'],
  ['contained', 'eradicated'],
  ['eradicated', 'recovered'],
  ['recovered', 'resolved'],
  ['resolved', 'closed'],
];
const key = (from: string, to: string) => `${from}→${to}`;
const allowed = new Set(EXPECTED_MOVES.map(([from, to]) => key(from, to)));

describe('the lifecycle table', () => {
  it('lists the seven statuses in order', () => {
    expect(STATUSES).toEqual([
      'detected',
      'acknowledged',
      'contained',
      'eradicated',
      'recovered',
      'resolved',
      'closed',
    ]);
  });

  it('allows exactly the expected moves', () => {
    const table = Object.entries(ALLOWED_MOVES).flatMap(([from, tos]) => tos.map((to) => key(from, to)));
    expect(new Set(table)).toEqual(allowed);
    expect(table).toHaveLength(allowed.size);
  });

  it.each(EXPECTED_MOVES)('canMove(%s, %s) is true', (from, to) => {
    expect(canMove(from, to)).toBe(true);
  });

  const illegal = STATUSES.flatMap((from) => STATUSES.map((to) => [from, to] as const)).filter(
    ([from, to]) => !allowed.has(key(from, to)),
  );

  it('refuses the other 42 pairs, including staying put and every move backwards', () => {
    expect(illegal).toHaveLength(7 * 7 - 7);
  });

  it.each(illegal)('canMove(%s, %s) is false', (from, to) => {
    expect(canMove(from, to)).toBe(false);
  });

  it('makes closed final', () => {
    expect(ALLOWED_MOVES.closed).toEqual([]);
  });

  it('needs a reason only for the acknowledged → resolved shortcut', () => {
    expect([...MOVES_NEEDING_REASON]).toEqual(['acknowledged→resolved']);
  });

  it('maps statuses to the plan’s phases and says which are open', () => {
    expect(STATUSES.map((s) => [s, phaseOf(s), isOpen(s)])).toEqual([
      ['detected', 'detection_and_assessment', true],
      ['acknowledged', 'detection_and_assessment', true],
      ['contained', 'containment', true],
      ['eradicated', 'eradication', true],
      ['recovered', 'recovery', true],
      ['resolved', 'post_incident', false],
      ['closed', 'post_incident', false],
    ]);
  });
});
