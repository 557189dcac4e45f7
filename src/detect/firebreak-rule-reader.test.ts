/** Firebreak rule documents → filter and aggregate nodes, and every mistake in them at its line. */
import { describe, expect, it } from 'vitest';
import type { AggregateNode, Aggregation, FilterNode, Threshold } from './rule-definition.js';
import { ev, firebreak, loadError, nested, nodeById, ruleFile } from './rule-fixtures.case.js';
import { loadRules } from './rule-loader.js';
import { compileDetection } from './sigma-detection.js';

const FILTER = {
  detection: { selection: { 'event.action': 'http_request' }, condition: 'selection' },
  where: 'rules/api-flood.yaml:5 filter',
};

describe('Firebreak rules', () => {
  it('loads a single-event rule as one generating filter node, its window the quiet period', () => {
    const nodes = loadRules([
      ruleFile(
        'admin-login.yaml',
        `
        # Admins log in during business hours.
        id: admin-login
        title: Admin login at night
        severity: P2
        description: ''
        filter:
          selection:
            event.action: login
            user.roles: admin
          condition: selection
        group_by: [user.name]
        window: 1h
        when: outside_business_hours
        `,
      ),
    ]);
    expect(nodes).toEqual([
      {
        type: 'filter',
        id: 'admin-login',
        title: 'Admin login at night',
        severity: 'P2',
        description: '',
        filter: {
          detection: {
            selection: { 'event.action': 'login', 'user.roles': 'admin' },
            condition: 'selection',
          },
          where: 'rules/admin-login.yaml:6 filter',
        },
        metaFilters: [],
        calendar: 'outside_business_hours',
        generates: true,
        groupBy: ['user.name'],
        quietMs: 3_600_000,
        source: { file: 'rules/admin-login.yaml', line: 2 },
      } satisfies FilterNode,
    ]);
  });

  it('loads a count aggregation as a hidden filter node and a generating aggregate node', () => {
    const nodes = loadRules([
      firebreak(`
        when: outside_maintenance_windows
        aggregation:
          function: count
          condition: {gte: 100, lt: 100000}
      `),
    ]);
    expect(nodes).toEqual([
      {
        type: 'filter',
        id: 'api-flood/filter',
        title: 'API flood',
        severity: 'P1',
        description: 'Too many requests from one address',
        filter: FILTER,
        metaFilters: [],
        calendar: 'outside_maintenance_windows',
        generates: false,
        groupBy: [],
        quietMs: 0,
        source: { file: 'rules/api-flood.yaml', line: 5 },
      } satisfies FilterNode,
      {
        type: 'aggregate',
        id: 'api-flood',
        title: 'API flood',
        severity: 'P1',
        description: 'Too many requests from one address',
        inputs: [{ node: 'api-flood/filter', fieldFor: {} }],
        groupBy: ['source.ip'],
        windowMs: 300_000,
        aggregation: { kind: 'count' },
        threshold: { gte: 100, lt: 100_000 },
        calendar: undefined,
        generates: true,
        source: { file: 'rules/api-flood.yaml', line: 1 },
      } satisfies AggregateNode,
    ]);
  });

  const part = (line: number) => ({
    detection: { failed: { 'event.outcome': 'failure' }, condition: 'failed' },
    where: `rules/api-flood.yaml:${line} aggregation.part`,
  });

  it.each<[string, string, Aggregation, Threshold | undefined]>([
    [
      'distinct',
      'function: distinct\n  field: user.name\n  condition: {gte: 20}',
      { kind: 'distinct', field: 'user.name' },
      { gte: 20 },
    ],
    [
      'sum',
      'function: sum\n  field: firebreak.records\n  condition: {gt: 10000}',
      { kind: 'sum', field: 'firebreak.records' },
      { gt: 10_000 },
    ],
    [
      'avg',
      'function: avg\n  field: http.response.body.bytes\n  condition: {gt: 5000.5}',
      { kind: 'avg', field: 'http.response.body.bytes' },
      { gt: 5000.5 },
    ],
    [
      'percentile',
      'function: percentile\n  field: event.duration\n  percentile: 95\n  condition: {gt: 2000}',
      { kind: 'percentile', field: 'event.duration', percentile: 95 },
      { gt: 2000 },
    ],
    [
      'ratio',
      'function: ratio\n  part:\n    failed: {event.outcome: failure}\n    condition: failed\n  min_events: 20\n  condition: {gte: 50}',
      { kind: 'ratio', part: part(13), minEvents: 20 },
      { gte: 50 },
    ],
    [
      'baseline of count',
      'function: baseline\n  measure: count\n  windows: 7\n  condition: {gte: 3}',
      { kind: 'baseline', measure: { kind: 'count' }, windows: 7, minEvents: 0, floor: 0 },
      { gte: 3 },
    ],
    [
      'baseline of avg',
      'function: baseline\n  measure: avg\n  field: firebreak.records\n  windows: 24\n  min_events: 10\n  floor: 1.5\n  condition: {gt: 4}',
      {
        kind: 'baseline',
        measure: { kind: 'avg', field: 'firebreak.records' },
        windows: 24,
        minEvents: 10,
        floor: 1.5,
      },
      { gt: 4 },
    ],
    [
      'baseline of ratio',
      'function: baseline\n  measure: ratio\n  part:\n    failed: {event.outcome: failure}\n    condition: failed\n  windows: 3\n  condition: {gte: 2}',
      { kind: 'baseline', measure: { kind: 'ratio', part: part(14) }, windows: 3, minEvents: 0, floor: 0 },
      { gte: 2 },
    ],
    [
      'first_seen',
      'function: first_seen\n  field: source.geo.country_iso_code\n  lookback: 30d',
      { kind: 'first_seen', field: 'source.geo.country_iso_code', lookbackMs: 30 * 86_400_000 },
      undefined,
    ],
  ])('loads a %s aggregation', (_name, body, aggregation, threshold) => {
    const nodes = loadRules([firebreak(`aggregation:\n  ${body}`)]);
    expect(nodes.map((n) => n.id)).toEqual(['api-flood/filter', 'api-flood']);
    const aggregate = nodeById<AggregateNode>(nodes, 'api-flood');
    expect(aggregate.aggregation).toEqual(aggregation);
    expect(aggregate.threshold).toEqual(threshold);
    expect(aggregate.inputs).toEqual([{ node: 'api-flood/filter', fieldFor: {} }]);
  });

  it('loads a sequence as one hidden node per step, each step AND-ed with the filter', () => {
    const nodes = loadRules([
      ruleFile(
        'takeover.yaml',
        `
        id: account-takeover
        title: Failures then a success
        severity: P0
        description: Password guessing that worked
        filter:
          web: {event.dataset: nginx.access}
          api: {event.dataset: api}
          condition: 1 of them
        group_by: [user.name]
        window: 15m
        aggregation:
          function: sequence
          steps:
            - sel: {event.outcome: failure}
              condition: sel
            - ok: {event.outcome: success}
              _ignored: {user.name: probe}
              condition: ok and not _ignored
        `,
      ),
    ]);
    expect(nodes.map((n) => n.id)).toEqual([
      'account-takeover/step-1',
      'account-takeover/step-2',
      'account-takeover',
    ]);
    const [first, second] = nodes as FilterNode[];
    expect(first!.filter).toEqual({
      detection: {
        filter_web: { 'event.dataset': 'nginx.access' },
        filter_api: { 'event.dataset': 'api' },
        step_sel: { 'event.outcome': 'failure' },
        condition: '(filter_web or filter_api) and (step_sel)',
      },
      where: 'rules/takeover.yaml:14 aggregation.steps[0]',
    });
    expect(first!.source).toEqual({ file: 'rules/takeover.yaml', line: 14 });
    expect(second!.generates).toBe(false);

    const step2 = compileDetection(second!.filter.detection);
    expect(step2.match(ev({ event: { dataset: 'api', outcome: 'success' }, user: { name: 'dana' } }))).toBe(
      true,
    );
    expect(step2.match(ev({ event: { dataset: 'api', outcome: 'success' }, user: { name: 'probe' } }))).toBe(
      false,
    );
    expect(step2.match(ev({ event: { dataset: 'other', outcome: 'success' } }))).toBe(false);
    expect(step2.match(ev({ event: { dataset: 'api', outcome: 'failure' } }))).toBe(false);

    const aggregate = nodeById<AggregateNode>(nodes, 'account-takeover');
    expect(aggregate.inputs).toEqual([
      { node: 'account-takeover/step-1', fieldFor: {} },
      { node: 'account-takeover/step-2', fieldFor: {} },
    ]);
    expect(aggregate.aggregation).toEqual({ kind: 'sequence' });
    expect(aggregate.threshold).toEqual({ gte: 2 });
  });
});

