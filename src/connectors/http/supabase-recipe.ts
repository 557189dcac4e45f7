/**
 * Supabase: the KCT plan's emergency rate limit, a call to the shop's own Edge Function
 *
 *   POST {url}/functions/v1/update-rate-limits   Authorization: Bearer <service key>
 *   {"mode": "emergency", "requests_per_minute": 10}
 *
 * and its restore, `{"mode": "normal"}`. The function is the shop's code, so what it answers is
 * the shop's choice: when its JSON answer carries the settings it replaced (`previous`, an object
 * of plain values), the outcome records them and the undo posts exactly those back; otherwise
 * the undo posts `{"mode": "normal"}`. Every call carries an `Idempotency-Key` header the
 * function may use to ignore a repeat.
 */
import { callHttp, curlLine, type HttpCall, type HttpReply, type VendorErrors } from './http-call.js';
import { notConfigured, type OperationRecipe, type RecipeEnv, trimBase } from './http-recipe.js';
import type { SupabaseSettings } from './http-settings.js';
import { integer, isRecord, type Params, text } from './param-checks.js';

const DEFAULT_FUNCTION = 'update-rate-limits';
const MODE = /^[a-z][a-z0-9_]{0,31}$/;
const NORMAL = { mode: 'normal' } as const;

type Scalar = string | number | boolean | null;

export const supabaseErrors: VendorErrors = {
  message(reply: HttpReply) {
    if (!isRecord(reply.json)) return undefined;
    const said = reply.json.error ?? reply.json.message ?? reply.json.msg;
    if (typeof said === 'string') return said;
    if (isRecord(said) && typeof said.message === 'string') return said.message;
    return undefined;
  },
};

/** A flat object of plain values (at most 20): what restore may post back. */
function isSettings(value: unknown): value is Record<string, Scalar> {
  return (
    isRecord(value) &&
    Object.keys(value).length > 0 &&
    Object.keys(value).length <= 20 &&
    Object.values(value).every(
      (v) =>
        v === null ||
        typeof v === 'boolean' ||
        typeof v === 'number' ||
        (typeof v === 'string' && v.length <= 200),
    )
  );
}

export function supabaseOperations(
  settings: SupabaseSettings | undefined,
  env: RecipeEnv,
): Record<'supabase_emergency_rate_limit' | 'supabase_restore_rate_limit', OperationRecipe> {
  const config = (operation: string): SupabaseSettings => {
    if (!settings) throw notConfigured('http.supabase', operation, 'url, service_key_secret');
    return settings;
  };
  const fn = (c: SupabaseSettings) => c.rate_limit_function ?? DEFAULT_FUNCTION;
  const call = (c: SupabaseSettings, key: string, body: unknown, idempotencyKey: string): HttpCall => ({
    vendor: 'supabase',
    method: 'POST',
    url: `${trimBase(c.url)}/functions/v1/${encodeURIComponent(fn(c))}`,
    headers: {
      Authorization: `Bearer ${key}`,
      'Content-Type': 'application/json',
      'Idempotency-Key': idempotencyKey,
    },
    body: JSON.stringify(body),
    secrets: key === '***' ? [] : [key],
  });
  const emergencyBody = (params: Params) => ({
    mode: typeof params.mode === 'string' ? params.mode : 'emergency',
    requests_per_minute: typeof params.requests_per_minute === 'number' ? params.requests_per_minute : 10,
  });

  const emergency: OperationRecipe = {
    params: ['mode', 'requests_per_minute'],
    check(params, problems) {
      text(params, 'mode', problems, { pattern: MODE, expected: 'a mode name such as emergency' });
      integer(params, 'requests_per_minute', problems, 1, 1_000_000);
    },
    plan(params) {
      const c = config('supabase_emergency_rate_limit');
      const body = emergencyBody(params);
      return {
        summary: `switch the shop's rate limits to ${body.mode} (${body.requests_per_minute} requests per minute) via Edge Function ${fn(c)}`,
        detail: [curlLine(call(c, '***', body, '<run step key>'))],
      };
    },
    async run(params, ctx) {
      const c = config('supabase_emergency_rate_limit');
      const key = await env.secret(c.service_key_secret);
      const body = emergencyBody(params);
      const reply = await callHttp(call(c, key, body, ctx.run.idempotencyKey), ctx, supabaseErrors);
      const previous =
        isRecord(reply.json) && isSettings(reply.json.previous) ? reply.json.previous : undefined;
      return {
        summary: `rate limits are in ${body.mode} mode (${body.requests_per_minute} requests per minute)`,
        changed: {
          function: fn(c),
          sent: body,
          status: reply.status,
          previous: previous ?? null,
          ...(previous
            ? {}
            : { note: 'the function did not report its previous settings: undo posts {"mode":"normal"}' }),
        },
        undo: { operation: 'supabase_restore_rate_limit', params: previous ? { settings: previous } : {} },
      };
    },
  };

  const restore: OperationRecipe = {
    params: ['settings'],
    check(params, problems) {
      if (params.settings !== undefined && !isSettings(params.settings)) {
        problems.push(
          'settings: expected an object of 1 to 20 plain values (text, numbers, true/false, null)',
        );
      }
    },
    plan(params) {
      const c = config('supabase_restore_rate_limit');
      const body = (params.settings as Record<string, Scalar> | undefined) ?? NORMAL;
      return {
        summary: `put the shop's rate limits back (${JSON.stringify(body)}) via Edge Function ${fn(c)}`,
        detail: [curlLine(call(c, '***', body, '<run step key>'))],
      };
    },
    async run(params, ctx) {
      const c = config('supabase_restore_rate_limit');
      const key = await env.secret(c.service_key_secret);
      const body = (params.settings as Record<string, Scalar> | undefined) ?? NORMAL;
      const reply = await callHttp(call(c, key, body, ctx.run.idempotencyKey), ctx, supabaseErrors);
      return {
        summary: `rate limits restored (${JSON.stringify(body)})`,
        changed: { function: fn(c), sent: body, status: reply.status },
      };
    },
  };

  return { supabase_emergency_rate_limit: emergency, supabase_restore_rate_limit: restore };
}
