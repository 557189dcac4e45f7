/** Rule files → rule nodes: documents of every kind, and problems collected from every file. */
import { describe, expect, it } from 'vitest';
import { firebreak, loadError, ruleFile } from './rule-fixtures.case.js';
import { loadRules } from './rule-loader.js';

describe('documents', () => {
  it('reads every document of a file, whatever its kind, and skips empty ones', () => {
    const nodes = loadRules([
      ruleFile(
        'mixed.yml',
        `
        id: api-flood
        title: API flood
        severity: P1
        description: d
        filter: {s: {event.action: http_request}, condition: s}
        ---
        # only a comment
        ---
        name: failed_login
        logsource: {category: authentication}
        detection: {s: {event.outcome: failure}, condition: s}
        ---
        name: many_failures
        correlation: {type: event_count, rules: [failed_login], timespan: 1h, condition: {gte: 5}}
        ---
        logsource: {category: authentication}
        filter: {rules: [failed_login], s: {source.ip: 10.0.0.5}, condition: not s}
        ---
        `,
      ),
    ]);
    expect(nodes.map((n) => [n.type, n.id, n.source.line])).toEqual([
      ['filter', 'api-flood', 1],
      ['filter', 'failed_login', 9],
      ['aggregate', 'many_failures', 13],
    ]);
    expect(nodes.map((n) => n.type === 'filter' && n.metaFilters.length)).toEqual([0, 1, false]);
  });
});

describe('problems', () => {
  it.each([
    [
      'a document that is no rule',
      ruleFile('bad.yaml', 'id: x\ntitle: just a title'),
      'rules/bad.yaml:1: not a rule: expected a Firebreak rule (severity, filter), a Sigma rule (detection), a Sigma correlation (correlation) or a Sigma filter (filter.rules)',
    ],
    [
      'an empty file',
      { file: 'rules/bad.yaml', text: '# nothing yet\n' },
      'rules/bad.yaml:1: no rule in file',
    ],
    [
      'a file of empty documents',
      ruleFile('bad.yaml', '---\n# nothing yet\n---\n'),
      'rules/bad.yaml:1: no rule in file',
    ],
    [
      'a YAML syntax error',
      ruleFile('bad.yaml', 'id: x\ntitle: t\ngroup_by:\n  - user.name\n - source.ip\nseverity: P1'),
      'rules/bad.yaml:5: YAML syntax: A block sequence may not be used as an implicit map key',
    ],
    [
      'a duplicate key',
      ruleFile('bad.yaml', 'id: x\ntitle: t\nseverity: P1\ntitle: again'),
      'rules/bad.yaml:4: YAML syntax: Map keys must be unique',
    ],
  ])('reports %s at its file and line', (_name, file, message) => {
    const error = loadError(file);
    expect(error.message.slice(0, message.length)).toBe(message);
    expect(error.message).not.toMatch(/more problem/);
  });

  it('reports a duplicate id at the second rule, naming the first', () => {
    const error = loadError(
      firebreak('aggregation: {function: count, condition: {gt: 1}}', 'a.yaml'),
      ruleFile('b.yml', '# again\nid: api-flood\ndetection: {s: {a: 1}, condition: s}'),
    );
    expect(error.message).toBe(
      'rules/b.yml:2 id: id "api-flood" is already used by rules/a.yaml:1; ids must be unique across all rule files',
    );
  });

  it('collects the problems of every file: the first is the message, all are in the details', () => {
    const error = loadError(
      ruleFile(
        'one.yaml',
        `
        id: one
        title: API flood
        severity: P1
        description: d
        filter:
          selection: {event.action: http_request}
          condition: selection
        window: 5 minutes
        `,
      ),
      firebreak('aggregation: {function: count, condition: {gt: 1}}', 'good.yaml'),
      ruleFile(
        'two.yaml',
        'id: two\ntitle: t\nseverity: P7\ndescription: d\nfilter: {s: {a|x: 1}, condition: s}',
      ),
    );
    expect(error.message).toBe(
      'rules/one.yaml:8 window: must be a duration such as 30s, 5m, 1h or 1h30m, got "5 minutes" (and 2 more problem(s))',
    );
    expect(error.details).toEqual([
      {
        path: 'rules/one.yaml:8 window',
        line: 8,
        message: 'must be a duration such as 30s, 5m, 1h or 1h30m, got "5 minutes"',
      },
      { path: 'rules/two.yaml:3 severity', line: 3, message: 'must be one of P0, P1, P2, P3, got "P7"' },
      { path: 'rules/two.yaml:5 filter.s.a|x', line: 5, message: 'unknown modifier "x"' },
    ]);
  });
});
