/**
 * /v1/secrets: connector credentials, admin scope only. A value goes in and never comes out:
 * there is deliberately no route that returns one (connectors read them inside the server).
 * Every set and delete is in the audit log, with the name only (the store appends it).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SECRET_NAME_PATTERN, SECRET_VALUE_MAX_BYTES, type SecretStore } from '../../store/index.js';
import type { ApiKeyService } from '../api-keys.js';
import { actorOf, requireScope } from '../auth.js';
import { AUTH_ERRORS, ErrorSchema } from '../schemas.js';

export interface SecretRoutesOptions {
  readonly secrets: SecretStore;
  readonly keys: ApiKeyService;
}

const closed = { additionalProperties: false } as const;

const SecretNameParams = Type.Object(
  {
    name: Type.String({
      pattern: SECRET_NAME_PATTERN,
      description: 'lower-case letters, digits and _, starting with a letter: shop_db, cloudflare_token',
    }),
  },
  closed,
);

const SetSecretBody = Type.Object(
  {
    value: Type.String({
      minLength: 1,
      // Characters here; the store also checks bytes (UTF-8), the limit that counts.
      maxLength: SECRET_VALUE_MAX_BYTES,
      description: `the plain text, 1 to ${SECRET_VALUE_MAX_BYTES} bytes; stored encrypted, never shown again`,
    }),
  },
  closed,
);

const SecretSchema = Type.Object({
  name: Type.String(),
  created_at: Type.String(),
  updated_at: Type.String(),
  updated_by: Type.String(),
  key_id: Type.String({ description: 'fingerprint of the key that sealed it' }),
  key_matches: Type.Boolean({ description: "false: sealed with another key than this server's" }),
});

export const secretRoutes: FastifyPluginAsyncTypebox<SecretRoutesOptions> = async (
  app,
  { secrets, keys },
) => {
  const admin = requireScope(keys, 'admin');

  app.put(
    '/v1/secrets/:name',
    {
      onRequest: admin,
      schema: {
        tags: ['secrets'],
        summary: 'Store or replace a secret (201: new, 200: replaced); the value is never returned',
        params: SecretNameParams,
        body: SetSecretBody,
        response: {
          200: Type.Intersect([SecretSchema, Type.Object({ created: Type.Boolean() })]),
          201: Type.Intersect([SecretSchema, Type.Object({ created: Type.Boolean() })]),
          ...AUTH_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const info = await secrets.set(request.params.name, request.body.value, actorOf(request));
      return reply.status(info.created ? 201 : 200).send(info);
    },
  );

  app.get(
    '/v1/secrets',
    {
      onRequest: admin,
      schema: {
        tags: ['secrets'],
        summary: 'List secrets: names, dates and who set them, never values',
        response: { 200: Type.Array(SecretSchema), ...AUTH_ERRORS },
      },
    },
    async () => secrets.list(),
  );

  app.delete(
    '/v1/secrets/:name',
    {
      onRequest: admin,
      schema: {
        tags: ['secrets'],
        summary: 'Delete a secret',
        params: SecretNameParams,
        response: { 204: Type.Null({ description: 'deleted' }), ...AUTH_ERRORS, 404: ErrorSchema },
      },
    },
    async (request, reply) => {
      await secrets.delete(request.params.name, actorOf(request));
      return reply.status(204).send(null);
    },
  );
};
