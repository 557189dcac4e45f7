/**
 * The canonical event: an Elastic Common Schema (ECS) document, stored nested, with a
 * normalized `@timestamp` and its epoch milliseconds beside it. Every parser in this module
 * produces this shape; detection and storage only ever see this shape.
 */

/**
 * One ECS event, nested (`{ event: { action: 'login' } }`, never `{ 'event.action': ... }`).
 * `@timestamp` is always an ISO 8601 UTC string with millisecond precision
 * (`2000-10-10T20:55:36.000Z`). Fields outside ECS live under `firebreak.*`.
 */
export interface EcsEvent {
  '@timestamp': string;
  [field: string]: unknown;
}

/** An event and its time as epoch milliseconds, so consumers never re-parse `@timestamp`. */
export interface ParsedEvent {
  readonly event: EcsEvent;
  readonly epochMs: number;
}

/** Where a rejected input was: a line of text (1-based) or an element of a JSON array (0-based). */
export type RejectionLocation = 'line' | 'index';

/** An input that did not become an event, and why, in words a person can act on. */
export interface Rejection {
  readonly location: RejectionLocation;
  readonly position: number;
  readonly reason: string;
}

/** `line 7: @timestamp "yesterday" is not ISO 8601 or epoch milliseconds` */
export function describeRejection(rejection: Rejection): string {
  return `${rejection.location} ${rejection.position}: ${rejection.reason}`;
}

type FieldObject = Record<string, unknown>;

function isObject(value: unknown): value is FieldObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Turns dotted keys into nested objects: `{"event.action":"login"}` and
 * `{"event":{"action":"login"}}` give the same result, and a mix of both merges.
 *
 * Fast path: an object with no dotted key anywhere is returned as is (no copy). When something
 * has to change, the objects on the changed paths are copied; the input is never mutated.
 * Returns a reason string when two keys give the same field (`a.b` twice, or `a` both a
 * value and an object), or a key has an empty part (`a..b`) or a `__proto__` part.
 */
export function nestDottedKeys(fields: FieldObject): FieldObject | string {
  // Most events have no dotted key at all: find that out without allocating anything.
  if (!hasDottedKey(fields)) return fields;
  return nestObject(fields, new Set(), '');
}

function hasDottedKey(obj: FieldObject): boolean {
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    if (key.indexOf('.') !== -1 || key === '__proto__') return true;
    const value = obj[key];
    if (isObject(value)) {
      if (hasDottedKey(value)) return true;
    } else if (Array.isArray(value)) {
      for (const item of value) if (isObject(item) && hasDottedKey(item)) return true;
    }
  }
  return false;
}

function nestObject(obj: FieldObject, owned: Set<object>, prefix: string): FieldObject | string {
  let out: FieldObject | undefined;
  const keys = Object.keys(obj);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    const value = obj[key];
    let nested: unknown = value;
    if (isObject(value)) {
      const result = nestObject(value, owned, `${prefix}${key}.`);
      if (typeof result === 'string') return result;
      nested = result;
    } else if (Array.isArray(value)) {
      const result = nestArray(value, owned, `${prefix}${key}.`);
      if (typeof result === 'string') return result;
      nested = result;
    }
    const dotted = key.indexOf('.') !== -1;
    if (out === undefined) {
      if (!dotted && nested === value) continue;
      // First change: copy the untouched keys before it, which had no dots.
      out = {};
      owned.add(out);
      for (let j = 0; j < k; j++) setOwn(out, keys[j]!, obj[keys[j]!]);
    }
    const problem = place(out, dotted ? key.split('.') : [key], prefix, nested, owned);
    if (problem !== undefined) return problem;
  }
  return out ?? obj;
}

function nestArray(items: unknown[], owned: Set<object>, prefix: string): unknown[] | string {
  let out: unknown[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!isObject(item)) continue;
    const result = nestObject(item, owned, prefix);
    if (typeof result === 'string') return result;
    if (result !== item) {
      out ??= items.slice();
      out[i] = result;
    }
  }
  return out ?? items;
}

/** Puts `value` at `path` inside `target` (an object we own), merging objects. */
function place(
  target: FieldObject,
  path: readonly string[],
  prefix: string,
  value: unknown,
  owned: Set<object>,
): string | undefined {
  let current = target;
  const last = path.length - 1;
  for (let i = 0; i <= last; i++) {
    const part = path[i]!;
    if (part === '') return `field "${prefix}${path.join('.')}" has an empty name part`;
    if (part === '__proto__') return `field "${prefix}${path.join('.')}" uses the reserved name __proto__`;
    const existing = Object.hasOwn(current, part) ? current[part] : undefined;
    if (i === last) {
      if (existing === undefined) {
        current[part] = value;
        return undefined;
      }
      if (!isObject(existing) || !isObject(value)) {
        return isObject(existing) || isObject(value)
          ? `field "${prefix}${path.slice(0, i + 1).join('.')}" is both a value and an object`
          : `field "${prefix}${path.slice(0, i + 1).join('.')}" is given twice`;
      }
      const merged = ownedCopy(current, part, existing, owned);
      for (const sub of Object.keys(value)) {
        const problem = place(
          merged,
          [sub],
          `${prefix}${path.slice(0, i + 1).join('.')}.`,
          value[sub],
          owned,
        );
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
    if (existing === undefined) {
      const child: FieldObject = {};
      owned.add(child);
      current[part] = child;
      current = child;
    } else if (isObject(existing)) {
      current = ownedCopy(current, part, existing, owned);
    } else {
      return `field "${prefix}${path.slice(0, i + 1).join('.')}" is both a value and an object`;
    }
  }
  return undefined;
}

/** Objects that came from the input are copied before we add to them: the input stays untouched. */
function ownedCopy(parent: FieldObject, part: string, child: FieldObject, owned: Set<object>): FieldObject {
  if (owned.has(child)) return child;
  const copy = { ...child };
  owned.add(copy);
  parent[part] = copy;
  return copy;
}

/** JSON.parse makes `__proto__` an own key; plain assignment would set the prototype instead. */
function setOwn(obj: FieldObject, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}
