/**
 * /v1/events: the shop's servers send events (scope `ingest`), responders search them (`read`).
 *
 * The ingest route reads its own bodies: JSON, NDJSON and gzip, with limits of its own
 * (INGEST_MAX_* in ingest/), instead of the API's 64 KiB JSON. The parsers are registered in
 * this plugin only, so every other route keeps Fastify's JSON parser and the global limit.
 * Auth runs in onRequest, before a parser reads a byte.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { parseIsoTime } from '../../events/index.js';
import {
  appendEventBatch,
  type BatchFormat,
  type EventBatch,
  type EventLog,
  INGEST_MEDIA_TYPES,
  parseEventBatch,
  parseEventQuery,
  readEventBody,
} from '../../ingest/index.js';
import { type Clock, FirebreakError } from '../../kernel/index.js';
import type { ApiKeyService } from '../api-keys.js';
import { principalOf, requireScope } from '../auth.js';
import { admitIngest, type IngestGate } from '../ingest-gate.js';
import {
  AUTH_ERRORS,
  ErrorSchema,
  EventSearchQuerySchema,
  EventSearchResultSchema,
  IngestAnswerSchema,
  IngestBody,
  IngestHeaders,
} from '../schemas.js';

export interface EventRoutesOptions {
  readonly events: EventLog;
  readonly keys: ApiKeyService;
  readonly clock: Clock;
  readonly onAppended?: () => void;
  /** Backpressure: refuses before the body is read; counts what is accepted and rejected. */
  readonly gate: IngestGate;
}

const tags = ['events'];
const MEDIA_TYPES = Object.keys(INGEST_MEDIA_TYPES);

/** What the ingest parsers hand the route: the batch, tagged so it cannot be mistaken for a JSON body. */
class ParsedBatch {
  constructor(readonly batch: EventBatch) {}
}

export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (
  app,
  { events, keys, clock, onAppended, gate },
) => {
  app.removeAllContentTypeParsers();
  for (const [mediaType, format] of Object.entries(INGEST_MEDIA_TYPES)) {
    app.addContentTypeParser(mediaType, (request: FastifyRequest, payload: IncomingMessage) =>
      readBatch(request, payload, format),
    );
  }
  app.addContentTypeParser('*', async (request: FastifyRequest) => {
    throw new FirebreakError('FB_ERR_UNSUPPORTED_MEDIA_TYPE', {
      contentType: JSON.stringify(request.headers['content-type'] ?? 'none'),
      accepted: MEDIA_TYPES.join(', '),
    });
  });

  app.post(
    '/v1/events',
    {
      onRequest: [requireScope(keys, 'ingest'), admitIngest(gate)],
      schema: {
        tags,
        summary: 'Send events; answered once the accepted ones are in the durable log',
        description:
          'Bulk semantics: good events are accepted, bad ones reported by index with the reason (still 200). A body that is not JSON at all is a 400. 503 (`FB_ERR_BACKPRESSURE`) when detection is too far behind, 429 (`FB_ERR_INGEST_BUSY`) when too many requests are in progress; both with `Retry-After`, and nothing is stored.',
        consumes: MEDIA_TYPES,
        headers: IngestHeaders,
        body: IngestBody,
        response: {
          200: IngestAnswerSchema,
          ...AUTH_ERRORS,
          413: ErrorSchema,
          415: ErrorSchema,
          429: ErrorSchema,
          503: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      // No body at all (no Content-Type, no length) reaches here without a parser.
      if (!(request.body instanceof ParsedBatch)) {
        throw new FirebreakError('FB_ERR_MALFORMED_JSON', { reason: 'the body is empty' });
      }
      const key = request.headers['idempotency-key'];
      const { answer, replayed } = await appendEventBatch(events, request.body.batch, {
        receivedAt: clock.now(),
        idempotency: key === undefined ? undefined : { keyId: principalOf(request).keyId, key },
      });
      if (replayed) reply.header('idempotent-replayed', 'true');
      else {
        gate.counts.accepted += answer.accepted;
        gate.counts.rejected += answer.rejected.length;
        if (answer.accepted > 0) onAppended?.();
      }
      return answer;
    },
  );

  app.get(
    '/v1/events',
    {
      onRequest: requireScope(keys, 'read'),
      schema: {
        tags,
        summary: 'Search the event log by event time and field values',
        querystring: EventSearchQuerySchema,
        response: { 200: EventSearchResultSchema, ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const { from, to, q, limit } = request.query;
      const where = parseEventQuery(q ?? '');
      if (typeof where === 'string') throw invalidQuery('query.q', where);
      const result = await events.search({
        from: timeParam('from', from),
        to: timeParam('to', to),
        where,
        limit: limit ?? 100,
      });
      return {
        events: result.events.map((e) => ({
          seq: e.seq,
          received_at: e.receivedAt,
          source: e.source,
          event: e.event,
        })),
        truncated: result.truncated,
      };
    },
  );
};

async function readBatch(
  request: FastifyRequest,
  payload: Readable,
  format: BatchFormat,
): Promise<ParsedBatch> {
  const body = await readEventBody(payload, {
    contentEncoding: request.headers['content-encoding'],
    contentLength: request.headers['content-length'],
  });
  return new ParsedBatch(parseEventBatch(body, format));
}

function invalidQuery(path: string, problem: string): FirebreakError {
  return new FirebreakError(
    'FB_ERR_VALIDATION',
    { summary: `${path} ${problem}` },
    { details: [{ path, message: problem }] },
  );
}

/** ISO 8601; a time without a zone is UTC, as in events' `@timestamp`. */
function timeParam(name: 'from' | 'to', text: string): Date {
  const ms = parseIsoTime(text);
  if (ms === undefined) {
    throw invalidQuery(`query.${name}`, `must be an ISO 8601 time such as 2026-03-02T10:00:00Z`);
  }
  return new Date(ms);
}
