/**
 * The operations of the `http` connector and which operation puts each back (null: it cannot
 * be undone: a revoked key, reset tokens, a started re-authorisation). The names are fixed by
 * the built-in playbooks (KNOWN_CONNECTOR_OPERATIONS.http).
 */
export const HTTP_UNDONE_BY = Object.freeze({
  cloudflare_block_ip: 'cloudflare_unblock',
  cloudflare_unblock: 'cloudflare_block_ip',
  stripe_disable_payments: 'stripe_enable_payments',
  stripe_enable_payments: 'stripe_disable_payments',
  supabase_emergency_rate_limit: 'supabase_restore_rate_limit',
  supabase_restore_rate_limit: null,
  vercel_set_env: 'vercel_remove_env',
  vercel_remove_env: 'vercel_set_env',
  tiktok_revoke_api_key: null,
  tiktok_revoke_creator_tokens: null,
  tiktok_start_reauthorisation: null,
  carrier_disable: 'carrier_enable',
  carrier_enable: 'carrier_disable',
  carrier_switch: 'carrier_switch',
  creator_tokens_reset: null,
} as const satisfies Record<string, string | null>);

export type HttpOperation = keyof typeof HTTP_UNDONE_BY;

export const HTTP_OPERATIONS = Object.freeze(Object.keys(HTTP_UNDONE_BY) as HttpOperation[]);
