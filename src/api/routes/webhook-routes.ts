/**
 * Alerts from other tools (README "Alerts from other tools"):
 *
 *  - POST /v1/webhooks/alertmanager: Prometheus Alertmanager's webhook_config (payload version
 *    4), authenticated like every /v1 route (`Authorization: Bearer`, scope `ingest`, which
 *    Alertmanager sends through its http_config), answering in Firebreak's shapes;
 *  - POST /v2/enqueue: PagerDuty's Events API v2, speaking its wire format: the `routing_key` in
 *    the body is the credential (a Firebreak API key with scope `ingest`), 202 with the
 *    `dedup_key` on success and 400 `{status: "invalid event", message, errors}` otherwise, as
 *    PagerDuty documents. A sender of that API knows no other answers.
 *
 * Both hand the payload to OutsideAlertService, which keeps PagerDuty's dedup rules.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { parseIsoTime } from '../../events/index.js';
import type { OutsideAlertService, PagerDutyEvent } from '../../incidents/index.js';
import { type FirebreakError, isFirebreakError } from '../../kernel/index.js';
import { type ApiKeyService, hasScope, type Principal } from '../api-keys.js';
import { actorOf, requireScope } from '../auth.js';
import { errorBody, HTTP_STATUS, toFirebreakError } from '../http-errors.js';
import { admitIngest, type IngestGate } from '../ingest-gate.js';
import { AUTH_ERRORS, ErrorSchema } from '../schemas.js';

export interface WebhookRoutesOptions {
  readonly outside: OutsideAlertService;
  readonly keys: ApiKeyService;
  /** Backpressure, shared with POST /v1/events. */
  readonly gate: IngestGate;
}

/** A notification carries the whole group; Alertmanager's max_alerts bounds it at the source. */
export const ALERTMANAGER_MAX_BODY_BYTES = 1024 * 1024;
export const ALERTMANAGER_MAX_ALERTS = 1000;
/** PagerDuty's documented limit on an Events API v2 payload. */
export const PAGERDUTY_MAX_BODY_BYTES = 512 * 1024;

const Labels = Type.Record(Type.String(), Type.String({ maxLength: 4096 }));

// Open objects: Alertmanager adds fields over time and other senders (Grafana) add their own.
const AlertmanagerBody = Type.Object(
  {
    version: Type.Enum(['4'], { description: 'the webhook payload version; 4 is the one there is' }),
    groupKey: Type.String({ minLength: 1, maxLength: 4096 }),
    truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
    status: Type.Enum(['firing', 'resolved']),
    receiver: Type.String(),
    groupLabels: Labels,
    commonLabels: Labels,
    commonAnnotations: Labels,
    externalURL: Type.String(),
    alerts: Type.Array(
      Type.Object({
        status: Type.Enum(['firing', 'resolved']),
        labels: Labels,
        annotations: Type.Optional(Labels),
        startsAt: Type.Optional(Type.String({ maxLength: 64 })),
        endsAt: Type.Optional(Type.String({ maxLength: 64 })),
        generatorURL: Type.Optional(Type.String()),
        fingerprint: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
      }),
      { maxItems: ALERTMANAGER_MAX_ALERTS },
    ),
  },
  { description: 'Alertmanager webhook payload, version 4, as its webhook_config sends it' },
);

const OutsideResultSchema = Type.Object({
  dedup_key: Type.String(),
  outcome: Type.Enum(['opened', 'deduplicated', 'acknowledged', 'resolved', 'ignored']),
  occurrence: Type.Union([Type.Integer(), Type.Null()]),
  fingerprint: Type.Union([Type.String(), Type.Null()]),
  incident: Type.Union([Type.String(), Type.Null()]),
  intake: Type.Optional(Type.String()),
});

const AlertmanagerAnswer = Type.Object({
  alerts: Type.Array(OutsideResultSchema, { description: 'one per alert of the notification, in order' }),
});

const PagerDutyAccepted = Type.Object({
  status: Type.String(),
  message: Type.String(),
  dedup_key: Type.String(),
});
const PagerDutyThrottled = Type.Object({ status: Type.String(), message: Type.String() });
const PagerDutyInvalid = Type.Object({
  status: Type.String(),
  message: Type.String(),
  errors: Type.Array(Type.String()),
});

export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (app, options) => {
  await app.register(alertmanagerRoute, options);
  await app.register(pagerDutyRoute, options);
};

