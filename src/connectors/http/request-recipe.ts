/**
 * Shop-defined requests: the operations for APIs with no public standard to target (TikTok
 * Shop partner keys and creator tokens, carrier integrations). The shop writes the request
 * under `connectors.http.requests.<operation>` (method, url, headers, query, body) with
 * `{{ params.x }}` / `{{ secret.name }}` / `{{ context.incident_id }}` templates
 * (request-template.ts); secrets are filled in only when the request is sent and show as `***`
 * in plans. The templates are checked when the connector is built, so a typo is a config error
 * naming the field, not a failed step during an incident.
 *
 * Parameters: those the templates use are required; `params:` lists optional extras; `incident`
 * is always accepted (default: the run's incident). The host of the URL may not be templated, so
 * no parameter can send the shop's credentials elsewhere.
 */
import { FirebreakError } from '../../kernel/index.js';
import { ConnectorError } from '../../respond/index.js';
import {
  type CallContext,
  callHttp,
  curlLine,
  formBody,
  type HttpCall,
  type HttpReply,
  redact,
  secretForms,
} from './http-call.js';
import { HTTP_OPERATIONS } from './http-operations.js';
import type { OperationRecipe, RecipeEnv } from './http-recipe.js';
import type { RequestOperation, RequestTemplateSettings } from './http-settings.js';
import { isRecord, type Params, SECRET_NAME } from './param-checks.js';
import {
  pathValue,
  type Reference,
  type Resolve,
  references,
  renderJson,
  renderText,
  TemplateValueError,
} from './request-template.js';

const MAX_PARAM_CHARS = 2_000;
const PLACEHOLDERS: Record<string, string> = {
  incident_id: '<incident>',
  idempotency_key: '<run step key>',
  actor: '<actor>',
};

/** The failures of vendors nobody standardised: `error`/`message` fields, else the text. */
const requestErrors = {
  message(reply: HttpReply): string | undefined {
    if (!isRecord(reply.json)) return undefined;
    const said = reply.json.message ?? reply.json.error ?? reply.json.error_description;
    if (typeof said === 'string') return said;
    if (isRecord(said) && typeof said.message === 'string') return said.message;
    return undefined;
  },
};

/** The operations the shop defined, checked; throws FB_ERR_CONNECTOR_CONFIG naming the field. */
export function requestOperations(
  templates: Readonly<Partial<Record<RequestOperation, RequestTemplateSettings>>> | undefined,
  names: readonly RequestOperation[],
  env: RecipeEnv,
): Record<RequestOperation, OperationRecipe> {
  return Object.fromEntries(
    names.map((name) => {
      const template = templates?.[name];
      return [name, template ? defined(name, template, env) : undefinedOperation(name)];
    }),
  ) as Record<RequestOperation, OperationRecipe>;
}

function undefinedOperation(name: RequestOperation): OperationRecipe {
  const missing = () =>
    new ConnectorError(
      `${name} needs connectors.http.requests.${name} in firebreak.yaml (method, url, headers, body): ` +
        'Firebreak cannot know this API, so the shop writes the request',
      false,
    );
  return {
    params: undefined,
    check: (params, problems) => scalarParams(params, problems),
    plan: () => {
      throw missing();
    },
    run: async () => {
      throw missing();
    },
  };
}

