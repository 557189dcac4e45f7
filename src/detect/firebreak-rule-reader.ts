/**
 * Reads a Firebreak rule document: a filter (a Sigma detection) alerting on every match, or a
 * filter and an aggregation (count, distinct, sum, avg, percentile, ratio, baseline, first_seen,
 * sequence) over a window. Strict: unknown keys are errors. An aggregating rule becomes hidden
 * filter nodes (`<id>/filter`, `<id>/step-<n>`) feeding one aggregate node under the rule's id.
 */
import type { YamlPath } from '../kernel/index.js';
import { SEVERITIES } from '../policy/index.js';
import type {
  AggregateNode,
  Aggregation,
  BaselineMeasure,
  FilterNode,
  FilterSpec,
  Threshold,
} from './rule-definition.js';
import type { FirebreakEntry, RuleRegistry } from './rule-entries.js';
import {
  CALENDAR_LIMITS,
  describeValue,
  FIELD_NAME,
  type MapFields,
  readThreshold,
  THRESHOLD_EXAMPLE,
} from './rule-fields.js';
import { type ConditionNode, parseCondition } from './sigma-condition-parser.js';

type Detection = FilterSpec['detection'];

const FIREBREAK_KEYS = [
  'id',
  'title',
  'severity',
  'description',
  'filter',
  'group_by',
  'window',
  'when',
  'aggregation',
];
const RULE_ID = /^[a-z0-9][a-z0-9-]*$/;

type FunctionName =
  | 'count'
  | 'distinct'
  | 'sum'
  | 'avg'
  | 'percentile'
  | 'ratio'
  | 'baseline'
  | 'first_seen'
  | 'sequence';

/** The fields each aggregation function takes besides `function` and `condition`. */
const FUNCTION_FIELDS: Readonly<Record<FunctionName, readonly string[]>> = {
  count: [],
  distinct: ['field'],
  sum: ['field'],
  avg: ['field'],
  percentile: ['field', 'percentile'],
  ratio: ['part', 'min_events'],
  baseline: ['measure', 'field', 'part', 'windows', 'min_events', 'floor'],
  first_seen: ['field', 'lookback'],
  sequence: ['steps'],
};
const FUNCTIONS = Object.keys(FUNCTION_FIELDS) as FunctionName[];

interface AggregationParts {
  readonly aggregation: Aggregation;
  readonly threshold: Threshold | undefined;
  /** A sequence's steps, in order (their paths inside the document). */
  readonly steps: readonly { readonly spec: FilterSpec; readonly path: YamlPath }[];
}

/** Claims the rule's id and returns its nodes: one filter node, or hidden filter nodes and an aggregate. */
export function readFirebreakRule(top: MapFields, registry: RuleRegistry): FirebreakEntry | undefined {
  const r = top.reader;
  top.onlyKeys(FIREBREAK_KEYS);
  const id = top.text('id', { required: true, expected: 'a rule id such as api-flood' });
  if (id !== undefined && !RULE_ID.test(id)) {
    top.problem(
      'id',
      `must be lowercase letters, digits and dashes, starting with a letter or digit (e.g. api-flood), got "${id}"`,
    );
  } else if (id !== undefined) {
    registry.claim(r, id, ['id']);
  }
  const title = top.text('title', { required: true });
  const severity = top.choice('severity', SEVERITIES, true);
  const description = top.text('description', { required: true, allowEmpty: true });
  const filter = top.detection('filter', true);
  const groupBy = top.names('group_by') ?? [];
  const calendar = top.choice('when', CALENDAR_LIMITS);
  const aggregated = top.has('aggregation');
  const windowMs = top.duration('window', { required: aggregated, positive: aggregated });
  const aggregationFields = top.map('aggregation');
  const parts = aggregationFields && readAggregation(aggregationFields);
  if (!r.ok()) return undefined;

  const common = { title: title!, severity: severity!, description: description! };
  const source = r.source(['id']);
  const filterNode = (nodeId: string, spec: FilterSpec, path: YamlPath): FilterNode => ({
    type: 'filter',
    id: nodeId,
    ...common,
    filter: spec,
    metaFilters: [],
    calendar,
    generates: false,
    groupBy: [],
    quietMs: 0,
    source: r.source(path),
  });

  if (parts === undefined) {
    const single: FilterNode = {
      ...filterNode(id!, filter!, ['id']),
      generates: true,
      groupBy,
      quietMs: windowMs ?? 0,
      source,
    };
    return { kind: 'firebreak', nodes: [single] };
  }
  const hidden =
    parts.aggregation.kind === 'sequence'
      ? parts.steps.map((step, i) =>
          filterNode(
            `${id}/step-${i + 1}`,
            { detection: bothDetections(filter!.detection, step.spec.detection), where: step.spec.where },
            step.path,
          ),
        )
      : [filterNode(`${id}/filter`, filter!, ['filter'])];
  const aggregate: AggregateNode = {
    type: 'aggregate',
    id: id!,
    ...common,
    inputs: hidden.map((h) => ({ node: h.id, fieldFor: {} })),
    groupBy,
    windowMs: windowMs!,
    aggregation: parts.aggregation,
    threshold: parts.threshold,
    calendar: undefined,
    generates: true,
    source,
  };
  return { kind: 'firebreak', nodes: [...hidden, aggregate] };
}

