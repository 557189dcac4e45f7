/**
 * Compiles one Sigma search item — `field|mod1|mod2: value(s)` — into a closure over an event.
 * All work that does not depend on the event (modifier validation, encodings, wildcard to
 * RegExp, CIDR masks) happens here, once; the closure only reads the field and compares.
 */
import type { EcsEvent } from '../events/index.js';
import { ruleError } from './sigma-condition-parser.js';
import { compileFieldPath, type FieldReader } from './sigma-field-path.js';

export interface DetectionOptions {
  /** Values for `|expand` placeholders: `%Servers%` → `placeholders.Servers`. */
  readonly placeholders?: Readonly<Record<string, string | readonly string[]>>;
}

export interface FieldMatcher {
  /** The field tested; `undefined` for a keyword search over the whole event. */
  readonly field: string | undefined;
  /** Other fields read (`|fieldref` targets). */
  readonly refs: readonly string[];
  /** Lowercased values when the item is plain equality (no wildcard, no modifier): for routing. */
  readonly equals: readonly string[] | undefined;
  readonly test: (event: EcsEvent) => boolean;
}

const STAR = 0;
const ONE = 1;
const DASH = 2;
type Tok = string | typeof STAR | typeof ONE | typeof DASH;
type Pattern = Tok[];
/** A value on its way through the modifiers: a wildcard pattern, or bytes after utf16. */
type Stage = { kind: 'pattern'; p: Pattern } | { kind: 'bytes'; b: number[] };

const DASHES = ['-', '/', '\u2013', '\u2014', '\u2015'];
const DASH_CLASS = '[-/\u2013\u2014\u2015]';
const MAX_EXPANSION = 4096;

const STRING_MODS = new Set([
  'contains',
  'startswith',
  'endswith',
  'windash',
  'base64',
  'base64offset',
  'wide',
  'utf16',
  'utf16le',
  'utf16be',
  'expand',
]);
const NUMERIC_MODS = new Set(['gt', 'gte', 'lt', 'lte']);
const TIME_MODS = new Set(['minute', 'hour', 'day', 'week', 'month', 'year']);
const RE_FLAGS = new Set(['i', 'm', 's']);
const KNOWN = new Set([
  ...STRING_MODS,
  ...NUMERIC_MODS,
  ...TIME_MODS,
  ...RE_FLAGS,
  'all',
  'cased',
  'neq',
  're',
  'cidr',
  'exists',
  'fieldref',
]);

/** Parses Sigma wildcards: `*`, `?`, and `\` escaping `*`, `?` and `\` (spec "Escaping"). */
export function parseWildcards(raw: string): Pattern {
  const out: Pattern = [];
  let lit = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      const next = raw[i + 1];
      if (next === '*' || next === '?' || next === '\\') {
        lit += next;
        i++;
      } else {
        lit += c; // a plain backslash not followed by a special character stays as it is
      }
    } else if (c === '*' || c === '?') {
      if (lit !== '') out.push(lit);
      lit = '';
      out.push(c === '*' ? STAR : ONE);
    } else {
      lit += c;
    }
  }
  if (lit !== '') out.push(lit);
  return out;
}

/** Expands windash classes into concrete strings (needed before encoding). */
function concreteStrings(p: Pattern, where: string): string[] {
  let acc = [''];
  for (const t of p) {
    if (typeof t === 'string') acc = acc.map((s) => s + t);
    else if (t === DASH) acc = acc.flatMap((s) => DASHES.map((d) => s + d));
    else throw ruleError(where, 'cannot encode a value with wildcards; escape * and ? as \\* and \\?');
    if (acc.length > MAX_EXPANSION)
      throw ruleError(where, `value expands to more than ${MAX_EXPANSION} variants`);
  }
  return acc;
}

function utf8Bytes(s: string): number[] {
  return [...Buffer.from(s, 'utf8')];
}

