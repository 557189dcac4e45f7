import { describe, expect, it } from 'vitest';
import { formatEventQuery, parseEventQuery } from './event-query.js';

describe('parseEventQuery', () => {
  it.each([
    ['', {}],
    ['   ', {}],
    ['event.action:login', { 'event.action': 'login' }],
    [
      '  event.action:login   source.ip:203.0.113.7 ',
      { 'event.action': 'login', 'source.ip': '203.0.113.7' },
    ],
    ['source.ip:2001:db8::1', { 'source.ip': '2001:db8::1' }],
    [
      'user.name:"Dana Smith" event.outcome:failure',
      { 'user.name': 'Dana Smith', 'event.outcome': 'failure' },
    ],
    ['user.name:"say \\"hi\\""', { 'user.name': 'say "hi"' }],
    ['user.name:""', { 'user.name': '' }],
    ['http.response.status_code:503', { 'http.response.status_code': '503' }],
  ])('%j', (text, where) => {
    expect(parseEventQuery(text)).toEqual(where);
  });

  it('keeps __proto__ as a field name, not a prototype', () => {
    const where = parseEventQuery('__proto__.x:1') as Record<string, string>;
    expect(Object.keys(where)).toEqual(['__proto__.x']);
    expect(Object.getPrototypeOf(parseEventQuery('__proto__:1'))).toBe(Object.prototype);
    expect(Object.keys(parseEventQuery('__proto__:1'))).toEqual(['__proto__']);
  });

  it.each([
    ['login', /"login" is not field:value/],
    ['event.action:', /"event.action:" is not field:value/],
    [':login', /":login" is not field:value/],
    ['user.name:"Dana', /is not field:value/],
    ['user.name:a"b', /is not field:value/],
    ['event..action:login', /"event..action" is not a field name/],
    ['a:1 a:2', /field a is given twice/],
    ['a:"\\x"', /is not a valid quoted value/],
  ])('%j is refused', (text, problem) => {
    expect(parseEventQuery(text)).toMatch(problem);
  });
});

describe('formatEventQuery', () => {
  it('quotes only what needs quoting, and parses back', () => {
    const where = {
      'event.action': 'login',
      'user.name': 'Dana Smith',
      'x.y': 'say "hi"',
      empty: '',
      ip: '::1',
    };
    const text = formatEventQuery(where);
    expect(text).toBe('event.action:login user.name:"Dana Smith" x.y:"say \\"hi\\"" empty:"" ip:::1');
    expect(parseEventQuery(text)).toEqual(where);
  });
});
