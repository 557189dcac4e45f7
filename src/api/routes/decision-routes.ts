/**
 * /v1/decisions and /v1/switches: Firebreak's own blocklist and kill switches, read by the shop's
 * middleware or edge worker (README "Containment: decisions and switches").
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  DECISION_ID_PATTERN,
  DECISION_LIST_DEFAULT_LIMIT,
  DECISION_LIST_MAX_LIMIT,
  DECISION_ORIGIN_PATTERN,
  DECISION_SCOPES,
  DECISION_TYPES,
  type DecisionService,
  SWITCH_NAMES,
} from '../../connectors/index.js';
import { INCIDENT_ID_PATTERN } from '../../incidents/index.js';
import { FirebreakError, parseDuration } from '../../kernel/index.js';
import type { ApiKeyService } from '../api-keys.js';
import { actorOf, principalOf, requireScope } from '../auth.js';
import { AUTH_ERRORS, ErrorSchema } from '../schemas.js';

const closed = { additionalProperties: false } as const;
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const DecisionSchema = Type.Object({
  id: Type.String(),
  type: Type.Enum([...DECISION_TYPES]),
  scope: Type.Enum([...DECISION_SCOPES]),
  value: Type.String({ description: 'canonical address, or network address/prefix' }),
  origin: Type.String({ description: 'rule:<rule id>, person:<name> or playbook:<run id>' }),
  reason: Type.String(),
  incident_id: Nullable(Type.String()),
  created_by: Type.String(),
  created_at: Type.String(),
  expires_at: Type.String({ description: 'in force until, not at, this instant' }),
  deleted_at: Nullable(Type.String()),
  deleted_by: Nullable(Type.String()),
});

const SwitchSchema = Type.Object({
  name: Type.String(),
  enabled: Type.Boolean(),
  description: Type.String(),
  updated_at: Nullable(Type.String()),
  updated_by: Nullable(Type.String()),
  reason: Nullable(Type.String()),
});

const AddDecisionBody = Type.Object(
  {
    type: Type.Enum([...DECISION_TYPES]),
    scope: Type.Enum([...DECISION_SCOPES]),
    value: Type.String({
      minLength: 1,
      maxLength: 64,
      description: '203.0.113.7, 2001:db8::1, 198.51.100.0/24',
    }),
    duration: Type.String({
      minLength: 1,
      maxLength: 32,
      description: '90s, 15m, 4h, 7d, 1h30m; at most 365d',
    }),
    origin: Type.Optional(
      Type.String({ pattern: DECISION_ORIGIN_PATTERN, description: "default person:<the key's name>" }),
    ),
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
    incident_id: Type.Optional(Type.String({ pattern: INCIDENT_ID_PATTERN })),
  },
  closed,
);

export interface DecisionRoutesOptions {
  readonly decisions: DecisionService;
  readonly keys: ApiKeyService;
}

export const decisionRoutes: FastifyPluginAsyncTypebox<DecisionRoutesOptions> = async (
  app,
  { decisions, keys },
) => {
  const read = requireScope(keys, 'read');
  const write = requireScope(keys, 'write');

  app.get(
    '/v1/decisions',
    {
      onRequest: read,
      schema: {
        tags: ['decisions'],
        summary: 'With ?ip=: the decisions in force on one address; without: list decisions, newest first',
        description:
          'With `ip`, the answer is `{ip, decisions}` (an empty array when none): decisions of scope ip on the address and of scope cidr on a network holding it. Without, a page of decisions (`active=false` for ended ones too).',
        querystring: Type.Object(
          {
            ip: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            active: Type.Optional(Type.Boolean({ default: true })),
            limit: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: DECISION_LIST_MAX_LIMIT,
                default: DECISION_LIST_DEFAULT_LIMIT,
              }),
            ),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
          },
          closed,
        ),
        response: {
          200: Type.Union([
            Type.Object({ ip: Type.String(), decisions: Type.Array(DecisionSchema) }),
            Type.Object({ items: Type.Array(DecisionSchema), next_cursor: Nullable(Type.String()) }),
          ]),
          ...AUTH_ERRORS,
        },
      },
    },
    async (request) => {
      const { ip, active, limit, cursor } = request.query;
      if (ip !== undefined) return { ip, decisions: await decisions.lookup(ip) };
      return decisions.list({
        ...(active === undefined ? {} : { active }),
        ...(limit === undefined ? {} : { limit }),
        ...(cursor === undefined ? {} : { cursor }),
      });
    },
  );

  app.get(
    '/v1/decisions/stream',
    {
      onRequest: read,
      schema: {
        tags: ['decisions'],
        summary: 'For a bouncer keeping its own copy: what was added and what ended since a cursor',
        description:
          '`startup=true`: every decision in force, as `new`. `cursor`: the difference since the answer that gave it; apply `deleted`, then `new`. Expired decisions are reported in `deleted` once their time has passed.',
        querystring: Type.Object(
          {
            startup: Type.Optional(Type.Boolean()),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          },
          closed,
        ),
        response: {
          200: Type.Object({
            new: Type.Array(DecisionSchema),
            deleted: Type.Array(DecisionSchema),
            cursor: Type.String(),
          }),
          ...AUTH_ERRORS,
        },
      },
    },
    async (request) => {
      const { startup, cursor } = request.query;
      if (startup === true && cursor === undefined) return decisions.stream('startup');
      if (startup !== true && cursor !== undefined) return decisions.stream(cursor);
      throw invalid(
        'query.cursor',
        'give either startup=true (first call) or the cursor of the previous answer',
      );
    },
  );

  app.post(
    '/v1/decisions',
    {
      onRequest: write,
      schema: {
        tags: ['decisions'],
        summary: 'Add a decision (a ban on an address or a network), in force for `duration`',
        body: AddDecisionBody,
        response: { 201: DecisionSchema, ...AUTH_ERRORS },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const durationMs = parseDuration(body.duration);
      if (durationMs === undefined)
        throw invalid('body.duration', 'must be a duration such as 4h, 30m or 7d');
      const decision = await decisions.add(
        {
          type: body.type,
          scope: body.scope,
          value: body.value,
          origin: body.origin ?? `person:${principalOf(request).name}`,
          ...(body.reason === undefined ? {} : { reason: body.reason }),
          durationMs,
          incidentId: body.incident_id,
        },
        actorOf(request),
      );
      return reply.status(201).send(decision);
    },
  );

  app.delete(
    '/v1/decisions/:id',
    {
      onRequest: write,
      schema: {
        tags: ['decisions'],
        summary: 'End a decision now (the undo); ending one already ended changes nothing',
        params: Type.Object({ id: Type.String({ pattern: DECISION_ID_PATTERN }) }, closed),
        response: { 200: DecisionSchema, ...AUTH_ERRORS, 404: ErrorSchema },
      },
    },
    async (request) => decisions.delete(request.params.id, actorOf(request)),
  );

  app.get(
    '/v1/switches',
    {
      onRequest: read,
      schema: {
        tags: ['switches'],
        summary: 'The kill switches: name → on/off, and who set each',
        response: {
          200: Type.Object({
            switches: Type.Record(Type.String(), Type.Boolean()),
            items: Type.Array(SwitchSchema),
          }),
          ...AUTH_ERRORS,
        },
      },
    },
    async () => {
      const items = await decisions.switches();
      return { switches: Object.fromEntries(items.map((s) => [s.name, s.enabled])), items };
    },
  );

  app.put(
    '/v1/switches/:name',
    {
      onRequest: write,
      schema: {
        tags: ['switches'],
        summary: 'Turn a kill switch on or off',
        description: `Switches: ${SWITCH_NAMES.join(', ')}.`,
        params: Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) }, closed),
        body: Type.Object(
          { enabled: Type.Boolean(), reason: Type.String({ minLength: 1, maxLength: 1000 }) },
          closed,
        ),
        response: { 200: SwitchSchema, ...AUTH_ERRORS },
      },
    },
    async (request) =>
      decisions.setSwitch(request.params.name, request.body.enabled, actorOf(request), request.body.reason),
  );
};

function invalid(path: string, message: string): FirebreakError {
  return new FirebreakError(
    'FB_ERR_VALIDATION',
    { summary: `${path} ${message}` },
    { details: [{ path, message }] },
  );
}