function toBytes(stage: Stage, where: string): number[][] {
  return stage.kind === 'bytes' ? [stage.b] : concreteStrings(stage.p, where).map(utf8Bytes);
}

function latin1(bytes: readonly number[]): string {
  return Buffer.from(bytes).toString('latin1');
}

function asPattern(stage: Stage): Pattern {
  return stage.kind === 'bytes' ? [latin1(stage.b)] : stage.p;
}

/** base64offset per pySigma / Sigma: the value at byte offsets 0, 1, 2, minus the unstable edges. */
export function base64Offsets(bytes: readonly number[]): string[] {
  const starts = [0, 2, 3];
  const ends = [0, -3, -2];
  const out: string[] = [];
  for (let i = 0; i < 3; i++) {
    const encoded = Buffer.from([...new Array<number>(i).fill(0x20), ...bytes]).toString('base64');
    const end = ends[(bytes.length + i) % 3]!;
    out.push(encoded.slice(starts[i], end === 0 ? undefined : end));
  }
  return out;
}

function utf16(s: string, mod: string): number[] {
  const le = [...Buffer.from(s, 'utf16le')];
  if (mod === 'utf16be') {
    for (let i = 0; i + 1 < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1]!, le[i]!];
    return le;
  }
  return mod === 'utf16' ? [0xff, 0xfe, ...le] : le;
}

// Only syntax characters: the patterns use the `u` flag, where escaping anything else (`\-`)
// is a SyntaxError.
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A test of one scalar: `s` is its string form, `raw` the event value itself. */
type ScalarTest = (s: string, raw: unknown) => boolean;

// One-entry memo of the last lowercased string. Rules testing the same field of the same event
// (and the several values of one item) then lowercase it once instead of once per test.
let lastString = '';
let lastLower = '';
function lowerOf(s: string): string {
  if (s !== lastString) {
    lastString = s;
    lastLower = s.toLowerCase();
  }
  return lastLower;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Wildcard pattern → fastest test: equality, startsWith, endsWith, includes or an anchored RegExp. */
function compilePattern(p: Pattern, cased: boolean): ScalarTest {
  const only = (q: Pattern): string | undefined =>
    q.length === 1 && typeof q[0] === 'string' ? q[0] : undefined;
  const norm = (s: string) => (cased ? s : s.toLowerCase());
  if (p.length === 0) return (s) => s === '';
  if (p.length === 1 && p[0] === STAR) return () => true;
  const exact = only(p);
  if (exact !== undefined) {
    const v = norm(exact);
    if (cased) return (s) => s === v;
    // Lowercasing never changes the length of a string that lowercases to ASCII, so a length
    // mismatch rejects without lowercasing (most events, for most values).
    if (isAscii(v)) return (s) => s.length === v.length && (s === v || lowerOf(s) === v);
    return (s) => lowerOf(s) === v;
  }
  const last = p[p.length - 1];
  if (p.length === 2 && last === STAR && typeof p[0] === 'string') {
    const v = norm(p[0]);
    return cased ? (s) => s.startsWith(v) : (s) => s.length >= v.length && lowerOf(s).startsWith(v);
  }
  if (p.length === 2 && p[0] === STAR && typeof last === 'string') {
    const v = norm(last);
    return cased ? (s) => s.endsWith(v) : (s) => s.length >= v.length && lowerOf(s).endsWith(v);
  }
  const mid = p.length === 3 && p[0] === STAR && last === STAR ? only([p[1]!]) : undefined;
  if (mid !== undefined) {
    const v = norm(mid);
    return cased ? (s) => s.includes(v) : (s) => s.length >= v.length && lowerOf(s).includes(v);
  }
  const body = p
    .map((t) => (t === STAR ? '.*' : t === ONE ? '.' : t === DASH ? DASH_CLASS : escapeRegExp(t)))
    .join('');
  // `s`: a `*` spans newlines in command lines; `u`: `?` is one character, not one UTF-16 unit.
  const re = new RegExp(`^${body}$`, cased ? 'su' : 'siu');
  return (s) => re.test(s);
}

function expandPlaceholders(raw: string, where: string, options: DetectionOptions): string[] {
  let acc = [''];
  const re = /\\%|%([^%\s]+)%/g;
  let last = 0;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) {
    const before = raw.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[1] === undefined) {
      acc = acc.map((s) => `${s + before}%`);
      continue;
    }
    const found = options.placeholders?.[m[1]];
    if (found === undefined) {
      const known = Object.keys(options.placeholders ?? {});
      throw ruleError(
        where,
        `unknown placeholder %${m[1]}%; known: ${known.length === 0 ? 'none' : known.join(', ')}`,
      );
    }
    const values = typeof found === 'string' ? [found] : found;
    acc = acc.flatMap((s) => values.map((v) => s + before + v));
    if (acc.length > MAX_EXPANSION)
      throw ruleError(where, `value expands to more than ${MAX_EXPANSION} variants`);
  }
  return acc.map((s) => s + raw.slice(last));
}

