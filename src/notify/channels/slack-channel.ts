/**
 * Slack through an incoming webhook: the internal alert as Block Kit, with an "Acknowledge"
 * button linking the recipient's ack URL. Slack answers 200 `ok`; 400 invalid_payload,
 * 403 action_prohibited, 404 no_service / channel_not_found and 410 channel_is_archived will not
 * change on a retry; 429 (with Retry-After) and 5xx will.
 *
 * An incoming-webhook URL is a credential (its last path segment is the token), so errors show
 * it as `https://hooks.slack.com/services/T…/B…/***`.
 */
import { type Clock, systemClock } from '../../kernel/index.js';
import { type Channel, DeliveryError, type Notification } from '../notification.js';
import type { MessageTemplates } from '../templates.js';
import { DEFAULT_TIMEOUT_MS, displayUrl, postForDelivery } from './http-delivery.js';

/**
 * @example
 * slack:
 *   webhooks: { security-incidents: https://hooks.slack.com/services/T0/B0/xyz }
 *   timeout_ms: 10000
 */
export interface SlackChannelSettings {
  /**
   * Named incoming-webhook URLs, so a team channel's URL can live in settings (a secret) and the
   * notification's target be its name. A target that is itself an http(s) URL is used as it is.
   */
  readonly webhooks?: Readonly<Record<string, string>>;
  /** Default 10000. */
  readonly timeoutMs?: number;
}

export class SlackChannel implements Channel {
  readonly kind = 'slack' as const;

  constructor(
    private readonly settings: SlackChannelSettings,
    private readonly templates: MessageTemplates,
    private readonly clock: Clock = systemClock,
  ) {}

  async deliver(notification: Notification): Promise<void> {
    const raw = this.settings.webhooks?.[notification.target] ?? notification.target;
    const secrets = [raw, ...Object.values(this.settings.webhooks ?? {})];
    const url = parseHttpUrl(raw);
    if (url === undefined) {
      throw new DeliveryError(
        `slack delivery to ${notification.recipient} failed: the target "${notification.target}" is neither a configured webhook name nor an incoming-webhook URL (a handle like @name cannot be paged through a webhook)`,
        false,
      );
    }
    await postForDelivery({
      channel: 'slack',
      shownTarget: displayUrl(raw, true),
      url,
      body: JSON.stringify(this.templates.slack(notification.message)),
      headers: {},
      timeoutMs: this.settings.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      secrets,
      clock: this.clock,
    });
  }
}

export function parseHttpUrl(raw: string): URL | undefined {
  try {
    const url = new URL(raw);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}
