/**
 * Who is told, and when: the policy's escalation matrix and status-update cadence turned into
 * pages now and timers for later (README "Paging and escalation"). Pure: an incident and the
 * time in, audiences and due times out; the escalation service stores and runs them.
 *
 * The levels, for an incident of severity S:
 *   1. at once (or at a later step's `within`): the roles the matrix names for S, their primary
 *      on-call person, and its stakeholders;
 *   2. not acknowledged by the incident's ack deadline: the same roles' backups;
 *   3. still not acknowledged one ack window later (the time from detection to the deadline,
 *      at least 5 minutes): everyone the matrix names for P0 (primaries and backups, and the
 *      leadership stakeholders), and again every ack window until someone acknowledges.
 * A change of severity starts over from level 1 of the new severity (its clocks restart, as
 * the incident's own deadlines do); acknowledgement stops escalation; resolution stops the
 * reminders too.
 */
import { RESPONSE_ROLES, type ResponsePolicy, type Severity } from '../policy/index.js';

/** The shortest ack window between escalation levels, so a 0 m deadline does not page in a loop. */
export const MIN_ESCALATION_WINDOW_MS = 5 * 60_000;

/** A group of recipients: response roles in a slot, and stakeholders of the policy. */
export interface Audience {
  /** 1, 2, 3 ...: which escalation level; 0 for reminders. */
  readonly level: number;
  readonly roles: readonly { readonly role: string; readonly slot: 'primary' | 'backup' }[];
  readonly stakeholders: readonly string[];
}

/** Something to do later, as the timer table stores it. */
export type TimerPlan =
  | {
      readonly kind: 'notify_step';
      readonly dueAt: Date;
      readonly audience: Audience;
      readonly severity: Severity;
    }
  | { readonly kind: 'escalate'; readonly dueAt: Date; readonly level: number; readonly severity: Severity }
  | { readonly kind: 'reminder'; readonly dueAt: Date; readonly severity: Severity };

export interface EscalationStart {
  /** Page now. */
  readonly now: Audience | undefined;
  readonly timers: readonly TimerPlan[];
}

/** The incident's fields the plan needs. */
export interface EscalatingIncident {
  readonly severity: Severity;
  /** ISO 8601: when the severity's clocks started (detection, or the last change of severity). */
  readonly clockStart: string;
  readonly ackBy: string;
}

const isRole = (who: string) => (RESPONSE_ROLES as readonly string[]).includes(who);

function audienceOf(
  notify: readonly string[],
  level: number,
  slots: readonly ('primary' | 'backup')[],
): Audience {
  return {
    level,
    roles: notify.filter(isRole).flatMap((role) => slots.map((slot) => ({ role, slot }))),
    stakeholders: notify.filter((who) => !isRole(who)),
  };
}

/** The ack window: detection (or the severity change) to the ack deadline, at least 5 minutes. */
export function ackWindowMs(incident: EscalatingIncident): number {
  const window = Date.parse(incident.ackBy) - Date.parse(incident.clockStart);
  return Math.max(MIN_ESCALATION_WINDOW_MS, window);
}

/**
 * What to do when an incident opens, or its severity changes (`at`: now). The first step of
 * the matrix is paged now; later steps when their `within` comes; escalation to level 2 at the
 * ack deadline; the first reminder one cadence after `at`.
 */
export function startEscalation(
  policy: ResponsePolicy,
  incident: EscalatingIncident,
  at: Date,
): EscalationStart {
  const start = Date.parse(incident.clockStart);
  const timers: TimerPlan[] = [];
  let now: Audience | undefined;
  for (const step of policy.escalation[incident.severity]) {
    const audience = audienceOf(step.notify, 1, ['primary']);
    const due = start + step.withinMs;
    // Every step's people are told by its deadline; the first (and any already due) at once.
    if (now === undefined || due <= at.getTime()) now = mergeAudiences(now, audience);
    else timers.push({ kind: 'notify_step', dueAt: new Date(due), audience, severity: incident.severity });
  }
  timers.push({
    kind: 'escalate',
    dueAt: new Date(Math.max(Date.parse(incident.ackBy), at.getTime())),
    level: 2,
    severity: incident.severity,
  });
  const cadence = policy.statusUpdates[incident.severity];
  if (cadence) {
    timers.push({
      kind: 'reminder',
      dueAt: new Date(at.getTime() + cadence.everyMs),
      severity: incident.severity,
    });
  }
  return { now, timers };
}

/**
 * Escalation level `level` (2 or more) fires, unacknowledged: who is paged, and when the next
 * level is due.
 */
export function escalate(
  policy: ResponsePolicy,
  incident: EscalatingIncident,
  level: number,
  at: Date,
): { audience: Audience; next: TimerPlan } {
  const notify = [...new Set(policy.escalation[incident.severity].flatMap((step) => step.notify))];
  // Level 2 is the roles' backups: the stakeholders were told at level 1 and hear again at 3.
  const audience =
    level === 2
      ? { ...audienceOf(notify, 2, ['backup']), stakeholders: [] }
      : audienceOf([...new Set([...notify, ...policy.escalation.P0.flatMap((step) => step.notify)])], level, [
          'primary',
          'backup',
        ]);
  return {
    audience,
    next: {
      kind: 'escalate',
      dueAt: new Date(at.getTime() + ackWindowMs(incident)),
      level: level + 1,
      severity: incident.severity,
    },
  };
}

/** A reminder fires: who is reminded, and when the next one is due (undefined: no cadence). */
export function remind(
  policy: ResponsePolicy,
  severity: Severity,
  at: Date,
): { audience: Audience; next: TimerPlan } | undefined {
  const cadence = policy.statusUpdates[severity];
  if (!cadence) return undefined;
  return {
    audience: audienceOf(cadence.notify, 0, ['primary']),
    next: { kind: 'reminder', dueAt: new Date(at.getTime() + cadence.everyMs), severity },
  };
}

function mergeAudiences(a: Audience | undefined, b: Audience): Audience {
  if (a === undefined) return b;
  const roles = [...a.roles];
  for (const r of b.roles) {
    if (!roles.some((x) => x.role === r.role && x.slot === r.slot)) roles.push(r);
  }
  return { level: a.level, roles, stakeholders: [...new Set([...a.stakeholders, ...b.stakeholders])] };
}
