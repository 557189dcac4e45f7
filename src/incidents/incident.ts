/**
 * The incident record as the rest of Firebreak and the API see it. Field names are the API's
 * (snake_case), so the record crosses the HTTP boundary without a second shape.
 */
import type { ResponseRole, Severity } from '../policy/index.js';
import type { Classification } from './classification.js';
import type { IncidentStatus, Phase } from './lifecycle.js';

export interface Incident {
  /** INC-YYYY-NNN: the year it was opened and its number in that year, gapless. */
  readonly id: string;
  readonly title: string;
  readonly summary: string;
  readonly severity: Severity;
  readonly status: IncidentStatus;
  readonly phase: Phase;
  readonly detected_at: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly created_by: string;
  /** When each status was reached; absent until it is. */
  readonly reached: Readonly<Partial<Record<Exclude<IncidentStatus, 'detected'>, string>>>;
  /** From the policy: acknowledge by, and respond by (the severity's response time). */
  readonly ack_by: string;
  readonly respond_by: string;
  readonly classification: Classification | null;
  readonly roles: Readonly<Partial<Record<ResponseRole, string>>>;
  /** Bumped on every change. */
  readonly version: number;
}

export type TimelineKind = TimelineRecord['kind'];

/**
 * How an alert came to an incident: it opened it, it is of the same rule and group as one of
 * its alerts, or it shares an entity (a source.ip, a user.name) with one of them.
 */
export type AlertJoinedVia = 'opened' | 'rule_group' | 'entity';

/** The timeline's record of one alert joining an incident. */
export type AlertJoinedData = {
  readonly rule: string;
  readonly fingerprint: string;
  readonly severity: Severity;
  readonly group: Readonly<Record<string, string>>;
  /** What the rule's threshold was tested on; null when it was not a finite number. */
  readonly value: number | null;
  /** ISO 8601: the end of the alert's window (the event time it held at). */
  readonly end: string;
  readonly via: AlertJoinedVia;
  /** For `via: 'entity'`: the field and value it shares with the incident's alerts. */
  readonly entity?: { readonly field: string; readonly value: string };
};

/**
 * The timeline's record of what another tool said about an alert it sent: acknowledged or
 * resolved there. Recorded only; the incident's own status is the responders' to change.
 */
export type OutsideAlertData = {
  /** The tool: `alertmanager` or `pagerduty`. */
  readonly source: string;
  readonly dedup_key: string;
  /** Which occurrence of the key (a trigger after a resolve is the next one). */
  readonly occurrence: number;
  /** The Firebreak alert it became. */
  readonly fingerprint: string;
  readonly action: 'acknowledged' | 'resolved';
};

/**
 * The timeline's record of a notification the outbox gave up on (dead-lettered): after its last
 * retry, or at once when the receiver refused it for good. Kind and channel are notify's words
 * (page, email ...), kept as text here because incidents come before notify.
 */
export type NotificationFailedData = {
  readonly notification_id: string;
  readonly kind: string;
  readonly channel: string;
  readonly recipient: string;
  readonly attempts: number;
  /** The last failure, as the channel reported it. */
  readonly error: string;
};

/**
 * The timeline's record of a playbook run moving (README "Containment"): proposed, started, a
 * step waiting for approval, approved, done, failed and retrying, refused, undone. `summary`
 * is the one line a responder reads; the run itself (GET /v1/playbook-runs/{id}) has the rest.
 */
export type PlaybookRunData = {
  readonly run_id: string;
  readonly playbook: string;
  readonly event: string;
  readonly summary: string;
  /** The step it is about, when it is about one. */
  readonly step?: string;
  readonly direction?: 'forward' | 'undo';
};

/** One typed record of what happened to an incident, who did it and when. */
export type TimelineRecord = {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
} & (
  | { readonly kind: 'created'; readonly data: { severity: Severity; title: string } }
  | {
      readonly kind: 'transitioned';
      readonly data: { from: IncidentStatus; to: IncidentStatus; reason?: string };
    }
  | {
      readonly kind: 'classified';
      readonly data: { from: Severity; to: Severity; reason?: string; reasoning: readonly string[] };
    }
  | {
      readonly kind: 'role_assigned';
      readonly data: { role: ResponseRole; person: string; previous?: string };
    }
  | { readonly kind: 'note_added'; readonly data: { text: string } }
  | { readonly kind: 'alert_joined'; readonly data: AlertJoinedData }
  | { readonly kind: 'outside_alert'; readonly data: OutsideAlertData }
  | { readonly kind: 'notification_failed'; readonly data: NotificationFailedData }
  | { readonly kind: 'playbook'; readonly data: PlaybookRunData }
  | {
      /** An alert more severe than the incident raised it; the clocks restarted then. */
      readonly kind: 'severity_raised';
      readonly data: { from: Severity; to: Severity; rule: string; fingerprint: string };
    }
);

export const INCIDENT_ID_PATTERN = '^INC-\\d{4}-\\d{3,}$';

export function formatIncidentId(year: number, number: number): string {
  return `INC-${year}-${String(number).padStart(3, '0')}`;
}
