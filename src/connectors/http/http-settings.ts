/**
 * The `connectors.http` block of firebreak.yaml: which vendors the shop uses and the names of
 * the stored secrets that reach them (never the secrets themselves), plus the shop's own
 * templated requests for APIs with no public standard (TikTok Shop, carriers). Every vendor
 * block is optional: an operation whose vendor is missing fails at run, naming the block to add.
 *
 * @example firebreak.yaml
 * connectors:
 *   http:
 *     timeout_ms: 30000      # per request; the step's own timeout also applies
 *     cloudflare: { zone_id: 023e105f4ecef8ad9ca31a8372d0c353, api_token_secret: cloudflare_token }
 *     stripe: { api_key_secret: stripe_key }
 *     supabase: { url: https://xyz.supabase.co, service_key_secret: supabase_service_key, rate_limit_function: update-rate-limits }
 *     vercel: { project: shop, team_id: team_123, token_secret: vercel_token }
 *     requests:              # shop-defined operations; {{ params.x }}, {{ secret.name }}, {{ context.incident_id }}
 *       tiktok_revoke_api_key:
 *         method: POST
 *         url: "https://partner.example/keys/{{ params.app_key }}/revoke"
 *         headers: { Authorization: "Bearer {{ secret.tiktok_token }}" }
 *         body: { reason: "{{ params.reason }}" }
 *         params: [incident]  # accepted besides the ones the templates use (which are required)
 *         undo: null          # or { operation: carrier_enable, params: { carrier: "{{ params.carrier }}" } }
 *
 * `base_url` (every vendor but Supabase, whose `url` is the project's own) defaults to the
 * vendor's public API; tests point it at a loopback server.
 */
import { Type } from 'typebox';

/** The operations a shop defines under `requests:` (names fixed by KNOWN_CONNECTOR_OPERATIONS.http). */
export const REQUEST_OPERATIONS = [
  'tiktok_revoke_api_key',
  'tiktok_revoke_creator_tokens',
  'tiktok_start_reauthorisation',
  'carrier_disable',
  'carrier_enable',
  'carrier_switch',
  'creator_tokens_reset',
] as const;
export type RequestOperation = (typeof REQUEST_OPERATIONS)[number];

export interface CloudflareSettings {
  /** The zone (32 hex characters) whose IP Access rules the operations change. */
  readonly zone_id: string;
  /** A stored API token with Zone → Firewall Services → Edit. */
  readonly api_token_secret: string;
  /** Default https://api.cloudflare.com/client/v4. */
  readonly base_url?: string;
}

export interface StripeSettings {
  /** A stored secret (or restricted) key with write access to Payment Links. */
  readonly api_key_secret: string;
  /** Default https://api.stripe.com. */
  readonly base_url?: string;
}

export interface SupabaseSettings {
  /** The project URL, https://<ref>.supabase.co. */
  readonly url: string;
  readonly service_key_secret: string;
  /** The shop's Edge Function that switches rate limits. Default `update-rate-limits`. */
  readonly rate_limit_function?: string;
}

export interface VercelSettings {
  /** Project id or name. */
  readonly project: string;
  readonly team_id?: string;
  readonly token_secret: string;
  /** Default https://api.vercel.com. */
  readonly base_url?: string;
}

/** One shop-defined request; strings may hold `{{ params.x }}`, `{{ secret.name }}`, `{{ context.* }}`. */
export interface RequestTemplateSettings {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** http(s) URL; templates are allowed in the path and query, never in the scheme or host. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string>>;
  /** A JSON value; a string that is exactly one template takes the value's own type. */
  readonly body?: unknown;
  /** Default json; form sends a flat map as application/x-www-form-urlencoded. */
  readonly body_encoding?: 'json' | 'form';
  /** Parameters accepted besides those the templates use (those are required). `incident` is always accepted. */
  readonly params?: readonly string[];
  /** One line for plans and outcomes. Default: `METHOD host`. */
  readonly summary?: string;
  /** Response fields (dotted paths) copied into the outcome, such as `data.revoked_count`. */
  readonly record?: readonly string[];
  /**
   * What puts it back: another http operation with params (templates may use `params.*` and
   * `response.*`, never secrets); null or absent: it cannot be undone.
   */
  readonly undo?: { readonly operation: string; readonly params?: Readonly<Record<string, unknown>> } | null;
}

export interface HttpConnectorSettings {
  /** Per request, 1 000 to 120 000 ms. Default 30 000. */
  readonly timeout_ms?: number;
  readonly cloudflare?: CloudflareSettings;
  readonly stripe?: StripeSettings;
  readonly supabase?: SupabaseSettings;
  readonly vercel?: VercelSettings;
  readonly requests?: Readonly<Partial<Record<RequestOperation, RequestTemplateSettings>>>;
}

export const HTTP_DEFAULT_TIMEOUT_MS = 30_000;

const secretName = Type.String({
  pattern: '^[a-z][a-z0-9_]{0,63}$',
  description: 'the name of a secret stored with `firebreak secrets set NAME`',
});
const baseUrl = Type.String({ pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$', description: 'an http(s) URL' });
const strictObject = { additionalProperties: false } as const;

const requestTemplate = Type.Object(
  {
    method: Type.Union([
      Type.Literal('GET'),
      Type.Literal('POST'),
      Type.Literal('PUT'),
      Type.Literal('PATCH'),
      Type.Literal('DELETE'),
    ]),
    url: Type.String({
      pattern: '^https?://[^\\s/?#{}]+',
      description: 'an http(s) URL, no templates in the host',
    }),
    headers: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), Type.String())),
    query: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String())),
    body: Type.Optional(Type.Unknown()),
    body_encoding: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('form')])),
    params: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }), { maxItems: 50 })),
    summary: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    record: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)*$' }), { maxItems: 20 }),
    ),
    undo: Type.Optional(
      Type.Union([
        Type.Null(),
        Type.Object(
          {
            operation: Type.String({ pattern: '^[a-z][a-z0-9_]*$' }),
            params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          },
          strictObject,
        ),
      ]),
    ),
  },
  strictObject,
);

/** The TypeBox (JSON) schema of `connectors.http`, checked by the connector registry. */
export const HttpConnectorSettingsSchema = Type.Object(
  {
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1_000, maximum: 120_000 })),
    cloudflare: Type.Optional(
      Type.Object(
        {
          zone_id: Type.String({ pattern: '^[0-9a-f]{32}$', description: 'a zone id (32 hex characters)' }),
          api_token_secret: secretName,
          base_url: Type.Optional(baseUrl),
        },
        strictObject,
      ),
    ),
    stripe: Type.Optional(
      Type.Object({ api_key_secret: secretName, base_url: Type.Optional(baseUrl) }, strictObject),
    ),
    supabase: Type.Optional(
      Type.Object(
        {
          url: baseUrl,
          service_key_secret: secretName,
          rate_limit_function: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,100}$' })),
        },
        strictObject,
      ),
    ),
    vercel: Type.Optional(
      Type.Object(
        {
          project: Type.String({ pattern: '^[A-Za-z0-9._-]{1,100}$' }),
          team_id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,100}$' })),
          token_secret: secretName,
          base_url: Type.Optional(baseUrl),
        },
        strictObject,
      ),
    ),
    requests: Type.Optional(
      Type.Object(
        Object.fromEntries(REQUEST_OPERATIONS.map((op) => [op, Type.Optional(requestTemplate)])),
        strictObject,
      ),
    ),
  },
  strictObject,
);
