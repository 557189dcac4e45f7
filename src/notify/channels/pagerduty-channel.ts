/**
 * PagerDuty Events API v2 (outbound): a page triggers a PagerDuty alert, an acknowledgement
 * acknowledges it and a resolution resolves it, all with `dedup_key` = the incident id, so one
 * Firebreak incident is one PagerDuty alert however many pages, escalations and reminders it
 * sends (PagerDuty folds repeated triggers into the open alert).
 *
 * Kinds: page, escalation, reminder, delivery_failed → trigger; acknowledged → acknowledge;
 * resolved → resolve. Severity: P0 critical, P1 error, P2 warning, P3 info.
 * PagerDuty answers 202 when it took the event; 400 (invalid event) will not change on a retry,
 * 429 (throttled) and 5xx will. The notification's target is the *name* of a routing key in
 * settings; the key itself is a secret and never appears in an error.
 */
import { type Clock, systemClock } from '../../kernel/index.js';
import type { Severity } from '../../policy/index.js';
import {
  type Channel,
  DeliveryError,
  internalAlertFields,
  type Notification,
  type NotificationKind,
} from '../notification.js';
import type { MessageTemplates } from '../templates.js';
import { DEFAULT_TIMEOUT_MS, displayUrl, postForDelivery } from './http-delivery.js';

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/**
 * @example
 * pagerduty:
 *   routing_keys: { security: R0123456789ABCDEF0123456789ABCDEF }
 */
export interface PagerDutyChannelSettings {
  /** Routing key (an Events API v2 integration key) by name; a notification's target is a name. */
  readonly routingKeys: Readonly<Record<string, string>>;
  /** Default PAGERDUTY_EVENTS_URL; tests point it at loopback. */
  readonly endpoint?: string;
  /** `payload.source`: the system the event is about. Default `firebreak`. */
  readonly source?: string;
  /** Default 10000. */
  readonly timeoutMs?: number;
}

export type PagerDutyAction = 'trigger' | 'acknowledge' | 'resolve';

export const PAGERDUTY_ACTIONS: Readonly<Record<NotificationKind, PagerDutyAction>> = {
  page: 'trigger',
  escalation: 'trigger',
  reminder: 'trigger',
  delivery_failed: 'trigger',
  // Folds into the incident's open alert (same dedup key), as a note a responder sees there.
  message: 'trigger',
  acknowledged: 'acknowledge',
  resolved: 'resolve',
};

export const PAGERDUTY_SEVERITIES: Readonly<Record<Severity, 'critical' | 'error' | 'warning' | 'info'>> = {
  P0: 'critical',
  P1: 'error',
  P2: 'warning',
  P3: 'info',
};

export class PagerDutyChannel implements Channel {
  readonly kind = 'pagerduty' as const;
  private readonly endpoint: URL;

  constructor(
    private readonly settings: PagerDutyChannelSettings,
    private readonly templates: MessageTemplates,
    private readonly clock: Clock = systemClock,
  ) {
    this.endpoint = new URL(settings.endpoint ?? PAGERDUTY_EVENTS_URL);
  }

  /** The Events API v2 body for a notification (exported for tests and `--dry-run`s). */
  eventFor(notification: Notification, routingKey: string): Record<string, unknown> {
    const a = notification.message;
    const action = PAGERDUTY_ACTIONS[notification.kind];
    const base = { routing_key: routingKey, event_action: action, dedup_key: a.incidentId };
    if (action !== 'trigger') return base;
    const links = [
      ...(a.incidentUrl ? [{ href: a.incidentUrl, text: `Incident ${a.incidentId} in Firebreak` }] : []),
      ...(a.ackUrl ? [{ href: a.ackUrl, text: 'Acknowledge in Firebreak' }] : []),
    ];
    return {
      ...base,
      payload: {
        summary: this.templates.pagerdutySummary(a),
        source: this.settings.source ?? 'firebreak',
        severity: PAGERDUTY_SEVERITIES[a.severity],
        timestamp: this.clock.now().toISOString(),
        component: 'firebreak',
        group: 'security-incidents',
        class: 'security incident',
        custom_details: { ...internalAlertFields(a), kind: a.kind },
      },
      client: 'Firebreak',
      ...(a.incidentUrl ? { client_url: a.incidentUrl } : {}),
      ...(links.length > 0 ? { links } : {}),
    };
  }

  async deliver(notification: Notification): Promise<void> {
    const routingKey = this.settings.routingKeys[notification.target];
    if (routingKey === undefined) {
      throw new DeliveryError(
        `pagerduty delivery to "${notification.target}" failed: no routing key of that name in the pagerduty settings (known: ${Object.keys(this.settings.routingKeys).join(', ') || 'none'})`,
        false,
      );
    }
    await postForDelivery({
      channel: 'pagerduty',
      shownTarget: `"${notification.target}" at ${displayUrl(this.endpoint.href)}`,
      url: this.endpoint,
      body: JSON.stringify(this.eventFor(notification, routingKey)),
      headers: {},
      timeoutMs: this.settings.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      secrets: Object.values(this.settings.routingKeys),
      clock: this.clock,
    });
  }
}
