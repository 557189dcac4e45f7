/**
 * /v1/incidents/{id}/notifications: who was paged about an incident, through which channel, and
 * where each message stands in the outbox (pending, sending, delivered, dead), with its attempts
 * and last error: the answer to "did the page go out?" at 3 a.m.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { IncidentService } from '../../incidents/index.js';
import type { Outbox } from '../../notify/index.js';
import type { ApiKeyService } from '../api-keys.js';
import { requireScope } from '../auth.js';
import { AUTH_ERRORS, ErrorSchema, IncidentIdParams } from '../schemas.js';

export interface NotificationRoutesOptions {
  readonly outbox: Outbox;
  readonly incidents: IncidentService;
  readonly keys: ApiKeyService;
}

const Time = Type.String({ format: 'date-time' });
const NotificationSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  channel: Type.String(),
  recipient: Type.String(),
  /** An address or a URL with its secret part hidden. */
  target: Type.String(),
  status: Type.Union([
    Type.Literal('pending'),
    Type.Literal('sending'),
    Type.Literal('delivered'),
    Type.Literal('dead'),
  ]),
  attempts: Type.Integer(),
  next_attempt_at: Time,
  last_error: Type.Union([Type.String(), Type.Null()]),
  created_at: Time,
  delivered_at: Type.Union([Time, Type.Null()]),
  idempotency_key: Type.String(),
});

/** A Slack webhook's last path segment is its token: never shown. */
function shownTarget(target: string): string {
  return /^https?:\/\//.test(target) ? target.replace(/\/[^/]*$/, '/***') : target;
}

export const notificationRoutes: FastifyPluginAsyncTypebox<NotificationRoutesOptions> = async (
  app,
  { outbox, incidents, keys },
) => {
  app.get(
    '/v1/incidents/:id/notifications',
    {
      onRequest: requireScope(keys, 'read'),
      schema: {
        tags: ['incidents', 'paging'],
        summary: "An incident's pages and where each stands in the outbox, oldest first",
        params: IncidentIdParams,
        response: {
          200: Type.Object({ items: Type.Array(NotificationSchema) }),
          ...AUTH_ERRORS,
          404: ErrorSchema,
        },
      },
    },
    async (request) => {
      // 404 for an unknown incident rather than an empty list.
      await incidents.get(request.params.id);
      const rows = await outbox.list(request.params.id);
      return {
        items: rows.map((n) => ({
          id: n.id,
          kind: n.kind,
          channel: n.channel,
          recipient: n.recipient,
          target: shownTarget(n.target),
          status: n.status,
          attempts: n.attempts,
          next_attempt_at: n.nextAttemptAt,
          last_error: n.lastError,
          created_at: n.createdAt,
          delivered_at: n.deliveredAt,
          idempotency_key: n.idempotencyKey,
        })),
      };
    },
  );
};
