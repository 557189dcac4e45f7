/**
 * Paging and escalation: who is told, when, through which channel, and the outbox that makes
 * sure they are (README "Paging and escalation").
 */
export {
  CHANNEL_KINDS,
  type Channel,
  type ChannelKind,
  DeliveryError,
  type InternalAlert,
  type Notification,
  type NotificationKind,
} from './notification.js';
