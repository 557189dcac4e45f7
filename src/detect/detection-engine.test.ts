import { describe, expect, it } from 'vitest';
import type { EcsEvent } from '../events/index.js';
import { DetectionEngine, type DetectionEngineOptions } from './detection-engine.js';
import type { AggregateNode, Aggregation, FilterNode, RuleNode, Threshold } from './rule-definition.js';

const T0 = Date.parse('2026-03-02T12:00:00Z'); // a Monday, inside business hours
const SEC = 1000;
const MIN = 60 * SEC;

function filterNode(
  id: string,
  detection: Record<string, unknown>,
  extra: Partial<FilterNode> = {},
): FilterNode {
  return {
    type: 'filter',
    id,
    title: id,
    severity: 'P2',
    description: '',
    filter: { detection, where: `${id} filter` },
    metaFilters: [],
    calendar: undefined,
    generates: false,
    groupBy: [],
    quietMs: 0,
    source: { file: 'test', line: 1 },
    ...extra,
  };
}

const FAILED_LOGIN = { sel: { 'event.action': 'login', 'event.outcome': 'failure' }, condition: 'sel' };

function aggregate(
  id: string,
  aggregation: Aggregation,
  threshold: Threshold | undefined,
  windowMs: number,
  groupBy: string[],
  detection: Record<string, unknown> = FAILED_LOGIN,
): RuleNode[] {
  const node: AggregateNode = {
    type: 'aggregate',
    id,
    title: id,
    severity: 'P1',
    description: '',
    inputs: [{ node: `${id}/filter`, fieldFor: {} }],
    groupBy,
    windowMs,
    aggregation,
    threshold,
    calendar: undefined,
    generates: true,
    source: { file: 'test', line: 1 },
  };
  return [filterNode(`${id}/filter`, detection), node];
}

function login(at: number, extra: Record<string, unknown> = {}): [EcsEvent, number] {
  return [
    {
      '@timestamp': new Date(at).toISOString(),
      event: { action: 'login', outcome: 'failure' },
      user: { name: 'ann' },
      source: { ip: '203.0.113.9' },
      ...extra,
    },
    at,
  ];
}

function run(nodes: RuleNode[], events: [EcsEvent, number][], options?: DetectionEngineOptions) {
  const engine = new DetectionEngine(nodes, options);
  const alerts = events.flatMap(([e, at], i) => engine.process(e, at, i));
  return { engine, alerts };
}

const moreThan3In5m = () => aggregate('r', { kind: 'count' }, { gt: 3 }, 5 * MIN, ['user.name']);

describe('window edges: [t − W, t], both ends included', () => {
  it('counts an event exactly W before t', () => {
    const times = [0, 1 * MIN, 2 * MIN, 5 * MIN];
    const { alerts } = run(
      moreThan3In5m(),
      times.map((d) => login(T0 + d)),
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      rule: 'r',
      value: 4,
      start: T0,
      end: T0 + 5 * MIN,
      events: 4,
      trigger: 3,
    });
    expect(alerts[0]!.group).toEqual({ 'user.name': 'ann' });
  });

  it('does not count one a millisecond older', () => {
    const times = [0, 1 * MIN, 2 * MIN, 5 * MIN + 1];
    expect(
      run(
        moreThan3In5m(),
        times.map((d) => login(T0 + d)),
      ).alerts,
    ).toHaveLength(0);
  });

  it('holds at N+1 and not at N', () => {
    expect(
      run(
        moreThan3In5m(),
        [0, 1, 2].map((d) => login(T0 + d * SEC)),
      ).alerts,
    ).toHaveLength(0);
    expect(
      run(
        moreThan3In5m(),
        [0, 1, 2, 3].map((d) => login(T0 + d * SEC)),
      ).alerts,
    ).toHaveLength(1);
  });

  it('keeps groups apart', () => {
    const events = [0, 1, 2, 3].map((d) => login(T0 + d * SEC, { user: { name: d % 2 ? 'bob' : 'ann' } }));
    expect(run(moreThan3In5m(), events).alerts).toHaveLength(0);
  });
});