function stringForm(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return undefined;
}

function describe(v: unknown): string {
  return Array.isArray(v)
    ? 'a list'
    : v === null
      ? 'null'
      : typeof v === 'object'
        ? 'a map'
        : JSON.stringify(v);
}

// ---- IP addresses for |cidr -------------------------------------------------------------

/** Parses an IPv4 or IPv6 address into 16-bit groups in `out`; returns 2 (IPv4), 8 (IPv6) or 0 (not an address). */
export function parseIp(text: string, out: Uint16Array): number {
  if (text.indexOf(':') === -1) return parseIpv4(text, out, 0) ? 2 : 0;
  let s = text;
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  const halves = s.split('::');
  if (halves.length > 2) return 0;
  const parseHalf = (h: string): number[] | undefined => {
    if (h === '') return [];
    const groups: number[] = [];
    const parts = h.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = new Uint16Array(2);
        if (!parseIpv4(part, v4, 0)) return undefined;
        groups.push(v4[0]!, v4[1]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
        groups.push(Number.parseInt(part, 16));
      }
    }
    return groups;
  };
  const head = parseHalf(halves[0]!);
  const tail = halves.length === 2 ? parseHalf(halves[1]!) : [];
  if (head === undefined || tail === undefined) return 0;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return 0;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  for (let i = 0; i < 8; i++) out[i] = all[i]!;
  return 8;
}

/** Dotted quad without allocating (events carry many addresses): 4 parts of 1–3 digits, ≤ 255. */
function parseIpv4(s: string, out: Uint16Array, at: number): boolean {
  let part = 0;
  let digits = 0;
  let value = 0;
  let hi = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; // a final '.' closes the last part
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return false;
      value = value * 10 + (c - 48);
    } else if (c === 46) {
      if (digits === 0 || value > 255 || part > 3) return false;
      if (part === 0 || part === 2) hi = value;
      else out[at + (part >> 1)] = (hi << 8) | value;
      part++;
      digits = 0;
      value = 0;
    } else return false;
  }
  return part === 4;
}

function compileCidr(value: unknown, where: string): ScalarTest {
  const text = typeof value === 'string' ? value : undefined;
  const slash = text?.indexOf('/') ?? -1;
  const net = new Uint16Array(8);
  const groups = text === undefined ? 0 : parseIp(slash === -1 ? text : text.slice(0, slash), net);
  const bits = groups * 16;
  const prefix = slash === -1 ? bits : Number(text!.slice(slash + 1));
  if (
    groups === 0 ||
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > bits ||
    !/^\d*$/.test(text!.slice(slash + 1))
  ) {
    throw ruleError(
      where,
      `expected an IPv4 or IPv6 network like 10.0.0.0/8 or 2001:db8::/32, got ${describe(value)}`,
    );
  }
  const scratch = new Uint16Array(8); // reused: matching is synchronous
  return (s) => {
    if (parseIp(s, scratch) !== groups) return false;
    let left = prefix;
    for (let i = 0; left > 0; i++, left -= 16) {
      const mask = left >= 16 ? 0xffff : (0xffff << (16 - left)) & 0xffff;
      if ((scratch[i]! & mask) !== (net[i]! & mask)) return false;
    }
    return true;
  };
}

