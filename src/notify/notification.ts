/**
 * The contract between the parts of paging (README "Paging and escalation"): what a message
 * says, where it goes, and how a channel reports that it could not deliver it. The escalation
 * planner decides who is told; the outbox stores one `Notification` per recipient and channel;
 * the outbox worker hands each to its `Channel`.
 */
import type { Severity } from '../policy/index.js';

export const CHANNEL_KINDS = ['email', 'slack', 'webhook', 'pagerduty'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** Why a message is sent. */
export type NotificationKind =
  /** The first page of a level of the escalation matrix. */
  | 'page'
  /** Unacknowledged past the deadline: the next level (a backup, then the one above). */
  | 'escalation'
  /** A status-update reminder at the plan's cadence. */
  | 'reminder'
  /** The incident was acknowledged (PagerDuty acknowledge; optional elsewhere). */
  | 'acknowledged'
  /** The incident was resolved or closed (PagerDuty resolve). */
  | 'resolved'
  /** A notification was dead-lettered: raised to the commander. */
  | 'delivery_failed'
  /** A playbook step's message to responders (the notify connector). */
  | 'message';

/**
 * The plan's internal alert (both plans have one): what every page says. Rendered by the
 * channel's template into its own shape (an email, Block Kit, a JSON body).
 */
export interface InternalAlert {
  readonly kind: NotificationKind;
  readonly incidentId: string;
  readonly title: string;
  readonly severity: Severity;
  /** The incident's lifecycle status (detected, acknowledged ...). */
  readonly status: string;
  readonly summary: string;
  /** What is affected, in words (from the classification when there is one). */
  readonly impact: string;
  /** What is being done: the latest timeline entries, or "none yet". */
  readonly currentActions: string;
  /** ISO 8601: when the next update is due. */
  readonly nextUpdate: string;
  /** The incident commander's name, or "unassigned". */
  readonly commander: string;
  /** Who else is being told (names). */
  readonly team: readonly string[];
  /** ISO 8601: acknowledge by. */
  readonly ackBy: string;
  /** The one-click acknowledgement link for this recipient, when the server has a public URL. */
  readonly ackUrl?: string;
  /** Link to the incident in the console or API. */
  readonly incidentUrl?: string;
}

/**
 * The internal alert's fields in the snake_case of Firebreak's JSON (the signed webhook's body,
 * PagerDuty's custom_details): one spelling for every receiver that parses them.
 */
export function internalAlertFields(a: InternalAlert) {
  return {
    incident_id: a.incidentId,
    title: a.title,
    severity: a.severity,
    status: a.status,
    summary: a.summary,
    impact: a.impact,
    current_actions: a.currentActions,
    next_update: a.nextUpdate,
    commander: a.commander,
    team: [...a.team],
    ack_by: a.ackBy,
  };
}

/** One message to one recipient on one channel, as the outbox stores it. */
export interface Notification {
  readonly id: string;
  readonly incidentId: string;
  readonly kind: NotificationKind;
  readonly channel: ChannelKind;
  /** A roster person id, a stakeholder id, or the channel's name for team-wide channels. */
  readonly recipient: string;
  /** An email address, a URL, a PagerDuty routing key's name: never a secret itself. */
  readonly target: string;
  /** The same on every attempt; receivers drop repeats by it. */
  readonly idempotencyKey: string;
  readonly message: InternalAlert;
}

/**
 * A channel that could not deliver. `retryable`: a 5xx, a timeout, a refused connection, a
 * temporary SMTP failure (4xx reply); not retryable: the receiver refused the message itself
 * (a 4xx other than 408/429, an SMTP 5xx), which no retry will change.
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** Seconds the receiver asked to wait (Retry-After), when it said. */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** Delivers one notification; resolves once the receiver accepted it, else throws DeliveryError. */
export interface Channel {
  readonly kind: ChannelKind;
  deliver(notification: Notification): Promise<void>;
}
