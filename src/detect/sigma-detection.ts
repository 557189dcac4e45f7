/**
 * Compiles the `detection:` mapping of a Sigma 2.1 rule into one matcher over ECS events.
 * Only the event filter: no correlation, windows or rule files here.
 *
 * Choices where Sigma leaves the behaviour to the tool:
 *  - Keywords (a search identifier that is a list of plain values, or `'|all': [...]`) match
 *    when any leaf value of the event (strings, numbers and booleans at any depth, `@timestamp`
 *    included) contains the keyword, case-insensitively; `*` and `?` work inside it. There is
 *    no "raw message" in an ECS event, so the leaves stand for the event text.
 *  - A field name with dots reads the nested ECS field; a literal dotted key is used when the
 *    nested path is absent. An array-valued field matches when any element matches; under
 *    `|all`, each value must be matched by some element.
 *  - Numbers and booleans in rules match by their string form (`4769` matches 4769 and "4769").
 *  - `null` matches an absent field or a null one. `|exists: true` is true for a field present
 *    with a null value (the spec: presence, not value).
 *  - `|neq` needs the field present; it matches when the value (no element, for arrays) equals
 *    none of the listed values.
 *  - `|re` is an unanchored JavaScript RegExp search; a leading PCRE `(?i)`/`(?s)`/`(?m)` becomes
 *    a flag. The spec's restricted PCRE subset is not enforced: anything JS accepts compiles.
 *    `re` combines only with its sub-modifiers `i`, `m`, `s` (which must follow it) and `all`.
 *  - Modifier combinations are validated up front: no modifier twice; `exists` alone; `cidr`
 *    with `all` only; one of `contains`/`startswith`/`endswith`; one UTF-16 encoding, before
 *    `base64`/`base64offset` (one of those); comparisons and time parts take numbers; `null`
 *    takes no modifiers. Anything else is FB_ERR_RULE_INVALID naming the item.
 *  - `|windash` treats every `-`, `/`, en dash, em dash and horizontal bar as interchangeable
 *    (one character class instead of 5^n permutations); before an encoding it expands.
 *  - Values produced by `|base64`/`|base64offset` match case-sensitively (case is data there).
 *    Encoding a value with wildcards is an error.
 *  - Time modifiers (`|hour` ...) read `@timestamp`-like values (ISO string or epoch ms) in UTC,
 *    and may be followed by `gt`/`gte`/`lt`/`lte`/`neq`. `week` is the ISO week.
 *  - `|fieldref` compares string forms (case-insensitive unless `|cased`); `|neq` negates it.
 *  - `any of` is not Sigma 2.1 and is rejected with a hint to write `1 of`. A list of
 *    conditions is OR-ed, as the spec says.
 */
import type { EcsEvent } from '../events/index.js';
import { type ConditionNode, parseCondition, ruleError } from './sigma-condition-parser.js';
import { compileFieldMatcher, type DetectionOptions, type FieldMatcher } from './sigma-value-matcher.js';

export interface CompiledDetection {
  match(event: EcsEvent): boolean;
  /** Every field the rule reads (tested fields and `|fieldref` targets), sorted, no duplicates. */
  readonly fields: readonly string[];
  /**
   * Equalities every matching event must satisfy: field → lowercased values, one of which the
   * field's string form (`String(4769)` for numbers; for arrays, one element's) must equal
   * case-insensitively. Only plain items (no modifier, no wildcard, no null) count. An index may
   * route events on any one of these; empty when the rule has no such necessary equality.
   */
  readonly requiredEquals: ReadonlyMap<string, readonly string[]>;
}

type Test = (event: EcsEvent) => boolean;
type Need = Map<string, Set<string>>;

