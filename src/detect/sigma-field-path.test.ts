/** Reading dotted Sigma field names from nested ECS events. */
import { describe, expect, it } from 'vitest';
import { compileFieldPath } from './sigma-field-path.js';

const ev = (fields: Record<string, unknown>) => ({ '@timestamp': '2026-01-01T00:00:00.000Z', ...fields });

describe('compileFieldPath', () => {
  it('reads nested fields', () => {
    expect(compileFieldPath('user.name')(ev({ user: { name: 'dana' } }))).toBe('dana');
    expect(compileFieldPath('user.name')(ev({ user: 'dana' }))).toBeUndefined();
    expect(compileFieldPath('@timestamp')(ev({}))).toBe('2026-01-01T00:00:00.000Z');
  });

  it('falls back to literal dotted keys at any level', () => {
    expect(compileFieldPath('user.name')(ev({ 'user.name': 'dana' }))).toBe('dana');
    expect(compileFieldPath('a.b.c')(ev({ a: { 'b.c': 1 } }))).toBe(1);
  });

  it('collects values under arrays of objects', () => {
    const event = ev({ threat: { technique: [{ id: 'T1' }, { id: ['T2', 'T3'] }, {}] } });
    expect(compileFieldPath('threat.technique.id')(event)).toEqual(['T1', 'T2', 'T3']);
  });

  it('does not read inherited properties', () => {
    expect(compileFieldPath('constructor')(ev({}))).toBeUndefined();
    expect(compileFieldPath('user.toString')(ev({ user: {} }))).toBeUndefined();
  });
});