describe('quiet period: at most one alert per W per group', () => {
  const burst = (from: number) => [0, 1, 2, 3].map((d) => login(from + d));

  it('stays quiet while t − a ≤ W, alerts again after', () => {
    // First alert at T0+3. Events keep coming so the rule keeps holding.
    const steady = [...burst(T0), login(T0 + 5 * MIN + 3 - 3), ...burst(T0 + 5 * MIN)];
    const quiet = run(moreThan3In5m(), [...steady, login(T0 + 5 * MIN + 3)]).alerts;
    expect(quiet.map((a) => a.end)).toEqual([T0 + 3]);
    const again = run(moreThan3In5m(), [...steady, login(T0 + 5 * MIN + 4)]).alerts;
    expect(again.map((a) => a.end)).toEqual([T0 + 3, T0 + 5 * MIN + 4]);
  });
});

describe('lateness', () => {
  it('counts an event up to the allowed lateness out of order, evaluated at its own time', () => {
    const events = [login(T0), login(T0 + 10 * SEC), login(T0 + 20 * SEC), login(T0 + 5 * SEC)];
    const { alerts, engine } = run(moreThan3In5m(), events);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ value: 4, end: T0 + 20 * SEC });
    expect(engine.stats().late).toBe(0);
  });

  it('evaluates a late event at its own time when the newest window no longer holds', () => {
    const events = [0, 10, 20].map((s) => login(T0 + s * SEC));
    // The window ending at 5m+5s holds 0s? no: [5s, 5m5s] holds 10s, 20s, the late 30s and 5m5s.
    events.push(login(T0 + 5 * MIN + 5 * SEC, { user: { name: 'ann' } }));
    events.push(login(T0 + 30 * SEC));
    const { alerts } = run(moreThan3In5m(), events, { latenessMs: 5 * MIN });
    expect(alerts.map((a) => [a.value, a.end - T0])).toEqual([[4, 30 * SEC]]);
  });

  it('counts an event later than the lateness as late, keeps it out of windows, and names it', () => {
    const events = [login(T0 + 2 * MIN), login(T0 + 2 * MIN + 1), login(T0 + 2 * MIN + 2), login(T0)];
    const { alerts, engine } = run(moreThan3In5m(), events, { latenessMs: 60 * SEC });
    expect(alerts).toHaveLength(0);
    expect(engine.stats()).toMatchObject({ late: 1, lateSamples: [3] });
  });

  it('still shows a late event to single-event rules', () => {
    const nodes = [filterNode('denied', FAILED_LOGIN, { generates: true })];
    const { alerts, engine } = run(nodes, [login(T0 + 5 * MIN), login(T0)]);
    expect(alerts).toHaveLength(2);
    expect(engine.stats().late).toBe(1);
  });
});

describe('memory follows live groups', () => {
  it('evicts idle groups once their window has passed', () => {
    const engine = new DetectionEngine(moreThan3In5m(), { latenessMs: 0 });
    for (let i = 0; i < 1000; i++) engine.process(login(T0 + i, { user: { name: `u${i}` } })[0], T0 + i);
    expect(engine.stats().liveGroups).toBe(1000);
    engine.process(login(T0 + 20 * MIN, { user: { name: 'late-riser' } })[0], T0 + 20 * MIN);
    expect(engine.stats()).toMatchObject({ liveGroups: 1, evicted: 1000 });
  });

  it('sheds events that would open a group past the cap, and counts them', () => {
    const engine = new DetectionEngine(moreThan3In5m(), { maxGroupsPerRule: 10 });
    for (let i = 0; i < 25; i++) engine.process(login(T0 + i, { user: { name: `u${i}` } })[0], T0 + i);
    expect(engine.stats()).toMatchObject({ liveGroups: 10, shed: 15 });
  });

  it('does not count events missing a group-by field', () => {
    const engine = new DetectionEngine(moreThan3In5m());
    engine.process({ '@timestamp': 'x', event: { action: 'login', outcome: 'failure' } }, T0);
    expect(engine.stats()).toMatchObject({ liveGroups: 0, ungrouped: 1 });
  });
});

