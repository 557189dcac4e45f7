/**
 * Reads the fields of one YAML map of a rule document (texts, choices, durations, thresholds,
 * references to other rules, Sigma detections), each recording a problem at the line of the
 * field when its value is bad, so one pass over a document finds every mistake in it.
 */
import { parseDuration, type YamlPath } from '../kernel/index.js';
import type { CalendarLimit, FilterSpec, Threshold } from './rule-definition.js';
import { type DocumentReader, isPlainMap } from './rule-documents.js';

/** The values of `when` (Firebreak rules) and `firebreak.when` (Sigma documents). */
export const CALENDAR_LIMITS: readonly CalendarLimit[] = [
  'outside_business_hours',
  'outside_maintenance_windows',
];
/** Message words shared by the readers of both kinds of rule. */
export const THRESHOLD_EXAMPLE = 'a threshold such as {gte: 10} (gt, gte, lt, lte, eq, neq)';
export const FIELD_NAME = 'a field name';
const COMPARISONS = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'] as const;

/** Another rule named by id or name, as written, and where. */
export interface Reference {
  readonly text: string;
  readonly path: YamlPath;
}

interface TextOptions {
  readonly required?: boolean;
  readonly expected?: string;
  readonly allowEmpty?: boolean;
}

/** The fields of one YAML map. Each reader records a problem and returns undefined for a bad value. */
export class MapFields {
  constructor(
    readonly reader: DocumentReader,
    readonly value: Readonly<Record<string, unknown>>,
    readonly path: YamlPath,
  ) {}

  has(key: string): boolean {
    return Object.hasOwn(this.value, key);
  }

  at(key: string | number): YamlPath {
    return [...this.path, key];
  }

  /** A problem with `key`, or with the map itself when no key is given. */
  problem(key: string | undefined, message: string): undefined {
    return this.reader.problem(key === undefined ? this.path : this.at(key), message);
  }

  onlyKeys(known: readonly string[], message = `is not a known field (known: ${known.join(', ')})`): void {
    for (const key of Object.keys(this.value)) if (!known.includes(key)) this.problem(key, message);
  }

  private raw(key: string, required: boolean | undefined, expected: string): unknown {
    if (this.has(key)) return this.value[key];
    if (required) this.problem(key, `is required: ${expected}`);
    return undefined;
  }

  text(key: string, options: TextOptions = {}): string | undefined {
    const expected = options.expected ?? 'a text';
    const v = this.raw(key, options.required, expected);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || (!options.allowEmpty && v.trim() === '')) {
      return this.problem(key, `must be ${expected}, got ${describeValue(v)}`);
    }
    return v;
  }

  choice<T extends string>(key: string, choices: readonly T[], required = false): T | undefined {
    const expected = `one of ${choices.join(', ')}`;
    const v = this.raw(key, required, expected);
    if (v === undefined) return undefined;
    if (!choices.includes(v as T)) return this.problem(key, `must be ${expected}, got ${describeValue(v)}`);
    return v as T;
  }

  flag(key: string): boolean | undefined {
    const v = this.raw(key, false, '');
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') return this.problem(key, `must be true or false, got ${describeValue(v)}`);
    return v;
  }

  /** A Firebreak duration (`5m`, `1h30m`) in milliseconds; `positive` rejects 0. */
  duration(key: string, options: { required?: boolean; positive?: boolean } = {}): number | undefined {
    const expected = 'a duration such as 30s, 5m, 1h or 1h30m';
    const v = this.raw(key, options.required, expected);
    if (v === undefined) return undefined;
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) return this.problem(key, `must be ${expected}, got ${describeValue(v)}`);
    if (options.positive && ms === 0) return this.problem(key, 'must be longer than 0');
    return ms;
  }

  /** A Sigma correlation `timespan`: a number and one unit of s, m, h or d (`90m`). */
  timespan(key: string): number | undefined {
    const expected = 'a Sigma timespan: a number and s, m, h or d, such as 90m';
    const v = this.raw(key, true, expected);
    if (v === undefined) return undefined;
    const ms = typeof v === 'string' && /^\d+[smhd]$/.test(v) ? parseDuration(v) : undefined;
    if (ms === undefined) return this.problem(key, `must be ${expected}, got ${describeValue(v)}`);
    if (ms === 0) return this.problem(key, 'must be longer than 0');
    return ms;
  }

  number(key: string, test: (n: number) => boolean, expected: string, required = false): number | undefined {
    const v = this.raw(key, required, expected);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || !test(v)) {
      return this.problem(key, `must be ${expected}, got ${describeValue(v)}`);
    }
    return v;
  }

  wholeNumber(key: string, min: number, required = false): number | undefined {
    return this.number(
      key,
      (n) => Number.isInteger(n) && n >= min,
      `a whole number of at least ${min}`,
      required,
    );
  }

  /** A list of field names (`group_by`). */
  names(key: string): string[] | undefined {
    const v = this.raw(key, false, '');
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return this.problem(key, `must be a list of field names, got ${describeValue(v)}`);
    let good = true;
    v.forEach((item, i) => {
      if (typeof item !== 'string' || item.trim() === '') {
        good = false;
        this.reader.problem(this.at(key).concat(i), `must be ${FIELD_NAME}, got ${describeValue(item)}`);
      }
    });
    return good ? (v as string[]) : undefined;
  }

  /** A list of references to other rules by id or name. */
  references(key: string): Reference[] | undefined {
    const expected = 'a list of rule ids or names';
    const v = this.raw(key, true, expected);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length === 0)
      return this.problem(key, `must be ${expected}, got ${describeValue(v)}`);
    const refs: Reference[] = [];
    v.forEach((item, i) => {
      const path = this.at(key).concat(i);
      if (typeof item !== 'string' || item.trim() === '') {
        this.reader.problem(path, `must be a rule id or name, got ${describeValue(item)}`);
      } else if (refs.some((r) => r.text === item)) {
        this.reader.problem(path, `"${item}" is listed twice`);
      } else {
        refs.push({ text: item, path });
      }
    });
    return refs.length === v.length ? refs : undefined;
  }

  map(key: string, required = false, expected = 'a map'): MapFields | undefined {
    const v = this.raw(key, required, expected);
    if (v === undefined) return undefined;
    if (!isPlainMap(v)) return this.problem(key, `must be ${expected}, got ${describeValue(v)}`);
    return new MapFields(this.reader, v, this.at(key));
  }

  detection(key: string, required = false): FilterSpec | undefined {
    const v = this.raw(key, required, 'a Sigma detection: search identifiers and a condition');
    if (v === undefined) return undefined;
    return this.reader.detection(this.at(key), v);
  }
}

/** A threshold map `{gte: 10}`; `also` names other keys the map may hold (`field`). */
export function readThreshold(m: MapFields, also: readonly string[] = []): Threshold | undefined {
  m.onlyKeys([...COMPARISONS, ...also], 'is not a comparison (expected gt, gte, lt, lte, eq or neq)');
  const out: { -readonly [K in keyof Threshold]: number } = {};
  let good = true;
  for (const key of COMPARISONS) {
    if (!m.has(key)) continue;
    const n = m.number(key, () => true, 'a number');
    if (n === undefined) good = false;
    else out[key] = n;
  }
  if (good && Object.keys(out).length === 0) {
    return m.problem(undefined, 'needs at least one comparison: gt, gte, lt, lte, eq or neq');
  }
  return good ? out : undefined;
}

/** A value as a message names it: `"5 minutes"`, `a list`, `nothing`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `"${v}"`;
  return String(v);
}
