/**
 * Backpressure for the ingest routes (POST /v1/events, the Alertmanager and PagerDuty webhooks):
 * when detection falls more than `lagLimit` events behind the log, or `maxInFlight` ingest
 * requests are already being served, a request is refused before its body is read, with a
 * `Retry-After`, instead of letting the log and the process's memory grow without bound.
 *
 * The lag (log head − detection position) costs a query; it is cached and refreshed at most
 * every `lagRefreshMs`, one refresh at a time, never once per request.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FirebreakError } from '../kernel/index.js';

/** Detection this many events behind the log refuses ingest (503). */
export const DEFAULT_LAG_LIMIT = 1_000_000;
/** Ingest requests served at once; the next one is refused (429). */
export const DEFAULT_MAX_IN_FLIGHT = 64;
/** How often the cached lag may be refreshed. */
export const DEFAULT_LAG_REFRESH_MS = 250;
/** Retry-After (seconds) of a refusal because detection is behind. */
export const BACKPRESSURE_RETRY_AFTER_S = 5;
/** Retry-After (seconds) of a refusal because too many requests are in progress. */
export const BUSY_RETRY_AFTER_S = 1;

export interface IngestGateOptions {
  /** Events in the log not yet processed by detection. */
  readonly lag: () => Promise<number>;
  readonly lagLimit?: number;
  readonly maxInFlight?: number;
  readonly lagRefreshMs?: number;
}

export interface IngestGateState {
  readonly lag: number;
  readonly lag_limit: number;
  readonly backpressure: boolean;
  readonly in_flight: number;
  readonly max_in_flight: number;
}

/** Counters since the server started, for /metrics. */
export interface IngestCounts {
  /** Events accepted into the log over HTTP. */
  accepted: number;
  /** Events rejected one by one in a batch over HTTP. */
  rejected: number;
  /** Requests refused because detection was behind. */
  backpressure: number;
  /** Requests refused because too many were in progress. */
  busy: number;
}

export type Refusal = {
  readonly status: 429 | 503;
  readonly retryAfter: number;
  readonly error: FirebreakError;
};

export class IngestGate {
  readonly lagLimit: number;
  readonly maxInFlight: number;
  readonly counts: IngestCounts = { accepted: 0, rejected: 0, backpressure: 0, busy: 0 };
  private readonly refreshMs: number;
  private inFlight = 0;
  private lag = 0;
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<number> | undefined;

  constructor(private readonly options: IngestGateOptions) {
    this.lagLimit = options.lagLimit ?? DEFAULT_LAG_LIMIT;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.refreshMs = options.lagRefreshMs ?? DEFAULT_LAG_REFRESH_MS;
  }

  /** The lag, from the cache unless it is older than the refresh interval. */
  async currentLag(): Promise<number> {
    if (performance.now() - this.refreshedAt < this.refreshMs) return this.lag;
    this.refreshing ??= this.options
      .lag()
      .then((lag) => {
        this.lag = lag;
        this.refreshedAt = performance.now();
        return lag;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  async state(): Promise<IngestGateState> {
    const lag = await this.currentLag();
    return {
      lag,
      lag_limit: this.lagLimit,
      backpressure: lag > this.lagLimit,
      in_flight: this.inFlight,
      max_in_flight: this.maxInFlight,
    };
  }

  /**
   * Takes a slot for the request, or says why not. A taken slot is given back when the
   * response closes (sent, failed or aborted).
   */
  async admit(reply: FastifyReply): Promise<Refusal | undefined> {
    const lag = await this.currentLag();
    if (lag > this.lagLimit) {
      this.counts.backpressure += 1;
      return {
        status: 503,
        retryAfter: BACKPRESSURE_RETRY_AFTER_S,
        error: new FirebreakError('FB_ERR_BACKPRESSURE', {
          lag,
          limit: this.lagLimit,
          retryAfter: BACKPRESSURE_RETRY_AFTER_S,
        }),
      };
    }
    if (this.inFlight >= this.maxInFlight) {
      this.counts.busy += 1;
      return {
        status: 429,
        retryAfter: BUSY_RETRY_AFTER_S,
        error: new FirebreakError('FB_ERR_INGEST_BUSY', {
          limit: this.maxInFlight,
          retryAfter: BUSY_RETRY_AFTER_S,
        }),
      };
    }
    this.inFlight += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
    };
    reply.raw.once('close', release);
    return undefined;
  }
}

/**
 * An onRequest hook (after auth) refusing with the catalogue error and its Retry-After; the
 * route's error handler gives it the route's shape.
 */
export function admitIngest(gate: IngestGate) {
  return async (_request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const refusal = await gate.admit(reply);
    if (refusal === undefined) return;
    reply.header('retry-after', String(refusal.retryAfter));
    throw refusal.error;
  };
}
