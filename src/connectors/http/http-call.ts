/**
 * The one place the `http` connector talks to the network: Node's global fetch, bounded by the
 * step's AbortSignal and the connector's own timeout, with every answer sorted into success
 * (2xx), a failure worth retrying (a 5xx, 429, 408, a timeout, a refused connection) or one
 * that is not (any other 4xx, a redirect). Whatever it reports (URLs, vendor messages) has the
 * request's secrets replaced by `***` first, so no secret reaches a plan, an outcome or an error.
 */
import { ConnectorError, type RunContext } from '../../respond/index.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request as the recipes build it. With `***` in place of the secrets it is also the plan. */
export interface HttpCall {
  /** Names the vendor in messages: `cloudflare`, `stripe`, `requests.carrier_disable`. */
  readonly vendor: string;
  readonly method: HttpMethod;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Every secret in the call in every spelling it appears (raw, URL-encoded, base64 ...). */
  readonly secrets: readonly string[];
}

export interface HttpReply {
  readonly status: number;
  readonly headers: Headers;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
  readonly text: string;
}

/** How a vendor words its failures, and any status it treats differently. */
export interface VendorErrors {
  /** The vendor's own message from an error body (`errors[0].message`), or undefined. */
  message(reply: HttpReply): string | undefined;
  /** Overrides the default retry decision for a status (Stripe's 409, its Stripe-Should-Retry). */
  retryable?(reply: HttpReply): boolean | undefined;
}

/** What a call needs to know about the run: its key, its signal, and the connector's timeout. */
export interface CallContext {
  readonly run: RunContext;
  readonly timeoutMs: number;
}

const MAX_BODY_CHARS = 1_000_000;

/** Sends the call; the reply when the vendor answered 2xx, else a ConnectorError that says whether to retry. */
export async function callHttp(
  call: HttpCall,
  context: CallContext,
  errors: VendorErrors,
): Promise<HttpReply> {
  const shown = `${call.method} ${redact(call.url, call.secrets)}`;
  // The connector's own deadline, held in a variable for the whole call: AbortSignal.any keeps
  // only weak references to its sources, and a collected AbortSignal.timeout() never fires.
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new DOMException(`no answer within ${context.timeoutMs} ms`, 'TimeoutError')),
    context.timeoutMs,
  );
  const signal = AbortSignal.any([context.run.signal, deadline.signal]);
  try {
    return await send(call, shown, signal, context, errors);
  } finally {
    clearTimeout(timer);
    deadline.abort(); // lets go of the socket wait if anything still listens
  }
}

async function send(
  call: HttpCall,
  shown: string,
  signal: AbortSignal,
  context: CallContext,
  errors: VendorErrors,
): Promise<HttpReply> {
  let response: Response;
  try {
    response = await fetch(call.url, {
      method: call.method,
      headers: call.headers,
      ...(call.body === undefined ? {} : { body: call.body }),
      // Credentials travel in headers: a redirect is reported, never followed to another host.
      redirect: 'manual',
      signal,
    });
  } catch (error) {
    const reason = networkReason(error, signal, context);
    throw new ConnectorError(redact(`${call.vendor}: ${shown} failed: ${reason}`, call.secrets), true);
  }
  let text: string;
  try {
    text = (await response.text()).slice(0, MAX_BODY_CHARS);
  } catch (error) {
    const reason = networkReason(error, signal, context);
    throw new ConnectorError(
      redact(`${call.vendor}: ${shown} failed while reading the answer: ${reason}`, call.secrets),
      true,
    );
  }
  const reply: HttpReply = {
    status: response.status,
    headers: response.headers,
    json: parseJson(text),
    text,
  };
  if (reply.status >= 200 && reply.status < 300) return reply;
  const said = errors.message(reply) ?? (text.trim().slice(0, 200) || response.statusText);
  const retryable = errors.retryable?.(reply) ?? isRetryableStatus(reply.status);
  const redirect = reply.status >= 300 && reply.status < 400 ? ' (redirects are not followed)' : '';
  throw new HttpStatusError(
    redact(`${call.vendor}: ${shown} answered ${reply.status}${redirect}: ${said}`, call.secrets),
    retryable,
    reply.status,
  );
}

/** A vendor's non-2xx answer: a ConnectorError that also carries the status. */
export class HttpStatusError extends ConnectorError {
  constructor(
    message: string,
    retryable: boolean,
    readonly status: number,
  ) {
    super(message, retryable);
  }
}

/** True when the failure is the vendor answering this status. */
export function isStatus(error: unknown, status: number): boolean {
  return error instanceof HttpStatusError && error.status === status;
}

/** 5xx, 429 (rate limited) and 408 (request timeout) are worth another attempt; other statuses are not. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** The text with every secret (longest first, so overlapping ones mask fully) replaced by `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('***');
  }
  return out;
}

/** The spellings of a secret a request may carry: as is and URL-encoded (both flavours). */
export function secretForms(secret: string): string[] {
  return [
    ...new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]),
  ];
}

/**
 * The call as a curl command, for plans: `curl -X POST 'https://…' -H 'Authorization: Bearer ***' -d '…'`.
 * Secrets are masked here too, whatever the caller passed.
 */
export function curlLine(call: HttpCall): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const parts = ['curl', '-X', call.method, q(call.url)];
  for (const [name, value] of Object.entries(call.headers)) parts.push('-H', q(`${name}: ${value}`));
  if (call.body !== undefined) parts.push('-d', q(call.body));
  return redact(parts.join(' '), call.secrets);
}

/** Form encoding as Stripe reads it: `a=1&metadata[k]=v` (brackets left readable). */
export function formBody(fields: readonly (readonly [string, string])[]): string {
  return fields
    .map(
      ([key, value]) =>
        `${encodeURIComponent(key).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${encodeURIComponent(value)}`,
    )
    .join('&');
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function networkReason(error: unknown, signal: AbortSignal, context: CallContext): string {
  if (signal.aborted) {
    return context.run.signal.aborted
      ? 'the step timed out (aborted)'
      : `no answer within ${context.timeoutMs} ms (connectors.http.timeout_ms)`;
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
