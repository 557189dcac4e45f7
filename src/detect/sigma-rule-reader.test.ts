/** Sigma rules, correlations and meta filters → nodes, and every mistake in them at its line. */
import { describe, expect, it } from 'vitest';
import type { AggregateNode, Aggregation, FilterNode, Threshold } from './rule-definition.js';
import { correlated, ev, loadError, nodeById, ruleFile } from './rule-fixtures.case.js';
import { loadRules } from './rule-loader.js';
import { compileDetection } from './sigma-detection.js';

describe('Sigma rules and correlations', () => {
  it('loads a Sigma rule as a filter node: id, level, description and the firebreak block', () => {
    const nodes = loadRules([
      ruleFile(
        'sigma.yml',
        `
        title: Admin export
        id: 0e95725d-7320-415d-80f7-004da920fc11
        description: An admin exported the customer table
        level: critical
        status: experimental
        author: someone
        logsource: {product: shop}
        detection:
          selection: {event.action: export}
          condition: selection
        firebreak:
          severity: P1
          when: outside_business_hours
          group_by: [user.name]
          quiet: 30m
        `,
      ),
    ]);
    expect(nodes).toEqual([
      {
        type: 'filter',
        id: '0e95725d-7320-415d-80f7-004da920fc11',
        title: 'Admin export',
        severity: 'P1',
        description: 'An admin exported the customer table',
        filter: {
          detection: { selection: { 'event.action': 'export' }, condition: 'selection' },
          where: 'rules/sigma.yml:8 detection',
        },
        metaFilters: [],
        calendar: 'outside_business_hours',
        generates: true,
        groupBy: ['user.name'],
        quietMs: 1_800_000,
        source: { file: 'rules/sigma.yml', line: 2 },
      } satisfies FilterNode,
    ]);
  });

  it('names a rule by id, else name, else file#document, and maps level to severity (P2 without)', () => {
    const nodes = loadRules([
      ruleFile(
        'ids.yml',
        `
        name: by_name
        level: informational
        detection: {s: {a: 1}, condition: s}
        ---
        detection: {s: {a: 2}, condition: s}
        `,
      ),
    ]);
    expect(nodes.map((n) => [n.id, n.title, n.severity])).toEqual([
      ['by_name', 'by_name', 'P3'],
      ['ids.yml#2', 'ids.yml#2', 'P2'],
    ]);
  });

  it.each<[string, string, Aggregation, Threshold]>([
    ['event_count', 'condition: {gte: 10}', { kind: 'count' }, { gte: 10 }],
    [
      'value_count',
      'condition: {field: source.ip, gt: 3}',
      { kind: 'distinct', field: 'source.ip' },
      { gt: 3 },
    ],
    [
      'value_sum',
      'condition: {field: firebreak.records, gt: 1000}',
      { kind: 'sum', field: 'firebreak.records' },
      { gt: 1000 },
    ],
    [
      'value_avg',
      'condition: {field: event.duration, gte: 5, lte: 9}',
      { kind: 'avg', field: 'event.duration' },
      { gte: 5, lte: 9 },
    ],
    [
      'value_percentile',
      'condition: {field: user_agent.original, lte: 1}',
      { kind: 'share', field: 'user_agent.original' },
      { lte: 1 },
    ],
    ['temporal', '', { kind: 'unordered' }, { gte: 2 }],
    ['temporal_ordered', '', { kind: 'sequence' }, { gte: 2 }],
    ['temporal_ordered', 'condition: {eq: 1}', { kind: 'sequence' }, { eq: 1 }],
  ])('loads a %s correlation (%s)', (type, condition, aggregation, threshold) => {
    const nodes = loadRules([
      correlated(`
        type: ${type}
        rules: [5638f7c0-ac70-491d-8465-2a65075e0d86, successful_login]
        group-by: [user.name]
        timespan: 10m
        ${condition}
      `),
    ]);
    expect(nodes.map((n) => n.id)).toEqual([
      '5638f7c0-ac70-491d-8465-2a65075e0d86',
      'successful_login',
      'user-logins',
    ]);
    expect(nodeById(nodes, 'user-logins')).toEqual({
      type: 'aggregate',
      id: 'user-logins',
      title: 'Logins of one user',
      severity: 'P1',
      description: '',
      inputs: [
        { node: '5638f7c0-ac70-491d-8465-2a65075e0d86', fieldFor: {} },
        { node: 'successful_login', fieldFor: {} },
      ],
      groupBy: ['user.name'],
      windowMs: 600_000,
      aggregation,
      threshold,
      calendar: undefined,
      generates: true,
      source: { file: 'rules/logins.yml', line: 17 },
    } satisfies AggregateNode);
    // Only the correlation alerts: it does not say generate: true.
    expect(nodes.map((n) => n.generates)).toEqual([false, false, true]);
    expect(nodeById<FilterNode>(nodes, 'successful_login').severity).toBe('P2');
    expect(nodeById<FilterNode>(nodes, '5638f7c0-ac70-491d-8465-2a65075e0d86').severity).toBe('P3');
  });

  it('reads field aliases into each input', () => {
    const nodes = loadRules([
      ruleFile(
        'aliases.yml',
        `
        name: internal_error
        detection: {selection: {http.response.status_code: 500}, condition: selection}
        ---
        name: new_network_connection
        detection: {selection: {event.category: network, event.outcome: success}, condition: selection}
        ---
        title: Error then connection
        correlation:
          type: temporal
          rules: [internal_error, new_network_connection]
          group-by: [internal_ip, remote_ip]
          timespan: 10s
          aliases:
            internal_ip:
              internal_error: destination.ip
              new_network_connection: source.ip
            remote_ip:
              internal_error: source.ip
              new_network_connection: destination.ip
        `,
      ),
    ]);
    const correlation = nodeById<AggregateNode>(nodes, 'aliases.yml#3');
    expect(correlation.inputs).toEqual([
      { node: 'internal_error', fieldFor: { internal_ip: 'destination.ip', remote_ip: 'source.ip' } },
      { node: 'new_network_connection', fieldFor: { internal_ip: 'source.ip', remote_ip: 'destination.ip' } },
    ]);
    expect(correlation.groupBy).toEqual(['internal_ip', 'remote_ip']);
    expect(correlation.windowMs).toBe(10_000);
  });
});

