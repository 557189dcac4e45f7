/** References between Sigma documents across files: inputs, generate, meta filters, cycles. */
import { describe, expect, it } from 'vitest';
import type { AggregateNode } from './rule-definition.js';
import { correlated, firebreak, loadError, nodeById, ruleFile } from './rule-fixtures.case.js';
import { loadRules } from './rule-loader.js';

describe('references across documents', () => {
  it('resolves references by id and by name across files', () => {
    const nodes = loadRules([
      ruleFile('a.yml', 'id: 11111111-aaaa\ndetection: {s: {event.action: a}, condition: s}'),
      ruleFile('b.yml', 'name: rule_b\ndetection: {s: {event.action: b}, condition: s}'),
      ruleFile(
        'c.yml',
        'name: both\ncorrelation: {type: temporal, rules: [11111111-aaaa, rule_b], timespan: 1m}',
      ),
    ]);
    expect(nodeById<AggregateNode>(nodes, 'both').inputs.map((i) => i.node)).toEqual([
      '11111111-aaaa',
      'rule_b',
    ]);
    expect(nodeById<AggregateNode>(nodes, 'both').groupBy).toEqual([]);
  });

  it('chains a correlation of a correlation; generate decides which referenced rules alert too', () => {
    const nodes = loadRules([
      ruleFile(
        'chain.yml',
        `
        name: failed_login
        detection: {selection: {event.outcome: failure}, condition: selection}
        ---
        name: successful_login
        detection: {selection: {event.outcome: success}, condition: selection}
        ---
        title: Many failures
        name: many_failures
        generate: false
        correlation: {type: event_count, rules: [failed_login], group-by: [user.name], timespan: 10m, condition: {gte: 10}}
        ---
        title: Brute force that worked
        id: brute-force-success
        correlation:
          type: temporal_ordered
          rules: [many_failures, successful_login]
          group-by: [user.name]
          timespan: 1h
          generate: true
        firebreak:
          severity: P0
          when: outside_business_hours
        `,
      ),
    ]);
    const generates = Object.fromEntries(nodes.map((n) => [n.id, n.generates]));
    expect(generates).toEqual({
      failed_login: false, // only used by many_failures, which does not generate
      successful_login: true, // used by a correlation with generate: true
      many_failures: true,
      'brute-force-success': true,
    });
    const top = nodeById<AggregateNode>(nodes, 'brute-force-success');
    expect(top.inputs.map((i) => i.node)).toEqual(['many_failures', 'successful_login']);
    expect(top.severity).toBe('P0');
    expect(top.calendar).toBe('outside_business_hours');
    expect(nodeById<AggregateNode>(nodes, 'many_failures').inputs).toEqual([
      { node: 'failed_login', fieldFor: {} },
    ]);
  });
});

describe('problems in references', () => {
  it('reports a reference cycle at the reference that closes it', () => {
    const error = loadError(
      ruleFile(
        'cycle.yml',
        `
        name: base
        detection: {s: {a: 1}, condition: s}
        ---
        name: first
        correlation: {type: temporal, rules: [base, second], timespan: 1m}
        ---
        name: second
        correlation:
          type: temporal
          rules: [base, first]
          timespan: 1m
        `,
      ),
    );
    expect(error.message).toBe(
      'rules/cycle.yml:10 correlation.rules[1]: reference cycle: first → second → first',
    );
  });

  it('reports a correlation that references itself', () => {
    const error = loadError(
      ruleFile(
        'self.yml',
        'name: me\ncorrelation: {type: event_count, rules: [me], timespan: 1m, condition: {gt: 1}}',
      ),
    );
    expect(error.message).toBe('rules/self.yml:2 correlation.rules[0]: reference cycle: me → me');
  });

  it('reports a meta filter naming an unknown rule or a correlation', () => {
    const error = loadError(
      correlated('type: event_count\nrules: [failed_login]\ntimespan: 1h\ncondition: {gte: 5}'),
      ruleFile(
        'mf.yml',
        'logsource: {category: authentication}\nfilter:\n  rules: [nobody, user-logins]\n  s: {a: 1}\n  condition: s',
      ),
    );
    expect(error.details.map((d) => `${d.path}: ${d.message}`)).toEqual([
      'rules/mf.yml:3 filter.rules[0]: no Sigma rule or correlation has the id or name "nobody"',
      'rules/mf.yml:3 filter.rules[1]: "user-logins" is a correlation; a Sigma filter applies to Sigma rules',
    ]);
  });

  it('tells a Firebreak rule apart from an unknown name: Sigma documents cannot reference it', () => {
    const error = loadError(
      firebreak(''),
      ruleFile(
        'c.yml',
        'name: c\ncorrelation: {type: event_count, rules: [api-flood], timespan: 1m, condition: {gt: 1}}',
      ),
    );
    expect(error.message).toBe(
      'rules/c.yml:2 correlation.rules[0]: no Sigma rule or correlation has the id or name "api-flood"; ' +
        '"api-flood" is a Firebreak rule, which Sigma correlations and filters cannot reference',
    );
  });

  it('still checks the references of a correlation that has other problems', () => {
    const error = loadError(
      ruleFile(
        'c.yml',
        'name: c\ncorrelation:\n  type: event_count\n  rules: [ghost]\n  timespan: 0m\n  condition: {gt: 1}',
      ),
    );
    expect(error.details.map((d) => `${d.path}: ${d.message}`)).toEqual([
      'rules/c.yml:4 correlation.rules[0]: no Sigma rule or correlation has the id or name "ghost"',
      'rules/c.yml:5 correlation.timespan: must be longer than 0',
    ]);
  });
});