describe('problems in Firebreak rules', () => {
  const BASE = `
    id: api-flood
    title: API flood
    severity: P1
    description: d
    filter:
      selection: {event.action: http_request}
      condition: selection
  `;
  const bad = (extra = '', base = BASE, name = 'bad.yaml') =>
    ruleFile(name, `${base.trimEnd()}\n    ${nested(extra, 4)}`);

  it.each([
    [
      'an unknown key',
      bad('window: 5m\nseverity_level: P1'),
      'rules/bad.yaml:9 severity_level: is not a known field (known: id, title, severity, description, filter, group_by, window, when, aggregation)',
    ],
    [
      'a missing severity (at the line the document starts)',
      ruleFile(
        'bad.yaml',
        '# no severity\nid: x\ntitle: t\ndescription: d\nfilter: {s: {a: 1}, condition: s}',
      ),
      'rules/bad.yaml:2 severity: is required: one of P0, P1, P2, P3',
    ],
    [
      'a bad severity',
      bad('', BASE.replace('severity: P1', 'severity: high')),
      'rules/bad.yaml:3 severity: must be one of P0, P1, P2, P3, got "high"',
    ],
    [
      'a bad id',
      bad('', BASE.replace('id: api-flood', 'id: API_flood')),
      'rules/bad.yaml:1 id: must be lowercase letters, digits and dashes, starting with a letter or digit (e.g. api-flood), got "API_flood"',
    ],
    [
      'a bad duration',
      bad('window: 5 minutes'),
      'rules/bad.yaml:8 window: must be a duration such as 30s, 5m, 1h or 1h30m, got "5 minutes"',
    ],
    [
      'a zero window on an aggregation',
      bad('window: 0s\naggregation: {function: count, condition: {gt: 1}}'),
      'rules/bad.yaml:8 window: must be longer than 0',
    ],
    [
      'a missing window on an aggregation',
      bad('aggregation: {function: count, condition: {gt: 1}}'),
      'rules/bad.yaml:1 window: is required: a duration such as 30s, 5m, 1h or 1h30m',
    ],
    [
      'a bad group_by entry',
      bad('group_by: [user.name, ""]'),
      'rules/bad.yaml:8 group_by[1]: must be a field name, got ""',
    ],
    [
      'a missing condition for count',
      bad('window: 5m\naggregation:\n  function: count'),
      'rules/bad.yaml:9 aggregation.condition: is required: a threshold such as {gte: 10} (gt, gte, lt, lte, eq, neq)',
    ],
    [
      'a condition for first_seen',
      bad(
        'window: 5m\naggregation:\n  function: first_seen\n  field: source.ip\n  lookback: 30d\n  condition: {gt: 1}',
      ),
      'rules/bad.yaml:13 aggregation.condition: first_seen takes no condition: every value not seen within the lookback alerts',
    ],
    [
      'a threshold that is not a number',
      bad('window: 5m\naggregation:\n  function: count\n  condition: {gte: ten}'),
      'rules/bad.yaml:11 aggregation.condition.gte: must be a number, got "ten"',
    ],
    [
      'an unknown function',
      bad('window: 5m\naggregation:\n  function: median\n  condition: {gt: 1}'),
      'rules/bad.yaml:10 aggregation.function: must be one of count, distinct, sum, avg, percentile, ratio, baseline, first_seen, sequence, got "median"',
    ],
    [
      'a key of another function',
      bad('window: 5m\naggregation:\n  function: count\n  field: user.name\n  condition: {gt: 1}'),
      'rules/bad.yaml:11 aggregation.field: is not a field of a count aggregation (its fields: function, condition)',
    ],
    [
      'a ratio threshold above 100 percent',
      bad(
        'window: 5m\naggregation:\n  function: ratio\n  part: {p: {a: 1}, condition: p}\n  min_events: 1\n  condition: {gt: 150}',
      ),
      'rules/bad.yaml:13 aggregation.condition: a ratio is a percent: its comparisons must be between 0 and 100',
    ],
    [
      'a sequence of one step',
      bad('window: 5m\naggregation:\n  function: sequence\n  steps:\n    - {a: {x: 1}, condition: a}'),
      'rules/bad.yaml:11 aggregation.steps: must be a list of at least two Sigma detections, in order, got a list',
    ],
    [
      'an unknown modifier in the filter, at the line of that item',
      bad(
        '',
        BASE.replace('selection: {event.action: http_request}', 'selection:\n        user.name|foo: x'),
      ),
      'rules/bad.yaml:7 filter.selection.user.name|foo: unknown modifier "foo"',
    ],
    [
      'an unknown modifier in a list of maps inside a sequence step',
      bad(
        'window: 5m\naggregation:\n  function: sequence\n  steps:\n    - {a: {x: 1}, condition: a}\n    - b:\n        - {y: 1}\n        - {z|bogus: 2}\n      condition: b',
      ),
      'rules/bad.yaml:15 aggregation.steps[1].b[1].z|bogus: unknown modifier "bogus"',
    ],
    [
      'a condition naming an unknown identifier',
      bad('', BASE.replace('condition: selection', 'condition: selection and nope')),
      'rules/bad.yaml:7 filter.condition: unknown search identifier "nope"',
    ],
  ])('reports %s at its file and line', (_name, file, message) => {
    const error = loadError(file);
    expect(error.message.slice(0, message.length)).toBe(message);
    expect(error.message).not.toMatch(/more problem/);
  });
});
