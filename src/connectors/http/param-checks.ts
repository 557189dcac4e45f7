/**
 * Parameter checks shared by the `http` recipes. Each pushes `param: reason` problems (the
 * connector contract's wording) and never throws, so validate() lists every problem at once.
 */
import { ConnectorError } from '../../respond/index.js';

export type Params = Readonly<Record<string, unknown>>;

/** Names of stored secrets (`firebreak secrets set NAME`): the secret store's own pattern. */
export const SECRET_NAME = /^[a-z][a-z0-9_]{0,63}$/;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function unknownParams(params: Params, known: readonly string[], problems: string[]): void {
  for (const key of Object.keys(params)) {
    if (!known.includes(key)) {
      problems.push(`${key}: unknown parameter (expected ${known.join(', ') || 'none'})`);
    }
  }
}

export function text(
  params: Params,
  key: string,
  problems: string[],
  options: { required?: boolean; max?: number; pattern?: RegExp; expected?: string } = {},
): void {
  const value = params[key];
  if (value === undefined) {
    if (options.required) problems.push(`${key}: required (${options.expected ?? 'text'})`);
    return;
  }
  const max = options.max ?? 500;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    problems.push(`${key}: expected ${options.expected ?? `text of 1 to ${max} characters`}`);
  } else if (options.pattern && !options.pattern.test(value)) {
    problems.push(
      `${key}: ${JSON.stringify(value)} is not ${options.expected ?? `of the form ${options.pattern}`}`,
    );
  }
}

export function integer(params: Params, key: string, problems: string[], min: number, max: number): void {
  const value = params[key];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    problems.push(`${key}: expected a whole number from ${min} to ${max}`);
  }
}

export function oneOf(params: Params, key: string, allowed: readonly string[], problems: string[]): void {
  const value = params[key];
  if (value !== undefined && !allowed.includes(value as string)) {
    problems.push(`${key}: expected one of ${allowed.join(', ')}`);
  }
}

/** A non-empty list of ids matching the pattern (at most `max`), when present. */
export function idList(
  params: Params,
  key: string,
  pattern: RegExp,
  problems: string[],
  options: { required?: boolean; max?: number; items: string; item: string },
): void {
  const value = params[key];
  if (value === undefined) {
    if (options.required) problems.push(`${key}: required (a list of ${options.items})`);
    return;
  }
  const max = options.max ?? 1000;
  if (!Array.isArray(value) || value.length === 0 || value.length > max) {
    problems.push(`${key}: expected a list of 1 to ${max} ${options.items}`);
    return;
  }
  value.forEach((item, i) => {
    if (typeof item !== 'string' || !pattern.test(item)) {
      problems.push(`${key}[${i}]: ${JSON.stringify(item)} is not ${options.item}`);
    }
  });
}

/** Throws the problems as one non-retryable failure: a bad parameter fails the same way every time. */
export function assertValid(problems: readonly string[]): void {
  if (problems.length > 0) throw new ConnectorError(`invalid parameters: ${problems.join('; ')}`, false);
}