// ---- time parts for |minute ... |year ---------------------------------------------------

function timePart(mod: string): (raw: unknown) => number | undefined {
  return (raw) => {
    const ms = typeof raw === 'number' ? raw : typeof raw === 'string' ? Date.parse(raw) : Number.NaN;
    if (!Number.isFinite(ms)) return undefined;
    const d = new Date(ms);
    switch (mod) {
      case 'minute':
        return d.getUTCMinutes();
      case 'hour':
        return d.getUTCHours();
      case 'day':
        return d.getUTCDate();
      case 'month':
        return d.getUTCMonth() + 1;
      case 'year':
        return d.getUTCFullYear();
      default: {
        // ISO 8601 week number.
        const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
        const day = t.getUTCDay() || 7;
        t.setUTCDate(t.getUTCDate() + 4 - day);
        const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
        return Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7);
      }
    }
  };
}

function numberOf(raw: unknown): number | undefined {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string' && raw.trim() !== '') {
    const n = Number(raw);
    return Number.isNaN(n) ? undefined : n;
  }
  return undefined;
}

function compare(op: string, a: number, b: number): boolean {
  switch (op) {
    case 'gt':
      return a > b;
    case 'gte':
      return a >= b;
    case 'lt':
      return a < b;
    case 'lte':
      return a <= b;
    case 'neq':
      return a !== b;
    default:
      return a === b;
  }
}

// ---- the compiler -----------------------------------------------------------------------

function validateModifiers(mods: readonly string[], where: string, keyword: boolean): void {
  const seen = new Set<string>();
  for (const [i, m] of mods.entries()) {
    if (!KNOWN.has(m)) throw ruleError(where, `unknown modifier "${m}"`);
    if (seen.has(m)) throw ruleError(where, `modifier "${m}" is given twice`);
    if (RE_FLAGS.has(m) && !mods.slice(0, i).includes('re')) {
      throw ruleError(where, `"${m}" is a sub-modifier of "re" and must follow it`);
    }
    seen.add(m);
  }
  const has = (m: string) => seen.has(m);
  const only = (name: string, allowed: readonly string[]) => {
    const bad = mods.filter((m) => m !== name && !allowed.includes(m));
    if (bad.length > 0) throw ruleError(where, `"${name}" cannot be combined with "${bad.join('", "')}"`);
  };
  if (keyword) {
    const bad = mods.filter(
      (m) =>
        m === 'exists' ||
        m === 'fieldref' ||
        m === 'neq' ||
        m === 'cidr' ||
        NUMERIC_MODS.has(m) ||
        TIME_MODS.has(m),
    );
    if (bad.length > 0)
      throw ruleError(where, `"${bad[0]}" needs a field name; keywords search the whole event`);
  }
  if (has('exists')) only('exists', []);
  if (has('re')) only('re', ['i', 'm', 's', 'all']);
  if (has('cidr')) only('cidr', ['all']);
  if (has('fieldref')) only('fieldref', ['neq', 'cased', 'all']);
  const time = mods.filter((m) => TIME_MODS.has(m));
  const numeric = mods.filter((m) => NUMERIC_MODS.has(m));
  if (time.length > 1)
    throw ruleError(where, `only one time modifier is allowed, got "${time.join('", "')}"`);
  if (numeric.length > 1)
    throw ruleError(where, `only one comparison is allowed, got "${numeric.join('", "')}"`);
  if (time.length === 1) only(time[0]!, ['gt', 'gte', 'lt', 'lte', 'neq', 'all']);
  else if (numeric.length === 1) only(numeric[0]!, ['all']);
  const anchors = mods.filter((m) => m === 'contains' || m === 'startswith' || m === 'endswith');
  if (anchors.length > 1)
    throw ruleError(where, `"${anchors.join('" and "')}" contradict each other; use one`);
  const b64 = mods.filter((m) => m === 'base64' || m === 'base64offset');
  if (b64.length > 1) throw ruleError(where, '"base64" and "base64offset" contradict each other; use one');
  const u16 = mods.filter((m) => m === 'wide' || m.startsWith('utf16'));
  if (u16.length > 1)
    throw ruleError(where, `only one UTF-16 encoding is allowed, got "${u16.join('", "')}"`);
  if (u16.length === 1 && b64.length === 1 && mods.indexOf(u16[0]!) > mods.indexOf(b64[0]!)) {
    throw ruleError(where, `"${u16[0]}" must come before "${b64[0]}" (encode to UTF-16, then to base64)`);
  }
}

