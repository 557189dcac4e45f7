/**
 * Business hours and maintenance windows as detection sees them: a rule limited to "outside
 * business hours" ignores events whose time falls inside them. They come from the response
 * policy (with its time zone); without one, the plans' defaults apply.
 */
import { isInsideWindow, type ResponsePolicy, type WeeklyWindow } from '../policy/index.js';
import type { CalendarLimit } from './rule-definition.js';

export interface DetectionCalendar {
  readonly businessHours: WeeklyWindow;
  readonly maintenanceWindows: readonly WeeklyWindow[];
}

/** Monday–Friday 09:00–18:00 UTC; maintenance Sunday 02:00–04:00 UTC. */
export const DEFAULT_CALENDAR: DetectionCalendar = {
  businessHours: {
    days: ['mon', 'tue', 'wed', 'thu', 'fri'],
    startMinute: 9 * 60,
    endMinute: 18 * 60,
    timeZone: 'UTC',
  },
  maintenanceWindows: [{ days: ['sun'], startMinute: 2 * 60, endMinute: 4 * 60, timeZone: 'UTC' }],
};

export function calendarFromPolicy(policy: ResponsePolicy): DetectionCalendar {
  return { businessHours: policy.businessHours, maintenanceWindows: policy.maintenanceWindows };
}

/** True when an event at `epochMs` passes the limit (is outside the named windows). */
export function allowedByCalendar(
  calendar: DetectionCalendar,
  limit: CalendarLimit,
  epochMs: number,
): boolean {
  const at = new Date(epochMs);
  if (limit === 'outside_business_hours') return !isInsideWindow(calendar.businessHours, at);
  return !calendar.maintenanceWindows.some((w) => isInsideWindow(w, at));
}