interface Compiled {
  readonly test: Test;
  readonly need: Need;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function andNeeds(needs: readonly Need[]): Need {
  const out: Need = new Map();
  for (const n of needs) {
    for (const [f, vs] of n) {
      const prev = out.get(f);
      out.set(f, prev === undefined ? new Set(vs) : new Set([...prev].filter((v) => vs.has(v))));
    }
  }
  return out;
}

function orNeeds(needs: readonly Need[]): Need {
  const out: Need = new Map();
  const [first, ...rest] = needs;
  if (first === undefined) return out;
  for (const [f, vs] of first) {
    if (rest.every((n) => n.has(f))) out.set(f, new Set([...vs, ...rest.flatMap((n) => [...n.get(f)!])]));
  }
  return out;
}

function andTests(tests: readonly Test[]): Test {
  if (tests.length === 1) return tests[0]!;
  if (tests.length === 2) {
    const [a, b] = tests as [Test, Test];
    return (e) => a(e) && b(e);
  }
  return (e) => {
    for (const t of tests) if (!t(e)) return false;
    return true;
  };
}

function orTests(tests: readonly Test[]): Test {
  if (tests.length === 1) return tests[0]!;
  if (tests.length === 2) {
    const [a, b] = tests as [Test, Test];
    return (e) => a(e) || b(e);
  }
  return (e) => {
    for (const t of tests) if (t(e)) return true;
    return false;
  };
}

function compileMap(
  map: Record<string, unknown>,
  where: string,
  options: DetectionOptions,
  fields: Set<string>,
): Compiled {
  const keys = Object.keys(map);
  if (keys.length === 0) throw ruleError(where, 'the map is empty; expected field: value pairs');
  const matchers: FieldMatcher[] = keys.map((k) => compileFieldMatcher(k, map[k], `${where}.${k}`, options));
  const need: Need = new Map();
  for (const m of matchers) {
    if (m.field !== undefined) fields.add(m.field);
    for (const r of m.refs) fields.add(r);
    if (m.field !== undefined && m.equals !== undefined) need.set(m.field, new Set(m.equals));
  }
  return { test: andTests(matchers.map((m) => m.test)), need };
}

function compileIdentifier(
  name: string,
  body: unknown,
  options: DetectionOptions,
  fields: Set<string>,
): Compiled {
  const where = `detection.${name}`;
  if (isMap(body)) return compileMap(body, where, options, fields);
  if (Array.isArray(body) && body.length > 0) {
    if (body.every(isMap)) {
      const parts = body.map((m, i) => compileMap(m, `${where}[${i}]`, options, fields));
      return { test: orTests(parts.map((p) => p.test)), need: orNeeds(parts.map((p) => p.need)) };
    }
    if (body.some((v) => typeof v === 'object' && v !== null)) {
      throw ruleError(where, 'a list must hold only maps (OR of selections) or only plain values (keywords)');
    }
    return { test: compileFieldMatcher('', body, where, options).test, need: new Map() };
  }
  if (Array.isArray(body)) throw ruleError(where, 'the list is empty');
  throw ruleError(where, `expected a map of fields or a list, got ${body === null ? 'null' : typeof body}`);
}

/**
 * Compiles a Sigma `detection` mapping. Throws FB_ERR_RULE_INVALID naming the place
 * (`detection.selection.CommandLine|base64offset`) and what was expected.
 */
export function compileDetection(detection: unknown, options: DetectionOptions = {}): CompiledDetection {
  if (!isMap(detection)) throw ruleError('detection', 'expected a map of search identifiers and a condition');
  const { condition, ...searches } = detection;
  if ('timeframe' in searches) {
    throw ruleError('detection.timeframe', 'Sigma 2 has no timeframe in detection; use a correlation rule');
  }
  if (condition === undefined)
    throw ruleError('detection.condition', 'missing; say which search identifiers must match');
  const names = Object.keys(searches);
  if (names.length === 0)
    throw ruleError('detection', 'no search identifiers; define at least one next to the condition');
  const fields = new Set<string>();
  const compiled = new Map<string, Compiled>();
  for (const name of names) compiled.set(name, compileIdentifier(name, searches[name], options, fields));

  const conditions = typeof condition === 'string' ? [condition] : condition;
  if (
    !Array.isArray(conditions) ||
    conditions.length === 0 ||
    conditions.some((c) => typeof c !== 'string')
  ) {
    throw ruleError('detection.condition', 'expected a condition string or a list of them');
  }
  const trees = (conditions as string[]).map((c, i) =>
    parseCondition(c, names, Array.isArray(condition) ? `detection.condition[${i}]` : 'detection.condition'),
  );

  const build = (node: ConditionNode): Compiled => {
    switch (node.type) {
      case 'id':
        return compiled.get(node.name)!;
      case 'not': {
        const inner = build(node.item).test;
        return { test: (e) => !inner(e), need: new Map() };
      }
      case 'and': {
        const parts = node.items.map(build);
        return { test: andTests(parts.map((p) => p.test)), need: andNeeds(parts.map((p) => p.need)) };
      }
      case 'or': {
        const parts = node.items.map(build);
        return { test: orTests(parts.map((p) => p.test)), need: orNeeds(parts.map((p) => p.need)) };
      }
    }
  };
  const roots = trees.map(build);
  const root: Compiled =
    roots.length === 1
      ? roots[0]!
      : { test: orTests(roots.map((r) => r.test)), need: orNeeds(roots.map((r) => r.need)) };
  const requiredEquals = new Map<string, readonly string[]>();
  for (const [f, vs] of root.need) if (vs.size > 0) requiredEquals.set(f, [...vs].sort());
  return { match: root.test, fields: [...fields].sort(), requiredEquals };
}