/**
 * Compiles `key: value` of a search identifier. `where` names it in errors
 * (`detection.selection.CommandLine|base64offset`). A key of `''` or `'|mods'` is a keyword
 * search; callers pass keyword list items with `key === ''`.
 */
export function compileFieldMatcher(
  key: string,
  value: unknown,
  where: string,
  options: DetectionOptions = {},
): FieldMatcher {
  const [field = '', ...mods] = key.split('|');
  const keyword = field === '';
  validateModifiers(mods, where, keyword);
  const has = (m: string) => mods.includes(m);
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  if (values.length === 0) throw ruleError(where, 'the list of values is empty');
  for (const v of values) {
    if (typeof v === 'object' && v !== null) throw ruleError(where, `expected a value, got ${describe(v)}`);
  }
  const all = has('all');
  if (all && values.length < 2) throw ruleError(where, '"all" needs a list of at least two values');
  const read: FieldReader = keyword ? (event) => event : compileFieldPath(field);
  const base = { field: keyword ? undefined : field, refs: [] as string[], equals: undefined };

  if (has('exists')) {
    if (typeof value !== 'boolean')
      throw ruleError(where, `"exists" expects true or false, got ${describe(value)}`);
    return { ...base, test: (event) => (read(event) !== undefined) === value };
  }

  if (has('fieldref'))
    return compileFieldref(field, values, where, read, all, has('neq'), has('cased'), base);

  // null (field absent or null) may sit in a list of plain values; it takes no modifiers.
  const hasNull = values.includes(null);
  if (hasNull && (mods.length > 0 || keyword)) {
    throw ruleError(where, 'null cannot take modifiers or be a keyword; use "exists" to test presence');
  }
  const nonNull = values.filter((v) => v !== null);

  const tests: ScalarTest[] = [];
  let equals: string[] | undefined = mods.length === 0 && !keyword ? [] : undefined;
  const time = mods.find((m) => TIME_MODS.has(m));
  const numeric = mods.find((m) => NUMERIC_MODS.has(m));

  if (time !== undefined || numeric !== undefined) {
    const op = numeric ?? (has('neq') ? 'neq' : 'eq');
    const part = time === undefined ? numberOf : timePart(time);
    for (const v of nonNull) {
      if (typeof v !== 'number')
        throw ruleError(where, `"${time ?? numeric}" expects a number, got ${describe(v)}`);
      tests.push((_s, raw) => {
        const n = part(raw);
        return n !== undefined && compare(op, n, v);
      });
    }
    return finish(tests, all, false, hasNull, read, keyword, { ...base });
  }
  if (has('cidr')) {
    for (const v of nonNull) tests.push(compileCidr(v, where));
    return finish(tests, all, false, hasNull, read, keyword, base);
  }
  if (has('re')) {
    for (const v of nonNull) tests.push(compileRegex(v, mods, where));
    return finish(tests, all, false, hasNull, read, keyword, base);
  }

  // String values through the transformation modifiers, in the order written.
  const cased = has('cased');
  for (const v of nonNull) {
    const raws = typeof v === 'string' && has('expand') ? expandPlaceholders(v, where, options) : [String(v)];
    let stages: Stage[] = raws.map((r) => ({
      kind: 'pattern',
      p: typeof v === 'string' ? parseWildcards(r) : [r],
    }));
    let encoded = false;
    let anchored = false;
    for (const m of mods) {
      switch (m) {
        case 'windash':
          stages = stages.map((st) => ({ kind: 'pattern', p: windash(asPattern(st)) }));
          break;
        case 'wide':
        case 'utf16le':
        case 'utf16be':
        case 'utf16':
          stages = stages.flatMap((st) =>
            concreteStrings(asPattern(st), where).map((s): Stage => ({ kind: 'bytes', b: utf16(s, m) })),
          );
          break;
        case 'base64':
          encoded = true;
          stages = stages.flatMap((st) =>
            toBytes(st, where).map(
              (b): Stage => ({ kind: 'pattern', p: [Buffer.from(b).toString('base64')] }),
            ),
          );
          break;
        case 'base64offset':
          encoded = true;
          stages = stages.flatMap((st) =>
            toBytes(st, where).flatMap((b) =>
              base64Offsets(b).map((s): Stage => ({ kind: 'pattern', p: [s] })),
            ),
          );
          break;
        case 'contains':
        case 'startswith':
        case 'endswith':
          anchored = true;
          stages = stages.map((st) => {
            const p = asPattern(st);
            const head = m !== 'startswith' && p[0] !== STAR ? [STAR] : [];
            const tail = m !== 'endswith' && p[p.length - 1] !== STAR ? [STAR] : [];
            return { kind: 'pattern', p: [...head, ...p, ...tail] as Pattern };
          });
          break;
        default:
          break; // cased, all, neq, expand: handled outside the value pipeline
      }
    }
    for (const st of stages) {
      let p = asPattern(st);
      // Keywords search inside the event text (see the choices in sigma-detection.ts).
      if (keyword && !anchored) {
        p = [...(p[0] === STAR ? [] : [STAR]), ...p, ...(p[p.length - 1] === STAR ? [] : [STAR])] as Pattern;
      }
      // Base64 output is matched case-sensitively: its case carries the encoded bits.
      tests.push(compilePattern(p, cased || encoded));
      if (equals !== undefined) {
        if (p.length === 1 && typeof p[0] === 'string') equals.push(p[0].toLowerCase());
        else if (p.length === 0) equals.push('');
        else equals = undefined;
      }
    }
  }
  if (hasNull) equals = undefined;
  return finish(tests, all, has('neq'), hasNull, read, keyword, { ...base, equals });
}

