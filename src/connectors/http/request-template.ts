/**
 * The tiny template language of shop-defined requests: `{{ params.app_key }}`,
 * `{{ secret.tiktok_token }}`, `{{ context.incident_id }}` (also `context.idempotency_key`,
 * `context.actor`) and, in an undo's parameters only, `{{ response.data.id }}`. No sections,
 * no logic, no HTML escaping (so not Mustache): a template names one value and is replaced by it.
 * How it is written depends on where it stands: URL-encoded in a URL, as is in a header or form
 * field, and in a JSON body a string that is exactly one template keeps the value's type.
 */

const TEMPLATE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE = /^\{\{\s*([^{}]*?)\s*\}\}$/;
const REFERENCE = /^(params|secret|context|response)\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)$/;
export const CONTEXT_KEYS = ['incident_id', 'idempotency_key', 'actor'] as const;

export type Root = 'params' | 'secret' | 'context' | 'response';

export interface Reference {
  readonly root: Root;
  readonly path: string;
}

/** Where a rendered value goes, which decides how it is written. */
export type Placement = 'url' | 'text' | 'json';

/** Looks a reference up; undefined: it has no value (the caller decides what that means). */
export type Resolve = (reference: Reference) => unknown;

/** Every `{{ … }}` in the value (strings anywhere inside objects and arrays), or the problems with them. */
export function references(value: unknown, problems: string[], at: string): Reference[] {
  const found: Reference[] = [];
  walkStrings(value, at, (text, where) => {
    for (const match of text.matchAll(TEMPLATE)) {
      const ref = REFERENCE.exec(match[1] ?? '');
      if (!ref) {
        problems.push(
          `${where}: {{ ${match[1]} }} is not params.<name>, secret.<name>, context.<${CONTEXT_KEYS.join('|')}> or response.<path>`,
        );
        continue;
      }
      const reference = { root: ref[1] as Root, path: ref[2]! };
      if (reference.root === 'context' && !CONTEXT_KEYS.includes(reference.path as never)) {
        problems.push(`${where}: context.${reference.path} is unknown (known: ${CONTEXT_KEYS.join(', ')})`);
        continue;
      }
      found.push(reference);
    }
    if (text.replace(TEMPLATE, '').includes('{{')) problems.push(`${where}: an unclosed {{`);
  });
  return found;
}

/** The string with its templates replaced; throws TemplateValueError for a reference with no value. */
export function renderText(text: string, placement: Exclude<Placement, 'json'>, resolve: Resolve): string {
  return text.replace(TEMPLATE, (_, inner: string) => {
    const value = lookup(inner, resolve);
    const written = typeof value === 'string' ? value : JSON.stringify(value);
    return placement === 'url' ? encodeURIComponent(written) : written;
  });
}

/** A JSON value with the templates in its strings replaced (a whole-template string keeps the value's type). */
export function renderJson(value: unknown, resolve: Resolve): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    return whole ? lookup(whole[1]!, resolve) : renderText(value, 'text', resolve);
  }
  if (Array.isArray(value)) return value.map((v) => renderJson(v, resolve));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderJson(v, resolve)]));
  }
  return value;
}

export class TemplateValueError extends Error {
  override readonly name = 'TemplateValueError';
}

/** Follows a dotted path into a JSON value. */
export function pathValue(value: unknown, path: string): unknown {
  let at: unknown = value;
  for (const key of path.split('.')) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function lookup(inner: string, resolve: Resolve): unknown {
  const ref = REFERENCE.exec(inner.trim());
  if (!ref) throw new TemplateValueError(`{{ ${inner} }} is not a template reference`);
  const reference = { root: ref[1] as Root, path: ref[2]! };
  const value = resolve(reference);
  if (value === undefined || value === null) {
    throw new TemplateValueError(`{{ ${reference.root}.${reference.path} }} has no value`);
  }
  return value;
}

function walkStrings(value: unknown, at: string, visit: (text: string, where: string) => void): void {
  if (typeof value === 'string') visit(value, at);
  else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      walkStrings(v, `${at}[${i}]`, visit);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) walkStrings(v, `${at}.${k}`, visit);
  }
}
