/**
 * The HTTP part shared by the Slack, webhook and PagerDuty channels: one POST with a timeout,
 * and the mapping of what went wrong to a DeliveryError that says whether to retry
 * (DESIGN.md style rule 4). Messages name the channel, the target and the cause, and never a
 * secret: every message passes through `redact` with the channel's secrets.
 */
import type { Clock } from '../../kernel/index.js';
import { DeliveryError } from '../notification.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface PostOptions {
  /** `slack`, `webhook`, `pagerduty`: the first word of every error message. */
  readonly channel: string;
  /** The target as it may be shown (see `displayUrl`): never the raw URL when it holds a token. */
  readonly shownTarget: string;
  readonly url: URL;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Statuses that mean accepted (default any 2xx). */
  readonly accepted?: (status: number) => boolean;
  /** Strings that must never appear in an error message. */
  readonly secrets: readonly string[];
  readonly clock: Clock;
}

/** Sends the request; resolves with the response text when accepted, else throws DeliveryError. */
export async function postForDelivery(options: PostOptions): Promise<string> {
  const { channel, shownTarget, secrets } = options;
  const fail = (cause: string, retryable: boolean, retryAfterS?: number): DeliveryError =>
    new DeliveryError(
      redact(`${channel} delivery to ${shownTarget} failed: ${cause}`, secrets),
      retryable,
      retryAfterS,
    );

  let response: Response;
  try {
    response = await fetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Firebreak', ...options.headers },
      body: options.body,
      // A redirect would re-send a signed body somewhere else; the user should configure the final URL.
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    throw fail(describeFetchError(error, options.timeoutMs), true);
  }

  let text = '';
  try {
    text = await response.text();
  } catch (error) {
    // The status line arrived but the body did not: judge by the status, say why the body is missing.
    if (isAccepted(response.status, options.accepted)) {
      throw fail(`the response body was cut off (${describeFetchError(error, options.timeoutMs)})`, true);
    }
  }
  const status = response.status;
  if (isAccepted(status, options.accepted)) return text;

  const said = text.trim() === '' ? '' : `: ${snippet(text)}`;
  if (status >= 300 && status < 400) {
    const location = response.headers.get('location');
    throw fail(
      `answered ${status} (a redirect${location ? ` to ${displayUrl(location)}` : ''}); configure the final URL`,
      false,
    );
  }
  const retryAfterS = parseRetryAfter(response.headers.get('retry-after'), options.clock);
  if (status === 408 || status === 429 || status >= 500) {
    const wait = retryAfterS === undefined ? '' : ` (retry after ${retryAfterS} s)`;
    throw fail(`answered ${status}${said}${wait}`, true, retryAfterS);
  }
  throw fail(`answered ${status}${said}; the receiver refused the message, retrying will not help`, false);
}

function isAccepted(status: number, accepted?: (status: number) => boolean): boolean {
  return accepted ? accepted(status) : status >= 200 && status < 300;
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const code = e?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${code})`;
  if (code) return `${code}${e.cause?.message ? ` (${e.cause.message})` : ''}`;
  return e?.cause?.message ?? e?.message ?? String(error);
}

/**
 * Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, clock: Clock): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - clock.now().getTime()) / 1000));
}

/**
 * A URL as it may appear in a message or log: no user info, no query, no fragment. With
 * `maskLastSegment` (Slack incoming webhooks, whose last path segment is the token), that segment
 * is replaced by `***`.
 */
export function displayUrl(raw: string, maskLastSegment = false): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return '(an invalid URL)';
  }
  let path = url.pathname;
  if (maskLastSegment) path = path.replace(/\/[^/]+\/?$/, '/***');
  return `${url.protocol}//${url.host}${path}`;
}

/** Replaces every secret (and its URL-encoded form) by `***`. */
export function redact(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  return out;
}

function snippet(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 200 ? `${one.slice(0, 200)}…` : one;
}
