import { describe, expect, it } from 'vitest';
import { describeRejection, nestDottedKeys } from './ecs-event.js';

describe('nestDottedKeys', () => {
  it('returns the same object when nothing is dotted (no copy)', () => {
    const input = { '@timestamp': 'x', event: { action: 'login' }, tags: [{ a: 1 }] };
    expect(nestDottedKeys(input)).toBe(input);
  });

  it('nests dotted keys, at any depth and inside arrays', () => {
    expect(nestDottedKeys({ 'event.action': 'login', 'user.name': 'alice' })).toEqual({
      event: { action: 'login' },
      user: { name: 'alice' },
    });
    expect(nestDottedKeys({ http: { 'response.status_code': 200 } })).toEqual({
      http: { response: { status_code: 200 } },
    });
    expect(nestDottedKeys({ list: [{ 'a.b': 1 }, 2] })).toEqual({ list: [{ a: { b: 1 } }, 2] });
  });

  it('merges dotted and nested forms of the same object without touching the input', () => {
    const nested = { kind: 'event' };
    const input = { event: nested, 'event.action': 'login', 'event.outcome': 'failure' };
    expect(nestDottedKeys(input)).toEqual({ event: { kind: 'event', action: 'login', outcome: 'failure' } });
    expect(nested).toEqual({ kind: 'event' });
    expect(Object.keys(input)).toEqual(['event', 'event.action', 'event.outcome']);
    // The other order merges the same way.
    expect(nestDottedKeys({ 'event.action': 'login', event: { kind: 'event' } })).toEqual({
      event: { action: 'login', kind: 'event' },
    });
  });

  it('names a field given twice or as both a value and an object', () => {
    expect(nestDottedKeys({ 'event.action': 'a', event: { action: 'b' } })).toBe(
      'field "event.action" is given twice',
    );
    expect(nestDottedKeys({ event: 'x', 'event.action': 'a' })).toBe(
      'field "event" is both a value and an object',
    );
    expect(nestDottedKeys({ 'event.action': 'a', event: 'x' })).toBe(
      'field "event" is both a value and an object',
    );
    expect(nestDottedKeys({ 'a..b': 1 })).toBe('field "a..b" has an empty name part');
    expect(nestDottedKeys({ http: { response: { status_code: 1 }, 'response.status_code': 2 } })).toBe(
      'field "http.response.status_code" is given twice',
    );
  });

  it('cannot be used to pollute prototypes', () => {
    const input = JSON.parse('{"__proto__.polluted": 1}') as Record<string, unknown>;
    expect(nestDottedKeys(input)).toBe('field "__proto__.polluted" uses the reserved name __proto__');
    const viaConstructor = nestDottedKeys({ 'constructor.prototype.polluted': 1 });
    expect(viaConstructor).toEqual({ constructor: { prototype: { polluted: 1 } } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('describeRejection', () => {
  it('puts the location first', () => {
    expect(describeRejection({ location: 'line', position: 7, reason: 'oops' })).toBe('line 7: oops');
    expect(describeRejection({ location: 'index', position: 0, reason: 'oops' })).toBe('index 0: oops');
  });
});
