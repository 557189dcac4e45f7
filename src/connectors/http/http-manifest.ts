/**
 * How the `http` connector registers (DESIGN.md style rule 7): its id, the schema of its
 * `connectors.http` block, its operations and which operation undoes each.
 */
import type { ConnectorDeps, ConnectorManifest } from '../../respond/index.js';
import { createHttpConnector } from './http-connector.js';
import { HTTP_OPERATIONS, HTTP_UNDONE_BY } from './http-operations.js';
import { type HttpConnectorSettings, HttpConnectorSettingsSchema } from './http-settings.js';

export const httpConnectorManifest: ConnectorManifest = Object.freeze({
  id: 'http',
  description:
    'Vendor APIs the plans call with curl: Cloudflare IP Access rules, Stripe Payment Links, the Supabase ' +
    'rate-limit Edge Function, Vercel environment variables, and requests the shop defines (TikTok Shop, carriers)',
  configSchema: HttpConnectorSettingsSchema,
  operations: HTTP_OPERATIONS,
  undoneBy: HTTP_UNDONE_BY,
  create: (settings: unknown, deps: ConnectorDeps) =>
    createHttpConnector(settings as HttpConnectorSettings, deps),
});
