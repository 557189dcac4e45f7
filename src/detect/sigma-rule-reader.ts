/**
 * Reads the Sigma documents: rules (`detection`), correlations (`correlation`) and meta filters
 * (`filter.rules`). Sigma allows custom top-level keys, so unknown ones are left alone; what
 * Firebreak adds lives only in a `firebreak:` block, so plain Sigma tools still read the files.
 * References to other documents are only recorded here; rule-references.ts resolves them.
 */
import type { YamlPath } from '../kernel/index.js';
import { SEVERITIES } from '../policy/index.js';
import { type Aggregation, SIGMA_LEVEL_SEVERITY, type Threshold } from './rule-definition.js';
import type {
  AliasEntry,
  CorrelationEntry,
  MetaFilterEntry,
  RuleRegistry,
  SigmaHeader,
  SigmaIdentity,
  SigmaRuleEntry,
} from './rule-entries.js';
import {
  CALENDAR_LIMITS,
  FIELD_NAME,
  type MapFields,
  readThreshold,
  THRESHOLD_EXAMPLE,
} from './rule-fields.js';

const SIGMA_LEVELS = Object.keys(SIGMA_LEVEL_SEVERITY);

/** Reads `id` / `name` and claims the node id, so duplicates are found even in a bad document. */
function readIdentity(top: MapFields, registry: RuleRegistry): SigmaIdentity | undefined {
  const r = top.reader;
  const id = top.text('id', { expected: 'a rule id (a text)' });
  const name = top.text('name', { expected: 'a rule name (a text)' });
  if (top.has('id') && id === undefined) return undefined;
  const base = r.doc.file.slice(Math.max(r.doc.file.lastIndexOf('/'), r.doc.file.lastIndexOf('\\')) + 1);
  const nodeId = id ?? name ?? `${base}#${r.doc.index}`;
  const path: YamlPath = id !== undefined ? ['id'] : name !== undefined ? ['name'] : [];
  if (nodeId.includes('/')) {
    return r.problem(path, `must not contain "/": it is reserved for the hidden parts of Firebreak rules`);
  }
  const identity: SigmaIdentity = { nodeId, id, name, source: r.source(path) };
  registry.claim(r, nodeId, path);
  return identity;
}

/**
 * title (default: the node id), description, severity (firebreak.severity, else Sigma `level`,
 * else P2) and firebreak.when.
 */
function readHeader(
  top: MapFields,
  firebreak: MapFields | undefined,
): (identity: SigmaIdentity) => SigmaHeader {
  const title = top.text('title');
  const description = top.text('description', { allowEmpty: true }) ?? '';
  const level = top.choice('level', SIGMA_LEVELS);
  const severity =
    firebreak?.choice('severity', SEVERITIES) ??
    (level === undefined ? undefined : SIGMA_LEVEL_SEVERITY[level]) ??
    'P2';
  const calendar = firebreak?.choice('when', CALENDAR_LIMITS);
  return (identity) => ({ identity, title: title ?? identity.nodeId, description, severity, calendar });
}

/** The `firebreak:` block of a Sigma document, which may hold only the settings in `known`. */
function firebreakBlock(top: MapFields, known: readonly string[]): MapFields | undefined {
  const block = top.map('firebreak', false, `a map of ${known.join(', ')}`);
  block?.onlyKeys(known, `is not a Firebreak setting of this kind of rule (known: ${known.join(', ')})`);
  return block;
}

/** A Sigma rule: one filter node, alerting on every match unless a correlation takes it over. */
export function readSigmaRule(top: MapFields, registry: RuleRegistry): SigmaRuleEntry | undefined {
  const r = top.reader;
  const target = registry.declare(r, 'rule', readIdentity(top, registry));
  const firebreak = firebreakBlock(top, ['severity', 'when', 'group_by', 'quiet']);
  const header = readHeader(top, firebreak);
  const filter = top.detection('detection', true);
  const groupBy = firebreak?.names('group_by') ?? [];
  const quietMs = firebreak?.duration('quiet') ?? 0;
  if (!r.ok() || target === undefined) return undefined;
  const entry: SigmaRuleEntry = {
    kind: 'rule',
    ...header(target.identity),
    filter: filter!,
    groupBy,
    quietMs,
  };
  target.entry = entry;
  return entry;
}

interface CorrelationType {
  /** value_* types count a field named in the condition. */
  readonly field: boolean;
  readonly temporal: boolean;
  aggregation(field: string): Aggregation;
}

const CORRELATION_TYPES: Readonly<Record<string, CorrelationType>> = {
  event_count: { field: false, temporal: false, aggregation: () => ({ kind: 'count' }) },
  value_count: { field: true, temporal: false, aggregation: (field) => ({ kind: 'distinct', field }) },
  value_sum: { field: true, temporal: false, aggregation: (field) => ({ kind: 'sum', field }) },
  value_avg: { field: true, temporal: false, aggregation: (field) => ({ kind: 'avg', field }) },
  value_percentile: { field: true, temporal: false, aggregation: (field) => ({ kind: 'share', field }) },
  temporal: { field: false, temporal: true, aggregation: () => ({ kind: 'unordered' }) },
  temporal_ordered: { field: false, temporal: true, aggregation: () => ({ kind: 'sequence' }) },
};
const CORRELATION_KEYS = ['type', 'rules', 'group-by', 'timespan', 'condition', 'aliases', 'generate'];
const FIELD_TYPES = Object.keys(CORRELATION_TYPES).filter((t) => CORRELATION_TYPES[t]!.field);

