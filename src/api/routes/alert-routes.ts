/** /v1/alerts and /v1/incidents/{id}/alerts: the stored alerts (detection's and other tools'), read-only. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AlertQuery } from '../../incidents/index.js';
import type { ApiKeyService } from '../api-keys.js';
import { requireScope } from '../auth.js';
import { AlertSchema, AUTH_ERRORS, ErrorSchema, IncidentIdParams, ListAlertsQuery } from '../schemas.js';

export interface AlertRoutesOptions {
  readonly alerts: AlertQuery;
  readonly keys: ApiKeyService;
}

export const alertRoutes: FastifyPluginAsyncTypebox<AlertRoutesOptions> = async (app, { alerts, keys }) => {
  const read = requireScope(keys, 'read');

  app.get(
    '/v1/alerts',
    {
      onRequest: read,
      schema: {
        tags: ['alerts'],
        summary: 'List stored alerts, newest window end first',
        description:
          "`since` (inclusive) and `until` (exclusive) bound the window end, in event time. Page with `cursor` = the previous page's `next_cursor`, keeping the same filters.",
        querystring: ListAlertsQuery,
        response: {
          200: Type.Object({
            items: Type.Array(AlertSchema),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...AUTH_ERRORS,
        },
      },
    },
    async (request) => alerts.list(request.query),
  );

  app.get(
    '/v1/incidents/:id/alerts',
    {
      onRequest: read,
      schema: {
        tags: ['incidents', 'alerts'],
        summary: "An incident's alerts, oldest window end first",
        params: IncidentIdParams,
        response: { 200: Type.Object({ items: Type.Array(AlertSchema) }), ...AUTH_ERRORS, 404: ErrorSchema },
      },
    },
    async (request) => ({ items: await alerts.ofIncident(request.params.id) }),
  );
};
