/** Whole `detection:` blocks: identifiers, conditions, fields, routing hints and error paths. */
import { describe, expect, it } from 'vitest';
import type { EcsEvent } from '../events/index.js';
import { isFirebreakError } from '../kernel/index.js';
import { compileDetection } from './sigma-detection.js';

const ev = (fields: Record<string, unknown>): EcsEvent => ({
  '@timestamp': '2026-03-02T10:00:00.000Z',
  ...fields,
});
const login = (user: string, outcome: string, ip = '203.0.113.7') =>
  ev({
    event: { action: 'login', category: ['authentication'], outcome },
    user: { name: user },
    source: { ip },
  });

describe('compileDetection', () => {
  const rule = compileDetection({
    selection: { 'event.action': 'login', 'event.outcome': 'failure' },
    filter_internal: { 'source.ip|cidr': ['10.0.0.0/8', '192.168.0.0/16'] },
    filter_users: [{ 'user.name': 'svc-*' }, { 'user.name|endswith': '-bot' }],
    condition: 'selection and not 1 of filter_*',
  });

  it('ANDs a map, ORs a list of maps and applies the condition', () => {
    expect(rule.match(login('dana', 'failure'))).toBe(true);
    expect(rule.match(login('dana', 'success'))).toBe(false);
    expect(rule.match(login('dana', 'failure', '10.1.2.3'))).toBe(false);
    expect(rule.match(login('svc-export', 'failure'))).toBe(false);
    expect(rule.match(login('deploy-bot', 'failure'))).toBe(false);
  });

  it('lists the fields it reads and the equalities every match needs', () => {
    expect(rule.fields).toEqual(['event.action', 'event.outcome', 'source.ip', 'user.name']);
    expect(Object.fromEntries(rule.requiredEquals)).toEqual({
      'event.action': ['login'],
      'event.outcome': ['failure'],
    });
  });

  it('combines required equalities through or, and stops at not', () => {
    const r = compileDetection({
      a: { 'event.action': 'login', x: 1 },
      b: [{ 'event.action': 'LOGOUT' }, { 'event.action': 'login', y: 'q*' }],
      c: { 'user.name': 'dana' },
      condition: '(a or b) and not c',
    });
    expect(Object.fromEntries(r.requiredEquals)).toEqual({ 'event.action': ['login', 'logout'] });
    const none = compileDetection({ a: { x: 1 }, b: { y: 2 }, condition: 'a or b' });
    expect(none.requiredEquals.size).toBe(0);
  });

  it('supports 1 of them, all of them and lists of conditions', () => {
    const d = { a: { x: 1 }, b: { y: 2 }, _c: { z: 3 } };
    const one = compileDetection({ ...d, condition: '1 of them' });
    const all = compileDetection({ ...d, condition: 'all of them' });
    const list = compileDetection({ ...d, condition: ['a and b', '_c'] });
    expect(one.match(ev({ y: 2 }))).toBe(true);
    expect(one.match(ev({ z: 3 }))).toBe(false); // _c is not part of "them"
    expect(all.match(ev({ x: 1, y: 2 }))).toBe(true);
    expect(all.match(ev({ x: 1 }))).toBe(false);
    expect(list.match(ev({ z: 3 }))).toBe(true);
    expect(list.match(ev({ x: 1 }))).toBe(false);
  });

  it('evaluates not, and, or, parentheses with Sigma precedence', () => {
    const r = compileDetection({ a: { a: 1 }, b: { b: 1 }, c: { c: 1 }, condition: 'not a and b or c' });
    expect(r.match(ev({ b: 1 }))).toBe(true);
    expect(r.match(ev({ a: 1, b: 1 }))).toBe(false);
    expect(r.match(ev({ a: 1, c: 1 }))).toBe(true);
    const p = compileDetection({
      a: { a: 1 },
      b: { b: 1 },
      c: { c: 1 },
      condition: 'not (a and b) and (b or c)',
    });
    expect(p.match(ev({ a: 1, b: 1 }))).toBe(false);
    expect(p.match(ev({ b: 1 }))).toBe(true);
    expect(p.match(ev({ a: 1 }))).toBe(false);
  });

  it('supports keyword lists and |all keywords', () => {
    const r = compileDetection({ keywords: ['event::clear', 'event::drop'], condition: 'keywords' });
    expect(r.match(ev({ process: { command_line: 'mimikatz EVENT::Clear' } }))).toBe(true);
    expect(r.match(ev({ process: { command_line: 'mimikatz' } }))).toBe(false);
    expect(r.fields).toEqual([]);
    const all = compileDetection({ k: { '|all': ['oab', 'externalurl'] }, condition: 'k' });
    expect(all.match(ev({ m: 'Set-Oab -ExternalUrl' }))).toBe(true);
    expect(all.match(ev({ m: 'Set-Oab' }))).toBe(false);
  });

  it('reads fields named in Sigma style with nested and dotted events', () => {
    const r = compileDetection({ s: { 'user.name': 'dana', 'user.roles': 'admin' }, condition: 's' });
    expect(r.match(ev({ user: { name: 'Dana', roles: ['viewer', 'admin'] } }))).toBe(true);
    expect(r.match(ev({ 'user.name': 'dana', 'user.roles': ['admin'] }))).toBe(true);
    expect(r.match(ev({ user: { name: 'dana', roles: [] } }))).toBe(false);
  });

  it('matches null and absent fields', () => {
    const r = compileDetection({ s: { id: 4738 }, f: { pw: null }, condition: 's and not f' });
    expect(r.match(ev({ id: 4738, pw: 'x' }))).toBe(true);
    expect(r.match(ev({ id: 4738 }))).toBe(false);
    expect(r.match(ev({ id: 4738, pw: null }))).toBe(false);
  });

  it('passes placeholders to |expand', () => {
    const r = compileDetection(
      { s: { 'host.name|expand': '%Servers%' }, condition: 's' },
      { placeholders: { Servers: ['srv*', 'db1'] } },
    );
    expect(r.match(ev({ host: { name: 'srv-7' } }))).toBe(true);
    expect(r.match(ev({ host: { name: 'laptop' } }))).toBe(false);
  });
});

