/**
 * GET /health, without a key: is the server up, can it reach its database, and the
 * ingest backpressure (detection's lag against its limit, requests in flight), and the
 * `security_status` the KCT plan's first assessment command reads
 * (`curl -s https://shop/health | jq '.security_status'`).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuditLog, AuditVerification } from '../../audit/index.js';
import type { IncidentService, SecuritySummary } from '../../incidents/index.js';
import type { Clock } from '../../kernel/index.js';
import type { Store } from '../../store/index.js';
import type { IngestGate } from '../ingest-gate.js';

export interface HealthRoutesOptions {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly incidents: IncidentService;
  readonly clock: Clock;
  readonly version: string;
  /** How long a verification of the audit chain is reused; /health is unauthenticated. */
  readonly auditCheckTtlMs?: number;
  /** Backpressure: its cached lag and requests in flight. */
  readonly gate: IngestGate;
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, options) => {
  const { store, audit, incidents, clock, gate } = options;
  const ttl = options.auditCheckTtlMs ?? 10_000;
  let cached: { at: number; result: AuditVerification } | undefined;

  const auditStatus = async () => {
    const now = clock.now().getTime();
    if (!cached || now - cached.at >= ttl) cached = { at: now, result: await audit.verify(store.db) };
    const { ok, entries, firstBad } = cached.result;
    return {
      intact: ok,
      entries,
      checked_at: new Date(cached.at).toISOString(),
      ...(firstBad ? { first_bad: firstBad } : {}),
    };
  };

  app.get(
    '/health',
    { schema: { tags: ['health'], summary: 'Liveness, database and security status' } },
    async (_request, reply) => {
      const reachable = await store.ping();
      if (!reachable) {
        return reply.status(503).send({
          status: 'unavailable',
          version: options.version,
          database: { reachable: false, dialect: store.dialect },
          security_status: null,
        });
      }
      const [auditChain, summary, ingest]: [
        Awaited<ReturnType<typeof auditStatus>>,
        SecuritySummary,
        Awaited<ReturnType<IngestGate['state']>>,
      ] = await Promise.all([auditStatus(), incidents.securitySummary(), gate.state()]);
      return {
        status: auditChain.intact && !ingest.backpressure ? 'ok' : 'degraded',
        version: options.version,
        database: { reachable: true, dialect: store.dialect },
        ingest,
        security_status: {
          audit_chain: auditChain,
          open_incidents: summary.open_by_severity,
          oldest_unacknowledged: summary.oldest_unacknowledged,
        },
      };
    },
  );
};