describe('checkpoint and restore', () => {
  it('gives the same alerts as an uninterrupted run, through JSON', () => {
    const nodes = [
      ...moreThan3In5m(),
      ...aggregate('d', { kind: 'distinct', field: 'user.name' }, { gt: 2 }, 10 * MIN, ['source.ip']),
      ...aggregate(
        'f',
        { kind: 'first_seen', field: 'source.ip', lookbackMs: 60 * MIN },
        undefined,
        60 * MIN,
        ['user.name'],
      ),
    ];
    const events: [EcsEvent, number][] = [];
    for (let i = 0; i < 400; i++) {
      events.push(
        login(T0 + i * 7 * SEC, { user: { name: `u${i % 5}` }, source: { ip: `198.51.100.${i % 13}` } }),
      );
    }
    const whole = run(nodes, events).alerts;
    expect(whole.length).toBeGreaterThan(10);

    const first = new DetectionEngine(nodes);
    const before = events.slice(0, 200).flatMap(([e, at], i) => first.process(e, at, i));
    const saved = JSON.parse(JSON.stringify(first.checkpoint()));
    const second = new DetectionEngine(nodes);
    expect(second.restore(saved)).toEqual([]);
    const after = events.slice(200).flatMap(([e, at], i) => second.process(e, at, i + 200));
    expect([...before, ...after]).toEqual(whole);
  });

  it('drops the state of a rule whose definition changed', () => {
    const engine = new DetectionEngine(moreThan3In5m());
    engine.process(...login(T0));
    const changed = aggregate('r', { kind: 'count' }, { gt: 3 }, 10 * MIN, ['user.name']);
    expect(new DetectionEngine(changed).restore(engine.checkpoint())).toEqual(['r']);
  });
});

describe('routing', () => {
  it('only tries the rules an event can match, and still finds rules without an exact field', () => {
    const nodes = [
      filterNode('by-action', { sel: { 'event.action': 'payment' }, condition: 'sel' }, { generates: true }),
      filterNode(
        'by-contains',
        { sel: { 'url.path|contains': '/admin' }, condition: 'sel' },
        { generates: true },
      ),
    ];
    const { alerts } = run(nodes, [
      [{ '@timestamp': 'x', event: { action: 'PAYMENT' } }, T0],
      [{ '@timestamp': 'x', event: { action: 'login' }, url: { path: '/admin/x' } }, T0 + 1],
    ]);
    expect(alerts.map((a) => a.rule)).toEqual(['by-action', 'by-contains']);
  });
});

describe('sums of fractions', () => {
  it('depend only on the events in the window, not on those that left it', () => {
    const nodes = aggregate('s', { kind: 'sum', field: 'amount' }, { gt: 0 }, 10, ['user.name']);
    const events = [
      [0.1, 0],
      [0.2, 1],
      [0, 21],
    ].map(([amount, dt]) => login(T0 + dt!, { amount }));
    // At 1 ms the group is quiet; at 21 ms only the 0 is left in the window.
    expect(run(nodes, events).alerts.map((a) => [a.end - T0, a.value])).toEqual([[0, 0.1]]);
  });

  it('are the same after a checkpoint and restore', () => {
    const nodes = aggregate('s', { kind: 'sum', field: 'amount' }, { gt: 0 }, 10, ['user.name']);
    const events = [
      [0.7, 0],
      [0.1, 11],
      [0.7, 11],
      [0, 22],
    ].map(([amount, dt]) => login(T0 + dt!, { amount }));
    const whole = run(nodes, events).alerts;
    const first = new DetectionEngine(nodes);
    const before = events.slice(0, 3).flatMap(([e, at], i) => first.process(e, at, i));
    const second = new DetectionEngine(nodes);
    second.restore(JSON.parse(JSON.stringify(first.checkpoint())));
    const after = second.process(events[3]![0], events[3]![1], 3);
    expect([...before, ...after]).toEqual(whole);
  });
});