const alertmanagerRoute: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (
  app,
  { outside, keys, gate },
) => {
  // The route's own body limit, named in its 413.
  setErrorHandler(app, (raw, contentType) => {
    const error = toFirebreakError(raw, ALERTMANAGER_MAX_BODY_BYTES, contentType);
    return { status: HTTP_STATUS[error.kind], body: errorBody(error), error };
  });

  app.post(
    '/v1/webhooks/alertmanager',
    {
      onRequest: [requireScope(keys, 'ingest'), admitIngest(gate)],
      bodyLimit: ALERTMANAGER_MAX_BODY_BYTES,
      schema: {
        tags: ['webhooks'],
        summary: 'Prometheus Alertmanager webhook (payload version 4): alerts in, incidents out',
        description:
          "Each alert `firing` opens a Firebreak alert unless its groupKey and fingerprint have an open one; each `resolved` resolves that open alert (recorded on the incident's timeline; the incident stays as the responders leave it).",
        body: AlertmanagerBody,
        response: {
          200: AlertmanagerAnswer,
          ...AUTH_ERRORS,
          413: ErrorSchema,
          415: ErrorSchema,
          429: ErrorSchema,
          503: ErrorSchema,
        },
      },
    },
    async (request) => {
      const results = await outside.alertmanager(request.body, actorOf(request));
      return { alerts: results.map(({ source: _source, ...rest }) => rest) };
    },
  );
};