function readAggregation(a: MapFields): AggregationParts | undefined {
  const fn = a.choice('function', FUNCTIONS, true);
  if (fn === undefined) return undefined;
  const fields = FUNCTION_FIELDS[fn];
  const known = ['function', 'condition', ...fields];
  a.onlyKeys(known, `is not a field of a ${fn} aggregation (its fields: ${known.join(', ')})`);

  let threshold: Threshold | undefined;
  if (fn === 'first_seen') {
    if (a.has('condition')) {
      a.problem(
        'condition',
        'first_seen takes no condition: every value not seen within the lookback alerts',
      );
    }
  } else {
    const condition = a.map('condition', fn !== 'sequence', THRESHOLD_EXAMPLE);
    threshold = condition && readThreshold(condition);
  }
  const field = () => a.text('field', { required: true, expected: FIELD_NAME });
  const minEvents = (min: number, required: boolean) => a.wholeNumber('min_events', min, required);

  let aggregation: Aggregation | undefined;
  let steps: AggregationParts['steps'] = [];
  switch (fn) {
    case 'count':
      aggregation = { kind: 'count' };
      break;
    case 'distinct':
    case 'sum':
    case 'avg': {
      const f = field();
      aggregation = f === undefined ? undefined : { kind: fn, field: f };
      break;
    }
    case 'percentile': {
      const f = field();
      const p = a.number('percentile', (n) => n > 0 && n <= 100, 'a number above 0, at most 100', true);
      aggregation =
        f === undefined || p === undefined ? undefined : { kind: 'percentile', field: f, percentile: p };
      break;
    }
    case 'ratio': {
      const part = a.detection('part', true);
      const min = minEvents(1, true);
      if (threshold !== undefined && Object.values(threshold).some((n) => n < 0 || n > 100)) {
        a.problem('condition', 'a ratio is a percent: its comparisons must be between 0 and 100');
      }
      aggregation =
        part === undefined || min === undefined ? undefined : { kind: 'ratio', part, minEvents: min };
      break;
    }
    case 'baseline':
      aggregation = readBaseline(a);
      break;
    case 'first_seen': {
      const f = field();
      const lookbackMs = a.duration('lookback', { required: true, positive: true });
      aggregation =
        f === undefined || lookbackMs === undefined
          ? undefined
          : { kind: 'first_seen', field: f, lookbackMs };
      break;
    }
    case 'sequence': {
      steps = readSteps(a);
      aggregation = { kind: 'sequence' };
      if (threshold === undefined && !a.has('condition')) threshold = { gte: steps.length };
      break;
    }
  }
  if (!a.reader.ok() || aggregation === undefined) return undefined;
  return { aggregation, threshold, steps };
}

