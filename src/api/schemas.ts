/**
 * Request and response schemas: one TypeBox definition validates the input, types the handler
 * and documents the route in /openapi.json. Every object is closed (additionalProperties: false),
 * so a misspelt field is an error, not silently ignored.
 */
import type {} from '@fastify/swagger';
import { Type } from 'typebox';
import {
  ALERT_LIST_DEFAULT_LIMIT,
  ALERT_LIST_MAX_LIMIT,
  CLASSIFICATION_QUESTIONS,
  IMPACT_LEVELS,
  INCIDENT_ID_PATTERN,
  STATUSES,
} from '../incidents/index.js';
import {
  INGEST_MAX_BODY_BYTES,
  INGEST_MAX_DECODED_BYTES,
  INGEST_MAX_EVENTS,
  SEARCH_MAX_LIMIT,
} from '../ingest/index.js';
import { RESPONSE_ROLES, SEVERITIES } from '../policy/index.js';
import { SCOPES } from './api-keys.js';

const closed = { additionalProperties: false } as const;

export const SeveritySchema = Type.Enum([...SEVERITIES], { description: 'P0 (critical) to P3 (low)' });
export const StatusSchema = Type.Enum([...STATUSES]);
export const RoleSchema = Type.Enum([...RESPONSE_ROLES]);
const ImpactLevel = Type.Enum([...IMPACT_LEVELS]);
const DateTime = Type.String({ format: 'date-time' });

export const IncidentIdParams = Type.Object(
  { id: Type.String({ pattern: INCIDENT_ID_PATTERN, description: 'INC-YYYY-NNN' }) },
  closed,
);

export const CreateIncidentBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    severity: SeveritySchema,
    summary: Type.Optional(Type.String({ maxLength: 10_000 })),
    detected_at: Type.Optional(DateTime),
  },
  closed,
);

export const ListIncidentsQuery = Type.Object(
  {
    status: Type.Optional(Type.Array(StatusSchema, { description: 'repeat or give once' })),
    severity: Type.Optional(Type.Array(SeveritySchema)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  closed,
);

export const TransitionBody = Type.Object(
  { to: StatusSchema, reason: Type.Optional(Type.String({ minLength: 1, maxLength: 2_000 })) },
  closed,
);

export const ClassifyBody = Type.Object(
  {
    answers: Type.Object(
      Object.fromEntries(
        CLASSIFICATION_QUESTIONS.map((q) => [q.id, Type.Boolean({ description: q.question })]),
      ) as Record<(typeof CLASSIFICATION_QUESTIONS)[number]['id'], ReturnType<typeof Type.Boolean>>,
      closed,
    ),
    impact: Type.Object({ data: ImpactLevel, service: ImpactLevel, customer: ImpactLevel }, closed),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 2_000 })),
  },
  closed,
);

export const RoleParams = Type.Object(
  { id: Type.String({ pattern: INCIDENT_ID_PATTERN }), role: RoleSchema },
  closed,
);
export const AssignRoleBody = Type.Object({ person: Type.String({ minLength: 1, maxLength: 200 }) }, closed);
export const NoteBody = Type.Object({ text: Type.String({ minLength: 1, maxLength: 10_000 }) }, closed);

export const CreateKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Array(Type.Enum([...SCOPES]), { minItems: 1, uniqueItems: true }),
    /** The roster person (id) who holds the key: their roles let them approve playbook steps. */
    person: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' })),
  },
  closed,
);
export const KeyIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) }, closed);

export const AuditQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
    before: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  closed,
);

const Timestamp = Type.String();
export const IncidentSchema = Type.Object({
  id: Type.String(),
  title: Type.String(),
  summary: Type.String(),
  severity: SeveritySchema,
  status: StatusSchema,
  phase: Type.String(),
  detected_at: Timestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
  created_by: Type.String(),
  reached: Type.Record(Type.String(), Timestamp),
  ack_by: Timestamp,
  respond_by: Timestamp,
  classification: Type.Union([
    Type.Object({
      severity: SeveritySchema,
      answers: Type.Record(Type.String(), Type.Boolean()),
      impact: Type.Object({ data: ImpactLevel, service: ImpactLevel, customer: ImpactLevel }),
      reasoning: Type.Array(Type.String()),
    }),
    Type.Null(),
  ]),
  roles: Type.Record(Type.String(), Type.String()),
  version: Type.Integer(),
});