describe('Sigma meta filters', () => {
  it('adds a meta filter, as written, to the meta filters of every rule it names', () => {
    const nodes = loadRules([
      correlated('type: event_count\nrules: [failed_login]\ntimespan: 1h\ncondition: {gte: 5}'),
      ruleFile(
        'filters/mf_jump_host.yml',
        `
        title: Ignore the admin jump host
        logsource: {category: authentication}
        filter:
          rules:
            - 5638f7c0-ac70-491d-8465-2a65075e0d86
            - successful_login
          selection:
            source.ip: 10.0.0.5
          condition: not selection
        `,
      ),
    ]);
    const metaFilter = {
      detection: { selection: { 'source.ip': '10.0.0.5' }, condition: 'not selection' },
      where: 'rules/filters/mf_jump_host.yml:3 filter',
    };
    expect(nodeById<FilterNode>(nodes, '5638f7c0-ac70-491d-8465-2a65075e0d86').metaFilters).toEqual([
      metaFilter,
    ]);
    expect(nodeById<FilterNode>(nodes, 'successful_login').metaFilters).toEqual([metaFilter]);
    expect(nodes).toHaveLength(3);
  });

  it('keeps every filter of a rule: an event must match the rule and each filter, as in pySigma', () => {
    const nodes = loadRules([
      correlated('type: event_count\nrules: [failed_login]\ntimespan: 1h\ncondition: {gte: 5}'),
      ruleFile(
        'filters.yml',
        `
        title: Leave out the admin jump host
        logsource: {category: authentication}
        filter:
          rules: [failed_login]
          jump_host: {source.ip: 10.0.0.5}
          condition: not jump_host
        ---
        title: Only the office network
        logsource: {category: authentication}
        filter:
          rules: [failed_login]
          office: {source.ip|cidr: 10.0.0.0/8}
          condition: office
        `,
      ),
    ]);
    const rule = nodeById<FilterNode>(nodes, '5638f7c0-ac70-491d-8465-2a65075e0d86');
    expect(rule.metaFilters.map((f) => f.detection.condition)).toEqual(['not jump_host', 'office']);
    // How the engine applies them: the rule's detection and every filter's, AND-ed.
    const all = [rule.filter, ...rule.metaFilters].map((f) => compileDetection(f.detection));
    const alerts = (ip: string, outcome = 'failure') =>
      all.every((d) => d.match(ev({ event: { action: 'login', outcome }, source: { ip } })));
    expect(alerts('10.0.0.9')).toBe(true);
    expect(alerts('10.0.0.5')).toBe(false); // not jump_host leaves it out
    expect(alerts('192.0.2.7')).toBe(false); // outside the office network
    expect(alerts('10.0.0.9', 'success')).toBe(false); // not a failed login
  });

  it.each([
    ['rules: any', '"any"'],
    ['rules: ANY', '"ANY"'],
    ['rules: []', 'an empty list'],
  ])('rejects %s (every rule of the logsource in pySigma): Firebreak ignores logsource', (rules, what) => {
    const error = loadError(
      correlated('type: event_count\nrules: [failed_login]\ntimespan: 1h\ncondition: {gte: 5}'),
      ruleFile(
        'mf.yml',
        `logsource: {category: authentication}\nfilter:\n  ${rules}\n  s: {a: 1}\n  condition: not s`,
      ),
    );
    expect(error.message).toBe(
      `rules/mf.yml:3 filter.rules: ${what} (in pySigma: every rule of the filter's logsource) is not ` +
        'supported: Firebreak ignores logsource, so it cannot tell which rules that is; list the rules by id or name',
    );
  });
});