function defined(name: RequestOperation, template: RequestTemplateSettings, env: RecipeEnv): OperationRecipe {
  const where = `connectors.http.requests.${name}`;
  const problems: string[] = [];
  const request = [
    ...references(template.url, problems, `${where}.url`),
    ...references(template.headers ?? {}, problems, `${where}.headers`),
    ...references(template.query ?? {}, problems, `${where}.query`),
    ...references(template.body ?? null, problems, `${where}.body`),
  ];
  const undoRefs = template.undo
    ? references(template.undo.params ?? {}, problems, `${where}.undo.params`)
    : [];
  if (request.some((r) => r.root === 'response'))
    problems.push(`${where}: response.* may be used in undo.params only`);
  if (undoRefs.some((r) => r.root === 'secret'))
    problems.push(`${where}.undo.params: secrets may not go into an undo (it is recorded)`);
  const origin = /^https?:\/\/[^/?#]*/.exec(template.url)?.[0] ?? '';
  if (origin.includes('{{') || !/^https?:\/\/[^/?#{}\s]+$/.test(origin)) {
    problems.push(`${where}.url: must start with http(s)://host, with no template in the host`);
  }
  if (template.undo && !HTTP_OPERATIONS.includes(template.undo.operation as never)) {
    problems.push(
      `${where}.undo.operation: ${template.undo.operation} is not an http operation (${HTTP_OPERATIONS.join(', ')})`,
    );
  }
  for (const r of [...request, ...undoRefs]) {
    if ((r.root === 'params' || r.root === 'secret') && !SECRET_NAME.test(r.path)) {
      problems.push(
        `${where}: {{ ${r.root}.${r.path} }} is not a plain name (lower case letters, digits, _)`,
      );
    }
  }
  if (template.body_encoding === 'form' && template.body !== undefined && !isFlat(template.body)) {
    problems.push(`${where}.body: a form body is a flat map of text values`);
  }
  if (template.body !== undefined && (template.method === 'GET' || template.method === 'DELETE')) {
    problems.push(`${where}.body: a ${template.method} request has no body`);
  }
  if (problems.length > 0) {
    throw new FirebreakError('FB_ERR_CONNECTOR_CONFIG', { source: where, problem: problems.join('; ') });
  }

  const required = [
    ...new Set([...request, ...undoRefs].filter((r) => r.root === 'params').map((r) => r.path)),
  ].filter((p) => p !== 'incident');
  const accepted = [...new Set([...required, ...(template.params ?? []), 'incident'])];
  const secretNames = [...new Set(request.filter((r) => r.root === 'secret').map((r) => r.path))];
  const host = new URL(origin).host;
  const summaryOf = () => template.summary ?? `${template.method} ${host} (${name})`;

  /** The request, with secrets from `secrets` (plans pass `***` for each). */
  function build(
    params: Params,
    secrets: Readonly<Record<string, string>>,
    run: CallContext['run'] | undefined,
  ): HttpCall {
    const resolve: Resolve = (ref: Reference) => {
      if (ref.root === 'secret') return secrets[ref.path];
      if (ref.root === 'params') {
        return ref.path === 'incident'
          ? (params.incident ?? run?.incidentId ?? PLACEHOLDERS.incident_id)
          : params[ref.path];
      }
      if (ref.root === 'context') {
        if (!run) return PLACEHOLDERS[ref.path];
        return ref.path === 'incident_id'
          ? run.incidentId
          : ref.path === 'idempotency_key'
            ? run.idempotencyKey
            : run.actor;
      }
      return undefined;
    };
    const real = Object.values(secrets).filter((s) => s !== '***');
    const hidden = real.flatMap((s) => [...secretForms(s), JSON.stringify(s).slice(1, -1)]);
    try {
      const url = new URL(renderText(template.url, 'url', resolve));
      for (const [k, v] of Object.entries(template.query ?? {}))
        url.searchParams.set(k, renderText(v, 'text', resolve));
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(template.headers ?? {})) {
        const value = renderText(v, 'text', resolve);
        if (/[\r\n\0]/.test(value)) throw new TemplateValueError(`header ${k} would hold a line break`);
        headers[k] = value;
      }
      let body: string | undefined;
      if (template.body !== undefined) {
        const rendered = renderJson(template.body, resolve);
        if (template.body_encoding === 'form') {
          body = formBody(
            Object.entries(rendered as Record<string, unknown>).map(([k, v]) => [
              k,
              typeof v === 'string' ? v : JSON.stringify(v),
            ]),
          );
          headers['Content-Type'] ??= 'application/x-www-form-urlencoded';
        } else {
          body = JSON.stringify(rendered);
          headers['Content-Type'] ??= 'application/json';
        }
      }
      return {
        vendor: `requests.${name}`,
        method: template.method,
        url: url.toString(),
        headers,
        ...(body === undefined ? {} : { body }),
        secrets: hidden,
      };
    } catch (error) {
      if (error instanceof TemplateValueError) {
        throw new ConnectorError(redact(`${where}: ${error.message}`, hidden), false);
      }
      throw error;
    }
  }

  return {
    params: accepted,
    check(params, problems) {
      scalarParams(params, problems);
      for (const p of required) {
        if (params[p] === undefined) problems.push(`${p}: required (${where} uses {{ params.${p} }})`);
      }
    },
    plan(params) {
      const masked = Object.fromEntries(secretNames.map((s) => [s, '***']));
      const undo = template.undo ? `; undo: ${template.undo.operation}` : '; cannot be undone';
      return { summary: `${summaryOf()}${undo}`, detail: [curlLine(build(params, masked, undefined))] };
    },
    async run(params, ctx) {
      const secrets: Record<string, string> = {};
      for (const s of secretNames) secrets[s] = await env.secret(s);
      const call = build(params, secrets, ctx.run);
      const reply = await callHttp(call, ctx, requestErrors);
      const recorded = Object.fromEntries(
        (template.record ?? []).map((path) => [path, pathValue(reply.json, path) ?? null]),
      );
      const changed = JSON.parse(
        redact(
          JSON.stringify({
            request: `${call.method} ${call.url}`,
            status: reply.status,
            ...(template.record ? { recorded } : {}),
            ...(template.undo ? {} : { irreversible: `${where} names no undo` }),
          }),
          call.secrets,
        ),
      ) as Record<string, unknown>;
      const summary = `${summaryOf()}: answered ${reply.status}`;
      if (!template.undo) return { summary, changed };
      let undoParams: unknown;
      try {
        undoParams = renderJson(template.undo.params ?? {}, (ref) => {
          if (ref.root === 'params')
            return ref.path === 'incident' ? (params.incident ?? ctx.run.incidentId) : params[ref.path];
          if (ref.root === 'response') return pathValue(reply.json, ref.path);
          if (ref.root === 'context') return ref.path === 'incident_id' ? ctx.run.incidentId : undefined;
          return undefined;
        });
      } catch (error) {
        if (!(error instanceof TemplateValueError)) throw error;
        // The request has happened: report it (a throw would make the runner send it again),
        // and say why there is no undo.
        const why = redact(`${where}.undo.params: ${error.message} in the answer`, call.secrets);
        return {
          summary: `${summary}; its undo cannot be filled in`,
          changed: { ...changed, irreversible: why },
        };
      }
      return {
        summary,
        changed,
        undo: { operation: template.undo.operation, params: undoParams as Record<string, unknown> },
      };
    },
  };
}

/** Parameters of a shop-defined request are plain values without control characters. */
function scalarParams(params: Params, problems: string[]): void {
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'string') {
      if (value.length > MAX_PARAM_CHARS) problems.push(`${key}: longer than ${MAX_PARAM_CHARS} characters`);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
      else if (/[\u0000-\u001f\u007f]/.test(value))
        problems.push(`${key}: control characters (line breaks) are not allowed`);
    } else if (!(typeof value === 'number' && Number.isFinite(value)) && typeof value !== 'boolean') {
      problems.push(`${key}: expected text, a number or true/false`);
    }
  }
}

function isFlat(body: unknown): boolean {
  return (
    isRecord(body) &&
    Object.values(body).every((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
  );
}
