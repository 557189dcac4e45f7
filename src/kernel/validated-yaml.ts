/**
 * Reads a YAML document against a JSON Schema and reports every problem with the file, the
 * line and the path inside the document. Config, policies, rules and playbooks all come in as
 * YAML that people edit by hand, so they all share this one reader.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { type ErrorCode, type ErrorDetail, FirebreakError } from './errors.js';
import { lineOfYamlPath } from './yaml-path-line.js';

export type LocateLine = (path: readonly (string | number)[]) => number;

export interface ParsedYaml<T> {
  readonly value: T;
  /** Line of a path inside the document, for problems found after schema validation. */
  readonly lineOf: LocateLine;
}

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const compiled = new WeakMap<object, ValidateFunction>();

/**
 * @example
 * const { value } = parseValidatedYaml(text, 'policies/kct.yaml', PolicySchema, 'FB_ERR_POLICY_INVALID');
 */
export function parseValidatedYaml<T>(
  text: string,
  file: string,
  schema: object,
  code: ErrorCode,
): ParsedYaml<T> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;

  if (doc.errors.length > 0) {
    const details = doc.errors.map((e) => ({ path: '', line: lineAt(e.pos[0]), message: e.message }));
    throw failure(code, file, details);
  }
  const value: unknown = doc.toJS() ?? {};

  const lineOf: LocateLine = (path) => lineOfYamlPath(doc.contents, path, lineCounter);

  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (!validate(value)) {
    const details = (validate.errors ?? []).map((e) => describeSchemaError(e, lineOf));
    throw failure(code, file, dedupe(details));
  }
  return { value: value as T, lineOf };
}

/** Builds the catalogue error for a list of problems; the first one is the headline. */
export function failure(code: ErrorCode, file: string, details: readonly ErrorDetail[]): FirebreakError {
  const first = details[0] ?? { path: '', line: 1, message: 'invalid document' };
  const where = first.path ? `${first.path}: ` : '';
  const more = details.length > 1 ? ` (and ${details.length - 1} more problem(s))` : '';
  return new FirebreakError(
    code,
    {
      file,
      line: first.line ?? 1,
      problem: `${where}${first.message}${more}`,
      source: `${file}:${first.line ?? 1}`,
    },
    { details },
  );
}

function describeSchemaError(e: ErrorObject, lineOf: LocateLine): ErrorDetail {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let message = e.message ?? 'is invalid';
  let at = path;
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    at = [...path, extra];
    message = 'is not a known field';
  } else if (e.keyword === 'required') {
    const missing = String((e.params as { missingProperty: string }).missingProperty);
    at = [...path, missing];
    message = 'is required';
  } else if (e.keyword === 'enum') {
    message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  } else if (e.keyword === 'pattern' && e.parentSchema && 'description' in e.parentSchema) {
    message = `must be ${String(e.parentSchema.description)}`;
  }
  return { path: at.join('.'), line: lineOf(at), message };
}

function dedupe(details: ErrorDetail[]): ErrorDetail[] {
  const seen = new Set<string>();
  return details.filter((d) => {
    const key = `${d.path}|${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
