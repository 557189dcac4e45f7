/**
 * A loaded response policy: the plan's severities and response times, escalation matrix,
 * roles, business hours and maintenance windows, and regulatory clocks, checked and with
 * durations in milliseconds.
 */
import { readFileSync } from 'node:fs';
import { IANAZone } from 'luxon';
import {
  documentFailure,
  type ErrorDetail,
  FirebreakError,
  formatDuration,
  parseDuration,
  parseValidatedYaml,
} from '../kernel/index.js';
import {
  type PolicyFile,
  PolicyFileSchema,
  RESPONSE_ROLES,
  type ResponseRole,
  SEVERITIES,
  type Severity,
} from './policy-schema.js';
import { endOfCurrentOrNextWindow, type WeeklyWindow } from './time-windows.js';

/** How long something may take: a fixed time, or "within business hours". */
export type Deadline =
  | { readonly kind: 'duration'; readonly ms: number }
  | { readonly kind: 'business_hours' };

export interface SeverityLevel {
  readonly name: string;
  readonly color: string | undefined;
  readonly definition: string;
  readonly examples: readonly string[];
  readonly responseTime: Deadline;
  /** Defaults to the response time when the plan names no separate acknowledgement target. */
  readonly acknowledgeWithin: Deadline;
}

export interface EscalationStep {
  readonly withinMs: number;
  /** Role ids and stakeholder ids. */
  readonly notify: readonly string[];
}

/** A status-update reminder: every `everyMs` while the incident is open, to `notify`. */
export interface StatusUpdateCadence {
  readonly everyMs: number;
  /** Role ids and stakeholder ids. */
  readonly notify: readonly string[];
}

export interface RegulatoryClock {
  readonly id: string;
  readonly title: string;
  readonly notify: string;
  readonly withinMs: number;
  readonly appliesWhen: string;
}

export interface ResponsePolicy {
  readonly name: string;
  readonly source: string | undefined;
  /** Where it was loaded from. */
  readonly file: string;
  readonly timeZone: string;
  readonly severities: Readonly<Record<Severity, SeverityLevel>>;
  readonly roles: Readonly<
    Record<ResponseRole, { title: string; primary: string; backup: string; responsibilities?: string }>
  >;
  readonly stakeholders: Readonly<Record<string, { title: string; contact?: string }>>;
  readonly escalation: Readonly<Record<Severity, readonly EscalationStep[]>>;
  /** Reminders to send status updates, by severity; absent: none for that severity. */
  readonly statusUpdates: Readonly<Partial<Record<Severity, StatusUpdateCadence>>>;
  readonly businessHours: WeeklyWindow;
  readonly maintenanceWindows: readonly WeeklyWindow[];
  readonly regulatoryClocks: readonly RegulatoryClock[];
}

/** Reads and checks a policy file. Throws FB_ERR_POLICY_UNREADABLE or FB_ERR_POLICY_INVALID (file:line: problem). */
export function loadPolicyFile(path: string): ResponsePolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new FirebreakError('FB_ERR_POLICY_UNREADABLE', {
      file: path,
      reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message,
    });
  }
  return parsePolicy(text, path);
}

