/**
 * Reads a Sigma field name (`user.name`) from a nested ECS event. Compiled once per field so
 * that matching an event walks precomputed keys and allocates nothing in the common case.
 */
import type { EcsEvent } from '../events/index.js';

/** Returns the field's value, `undefined` when absent. Arrays are returned as they are. */
export type FieldReader = (event: EcsEvent) => unknown;

const hasOwn = Object.prototype.hasOwnProperty;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `a.b.c` reads `event.a.b.c`; a literal key `"a.b.c"` (or `"b.c"` under `a`) is used when the
 * nested path is absent, because events from some sources keep dotted keys. When a middle
 * step is an array of objects (`threat.technique[].id`), the values under every element are
 * collected into one array, which is the only case that allocates.
 */
export function compileFieldPath(name: string): FieldReader {
  const parts = name.split('.');
  if (parts.length === 1) {
    return (event) => (hasOwn.call(event, name) ? (event as Record<string, unknown>)[name] : undefined);
  }
  // joined[i][j] = parts[i..j].join('.'): the literal dotted keys to try, built once.
  const joined: string[][] = parts.map((_, i) =>
    parts.map((__, j) => (j > i ? parts.slice(i, j + 1).join('.') : '')),
  );

  function walk(value: unknown, i: number): unknown {
    if (i === parts.length) return value;
    if (Array.isArray(value)) return walkArray(value, i);
    if (!isObject(value)) return undefined;
    const key = parts[i]!;
    if (hasOwn.call(value, key)) {
      const found = walk(value[key], i + 1);
      if (found !== undefined) return found;
    }
    const row = joined[i]!;
    for (let j = parts.length - 1; j > i; j--) {
      const dotted = row[j]!;
      if (hasOwn.call(value, dotted)) {
        const found = walk(value[dotted], j + 1);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  function walkArray(items: readonly unknown[], i: number): unknown {
    let out: unknown[] | undefined;
    for (const item of items) {
      const found = walk(item, i);
      if (found === undefined) continue;
      out ??= [];
      if (Array.isArray(found)) out.push(...found);
      else out.push(found);
    }
    return out;
  }

  // Fast path for the usual shape, plain nested objects (`{ user: { name } }`): two or three
  // property reads. Anything else (dotted keys, arrays, a missing step) takes the full walk.
  if (parts.length === 2) {
    const [p0, p1] = parts as [string, string];
    return (event) => {
      const a = (event as Record<string, unknown>)[p0];
      if (a === undefined && !hasOwn.call(event, name)) return undefined;
      if (isObject(a) && hasOwn.call(event, p0)) {
        const b = a[p1];
        if (b !== undefined && !isObject(b) && hasOwn.call(a, p1)) return b;
      }
      return walk(event, 0);
    };
  }
  if (parts.length === 3) {
    const [p0, p1, p2] = parts as [string, string, string];
    const firstTwo = `${p0}.${p1}`;
    return (event) => {
      const a = (event as Record<string, unknown>)[p0];
      // Absent: neither `a` nor a dotted key that could hold the field.
      if (a === undefined && !hasOwn.call(event, name) && !hasOwn.call(event, firstTwo)) return undefined;
      if (isObject(a) && hasOwn.call(event, p0)) {
        const b = a[p1];
        if (isObject(b) && hasOwn.call(a, p1)) {
          const c = b[p2];
          if (c !== undefined && !isObject(c) && hasOwn.call(b, p2)) return c;
        }
      }
      return walk(event, 0);
    };
  }
  return (event) => walk(event, 0);
}
