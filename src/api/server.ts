/**
 * The HTTP server: Fastify with strict validation (no coercion of bodies, no silent removal of
 * unknown fields), one error shape, API-key auth on every /v1 route and the OpenAPI document
 * at /openapi.json.
 */
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AuditLog } from '../audit/index.js';
import { DecisionService } from '../connectors/index.js';
import { AlertQuery, type IncidentService, type OutsideAlertService } from '../incidents/index.js';
import type { EventLog } from '../ingest/index.js';
import type { Clock } from '../kernel/index.js';
import type { AckLinks, Outbox } from '../notify/index.js';
import type { ResponsePolicy } from '../policy/index.js';
import type { PlaybookRunner } from '../respond/index.js';
import type { SecretStore, Store } from '../store/index.js';
import type { ApiKeyService } from './api-keys.js';
import { requireScope } from './auth.js';
import { installErrorHandling } from './http-errors.js';
import { IngestGate, type IngestGateOptions } from './ingest-gate.js';
import { type DetectionMetrics, metricsRoutes, type SyslogMetrics } from './metrics.js';
import { ackRoutes } from './routes/ack-routes.js';
import { adminRoutes } from './routes/admin-routes.js';
import { alertRoutes } from './routes/alert-routes.js';
import { decisionRoutes } from './routes/decision-routes.js';
import { eventRoutes } from './routes/event-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { incidentRoutes } from './routes/incident-routes.js';
import { notificationRoutes } from './routes/notification-routes.js';
import { playbookRoutes } from './routes/playbook-routes.js';
import { secretRoutes } from './routes/secret-routes.js';
import { webhookRoutes } from './routes/webhook-routes.js';

export interface ServerDeps {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly incidents: IncidentService;
  /** GET /v1/alerts and /v1/incidents/{id}/alerts read it; by default a reader over `store`. */
  readonly alerts?: AlertQuery;
  /** /v1/decisions and /v1/switches; by default a service over `store`. */
  readonly decisions?: DecisionService;
  readonly keys: ApiKeyService;
  /** The durable event log: POST /v1/events appends to it, GET /v1/events searches it. */
  readonly events: EventLog;
  /** Called after POST /v1/events appended events (the detection service wakes up). */
  readonly onAppended?: () => void;
  /** Alertmanager's webhook and PagerDuty Events API v2 events go to it. */
  readonly outside: OutsideAlertService;
  readonly policy: ResponsePolicy;
  readonly clock: Clock;
  readonly version: string;
  readonly bodyLimitBytes: number;
  /** Pino options, or false for no request log (tests). */
  readonly logger: boolean | { level: string };
  readonly auditCheckTtlMs?: number;
  /** The detection service's position and counters: its lag gates ingest, /metrics shows them. */
  readonly detection?: () => Promise<DetectionMetrics>;
  /** The syslog listener's counters, when it runs. */
  readonly syslog?: () => SyslogMetrics;
  /** Backpressure limits (ingest/gate defaults otherwise). */
  readonly ingestLimits?: Omit<IngestGateOptions, 'lag'>;
  /** The gate to share with other sources (the syslog listener); else one is made from the above. */
  readonly gate?: IngestGate;
  /** One-click acknowledgement links: /v1/ack/{token} exists only when given (needs a public URL). */
  readonly ackLinks?: AckLinks;
  /** The paging outbox: GET /v1/incidents/{id}/notifications reads it, when given. */
  readonly outbox?: Outbox;
  /** Connector secrets: /v1/secrets exists only when given. */
  readonly secrets?: SecretStore;
  /** Playbooks and their runs: /v1/playbooks and /v1/playbook-runs exist only when given. */
  readonly runner?: PlaybookRunner;
}

function makeAjv(coerceTypes: false | 'array'): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes,
    removeAdditional: false,
    useDefaults: true,
    strict: false,
  });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv;
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: deps.bodyLimitBytes,
    logger: deps.logger,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Bodies are checked exactly as sent; query strings arrive as text, so they alone are coerced.
  const bodyAjv = makeAjv(false);
  const queryAjv = makeAjv('array');
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema as object),
  );
  // JSON only: a text/plain body is refused with 415 rather than validated as a string.
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app, deps.bodyLimitBytes);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Firebreak API',
        version: deps.version,
        description: 'Security incident response for online shops. Send `Authorization: Bearer <API key>`.',
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'fbk_<id>_<secret>' } },
      },
      security: [{ apiKey: [] }],
    },
  });

  const detection = deps.detection ?? (async () => ({ position: 0, lag: 0, alerts: 0, incidentsCreated: 0 }));
  const gate =
    deps.gate ?? new IngestGate({ ...deps.ingestLimits, lag: async () => (await detection()).lag });

  await app.register(healthRoutes, {
    gate,
    store: deps.store,
    audit: deps.audit,
    incidents: deps.incidents,
    clock: deps.clock,
    version: deps.version,
    ...(deps.auditCheckTtlMs === undefined ? {} : { auditCheckTtlMs: deps.auditCheckTtlMs }),
  });
  await app.register(metricsRoutes, { gate, detection, ...(deps.syslog ? { syslog: deps.syslog } : {}) });
  await app.register(incidentRoutes, { incidents: deps.incidents, keys: deps.keys });
  await app.register(alertRoutes, {
    alerts: deps.alerts ?? new AlertQuery({ store: deps.store }),
    keys: deps.keys,
  });
  await app.register(decisionRoutes, {
    decisions:
      deps.decisions ?? new DecisionService({ store: deps.store, clock: deps.clock, audit: deps.audit }),
    keys: deps.keys,
  });
  await app.register(adminRoutes, { keys: deps.keys, audit: deps.audit, store: deps.store });
  if (deps.secrets) await app.register(secretRoutes, { secrets: deps.secrets, keys: deps.keys });
  if (deps.runner) await app.register(playbookRoutes, { runner: deps.runner, keys: deps.keys });
  await app.register(eventRoutes, {
    events: deps.events,
    keys: deps.keys,
    clock: deps.clock,
    gate,
    ...(deps.onAppended ? { onAppended: deps.onAppended } : {}),
  });

  await app.register(webhookRoutes, { outside: deps.outside, keys: deps.keys, gate });
  if (deps.ackLinks) await app.register(ackRoutes, { ackLinks: deps.ackLinks, incidents: deps.incidents });
  if (deps.outbox) {
    await app.register(notificationRoutes, {
      outbox: deps.outbox,
      incidents: deps.incidents,
      keys: deps.keys,
    });
  }

  app.get(
    '/v1/policy',
    {
      onRequest: requireScope(deps.keys, 'read'),
      schema: { tags: ['policy'], summary: 'The response policy in force' },
    },
    async () => deps.policy,
  );
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.ready();
  return app;
}