const pagerDutyRoute: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (
  app,
  { outside, keys, gate },
) => {
  // Every failure in PagerDuty's shape: its senders read nothing else.
  setErrorHandler(app, (raw, contentType) => {
    const error = toFirebreakError(raw, PAGERDUTY_MAX_BODY_BYTES, contentType);
    const status = error.kind === 'internal' || error.kind === 'integrity' ? 500 : 400;
    const body =
      status === 500
        ? { status: 'error', message: 'Internal Server Error', errors: [error.message] }
        : invalidEvent([error.message]);
    return { status, body, error };
  });

  app.post(
    '/v2/enqueue',
    {
      bodyLimit: PAGERDUTY_MAX_BODY_BYTES,
      // Before the body is read. PagerDuty answers every throttling with 429, so both refusals do.
      onRequest: async (_request, reply) => {
        const refusal = await gate.admit(reply);
        if (refusal === undefined) return;
        return reply
          .status(429)
          .header('retry-after', String(refusal.retryAfter))
          .send({ status: 'throttle exceeded', message: refusal.error.message });
      },
      schema: {
        tags: ['webhooks'],
        summary: 'PagerDuty Events API v2 (alert events): trigger, acknowledge, resolve',
        description:
          'The `routing_key` is a Firebreak API key with scope `ingest`. Answers as PagerDuty does: 202 `{status, message, dedup_key}`, 400 `{status: "invalid event", message, errors}`, or 429 `{status: "throttle exceeded", message}` with `Retry-After` when Firebreak is busy or detection is behind.',
        security: [],
        body: Type.Unknown({ description: 'a PagerDuty Events API v2 alert event' }),
        response: { 202: PagerDutyAccepted, 400: PagerDutyInvalid, 429: PagerDutyThrottled },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (!isObject(body)) return reply.status(400).send(invalidEvent(['Event object is invalid']));
      // The credential first: a sender without a key learns nothing about what a valid event is.
      const principal = await routingKeyPrincipal(keys, body.routing_key);
      if (typeof principal === 'string') return reply.status(400).send(invalidEvent([principal]));
      const checked = checkPagerDutyEvent(body);
      if (!('event' in checked)) return reply.status(400).send(invalidEvent(checked.errors));
      const result = await outside.pagerduty(checked.event, principal.actor);
      return reply
        .status(202)
        .send({ status: 'success', message: 'Event processed', dedup_key: result.dedup_key });
    },
  );
};

function invalidEvent(errors: readonly string[]) {
  return { status: 'invalid event', message: 'Event object is invalid', errors: [...errors] };
}

function setErrorHandler(
  app: FastifyInstance,
  answer: (
    raw: FastifyError,
    contentType: string,
  ) => { status: number; body: unknown; error: FirebreakError },
): void {
  app.setErrorHandler((raw: FastifyError, request, reply) => {
    const { status, body, error } = answer(raw, request.headers['content-type'] ?? 'none');
    if (error.kind === 'internal' || error.kind === 'integrity') {
      request.log.error({ err: raw, reference: error.params.reference }, 'request failed');
    }
    return reply.status(status).send(body);
  });
}

/** The API key the routing key is, with scope `ingest`; or why not, as PagerDuty words it. */
async function routingKeyPrincipal(keys: ApiKeyService, routingKey: unknown): Promise<Principal | string> {
  if (typeof routingKey !== 'string' || routingKey.trim() === '') return "'routing_key' is missing or blank";
  try {
    const principal = await keys.authenticate(routingKey);
    if (!hasScope(principal.scopes, 'ingest')) return "'routing_key' is not a key with scope ingest";
    return principal;
  } catch (error) {
    if (isFirebreakError(error) && error.kind === 'unauthorized') return "'routing_key' is invalid";
    throw error;
  }
}

const ACTIONS = ['trigger', 'acknowledge', 'resolve'] as const;
const PD_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
const DEDUP_KEY_MAX = 255;
const SUMMARY_MAX = 1024;
const FIELD_MAX = 1024;

/**
 * PagerDuty's rules for an alert event, its messages in its words: `event_action` one of three,
 * `dedup_key` at most 255 characters and required to acknowledge or resolve, and a trigger's
 * `payload` with `summary` (at most 1024), `source` and `severity`. A trigger without a
 * `dedup_key` gets a new one (a UUID), as PagerDuty generates it.
 */
export function checkPagerDutyEvent(
  body: Readonly<Record<string, unknown>>,
): { event: PagerDutyEvent } | { errors: string[] } {
  const errors: string[] = [];
  const action = body.event_action;
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
    errors.push("'event_action' is missing or invalid (must be trigger, acknowledge or resolve)");
  }
  const dedup = body.dedup_key;
  if (dedup !== undefined && (typeof dedup !== 'string' || dedup.length > DEDUP_KEY_MAX)) {
    errors.push(`'dedup_key' must be a string of at most ${DEDUP_KEY_MAX} characters`);
  } else if (
    (action === 'acknowledge' || action === 'resolve') &&
    (dedup === undefined || dedup.trim() === '')
  ) {
    errors.push("'dedup_key' is missing or blank");
  }
  let payload: PagerDutyEvent['payload'];
  if (action === 'trigger') {
    const p = body.payload;
    if (!isObject(p)) {
      errors.push("'payload' is missing or not an object");
    } else {
      const text = (name: string, max: number, required: boolean): string | undefined => {
        const v = p[name];
        if (v === undefined && !required) return undefined;
        if (typeof v !== 'string' || (required && v.trim() === '')) {
          errors.push(`'payload.${name}' is missing or blank`);
        } else if (v.length > max) {
          errors.push(`'payload.${name}' is longer than ${max} characters`);
        } else return v;
        return undefined;
      };
      const summary = text('summary', SUMMARY_MAX, true);
      const source = text('source', FIELD_MAX, true);
      const component = text('component', FIELD_MAX, false);
      const group = text('group', FIELD_MAX, false);
      text('class', FIELD_MAX, false);
      const severity = p.severity;
      if (typeof severity !== 'string' || !(PD_SEVERITIES as readonly string[]).includes(severity)) {
        errors.push("'payload.severity' is missing or invalid (must be critical, error, warning or info)");
      }
      const timestamp = p.timestamp;
      if (
        timestamp !== undefined &&
        (typeof timestamp !== 'string' || parseIsoTime(timestamp) === undefined)
      ) {
        errors.push("'payload.timestamp' is not an ISO 8601 time");
      }
      if (p.custom_details !== undefined && !isObject(p.custom_details)) {
        errors.push("'payload.custom_details' must be an object");
      }
      if (summary !== undefined && source !== undefined) {
        payload = {
          summary,
          source,
          severity: severity as (typeof PD_SEVERITIES)[number],
          ...(typeof timestamp === 'string' ? { timestamp } : {}),
          ...(component === undefined ? {} : { component }),
          ...(group === undefined ? {} : { group }),
        };
      }
    }
  }
  for (const list of ['images', 'links'] as const) {
    if (body[list] !== undefined && !Array.isArray(body[list])) errors.push(`'${list}' must be an array`);
  }
  if (errors.length > 0) return { errors };
  const dedupKey = typeof dedup === 'string' && dedup.trim() !== '' ? dedup : randomUUID();
  return {
    event: {
      event_action: action as PagerDutyEvent['event_action'],
      dedup_key: dedupKey,
      ...(payload === undefined ? {} : { payload }),
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
