/**
 * Fills a step's `{{ path }}` templates from what the run knows about its incident: the
 * incident record, its alerts, and the alert the run is about. The loader has already checked
 * every template's syntax (templateProblems); here a path that leads nowhere is a problem the
 * dry run shows and the run refuses, never an empty string sent to a vendor.
 */

/** What a run's templates read; copied into the run when it starts, so a resume sees the same. */
export interface TemplateContext {
  readonly incident: Readonly<Record<string, unknown>>;
  readonly alerts: readonly Readonly<Record<string, unknown>>[];
  /** The alert the run is about (the one that proposed it, else the incident's latest); absent when it has none. */
  readonly alert?: Readonly<Record<string, unknown>>;
}

const TEMPLATE = /\{\{(.*?)\}\}/g;
const WHOLE_TEMPLATE = /^\{\{([^{}]*)\}\}$/;

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

/**
 * The parameters with their templates filled. A string that is exactly one template takes the
 * value's own type (`enabled: "{{ alert.value }}"` stays a number); templates inside a longer
 * string are written as text. Throws TemplateError naming the parameter and the path.
 *
 * @example renderParams({ value: '{{ alert.group.source.ip }}' }, ctx) // { value: '203.0.113.7' }
 */
export function renderParams(
  params: Readonly<Record<string, unknown>>,
  context: TemplateContext,
): Record<string, unknown> {
  return renderValue(params, context, []) as Record<string, unknown>;
}

function renderValue(value: unknown, context: TemplateContext, at: (string | number)[]): unknown {
  if (typeof value === 'string') return renderString(value, context, at);
  if (Array.isArray(value)) return value.map((v, i) => renderValue(v, context, [...at, i]));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, renderValue(v, context, [...at, k])]),
    );
  }
  return value;
}

function renderString(text: string, context: TemplateContext, at: (string | number)[]): unknown {
  const whole = WHOLE_TEMPLATE.exec(text);
  if (whole) return lookup(whole[1]!.trim(), context, at);
  return text.replace(TEMPLATE, (_, inner: string) => {
    const value = lookup(inner.trim(), context, at);
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

function lookup(path: string, context: TemplateContext, at: (string | number)[]): unknown {
  const segments = path.split(/\.|\[(\d+)\]/).filter((s) => s !== undefined && s !== '');
  const value = walk(context as unknown as Record<string, unknown>, segments);
  if (value === undefined || value === null) {
    const where = at.length === 0 ? 'a parameter' : at.join('.');
    throw new TemplateError(`${where}: {{ ${path} }} has no value for this incident`);
  }
  return value;
}

/**
 * Follows the path. Alert groups are keyed by whole field names (`source.ip`), so at each level
 * the longest run of segments that names a key wins: `group.source.ip` finds `group["source.ip"]`.
 */
function walk(value: unknown, segments: readonly string[]): unknown {
  if (segments.length === 0) return value;
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  for (let take = segments.length; take >= 1; take--) {
    const key = segments.slice(0, take).join('.');
    if (Object.hasOwn(record, key)) {
      const found = walk(record[key], segments.slice(take));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