export const TimelineRecordSchema = Type.Object({
  id: Type.Integer(),
  at: Timestamp,
  actor: Type.String(),
  kind: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
});

export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String(),
    kind: Type.String(),
    message: Type.String(),
    details: Type.Array(
      Type.Object({ path: Type.String(), message: Type.String(), line: Type.Optional(Type.Integer()) }),
    ),
  }),
});

/** The error answers every authenticated route can give, for the OpenAPI document. */
export const AUTH_ERRORS = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema } as const;

export const IngestHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description:
        'Send the same key again (a retry after a timeout) and the batch is stored once; the answer is the first one, with `Idempotent-Replayed: true`. Scoped to the API key.',
    }),
  ),
});

export const IngestBody = Type.Unknown({
  description: `ECS events: \`application/json\` with one object or an array of them, or \`application/x-ndjson\` (also \`application/ndjson\`) with one object per line. \`Content-Encoding: gzip\` is accepted. At most ${INGEST_MAX_BODY_BYTES} bytes as sent, ${INGEST_MAX_DECODED_BYTES} decompressed, and ${INGEST_MAX_EVENTS} events.`,
});

export const IngestAnswerSchema = Type.Object({
  accepted: Type.Integer({ description: 'events now in the durable log' }),
  rejected: Type.Array(
    Type.Object({
      index: Type.Integer({ description: '0-based position among the items (array elements, NDJSON lines)' }),
      line: Type.Optional(Type.Integer({ description: 'NDJSON: the 1-based line' })),
      reason: Type.String(),
    }),
  ),
  first_seq: Type.Union([Type.Integer(), Type.Null()]),
  last_seq: Type.Union([Type.Integer(), Type.Null()]),
});

export const EventSearchQuerySchema = Type.Object(
  {
    from: Type.String({ minLength: 1, maxLength: 64, description: 'event time, inclusive; ISO 8601' }),
    to: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'event time, exclusive; ISO 8601, at most 31 days after from',
    }),
    q: Type.Optional(
      Type.String({
        maxLength: 4_000,
        description:
          'space-separated field:value terms, all must hold: `event.action:login user.name:"Dana S"`',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: SEARCH_MAX_LIMIT, default: 100 })),
  },
  closed,
);

export const EventSearchResultSchema = Type.Object({
  events: Type.Array(
    Type.Object({
      seq: Type.Integer(),
      received_at: Type.String(),
      source: Type.String(),
      event: Type.Object({ '@timestamp': Type.String() }, { additionalProperties: true }),
    }),
  ),
  truncated: Type.Boolean({ description: 'more events match than limit' }),
});

export const ListAlertsQuery = Type.Object(
  {
    rule: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 500 }), {
        maxItems: 100,
        description: 'rule id, exactly; repeat for any of several',
      }),
    ),
    incident: Type.Optional(
      Type.String({ pattern: INCIDENT_ID_PATTERN, description: 'filed under this incident (INC-YYYY-NNN)' }),
    ),
    severity: Type.Optional(Type.Array(SeveritySchema, { description: 'repeat for any of several' })),
    since: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'window end (event time) at or after this; ISO 8601, no zone means UTC',
      }),
    ),
    until: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'window end (event time) before this' }),
    ),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: ALERT_LIST_MAX_LIMIT, default: ALERT_LIST_DEFAULT_LIMIT }),
    ),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 500, description: 'next_cursor of the previous page' }),
    ),
  },
  closed,
);

export const AlertSchema = Type.Object({
  fingerprint: Type.String({ description: "of rule, group and window end: the alert's identity" }),
  rule: Type.String(),
  title: Type.String(),
  severity: SeveritySchema,
  group: Type.Record(Type.String(), Type.String(), { description: 'group-by field → value' }),
  value: Type.Union([Type.Number(), Type.Null()], {
    description: 'what the threshold was tested on; null when not a finite number',
  }),
  start: Timestamp,
  end: Timestamp,
  events: Type.Integer({ description: 'events in the window that made the value' }),
  trigger: Type.Union([Type.String(), Type.Null()], {
    description:
      'detection: the event log seq of the event that made the rule hold; other tools: the dedup key',
  }),
  incident_id: Type.String(),
  created_at: Timestamp,
});
