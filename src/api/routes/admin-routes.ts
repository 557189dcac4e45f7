/** /v1/keys and /v1/audit: admin scope only. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AuditLog } from '../../audit/index.js';
import type { Store } from '../../store/index.js';
import type { ApiKeyService } from '../api-keys.js';
import { actorOf, requireScope } from '../auth.js';
import { AUTH_ERRORS, AuditQuery, CreateKeyBody, ErrorSchema, KeyIdParams } from '../schemas.js';

export interface AdminRoutesOptions {
  readonly keys: ApiKeyService;
  readonly audit: AuditLog;
  readonly store: Store;
}

const KeySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  created_at: Type.String(),
  created_by: Type.String(),
  revoked_at: Type.Union([Type.String(), Type.Null()]),
  person: Type.Union([Type.String(), Type.Null()]),
});

export const adminRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async (
  app,
  { keys, audit, store },
) => {
  const admin = requireScope(keys, 'admin');

  app.post(
    '/v1/keys',
    {
      onRequest: admin,
      schema: {
        tags: ['keys'],
        summary: 'Create an API key (the key is in this answer only)',
        body: CreateKeyBody,
        response: { 201: Type.Intersect([KeySchema, Type.Object({ key: Type.String() })]), ...AUTH_ERRORS },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(
          await keys.create(actorOf(request), request.body.name, request.body.scopes, request.body.person),
        ),
  );

  app.get(
    '/v1/keys',
    {
      onRequest: admin,
      schema: {
        tags: ['keys'],
        summary: 'List API keys',
        response: { 200: Type.Array(KeySchema), ...AUTH_ERRORS },
      },
    },
    async () => keys.list(),
  );

  app.delete(
    '/v1/keys/:id',
    {
      onRequest: admin,
      schema: {
        tags: ['keys'],
        summary: 'Revoke an API key',
        params: KeyIdParams,
        response: { 200: KeySchema, ...AUTH_ERRORS, 404: ErrorSchema },
      },
    },
    async (request) => keys.revoke(actorOf(request), request.params.id),
  );

  app.get(
    '/v1/audit',
    {
      onRequest: admin,
      schema: { tags: ['audit'], summary: 'Audit log entries, newest first', querystring: AuditQuery },
    },
    async (request) =>
      audit.list(store.db, {
        limit: request.query.limit ?? 100,
        ...(request.query.before ? { beforeSeq: request.query.before } : {}),
      }),
  );

  app.get(
    '/v1/audit/verify',
    {
      onRequest: admin,
      schema: { tags: ['audit'], summary: 'Walk the hash chain and report the first bad entry' },
    },
    async () => audit.verify(store.db),
  );
};
