/**
 * The CLI's way to a running server: plain HTTP with the API key, and the server's error body
 * turned back into a FirebreakError so the CLI reports it like any other.
 */
import { ERROR_CATALOGUE, type ErrorCode, type ErrorDetail, FirebreakError } from '../kernel/index.js';

export interface ApiClientOptions {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
}

export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
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
    const url = new URL(path, this.options.baseUrl);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      // fetch wraps the socket error; with several addresses it is an AggregateError of them.
      const cause = (error as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
      const reason = cause?.code ?? cause?.errors?.[0]?.code ?? (error as Error).message;
      throw new FirebreakError('FB_ERR_SERVER_UNREACHABLE', { url: this.options.baseUrl, reason });
    }
    const text = await response.text();
    const parsed = text ? safeJson(text) : undefined;
    if (!response.ok) throw fromErrorBody(response.status, parsed);
    return parsed as T;
  }
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
