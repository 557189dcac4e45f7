/** The four paging channels (email, Slack, generic webhook, PagerDuty) and their settings. */
export { type ChannelSettings, type Channels, createChannels } from './channels.js';
export { EmailChannel, type EmailChannelSettings, messageIdFor } from './email-channel.js';
export { DEFAULT_TIMEOUT_MS } from './http-delivery.js';
export {
  PAGERDUTY_ACTIONS,
  PAGERDUTY_EVENTS_URL,
  PAGERDUTY_SEVERITIES,
  type PagerDutyAction,
  PagerDutyChannel,
  type PagerDutyChannelSettings,
} from './pagerduty-channel.js';
export { SlackChannel, type SlackChannelSettings } from './slack-channel.js';
export {
  SIGNATURE_HEADER,
  signWebhook,
  TIMESTAMP_HEADER,
  WebhookChannel,
  type WebhookChannelSettings,
} from './webhook-channel.js';