function windash(p: Pattern): Pattern {
  const out: Pattern = [];
  for (const t of p) {
    if (typeof t !== 'string') {
      out.push(t);
      continue;
    }
    let lit = '';
    for (const c of t) {
      if (DASHES.includes(c)) {
        if (lit !== '') out.push(lit);
        lit = '';
        out.push(DASH);
      } else lit += c;
    }
    if (lit !== '') out.push(lit);
  }
  return out;
}

function compileRegex(v: unknown, mods: readonly string[], where: string): ScalarTest {
  if (typeof v !== 'string') throw ruleError(where, `"re" expects a string, got ${describe(v)}`);
  let source = v;
  let flags = mods.filter((m) => RE_FLAGS.has(m)).join('');
  // PCRE inline flags at the start (`(?i)`), common in Sigma rules, become JS flags.
  const inline = /^\(\?([ims]+)\)/.exec(source);
  if (inline !== null) {
    source = source.slice(inline[0].length);
    for (const f of inline[1]!) if (!flags.includes(f)) flags += f;
  }
  try {
    const re = new RegExp(source, flags);
    return (s) => {
      re.lastIndex = 0;
      return re.test(s);
    };
  } catch (error) {
    throw ruleError(where, `invalid regular expression: ${(error as Error).message}`);
  }
}

