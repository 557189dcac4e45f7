/**
 * The CLI's way to a running server: plain HTTP with the API key, and the server's error body
 * turned back into a FirebreakError so the CLI reports it like any other.
 */
import type { IngestAnswer } from '../ingest/index.js';
import { ERROR_CATALOGUE, type ErrorCode, type ErrorDetail, FirebreakError } from '../kernel/index.js';

export interface ApiClientOptions {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
}

export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  /** Throws FB_ERR_AUTH_MISSING when no key is set: a command can check before it reads its input. */
  requireKey(): string {
    if (!this.options.apiKey) {
      throw new FirebreakError(
        'FB_ERR_AUTH_MISSING',
        {},
        {
          details: [
            {
              path: 'FIREBREAK_API_KEY',
              message: 'set it, or pass --key; `firebreak serve` printed one on first start',
            },
          ],
        },
      );
    }
    return this.options.apiKey;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.fetch(
      method,
      path,
      {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body === undefined ? undefined : JSON.stringify(body),
    );
    const parsed = await readBody(response, this.options.baseUrl);
    if (!response.ok) throw fromErrorBody(response.status, parsed);
    return parsed as T;
  }

  /**
   * One `POST /v1/events` of an NDJSON body (gzip-compressed when `gzip`), for a caller that
   * retries: the server's answer, or its refusal with the status and `Retry-After`. Throws
   * FB_ERR_SERVER_UNREACHABLE when no answer came (refused, reset, timed out): the batch may or
   * may not be stored, so send it again with the same idempotency key.
   */
  async postEvents(body: Uint8Array, options: EventPostOptions): Promise<EventPostResult> {
    const response = await this.fetch(
      'POST',
      '/v1/events',
      {
        'content-type': 'application/x-ndjson',
        'idempotency-key': options.idempotencyKey,
        ...(options.gzip ? { 'content-encoding': 'gzip' } : {}),
      },
      body,
      options.timeoutMs,
    );
    const parsed = await readBody(response, this.options.baseUrl);
    if (response.ok) {
      return {
        ok: true,
        answer: parsed as IngestAnswer,
        replayed: response.headers.get('idempotent-replayed') === 'true',
      };
    }
    return {
      ok: false,
      status: response.status,
      retryAfter: response.headers.get('retry-after') ?? undefined,
      error: fromErrorBody(response.status, parsed),
    };
  }

  private async fetch(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | Uint8Array | undefined,
    timeoutMs = 30_000,
  ): Promise<Response> {
    const key = this.requireKey();
    const url = new URL(path, this.options.baseUrl);
    try {
      return await fetch(url, {
        method,
        headers: { authorization: `Bearer ${key}`, ...headers },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw unreachable(this.options.baseUrl, error);
    }
  }
}

export interface EventPostOptions {
  /** Names the batch: the server stores a batch sent again with the same key only once. */
  readonly idempotencyKey: string;
  /** The body is gzip-compressed. */
  readonly gzip: boolean;
  /** Default 30 s. */
  readonly timeoutMs?: number;
}

export type EventPostResult =
  | { readonly ok: true; readonly answer: IngestAnswer; readonly replayed: boolean }
  | {
      readonly ok: false;
      readonly status: number;
      /** The `Retry-After` header as sent (seconds or an HTTP date), if any. */
      readonly retryAfter: string | undefined;
      readonly error: FirebreakError;
    };

function unreachable(url: string, error: unknown): FirebreakError {
  // fetch wraps the socket error; with several addresses it is an AggregateError of them.
  const cause = (error as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
  const reason = cause?.code ?? cause?.errors?.[0]?.code ?? (error as Error).message;
  return new FirebreakError('FB_ERR_SERVER_UNREACHABLE', { url, reason }, { cause: error });
}

/** The body as JSON when it is JSON; a connection lost while it streams in is no answer at all. */
async function readBody(response: Response, url: string): Promise<unknown> {
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw unreachable(url, error);
  }
  return text ? safeJson(text) : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function fromErrorBody(status: number, body: unknown): FirebreakError {
  const e = (body as { error?: { code?: string; message?: string; details?: ErrorDetail[] } } | undefined)
    ?.error;
  if (e?.code && e.code in ERROR_CATALOGUE) {
    const error = new FirebreakError(e.code as ErrorCode, {}, { details: e.details ?? [] });
    // Keep the server's rendered message: it has the values filled in.
    error.message = e.message ?? error.message;
    return error;
  }
  return new FirebreakError('FB_ERR_INTERNAL', { reference: `HTTP ${status}` });
}
