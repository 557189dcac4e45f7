/**
 * An alert: a rule held for a group at a moment of event time. The fingerprint is a function
 * of the rule, the group and the window's end only, so replaying the same events after a
 * crash produces the same fingerprints and a store can drop the repeats.
 */
import { createHash } from 'node:crypto';
import type { Severity } from '../policy/index.js';

/** How the caller names an event: a log offset, `file:line`, an `event.id`. */
export type EventRef = string | number;

export interface Alert {
  readonly rule: string;
  readonly title: string;
  readonly severity: Severity;
  /** Group-by field → value; empty for a rule without grouping. */
  readonly group: Readonly<Record<string, string>>;
  /** What the threshold was tested on: a count, a sum, a percent, a multiple ... */
  readonly value: number;
  /** Epoch ms of the oldest event in the window that held, and of the evaluation. */
  readonly start: number;
  readonly end: number;
  /** Events in the window that made the value. */
  readonly events: number;
  /** The event whose arrival made the rule hold, as the caller named it. */
  readonly trigger: EventRef | undefined;
  readonly fingerprint: string;
}

export function alertFingerprint(rule: string, groupKey: string, end: number): string {
  return createHash('sha256').update(`${rule}\u0000${groupKey}\u0000${end}`).digest('hex').slice(0, 32);
}

/** The JSON line `firebreak detect --json` prints: times as ISO 8601. */
export function alertToJson(alert: Alert): Record<string, unknown> {
  return {
    rule: alert.rule,
    severity: alert.severity,
    group: alert.group,
    value: alert.value,
    start: new Date(alert.start).toISOString(),
    end: new Date(alert.end).toISOString(),
    events: alert.events,
    title: alert.title,
    ...(alert.trigger === undefined ? {} : { trigger: alert.trigger }),
    fingerprint: alert.fingerprint,
  };
}
