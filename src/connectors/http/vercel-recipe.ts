/**
 * Vercel: the plan's `vercel env add NAME VALUE` and `vercel env rm NAME` as REST calls.
 *
 *   GET    /v10/projects/{project}/env                 what is set now (its ids, types, targets)
 *   GET    /v1/projects/{project}/env/{id}             one variable's value (read for `plain` ones only)
 *   POST   /v10/projects/{project}/env?upsert=true     {key, value, type, target}
 *   DELETE /v9/projects/{project}/env/{id}
 *
 * with `teamId` in the query when set, and `Authorization: Bearer <token>`. The CLI's
 * `--scope production` of the plan is the variable's target (`--scope` is the CLI's team flag).
 *
 * Undo, and why it is not always offered: a variable that did not exist is removed again; one
 * whose type is `plain` (Vercel shows its value to anyone with access) is set back to its
 * previous value. An `encrypted` or `sensitive` variable's old value is a secret: Firebreak does
 * not copy it into its run records (where outcomes live, readable by responders), so the outcome
 * says it cannot be put back instead of offering an undo that would delete a production secret.
 * Values may come from a stored secret (`value_secret`), so they never appear in a plan or outcome.
 */
import { ConnectorError } from '../../respond/index.js';
import {
  type CallContext,
  callHttp,
  curlLine,
  type HttpCall,
  type HttpReply,
  isStatus,
  type VendorErrors,
} from './http-call.js';
import { notConfigured, type OperationRecipe, type RecipeEnv, trimBase } from './http-recipe.js';
import type { VercelSettings } from './http-settings.js';
import { isRecord, oneOf, type Params, SECRET_NAME, text } from './param-checks.js';

const DEFAULT_BASE = 'https://api.vercel.com';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;
const TARGETS = ['production', 'preview', 'development'] as const;
const TYPES = ['encrypted', 'plain', 'sensitive'] as const;
const MAX_VALUE = 65_536;

export const vercelErrors: VendorErrors = {
  message(reply: HttpReply) {
    const error = isRecord(reply.json) && isRecord(reply.json.error) ? reply.json.error : undefined;
    if (!error) return undefined;
    return `${String(error.message ?? 'error')}${typeof error.code === 'string' ? ` (${error.code})` : ''}`;
  },
};

interface EnvVar {
  readonly id: string;
  readonly key: string;
  readonly type: string;
  readonly target: string[];
  readonly gitBranch?: string;
}

/** What was there before, as outcomes record it: the value only for `plain` variables. */
interface Previous {
  readonly id: string;
  readonly type: string;
  readonly target: string[];
  readonly value?: string;
}

