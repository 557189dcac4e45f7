/**
 * ECS events given as JSON: one object per line (NDJSON) or a JSON array of objects.
 * Keys may be nested or dotted; the result is nested, with `@timestamp` normalized.
 */
import { type EcsEvent, nestDottedKeys, type ParsedEvent, type Rejection } from './ecs-event.js';
import { parseTimestampValue } from './event-time.js';

/**
 * One JSON value (already parsed) to an event, or a reason. Objects that need no dotted-key
 * rewrite are used as they are (not copied) and get their `@timestamp` replaced in place, so
 * pass a value you own (a fresh `JSON.parse` result).
 */
export function ecsEventFromJson(value: unknown): ParsedEvent | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`;
  }
  const nested = nestDottedKeys(value as Record<string, unknown>);
  if (typeof nested === 'string') return nested;
  const epochMs = parseTimestampValue(nested['@timestamp']);
  if (typeof epochMs === 'string') return epochMs;
  // One spelling of time downstream; a timestamp already in that spelling is left alone.
  if (!isCanonicalIso(nested['@timestamp'])) nested['@timestamp'] = new Date(epochMs).toISOString();
  return { event: nested as EcsEvent, epochMs };
}

/** `2026-03-02T10:00:00.000Z`: what Date#toISOString gives (it parsed, so it is a real time). */
function isCanonicalIso(value: unknown): boolean {
  return (
    typeof value === 'string' &&
    value.length === 24 &&
    value.charCodeAt(23) === 90 /* Z */ &&
    value.charCodeAt(10) === 84 /* T */ &&
    value.charCodeAt(19) === 46 /* . */
  );
}

/** One NDJSON line to an event, or a reason (`not JSON: ...`). Blank lines are the caller's to skip. */
export function parseEcsLine(line: string): ParsedEvent | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  return ecsEventFromJson(value);
}

/**
 * A whole JSON array of ECS objects. Rejections name the 0-based array index. The array is
 * handled whole (it has to be parsed whole anyway); send NDJSON to stream.
 */
export function parseEcsArray(items: readonly unknown[]): { events: ParsedEvent[]; rejected: Rejection[] } {
  const events: ParsedEvent[] = [];
  const rejected: Rejection[] = [];
  for (let i = 0; i < items.length; i++) {
    const result = ecsEventFromJson(items[i]);
    if (typeof result === 'string') rejected.push({ location: 'index', position: i, reason: result });
    else events.push(result);
  }
  return { events, rejected };
}