function readBaseline(a: MapFields): Aggregation | undefined {
  const measureName = a.choice('measure', ['count', 'avg', 'ratio'] as const, true);
  const windows = a.wholeNumber('windows', 1, true);
  const minEvents = a.wholeNumber('min_events', 0) ?? 0;
  const floor = a.number('floor', (n) => n >= 0, 'a number of at least 0') ?? 0;
  const notFor = (key: string) => {
    if (a.has(key)) a.problem(key, `is not used by measure ${measureName}`);
  };
  let measure: BaselineMeasure | undefined;
  if (measureName === 'count') {
    notFor('field');
    notFor('part');
    measure = { kind: 'count' };
  } else if (measureName === 'avg') {
    notFor('part');
    const field = a.text('field', { required: true, expected: FIELD_NAME });
    measure = field === undefined ? undefined : { kind: 'avg', field };
  } else if (measureName === 'ratio') {
    notFor('field');
    const part = a.detection('part', true);
    measure = part === undefined ? undefined : { kind: 'ratio', part };
  }
  if (measure === undefined || windows === undefined) return undefined;
  return { kind: 'baseline', measure, windows, minEvents, floor };
}

function readSteps(a: MapFields): { spec: FilterSpec; path: YamlPath }[] {
  const expected = 'a list of at least two Sigma detections, in order';
  const v = a.value.steps;
  if (!Array.isArray(v) || v.length < 2) {
    a.problem(
      'steps',
      v === undefined ? `is required: ${expected}` : `must be ${expected}, got ${describeValue(v)}`,
    );
    return [];
  }
  const steps: { spec: FilterSpec; path: YamlPath }[] = [];
  v.forEach((item, i) => {
    const path = a.at('steps').concat(i);
    const spec = a.reader.detection(path, item);
    if (spec !== undefined) steps.push({ spec, path });
  });
  return steps;
}

/**
 * A detection matching the events both `a` and `b` match: the search identifiers of each under
 * a prefix of its own (names cannot clash) and both conditions AND-ed. The conditions are parsed
 * and written back with the new names, so `1 of sel*` and `all of them` keep meaning the
 * identifiers of their own side, which a textual rewrite would get wrong.
 */
function bothDetections(a: Detection, b: Detection): Detection {
  const left = renamed(a, 'filter');
  const right = renamed(b, 'step');
  return { ...left.searches, ...right.searches, condition: `(${left.condition}) and (${right.condition})` };
}

function renamed(d: Detection, prefix: string): { searches: Record<string, unknown>; condition: string } {
  const { condition, ...searches } = d;
  const names = Object.keys(searches);
  // Names the condition tokenizer reads get `<prefix>_`; any other gets `<prefix>-<n>`, which
  // no `<prefix>_` name can equal.
  const newName = new Map(
    names.map((n, i) => [n, /^[A-Za-z0-9_.-]+$/.test(n) ? `${prefix}_${n}` : `${prefix}-${i}`]),
  );
  const out: Record<string, unknown> = {};
  for (const n of names) out[newName.get(n)!] = searches[n];
  const conditions = typeof condition === 'string' ? [condition] : (condition as string[]);
  const trees = conditions.map((c) => parseCondition(c, names, 'detection.condition'));
  const text = conditionText(trees.length === 1 ? trees[0]! : { type: 'or', items: trees }, newName);
  return { searches: out, condition: text };
}

function conditionText(node: ConditionNode, newName: ReadonlyMap<string, string>): string {
  const operand = (n: ConditionNode) =>
    n.type === 'id' ? newName.get(n.name)! : `(${conditionText(n, newName)})`;
  switch (node.type) {
    case 'id':
      return newName.get(node.name)!;
    case 'not':
      return `not ${operand(node.item)}`;
    case 'and':
    case 'or':
      return node.items.map(operand).join(` ${node.type} `);
  }
}