export function parsePolicy(text: string, file: string): ResponsePolicy {
  const { value, lineOf } = parseValidatedYaml<PolicyFile>(
    text,
    file,
    PolicyFileSchema,
    'FB_ERR_POLICY_INVALID',
  );
  const problems: ErrorDetail[] = [];
  const problem = (path: (string | number)[], message: string) =>
    problems.push({ path: path.join('.'), line: lineOf(path), message });

  const zone = (path: (string | number)[], name: string) => {
    if (!IANAZone.isValidZone(name))
      problem(path, `${JSON.stringify(name)} is not an IANA time zone such as UTC or Europe/Berlin`);
    return name;
  };
  zone(['time_zone'], value.time_zone);

  const severities = {} as Record<Severity, SeverityLevel>;
  for (const sev of SEVERITIES) {
    const level = value.severities[sev];
    const responseTime = toDeadline(level.response_time);
    const acknowledgeWithin = level.acknowledge_within ? toDeadline(level.acknowledge_within) : responseTime;
    if (deadlineRank(acknowledgeWithin) > deadlineRank(responseTime)) {
      problem(
        ['severities', sev, 'acknowledge_within'],
        `must not be longer than the response_time (${level.response_time})`,
      );
    }
    severities[sev] = {
      name: level.name,
      color: level.color,
      definition: level.definition,
      examples: level.examples,
      responseTime,
      acknowledgeWithin,
    };
  }
  for (let i = 1; i < SEVERITIES.length; i += 1) {
    const higher = SEVERITIES[i - 1]!;
    const lower = SEVERITIES[i]!;
    if (deadlineRank(severities[lower].responseTime) < deadlineRank(severities[higher].responseTime)) {
      problem(
        ['severities', lower, 'response_time'],
        `is shorter than ${higher}'s (${value.severities[higher].response_time}); a lower severity cannot be more urgent`,
      );
    }
  }

  const stakeholders = value.stakeholders ?? {};
  const known = new Set<string>([...RESPONSE_ROLES, ...Object.keys(stakeholders)]);
  for (const role of RESPONSE_ROLES) {
    if (role in stakeholders) problem(['stakeholders', role], 'clashes with the response role of that name');
  }
  const escalation = {} as Record<Severity, EscalationStep[]>;
  for (const sev of SEVERITIES) {
    let previous = -1;
    escalation[sev] = value.escalation[sev].map((step, index) => {
      const withinMs = parseDuration(step.within)!;
      if (withinMs < previous) {
        problem(
          ['escalation', sev, index, 'within'],
          'steps must be in order of time; this one comes before the step above it',
        );
      }
      previous = withinMs;
      step.notify.forEach((who, j) => {
        if (!known.has(who)) {
          problem(
            ['escalation', sev, index, 'notify', j],
            `${JSON.stringify(who)} is neither a response role (${RESPONSE_ROLES.join(', ')}) nor a stakeholder`,
          );
        }
      });
      return { withinMs, notify: step.notify };
    });
  }

  const statusUpdates: Partial<Record<Severity, StatusUpdateCadence>> = {};
  for (const sev of SEVERITIES) {
    const cadence = value.status_updates?.[sev];
    if (cadence === undefined) continue;
    const everyMs = parseDuration(cadence.every)!;
    if (everyMs < 60_000) problem(['status_updates', sev, 'every'], 'must be at least 1m');
    cadence.notify.forEach((who, j) => {
      if (!known.has(who)) {
        problem(
          ['status_updates', sev, 'notify', j],
          `${JSON.stringify(who)} is neither a response role (${RESPONSE_ROLES.join(', ')}) nor a stakeholder`,
        );
      }
    });
    statusUpdates[sev] = { everyMs, notify: cadence.notify };
  }

  const window = (w: PolicyFile['business_hours'], path: (string | number)[]): WeeklyWindow => {
    const startMinute = toMinutes(w.start);
    const endMinute = toMinutes(w.end);
    if (endMinute <= startMinute) {
      problem(
        [...path, 'end'],
        `must be after start (${w.start}); split a window that crosses midnight in two`,
      );
    }
    const timeZone = w.time_zone ? zone([...path, 'time_zone'], w.time_zone) : value.time_zone;
    return { days: w.days, startMinute, endMinute, timeZone };
  };
  const businessHours = window(value.business_hours, ['business_hours']);
  const maintenanceWindows = value.maintenance_windows.map((w, i) => window(w, ['maintenance_windows', i]));

  const clockIds = new Set<string>();
  const regulatoryClocks = (value.regulatory_clocks ?? []).map((c, i) => {
    if (clockIds.has(c.id)) problem(['regulatory_clocks', i, 'id'], `${c.id} appears twice`);
    clockIds.add(c.id);
    return {
      id: c.id,
      title: c.title,
      notify: c.notify,
      withinMs: parseDuration(c.within)!,
      appliesWhen: c.applies_when,
    };
  });

  if (problems.length > 0) throw documentFailure('FB_ERR_POLICY_INVALID', file, problems);

  return deepFreeze({
    name: value.name,
    source: value.source,
    file,
    timeZone: value.time_zone,
    severities,
    roles: value.roles,
    stakeholders,
    escalation,
    statusUpdates,
    businessHours,
    maintenanceWindows,
    regulatoryClocks,
  });
}

/** When a deadline that starts at `from` is due. */
export function dueAt(policy: ResponsePolicy, from: Date, deadline: Deadline): Date {
  return deadline.kind === 'duration'
    ? new Date(from.getTime() + deadline.ms)
    : endOfCurrentOrNextWindow(policy.businessHours, from);
}

export function describeDeadline(deadline: Deadline): string {
  return deadline.kind === 'duration' ? formatDuration(deadline.ms) : 'business hours';
}

function toDeadline(text: string): Deadline {
  return text === 'business_hours'
    ? { kind: 'business_hours' }
    : { kind: 'duration', ms: parseDuration(text)! };
}

/** For ordering checks only: "business hours" is the loosest deadline. */
function deadlineRank(d: Deadline): number {
  return d.kind === 'duration' ? d.ms : Number.POSITIVE_INFINITY;
}

function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
