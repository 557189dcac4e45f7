/**
 * Paging and escalation: who is told, when, through which channel, and the outbox that makes
 * sure they are (README "Paging and escalation").
 */

export {
  ACK_LINK_PATH,
  ACK_LINK_TTL_MS,
  type AckLink,
  AckLinks,
  type AckLinksDeps,
  type AckLinkUse,
  ackLinkActor,
  hashToken as hashAckToken,
  type IncidentAcknowledger,
} from './ack-links.js';
export {
  type ChannelSettings,
  type Channels,
  createChannels,
  DEFAULT_TIMEOUT_MS as CHANNEL_DEFAULT_TIMEOUT_MS,
  EmailChannel,
  type EmailChannelSettings,
  PAGERDUTY_EVENTS_URL,
  PagerDutyChannel,
  type PagerDutyChannelSettings,
  SIGNATURE_HEADER as WEBHOOK_SIGNATURE_HEADER,
  SlackChannel,
  type SlackChannelSettings,
  signWebhook,
  TIMESTAMP_HEADER as WEBHOOK_TIMESTAMP_HEADER,
  WebhookChannel,
  type WebhookChannelSettings,
} from './channels/index.js';
export {
  EscalationService,
  type NotificationSink,
  type PagingRoutes,
  type Recipient,
} from './escalation-service.js';
export {
  CHANNEL_KINDS,
  type Channel,
  type ChannelKind,
  DeliveryError,
  type InternalAlert,
  type Notification,
  type NotificationKind,
} from './notification.js';
export {
  type EnqueueInput,
  type EnqueueResult,
  idempotencyKey,
  NOTIFICATION_STATUSES,
  type NotificationStatus,
  Outbox,
  type OutboxDeps,
  type OutboxStats,
  type StoredNotification,
} from './outbox.js';
export {
  backoffCeilingMs,
  type DeadLetterHook,
  type NotificationFailureRecorder,
  OUTBOX_ACTOR,
  OUTBOX_DEFAULTS,
  type OutboxRound,
  OutboxWorker,
  type OutboxWorkerOptions,
  recordOnTimeline,
} from './outbox-worker.js';
export { createPaging, type Paging, type PagingDeps } from './paging.js';
export {
  type LoadTemplatesOptions,
  loadTemplates,
  type MessageTemplates,
  PACKAGED_TEMPLATES_DIR,
  type RenderedEmail,
  type SlackMessage,
  TEMPLATE_FILES,
  TEMPLATE_VARIABLES,
  type WebhookBody,
} from './templates.js';
