/**
 * Parses a Sigma `condition` expression into a small tree over search identifiers.
 * Grammar (Sigma 2.x, least to most binding): `or`, `and`, `not`, `1 of` / `all of`, `( )`.
 * `x of` patterns are resolved to identifier names here, so the compiler never sees a pattern.
 */
import { FirebreakError } from '../kernel/index.js';

export type ConditionNode =
  | { readonly type: 'id'; readonly name: string }
  | { readonly type: 'and' | 'or'; readonly items: readonly ConditionNode[] }
  | { readonly type: 'not'; readonly item: ConditionNode };

export function ruleError(where: string, problem: string): FirebreakError {
  return new FirebreakError('FB_ERR_RULE_INVALID', { where, problem });
}

interface Token {
  readonly text: string;
  readonly column: number;
}

// Identifiers are word characters plus `*` (patterns in `x of`); `-` and `.` are tolerated
// because YAML keys allow them and real rules use them.
const TOKEN = /\s*(?:(\(|\))|([A-Za-z0-9_*.-]+)|(\S))/y;

function tokenize(text: string, where: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (m === null) break; // only trailing whitespace is left
    if (m[3] !== undefined) {
      throw ruleError(where, `unexpected character "${m[3]}" at column ${start + m[0].length}`);
    }
    const word = m[1] ?? m[2]!;
    tokens.push({ text: word, column: start + m[0].length - word.length + 1 });
  }
  return tokens;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'of', 'them', 'all', '1']);

/** Turns an `x of` pattern (only `*` is special) into a RegExp over identifier names. */
function patternRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

/**
 * Parses one condition string. `identifiers` are the search identifiers the detection defines;
 * an unknown identifier, a pattern that matches none, or bad syntax throws FB_ERR_RULE_INVALID
 * naming `where` (e.g. `detection.condition`) and the column.
 */
export function parseCondition(text: string, identifiers: readonly string[], where: string): ConditionNode {
  const tokens = tokenize(text, where);
  const known = new Set(identifiers);
  let pos = 0;

  const peek = (): string | undefined => tokens[pos]?.text.toLowerCase();
  const fail = (expected: string): never => {
    const t = tokens[pos];
    throw ruleError(
      where,
      t === undefined
        ? `condition ended early; expected ${expected}`
        : `unexpected "${t.text}" at column ${t.column}; expected ${expected}`,
    );
  };
  const OPERAND = 'a search identifier, "not", "(", "1 of" or "all of"';

  function parseOr(): ConditionNode {
    const items = [parseAnd()];
    while (peek() === 'or') {
      pos++;
      items.push(parseAnd());
    }
    return items.length === 1 ? items[0]! : { type: 'or', items };
  }

  function parseAnd(): ConditionNode {
    const items = [parseNot()];
    while (peek() === 'and') {
      pos++;
      items.push(parseNot());
    }
    return items.length === 1 ? items[0]! : { type: 'and', items };
  }

  function parseNot(): ConditionNode {
    if (peek() === 'not') {
      pos++;
      return { type: 'not', item: parseNot() };
    }
    return parsePrimary();
  }

  function parsePrimary(): ConditionNode {
    const t = tokens[pos];
    const word = peek();
    if (t === undefined || word === undefined) return fail(OPERAND);
    if (word === '(') {
      pos++;
      const inner = parseOr();
      if (peek() !== ')') fail('")"');
      pos++;
      return inner;
    }
    if (word === '1' || word === 'all' || word === 'any') {
      if (word === 'any') {
        // Not in Sigma 2.1 (pySigma accepts it in places); say what the spec spells instead.
        throw ruleError(where, `"any of" at column ${t.column} is not Sigma; write "1 of"`);
      }
      pos++;
      if (peek() !== 'of') fail('"of"');
      pos++;
      const target = tokens[pos];
      if (target === undefined || target.text === '(' || target.text === ')')
        return fail('"them" or a pattern');
      pos++;
      let names: string[];
      if (target.text.toLowerCase() === 'them') {
        // Spec: identifiers starting with `_` are excluded from `them` by convention.
        names = identifiers.filter((n) => !n.startsWith('_'));
      } else {
        const re = patternRegExp(target.text);
        names = identifiers.filter((n) => re.test(n));
      }
      if (names.length === 0) {
        throw ruleError(where, `"${target.text}" at column ${target.column} matches no search identifier`);
      }
      const items = names.map((name): ConditionNode => ({ type: 'id', name }));
      if (items.length === 1) return items[0]!;
      return { type: word === 'all' ? 'and' : 'or', items };
    }
    if (word === ')' || KEYWORDS.has(word)) return fail(OPERAND);
    if (t.text.includes('*')) {
      throw ruleError(where, `pattern "${t.text}" at column ${t.column} needs "1 of" or "all of" before it`);
    }
    if (!known.has(t.text)) {
      const list = identifiers.length === 0 ? 'none' : identifiers.join(', ');
      throw ruleError(where, `unknown search identifier "${t.text}" at column ${t.column}; defined: ${list}`);
    }
    pos++;
    return { type: 'id', name: t.text };
  }

  if (tokens.length === 0) throw ruleError(where, 'the condition is empty');
  const tree = parseOr();
  if (pos < tokens.length) fail('"and", "or" or the end of the condition');
  return tree;
}