/**
 * A Sigma correlation: one aggregate node over the rules and correlations it names (their
 * events, or their alerts for a correlation of correlations), per group over `timespan`.
 */
export function readCorrelation(top: MapFields, registry: RuleRegistry): CorrelationEntry | undefined {
  const r = top.reader;
  if (top.has('detection')) {
    top.problem(
      'correlation',
      'a document is a Sigma rule (detection) or a Sigma correlation (correlation), not both',
    );
  }
  const target = registry.declare(r, 'correlation', readIdentity(top, registry));
  const header = readHeader(top, firebreakBlock(top, ['severity', 'when']));
  const c = top.map('correlation', true);
  if (c === undefined) return undefined;
  c.onlyKeys(CORRELATION_KEYS);
  const typeName = c.choice('type', Object.keys(CORRELATION_TYPES), true);
  const refs = c.references('rules');
  const groupBy = c.names('group-by') ?? [];
  const windowMs = c.timespan('timespan');
  const aliases = readAliases(c);

  const inner = c.flag('generate');
  const outer = top.flag('generate');
  if (inner !== undefined && outer !== undefined && inner !== outer) {
    top.problem('generate', 'disagrees with correlation.generate; say it once');
  }
  const generate = inner ?? outer ?? false;

  const type = typeName === undefined ? undefined : CORRELATION_TYPES[typeName]!;
  let threshold: Threshold | undefined;
  let field = '';
  if (type !== undefined) {
    if (type.temporal && refs !== undefined && refs.length < 2) {
      c.problem('rules', `a ${typeName} correlation needs at least two rules`);
    }
    const expected = type.field
      ? `${THRESHOLD_EXAMPLE} and the field, such as {field: user.name, gte: 10}`
      : THRESHOLD_EXAMPLE;
    const condition = c.map('condition', !type.temporal, expected);
    if (condition !== undefined) {
      if (type.field) {
        field = condition.text('field', { required: true, expected: FIELD_NAME }) ?? '';
      } else if (condition.has('field')) {
        condition.problem('field', `only ${FIELD_TYPES.join(', ')} correlations take a field`);
      }
      threshold = readThreshold(condition, ['field']);
    } else if (type.temporal && !c.has('condition') && refs !== undefined) {
      threshold = { gte: refs.length };
    }
  }
  if (!r.ok() || target === undefined) {
    if (refs !== undefined) registry.checkLater(r, refs);
    return undefined;
  }
  const entry: CorrelationEntry = {
    kind: 'correlation',
    ...header(target.identity),
    reader: r,
    refs: refs!,
    aliases,
    generate,
    groupBy,
    windowMs: windowMs!,
    aggregation: type!.aggregation(field),
    threshold: threshold!,
  };
  target.entry = entry;
  return entry;
}

function readAliases(c: MapFields): AliasEntry[] {
  const aliases = c.map('aliases', false, 'a map of alias: {rule name: field}');
  if (aliases === undefined) return [];
  const out: AliasEntry[] = [];
  for (const name of Object.keys(aliases.value)) {
    const byRule = aliases.map(name, true, 'a map of rule name: field');
    if (byRule === undefined) continue;
    const fields = Object.keys(byRule.value).map((rule) => ({
      rule,
      field: byRule.text(rule, { expected: FIELD_NAME }) ?? '',
      path: byRule.at(rule),
    }));
    out.push({ name, path: aliases.at(name), fields });
  }
  return out;
}

/**
 * A Sigma meta filter. As pySigma applies it, its search identifiers and condition are AND-ed to
 * the condition of every rule it names: an event must match the rule and each of its filters
 * (filter files say `condition: not selection` to leave events out).
 */
export function readMetaFilter(top: MapFields, registry: RuleRegistry): MetaFilterEntry | undefined {
  const r = top.reader;
  if (!top.has('logsource'))
    top.problem('logsource', 'is required: the log source a Sigma filter applies to');
  if (top.has('firebreak')) top.problem('firebreak', 'a Sigma filter takes no firebreak settings');
  const filter = top.map('filter', true)!;
  const anyRule = anyRuleProblem(filter.value.rules);
  const refs = anyRule === undefined ? filter.references('rules') : filter.problem('rules', anyRule);
  const { rules: _, ...detection } = filter.value;
  const metaFilter = r.detection(['filter'], detection);
  if (!r.ok()) {
    if (refs !== undefined) registry.checkLater(r, refs);
    return undefined;
  }
  return { kind: 'meta-filter', reader: r, refs: refs!, filter: metaFilter! };
}

/**
 * pySigma reads `rules: any` (in any case) and `rules: []` as every rule of the filter's
 * logsource. Firebreak ignores logsource (every event is ECS), so it cannot tell which rules those
 * are: applying the filter to every loaded rule would reach rules it was never meant for.
 */
function anyRuleProblem(rules: unknown): string | undefined {
  const unsupported =
    "(in pySigma: every rule of the filter's logsource) is not supported: Firebreak ignores " +
    'logsource, so it cannot tell which rules that is; list the rules by id or name';
  if (typeof rules === 'string' && rules.toLowerCase() === 'any') return `"${rules}" ${unsupported}`;
  if (Array.isArray(rules) && rules.length === 0) return `an empty list ${unsupported}`;
  return undefined;
}