describe('problems in Sigma documents', () => {
  it.each([
    [
      'a meta filter without a logsource',
      ruleFile(
        'bad.yml',
        'name: r\ndetection: {s: {a: 1}, condition: s}\n---\nfilter:\n  rules: [r]\n  s: {a: 1}\n  condition: not s',
      ),
      'rules/bad.yml:4 logsource: is required: the log source a Sigma filter applies to',
    ],
    [
      'a meta filter with firebreak settings',
      ruleFile(
        'bad.yml',
        'name: r\ndetection: {s: {a: 1}, condition: s}\n---\nlogsource: {}\nfilter:\n  rules: [r]\n  s: {a: 1}\n  condition: not s\nfirebreak: {severity: P1}',
      ),
      'rules/bad.yml:9 firebreak: a Sigma filter takes no firebreak settings',
    ],
    [
      'a Sigma id with a slash',
      ruleFile('bad.yml', 'id: a/filter\ndetection: {s: {a: 1}, condition: s}'),
      'rules/bad.yml:1 id: must not contain "/": it is reserved for the hidden parts of Firebreak rules',
    ],
    [
      'a bad Sigma level',
      ruleFile('bad.yml', 'id: a\nlevel: severe\ndetection: {s: {a: 1}, condition: s}'),
      'rules/bad.yml:2 level: must be one of critical, high, medium, low, informational, got "severe"',
    ],
    [
      'an unknown modifier in a Sigma rule',
      ruleFile(
        'bad.yml',
        'id: a\ndetection:\n  selection:\n    - {a: 1}\n    - {b|nope: 1}\n  condition: selection',
      ),
      'rules/bad.yml:5 detection.selection[1].b|nope: unknown modifier "nope"',
    ],
    [
      'an unknown firebreak setting',
      ruleFile(
        'bad.yml',
        'id: a\ndetection: {s: {a: 1}, condition: s}\nfirebreak:\n  severity: P1\n  window: 5m',
      ),
      'rules/bad.yml:5 firebreak.window: is not a Firebreak setting of this kind of rule (known: severity, when, group_by, quiet)',
    ],
    [
      'detection and correlation in one document',
      ruleFile(
        'bad.yml',
        'id: a\ndetection: {s: {a: 1}, condition: s}\ncorrelation: {type: temporal, rules: [a, a2], timespan: 1m}\n---\nid: a2\ndetection: {s: {a: 1}, condition: s}',
      ),
      'rules/bad.yml:3 correlation: a document is a Sigma rule (detection) or a Sigma correlation (correlation), not both',
    ],
  ])('reports %s at its file and line', (_name, file, message) => {
    const error = loadError(file);
    expect(error.message.slice(0, message.length)).toBe(message);
    expect(error.message).not.toMatch(/more problem/);
  });

  it.each([
    [
      'an unknown correlation type',
      'type: value_median\nrules: [failed_login]\ntimespan: 1h\ncondition: {field: x, gte: 1}',
      'rules/logins.yml:20 correlation.type: must be one of event_count, value_count, value_sum, value_avg, value_percentile, temporal, temporal_ordered, got "value_median"',
    ],
    [
      'an unknown rule reference',
      'type: event_count\nrules:\n  - failed_login\n  - failed_logins\ntimespan: 1h\ncondition: {gte: 1}',
      'rules/logins.yml:23 correlation.rules[1]: no Sigma rule or correlation has the id or name "failed_logins"',
    ],
    [
      'a missing condition for value_count',
      'type: value_count\nrules: [failed_login]\ntimespan: 1h',
      'rules/logins.yml:19 correlation.condition: is required: a threshold such as {gte: 10} (gt, gte, lt, lte, eq, neq) and the field, such as {field: user.name, gte: 10}',
    ],
    [
      'a missing field for value_sum',
      'type: value_sum\nrules: [failed_login]\ntimespan: 1h\ncondition: {gte: 1}',
      'rules/logins.yml:23 correlation.condition.field: is required: a field name',
    ],
    [
      'a field for event_count',
      'type: event_count\nrules: [failed_login]\ntimespan: 1h\ncondition: {field: user.name, gte: 1}',
      'rules/logins.yml:23 correlation.condition.field: only value_count, value_sum, value_avg, value_percentile correlations take a field',
    ],
    [
      'a bad timespan',
      'type: event_count\nrules: [failed_login]\ntimespan: 1h30m\ncondition: {gte: 1}',
      'rules/logins.yml:22 correlation.timespan: must be a Sigma timespan: a number and s, m, h or d, such as 90m, got "1h30m"',
    ],
    [
      'a temporal correlation of one rule',
      'type: temporal\nrules: [failed_login]\ntimespan: 1h',
      'rules/logins.yml:21 correlation.rules: a temporal correlation needs at least two rules',
    ],
    [
      'an alias that misses a rule',
      'type: temporal\nrules: [failed_login, successful_login]\ntimespan: 1h\naliases:\n  ip:\n    failed_login: source.ip',
      'rules/logins.yml:24 correlation.aliases.ip: names no field for rule "successful_login"; an alias gives every rule of the correlation its field',
    ],
    [
      'an alias that names another rule',
      'type: temporal\nrules: [failed_login, successful_login]\ntimespan: 1h\naliases:\n  ip:\n    failed_login: source.ip\n    successful_login: source.ip\n    user-logins: x',
      `rules/logins.yml:27 correlation.aliases.ip.user-logins: is not one of this correlation's rules (failed_login, successful_login)`,
    ],
    [
      'an unknown key in correlation',
      'type: event_count\nrules: [failed_login]\ntimespan: 1h\ncondition: {gte: 1}\ngroupby: [user.name]',
      'rules/logins.yml:24 correlation.groupby: is not a known field (known: type, rules, group-by, timespan, condition, aliases, generate)',
    ],
  ])('reports %s in a correlation', (_name, correlation, message) => {
    const error = loadError(correlated(correlation));
    expect(error.message.slice(0, message.length)).toBe(message);
    expect(error.message).not.toMatch(/more problem/);
  });
});