describe('invalid detections', () => {
  it.each([
    [null, 'detection', 'expected a map of search identifiers and a condition'],
    [{ s: { a: 1 } }, 'detection.condition', 'missing'],
    [{ condition: 'x' }, 'detection', 'no search identifiers'],
    [
      { s: { a: 1 }, condition: 'nope' },
      'detection.condition',
      'unknown search identifier "nope" at column 1; defined: s',
    ],
    [
      { s: { a: 1 }, condition: '1 of f*' },
      'detection.condition',
      '"f*" at column 6 matches no search identifier',
    ],
    [{ s: { a: 1 }, condition: ['s', 's and'] }, 'detection.condition[1]', 'condition ended early'],
    [{ s: { a: 1 }, condition: 5 }, 'detection.condition', 'expected a condition string or a list of them'],
    [{ s: 'x', condition: 's' }, 'detection.s', 'expected a map of fields or a list, got string'],
    [{ s: [], condition: 's' }, 'detection.s', 'the list is empty'],
    [{ s: {}, condition: 's' }, 'detection.s', 'the map is empty'],
    [{ s: [{ a: 1 }, 'x'], condition: 's' }, 'detection.s', 'a list must hold only maps'],
    [{ s: [{ a: 1 }, { 'b|re': '(' }], condition: 's' }, 'detection.s[1].b|re', 'invalid regular expression'],
    [
      { selection: { 'CommandLine|base64offset': 'a*' }, condition: 'selection' },
      'detection.selection.CommandLine|base64offset',
      'cannot encode a value with wildcards',
    ],
    [
      { s: { 'a|expand': '%X%' }, condition: 's' },
      'detection.s.a|expand',
      'unknown placeholder %X%; known: none',
    ],
    [{ s: { a: 1 }, timeframe: '5m', condition: 's' }, 'detection.timeframe', 'use a correlation rule'],
  ])('rejects %j at %s', (detection, where, problem) => {
    let caught: unknown;
    try {
      compileDetection(detection);
    } catch (error) {
      caught = error;
    }
    expect(isFirebreakError(caught)).toBe(true);
    expect(caught).toMatchObject({ code: 'FB_ERR_RULE_INVALID', params: { where } });
    expect((caught as Error).message).toContain(`${where}: `);
    expect((caught as Error).message).toContain(problem);
  });
});
