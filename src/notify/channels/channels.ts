/**
 * The channel settings (one block per channel kind, each optional) and `createChannels`, which
 * builds the configured ones. The settings mirror firebreak.yaml's `channels:` section (wired in
 * src/config by the composition root); secrets (SMTP password, webhook secrets, routing keys,
 * Slack webhook URLs) live here and never in a Notification.
 */
import { type Clock, systemClock } from '../../kernel/index.js';
import type { Channel, ChannelKind } from '../notification.js';
import type { MessageTemplates } from '../templates.js';
import { EmailChannel, type EmailChannelSettings } from './email-channel.js';
import { PagerDutyChannel, type PagerDutyChannelSettings } from './pagerduty-channel.js';
import { SlackChannel, type SlackChannelSettings } from './slack-channel.js';
import { WebhookChannel, type WebhookChannelSettings } from './webhook-channel.js';

/**
 * @example
 * channels:
 *   email: { host: smtp.example.com, port: 587, starttls: required, from: firebreak@shop.example }
 *   slack: { webhooks: { security-incidents: https://hooks.slack.com/services/T0/B0/xyz } }
 *   webhook: { secrets: [s3cret-2026] }
 *   pagerduty: { routing_keys: { security: R0123... } }
 */
export interface ChannelSettings {
  readonly email?: EmailChannelSettings;
  readonly slack?: SlackChannelSettings;
  readonly webhook?: WebhookChannelSettings;
  readonly pagerduty?: PagerDutyChannelSettings;
}

export type Channels = Readonly<Partial<Record<ChannelKind, Channel>>>;

/** The channels whose settings are present, by kind. */
export function createChannels(
  settings: ChannelSettings,
  deps: { readonly templates: MessageTemplates; readonly clock?: Clock },
): Channels {
  const clock = deps.clock ?? systemClock;
  const channels: Partial<Record<ChannelKind, Channel>> = {};
  if (settings.email) channels.email = new EmailChannel(settings.email, deps.templates, clock);
  if (settings.slack) channels.slack = new SlackChannel(settings.slack, deps.templates, clock);
  if (settings.webhook) channels.webhook = new WebhookChannel(settings.webhook, deps.templates, clock);
  if (settings.pagerduty)
    channels.pagerduty = new PagerDutyChannel(settings.pagerduty, deps.templates, clock);
  return Object.freeze(channels);
}