function finish(
  tests: readonly ScalarTest[],
  all: boolean,
  neq: boolean,
  nullOk: boolean,
  read: FieldReader,
  keyword: boolean,
  base: Omit<FieldMatcher, 'test'>,
): FieldMatcher {
  const n = tests.length;
  const one = (test: ScalarTest, v: unknown): boolean => {
    const s = stringForm(v);
    return s !== undefined && test(s, v);
  };
  const anyTest = (v: unknown): boolean => {
    const s = stringForm(v);
    if (s === undefined) return false;
    for (let i = 0; i < n; i++) if (tests[i]!(s, v)) return true;
    return false;
  };
  if (keyword) {
    const leafMatches = (node: unknown, test: (v: unknown) => boolean): boolean => {
      if (Array.isArray(node)) {
        for (const x of node) if (leafMatches(x, test)) return true;
        return false;
      }
      if (typeof node === 'object' && node !== null) {
        for (const k in node) if (leafMatches((node as Record<string, unknown>)[k], test)) return true;
        return false;
      }
      return test(node);
    };
    if (!all) return { ...base, test: (event) => leafMatches(event, anyTest) };
    const each = tests.map((t) => (v: unknown) => one(t, v));
    return { ...base, test: (event) => each.every((t) => leafMatches(event, t)) };
  }
  const some = (v: unknown, test: (x: unknown) => boolean): boolean => {
    if (!Array.isArray(v)) return test(v);
    for (const x of v) if (test(x)) return true;
    return false;
  };
  if (neq) {
    // The field must be there and equal none of the values (for arrays: no element does).
    return {
      ...base,
      test: (event) => {
        const v = read(event);
        return v !== undefined && v !== null && !some(v, anyTest);
      },
    };
  }
  if (all) {
    const each = tests.map((t) => (v: unknown) => one(t, v));
    return {
      ...base,
      test: (event) => {
        const v = read(event);
        if (v === undefined || v === null) return false;
        for (const t of each) if (!some(v, t)) return false;
        return true;
      },
    };
  }
  return {
    ...base,
    test: (event) => {
      const v = read(event);
      if (v === undefined || v === null) return nullOk;
      return n > 0 && some(v, anyTest);
    },
  };
}

function compileFieldref(
  field: string,
  values: readonly unknown[],
  where: string,
  read: FieldReader,
  all: boolean,
  neq: boolean,
  cased: boolean,
  base: Omit<FieldMatcher, 'test'>,
): FieldMatcher {
  const refs = values.map((v) => {
    if (typeof v !== 'string' || v === '')
      throw ruleError(where, `"fieldref" expects a field name, got ${describe(v)}`);
    return v;
  });
  const readers = refs.map(compileFieldPath);
  const norm = (v: unknown) => {
    const s = stringForm(v);
    return s === undefined || cased ? s : s.toLowerCase();
  };
  const equal = (a: unknown, b: unknown): boolean => {
    const as = Array.isArray(a) ? a : [a];
    const bs = Array.isArray(b) ? b : [b];
    for (const x of as) {
      const nx = norm(x);
      if (nx === undefined) continue;
      for (const y of bs) if (norm(y) === nx) return true;
    }
    return false;
  };
  const one = (event: EcsEvent, r: FieldReader): boolean => {
    const a = read(event);
    const b = r(event);
    if (a === undefined || a === null || b === undefined || b === null) return false;
    return neq ? !equal(a, b) : equal(a, b);
  };
  return {
    ...base,
    field,
    refs,
    test: all
      ? (event) => readers.every((r) => one(event, r))
      : (event) => readers.some((r) => one(event, r)),
  };
}
