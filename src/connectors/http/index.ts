/** The `http` connector: vendor APIs (Cloudflare, Stripe, Supabase, Vercel) and shop-defined requests. */
export {
  type CloudflareTarget,
  cloudflareTarget,
} from './cloudflare-recipe.js';
export { HttpStatusError } from './http-call.js';
export { createHttpConnector } from './http-connector.js';
export { httpConnectorManifest } from './http-manifest.js';
export { HTTP_OPERATIONS, HTTP_UNDONE_BY, type HttpOperation } from './http-operations.js';
export {
  type CloudflareSettings,
  HTTP_DEFAULT_TIMEOUT_MS,
  type HttpConnectorSettings,
  HttpConnectorSettingsSchema,
  REQUEST_OPERATIONS,
  type RequestOperation,
  type RequestTemplateSettings,
  type StripeSettings,
  type SupabaseSettings,
  type VercelSettings,
} from './http-settings.js';