export function vercelOperations(
  settings: VercelSettings | undefined,
  env: RecipeEnv,
): Record<'vercel_set_env' | 'vercel_remove_env', OperationRecipe> {
  const config = (operation: string): VercelSettings => {
    if (!settings)
      throw notConfigured(
        'http.vercel',
        operation,
        'project, token_secret, team_id if the project is a team’s',
      );
    return settings;
  };
  const url = (c: VercelSettings, path: string, query: Record<string, string> = {}) => {
    const q = new URLSearchParams(query);
    if (c.team_id) q.set('teamId', c.team_id);
    const tail = q.size > 0 ? `?${q}` : '';
    return `${trimBase(c.base_url ?? DEFAULT_BASE)}${path.replace('{p}', encodeURIComponent(c.project))}${tail}`;
  };
  const call = (
    token: string,
    method: HttpCall['method'],
    target: string,
    body?: unknown,
    extra: string[] = [],
  ): HttpCall => ({
    vendor: 'vercel',
    method,
    url: target,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    secrets: [...(token === '***' ? [] : [token]), ...extra],
  });
  const targetsOf = (params: Params): string[] =>
    params.target === undefined
      ? ['production']
      : typeof params.target === 'string'
        ? [params.target]
        : Array.isArray(params.target)
          ? params.target.map(String)
          : [];

  async function matching(
    c: VercelSettings,
    token: string,
    name: string,
    targets: string[],
    ctx: CallContext,
  ) {
    const reply = await callHttp(call(token, 'GET', url(c, '/v10/projects/{p}/env')), ctx, vercelErrors);
    const raw = isRecord(reply.json) && Array.isArray(reply.json.envs) ? reply.json.envs : undefined;
    if (!raw)
      throw new ConnectorError(
        `vercel: the project's variables answered ${reply.status} without envs`,
        false,
      );
    return raw
      .filter(isRecord)
      .map(envOf)
      .filter((v) => v.key === name && !v.gitBranch && v.target.some((t) => targets.includes(t)));
  }

  async function previousOf(
    c: VercelSettings,
    token: string,
    v: EnvVar,
    ctx: CallContext,
  ): Promise<Previous> {
    if (v.type !== 'plain') return { id: v.id, type: v.type, target: v.target };
    const reply = await callHttp(
      call(token, 'GET', url(c, `/v1/projects/{p}/env/${encodeURIComponent(v.id)}`)),
      ctx,
      vercelErrors,
    );
    const value = isRecord(reply.json) && typeof reply.json.value === 'string' ? reply.json.value : undefined;
    return { id: v.id, type: v.type, target: v.target, ...(value === undefined ? {} : { value }) };
  }

  const checkTarget = (params: Params, problems: string[]) => {
    const t = params.target;
    if (t === undefined) return;
    const list = typeof t === 'string' ? [t] : t;
    if (!Array.isArray(list) || list.length === 0 || !list.every((x) => TARGETS.includes(x as never))) {
      problems.push(`target: expected ${TARGETS.join(', ')} or a list of them`);
    }
  };

  const set: OperationRecipe = {
    params: ['name', 'value', 'value_secret', 'target', 'type'],
    check(params, problems) {
      text(params, 'name', problems, {
        required: true,
        max: 256,
        pattern: ENV_NAME,
        expected: 'a variable name (letters, digits, _)',
      });
      if ((params.value === undefined) === (params.value_secret === undefined)) {
        problems.push('value: give either value or value_secret (the name of a stored secret)');
      }
      if (
        params.value !== undefined &&
        (typeof params.value !== 'string' || params.value.length > MAX_VALUE)
      ) {
        problems.push(`value: expected text of at most ${MAX_VALUE} characters`);
      }
      text(params, 'value_secret', problems, { pattern: SECRET_NAME, expected: 'a stored secret name' });
      checkTarget(params, problems);
      oneOf(params, 'type', TYPES, problems);
      if (params.value_secret !== undefined && params.type === 'plain') {
        problems.push('type: a value from a secret is not stored as plain (use encrypted or sensitive)');
      }
      if (params.type === 'sensitive' && targetsOf(params).includes('development')) {
        problems.push('target: Vercel keeps sensitive variables for production and preview only');
      }
    },
    plan(params) {
      const c = config('vercel_set_env');
      const body = setBody(params, '***', targetsOf(params));
      return {
        summary: `set ${String(params.name)} for ${body.target.join(', ')} of Vercel project ${c.project} (${body.type}${params.value_secret ? `, value from secret ${String(params.value_secret)}` : ''})`,
        detail: [
          `${curlLine(call('***', 'GET', url(c, '/v10/projects/{p}/env')))}   # its previous state, for undo`,
          curlLine(call('***', 'POST', url(c, '/v10/projects/{p}/env', { upsert: 'true' }), body)),
        ],
      };
    },
    async run(params, ctx) {
      const c = config('vercel_set_env');
      const token = await env.secret(c.token_secret);
      const name = params.name as string;
      const targets = targetsOf(params);
      const value =
        typeof params.value_secret === 'string'
          ? await env.secret(params.value_secret)
          : (params.value as string);
      const secretValue =
        typeof params.value_secret === 'string' ? [value, JSON.stringify(value).slice(1, -1)] : [];
      const found = await matching(c, token, name, targets, ctx);
      if (found.length > 1) {
        throw new ConnectorError(
          `vercel: ${name} has ${found.length} variables for ${targets.join(', ')} (${found.map((v) => `${v.id}: ${v.target.join('+')}`).join('; ')}); name one target per step`,
          false,
        );
      }
      const previous = found[0] ? await previousOf(c, token, found[0], ctx) : undefined;
      const body = setBody(params, value, targets);
      const reply = await callHttp(
        call(token, 'POST', url(c, '/v10/projects/{p}/env', { upsert: 'true' }), body, secretValue),
        ctx,
        vercelErrors,
      );
      const failed = isRecord(reply.json) && Array.isArray(reply.json.failed) ? reply.json.failed : [];
      if (failed.length > 0) {
        const first = failed[0];
        const said =
          isRecord(first) && isRecord(first.error)
            ? String(first.error.message ?? first.error.code)
            : 'failed';
        throw new ConnectorError(`vercel: setting ${name} failed: ${said}`, false);
      }
      const created = isRecord(reply.json) ? reply.json.created : undefined;
      const createdOne = Array.isArray(created) ? created[0] : created;
      const envId =
        isRecord(createdOne) && typeof createdOne.id === 'string' ? createdOne.id : (previous?.id ?? null);
      const valueFrom =
        typeof params.value_secret === 'string' ? `secret ${params.value_secret}` : 'params.value';
      const changed = {
        project: c.project,
        name,
        target: targets,
        type: body.type,
        env_id: envId,
        value_from: valueFrom,
        previous: previous
          ? {
              id: previous.id,
              type: previous.type,
              target: previous.target,
              value_recorded: previous.value !== undefined,
            }
          : null,
      };
      const summary = `${previous ? 'updated' : 'added'} ${name} for ${targets.join(', ')} of Vercel project ${c.project} (takes effect on the next deployment)`;
      if (!previous) {
        return {
          summary,
          changed,
          undo: { operation: 'vercel_remove_env', params: { name, target: targets } },
        };
      }
      if (previous.value !== undefined) {
        return {
          summary,
          changed: { ...changed, previous: { ...changed.previous, value: previous.value } },
          undo: {
            operation: 'vercel_set_env',
            params: { name, value: previous.value, type: 'plain', target: previous.target },
          },
        };
      }
      return {
        summary: `${summary}; its previous ${previous.type} value is not recorded, so this cannot be undone`,
        changed: {
          ...changed,
          irreversible: `the previous ${previous.type} value of ${name} is a secret Firebreak does not copy`,
        },
      };
    },
  };

  const remove: OperationRecipe = {
    params: ['name', 'target'],
    check(params, problems) {
      text(params, 'name', problems, {
        required: true,
        max: 256,
        pattern: ENV_NAME,
        expected: 'a variable name (letters, digits, _)',
      });
      checkTarget(params, problems);
    },
    plan(params) {
      const c = config('vercel_remove_env');
      return {
        summary: `remove ${String(params.name)} from ${targetsOf(params).join(', ')} of Vercel project ${c.project}`,
        detail: [
          curlLine(call('***', 'GET', url(c, '/v10/projects/{p}/env'))),
          `${curlLine(call('***', 'DELETE', url(c, '/v9/projects/{p}/env/{id}')))}   # for the variable found`,
        ],
      };
    },
    async run(params, ctx) {
      const c = config('vercel_remove_env');
      const token = await env.secret(c.token_secret);
      const name = params.name as string;
      const targets = targetsOf(params);
      const found = await matching(c, token, name, targets, ctx);
      const removed: Previous[] = [];
      for (const v of found) {
        const previous = await previousOf(c, token, v, ctx);
        try {
          await callHttp(
            call(token, 'DELETE', url(c, `/v9/projects/{p}/env/${encodeURIComponent(v.id)}`)),
            ctx,
            vercelErrors,
          );
        } catch (error) {
          if (!isStatus(error, 404)) throw error; // gone already (a retry after a lost answer)
        }
        removed.push(previous);
      }
      const only = removed.length === 1 ? removed[0] : undefined;
      const summary =
        removed.length === 0
          ? `${name} was not set for ${targets.join(', ')} of Vercel project ${c.project} (nothing removed)`
          : `removed ${name} (${removed.map((r) => r.target.join('+')).join('; ')}) from Vercel project ${c.project}`;
      const changed = {
        project: c.project,
        name,
        removed: removed.map((r) => ({
          id: r.id,
          type: r.type,
          target: r.target,
          ...(r.value === undefined ? {} : { value: r.value }),
        })),
      };
      if (only?.value !== undefined) {
        return {
          summary,
          changed,
          undo: {
            operation: 'vercel_set_env',
            params: { name, value: only.value, type: 'plain', target: only.target },
          },
        };
      }
      return removed.length === 0
        ? { summary, changed }
        : {
            summary,
            changed: {
              ...changed,
              irreversible:
                removed.length > 1
                  ? `${removed.length} variables were removed; one undo cannot set them all back`
                  : `the removed ${removed[0]?.type} value is a secret Firebreak does not copy, so it cannot be put back`,
            },
          };
    },
  };

  return { vercel_set_env: set, vercel_remove_env: remove };
}

function setBody(params: Params, value: string, target: string[]) {
  return {
    key: params.name as string,
    value,
    type: (params.type as string | undefined) ?? 'encrypted',
    target,
  };
}

function envOf(raw: Record<string, unknown>): EnvVar {
  const target = Array.isArray(raw.target)
    ? raw.target.map(String)
    : typeof raw.target === 'string'
      ? [raw.target]
      : [];
  return {
    id: String(raw.id ?? ''),
    key: String(raw.key ?? ''),
    type: String(raw.type ?? ''),
    target,
    ...(typeof raw.gitBranch === 'string' && raw.gitBranch !== '' ? { gitBranch: raw.gitBranch } : {}),
  };
}
