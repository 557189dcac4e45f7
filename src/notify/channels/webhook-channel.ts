/**
 * The generic webhook: the internal alert as a stable JSON body (templates.ts WebhookBody),
 * POSTed to the notification's target URL and signed exactly the way PagerDuty signs its v3
 * webhooks, so a receiver's existing PagerDuty verification code works unchanged:
 *
 *   X-Firebreak-Signature: v1=<hex>,v1=<hex>              (one per secret, in settings order)
 *   X-Firebreak-Timestamp: 1767607200                     (Unix seconds, when sent)
 *   Idempotency-Key: <the notification's idempotency key> (the same on every retry)
 *
 * where each `<hex>` is HMAC-SHA256(secret, rawBody). The timestamp is also inside the signed
 * body (`sent_at`), so a receiver can refuse a captured request replayed later (reject a
 * `sent_at` more than 5 minutes off) without a signature scheme of its own. While a secret is
 * rotated, list both: the receiver accepts the request when any `v1=` signature matches.
 */
import { createHmac } from 'node:crypto';
import { type Clock, systemClock } from '../../kernel/index.js';
import { type Channel, DeliveryError, type Notification } from '../notification.js';
import type { MessageTemplates } from '../templates.js';
import { DEFAULT_TIMEOUT_MS, displayUrl, postForDelivery } from './http-delivery.js';
import { parseHttpUrl } from './slack-channel.js';

export const SIGNATURE_HEADER = 'x-firebreak-signature';
export const TIMESTAMP_HEADER = 'x-firebreak-timestamp';

/**
 * @example
 * webhook:
 *   secrets: [new-secret, old-secret] # both sign while receivers move to the new one
 */
export interface WebhookChannelSettings {
  /** Signing secrets, all used side by side; at least one. */
  readonly secrets: readonly string[];
  /** Default 10000. */
  readonly timeoutMs?: number;
}

/**
 * The signature header value of a body: PagerDuty's v3 format, one `v1=` per secret.
 *
 * @example
 * signWebhook('{"a":1}', ['s1', 's0']) // 'v1=9f…,v1=3c…'
 */
export function signWebhook(body: string, secrets: readonly string[]): string {
  return secrets.map((secret) => `v1=${createHmac('sha256', secret).update(body).digest('hex')}`).join(',');
}

export class WebhookChannel implements Channel {
  readonly kind = 'webhook' as const;

  constructor(
    private readonly settings: WebhookChannelSettings,
    private readonly templates: MessageTemplates,
    private readonly clock: Clock = systemClock,
  ) {
    if (settings.secrets.length === 0) throw new RangeError('webhook channel: at least one signing secret');
  }

  async deliver(notification: Notification): Promise<void> {
    const url = parseHttpUrl(notification.target);
    const shownTarget = displayUrl(notification.target);
    if (url === undefined) {
      throw new DeliveryError(
        `webhook delivery to ${shownTarget} failed: the target is not an http(s) URL`,
        false,
      );
    }
    const now = this.clock.now();
    const timestamp = Math.floor(now.getTime() / 1000);
    // sent_at inside the signed body: the receiver's replay check is covered by the signature.
    const body = JSON.stringify({
      ...this.templates.webhookBody(notification),
      sent_at: new Date(timestamp * 1000).toISOString(),
    });
    await postForDelivery({
      channel: 'webhook',
      shownTarget,
      url,
      body,
      headers: {
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: signWebhook(body, this.settings.secrets),
        'idempotency-key': notification.idempotencyKey,
      },
      timeoutMs: this.settings.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      secrets: this.settings.secrets,
      clock: this.clock,
    });
  }
}
