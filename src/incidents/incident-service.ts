/**
 * What can be done to incidents: open, list, read, move through the lifecycle, classify,
 * assign roles, add notes and record the alerts that join them. Each change is one transaction
 * that checks the move, saves the record, appends a typed timeline record and an audit entry:
 * all of it lands, or none. The `...In(trx)` methods do the same inside a transaction the
 * caller holds, for the alert grouper, which stores alerts and their incidents together.
 */
import { sql } from 'kysely';
import type { AuditLog } from '../audit/index.js';
import { type Clock, FirebreakError } from '../kernel/index.js';
import { dueAt, type ResponsePolicy, type ResponseRole, SEVERITIES, type Severity } from '../policy/index.js';
import type { Database, IncidentTable, Kysely, Store, Transaction } from '../store/index.js';
import { type ClassificationAnswers, classify, type ImpactAssessment } from './classification.js';
import {
  type AlertJoinedData,
  formatIncidentId,
  type Incident,
  type NotificationFailedData,
  type OutsideAlertData,
  type PlaybookRunData,
  type TimelineRecord,
} from './incident.js';
import {
  ALLOWED_MOVES,
  canMove,
  type IncidentStatus,
  isOpen,
  MOVES_NEEDING_REASON,
  phaseOf,
  REACHED_AT_COLUMN,
} from './lifecycle.js';

export interface CreateIncidentInput {
  readonly title: string;
  readonly severity: Severity;
  readonly summary?: string;
  /** When the problem was detected; defaults to now, never in the future. */
  readonly detected_at?: string;
}

export interface ListIncidentsQuery {
  readonly status?: readonly IncidentStatus[];
  readonly severity?: readonly Severity[];
  readonly limit: number;
  readonly cursor?: string;
}

export interface IncidentPage {
  readonly items: Incident[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly next_cursor: string | null;
}

export interface SecuritySummary {
  readonly open_by_severity: Record<Severity, number>;
  readonly oldest_unacknowledged: {
    id: string;
    severity: Severity;
    detected_at: string;
    ack_by: string;
    overdue: boolean;
  } | null;
}

/** What happened to an incident, for listeners that act in the same transaction. */
export type IncidentChange =
  | { readonly type: 'opened'; readonly incident: Incident }
  | {
      readonly type: 'changed';
      readonly before: Incident;
      readonly after: Incident;
      readonly record: Omit<TimelineRecord, 'id' | 'at' | 'actor'>;
    };

/**
 * Called inside the transaction of every change (paging writes its outbox rows and timers
 * there, so a page exists exactly when the change that caused it committed). A listener that
 * throws rolls the change back.
 */
export type IncidentChangeListener = (trx: Transaction<Database>, change: IncidentChange) => Promise<void>;

export interface IncidentServiceDeps {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly policy: ResponsePolicy;
  readonly clock: Clock;
}

type Change = {
  readonly set: Partial<IncidentTable>;
  readonly timeline: Omit<TimelineRecord, 'id' | 'at' | 'actor'>;
  readonly action: string;
};

export class IncidentService {
  private readonly db: Kysely<Database>;

  private readonly listeners: IncidentChangeListener[] = [];

  constructor(private readonly deps: IncidentServiceDeps) {
    this.db = deps.store.db;
  }

  /** Adds a listener called inside the transaction of every change (see IncidentChangeListener). */
  onChange(listener: IncidentChangeListener): void {
    this.listeners.push(listener);
  }

  private async emit(trx: Transaction<Database>, change: IncidentChange): Promise<void> {
    for (const listener of this.listeners) await listener(trx, change);
  }

  async create(actor: string, input: CreateIncidentInput): Promise<Incident> {
    return this.db.transaction().execute((trx) => this.createIn(trx, actor, input));
  }

  /** `create`, inside the caller's transaction. */
  async createIn(trx: Transaction<Database>, actor: string, input: CreateIncidentInput): Promise<Incident> {
    const now = this.deps.clock.now();
    const detected = input.detected_at === undefined ? now : new Date(input.detected_at);
    if (Number.isNaN(detected.getTime())) {
      throw invalid('body.detected_at', 'must be an ISO 8601 date-time such as 2026-01-05T10:00:00Z');
    }
    if (detected.getTime() > now.getTime()) {
      throw invalid('body.detected_at', `must not be in the future (now is ${now.toISOString()})`);
    }
    const year = now.getUTCFullYear();
    const deadlines = this.deadlines(input.severity, detected);

    // The counter row is locked until commit, so concurrent creations queue for numbers and a
    // rolled-back creation gives its number back: no duplicate, no gap.
    const counter = await trx
      .insertInto('incident_counters')
      .values({ year, last_number: 1 })
      .onConflict((oc) =>
        oc.column('year').doUpdateSet({ last_number: sql<number>`incident_counters.last_number + 1` }),
      )
      .returning('last_number')
      .executeTakeFirstOrThrow();
    const id = formatIncidentId(year, counter.last_number);
    const row: IncidentTable = {
      id,
      year,
      number: counter.last_number,
      title: input.title,
      summary: input.summary ?? '',
      severity: input.severity,
      status: 'detected',
      detected_at: detected.toISOString(),
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
      created_by: actor,
      acknowledged_at: null,
      contained_at: null,
      eradicated_at: null,
      recovered_at: null,
      resolved_at: null,
      closed_at: null,
      clock_started_at: detected.toISOString(),
      ack_by: deadlines.ack_by,
      respond_by: deadlines.respond_by,
      classification: null,
      roles: '{}',
      version: 1,
    };
    await trx.insertInto('incidents').values(row).execute();
    await this.appendTimeline(trx, id, now, actor, {
      kind: 'created',
      data: { severity: input.severity, title: input.title },
    });
    await this.deps.audit.append(trx, now, {
      actor,
      action: 'incident.create',
      target: id,
      details: { severity: input.severity, title: input.title, detected_at: row.detected_at },
    });
    const incident = toIncident(row);
    await this.emit(trx, { type: 'opened', incident });
    return incident;
  }

  async get(id: string): Promise<Incident> {
    const row = await this.db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new FirebreakError('FB_ERR_INCIDENT_NOT_FOUND', { id });
    return toIncident(row);
  }

  async timeline(id: string): Promise<TimelineRecord[]> {
    await this.get(id);
    const rows = await this.db
      .selectFrom('incident_timeline')
      .selectAll()
      .where('incident_id', '=', id)
      .orderBy('id', 'asc')
      .execute();
    return rows.map(
      (r) =>
        ({ id: r.id, at: r.at, actor: r.actor, kind: r.kind, data: JSON.parse(r.data) }) as TimelineRecord,
    );
  }

  /** Newest first. */
  async list(query: ListIncidentsQuery): Promise<IncidentPage> {
    let q = this.db.selectFrom('incidents').selectAll();
    if (query.status?.length) q = q.where('status', 'in', [...query.status]);
    if (query.severity?.length) q = q.where('severity', 'in', [...query.severity]);
    if (query.cursor !== undefined) {
      const { year, number } = decodeCursor(query.cursor);
      q = q.where((eb) =>
        eb.or([eb('year', '<', year), eb.and([eb('year', '=', year), eb('number', '<', number)])]),
      );
    }
    const rows = await q
      .orderBy('year', 'desc')
      .orderBy('number', 'desc')
      .limit(query.limit + 1)
      .execute();
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      items: page.map(toIncident),
      next_cursor: rows.length > query.limit && last ? encodeCursor(last.year, last.number) : null,
    };
  }

  async transition(actor: string, id: string, to: IncidentStatus, reason?: string): Promise<Incident> {
    return this.db.transaction().execute((trx) => this.transitionIn(trx, actor, id, to, reason));
  }

  /**
   * `transition`, inside the caller's transaction (a one-click acknowledgement link is marked
   * used in the same transaction that acknowledges the incident).
   */
  async transitionIn(
    trx: Transaction<Database>,
    actor: string,
    id: string,
    to: IncidentStatus,
    reason?: string,
  ): Promise<Incident> {
    return this.changeIn(trx, actor, id, (current, now) => {
      const from = current.status as IncidentStatus;
      if (!canMove(from, to)) {
        const allowed = ALLOWED_MOVES[from];
        throw new FirebreakError(
          'FB_ERR_ILLEGAL_TRANSITION',
          { id, from, to, allowed: allowed.length ? allowed.join(', ') : 'none (closed is final)' },
          { details: [{ path: 'body.to', message: `allowed next: ${allowed.join(', ') || 'none'}` }] },
        );
      }
      if (MOVES_NEEDING_REASON.has(`${from}→${to}`) && !reason?.trim()) {
        throw new FirebreakError('FB_ERR_REASON_REQUIRED', {
          action: `moving from ${from} to ${to}`,
          why: 'say why no containment was needed (false positive, duplicate, ...)',
        });
      }
      return {
        set: { status: to, [REACHED_AT_COLUMN[to as keyof typeof REACHED_AT_COLUMN]]: now.toISOString() },
        timeline: { kind: 'transitioned', data: reason ? { from, to, reason } : { from, to } },
        action: 'incident.transition',
      };
    });
  }

  /**
   * Runs the plan's decision tree. A change of severity restarts the severity's clocks from now,
   * and needs a reason once the incident has been classified before.
   */
  async classify(
    actor: string,
    id: string,
    input: { answers: ClassificationAnswers; impact: ImpactAssessment; reason?: string },
  ): Promise<Incident> {
    const result = classify(input.answers, input.impact);
    return this.change(actor, id, (current, now) => {
      if (!isOpen(current.status as IncidentStatus)) {
        throw new FirebreakError('FB_ERR_ILLEGAL_TRANSITION', {
          id,
          from: current.status,
          to: 'reclassified',
          allowed: 'none: a resolved or closed incident keeps its classification',
        });
      }
      const from = current.severity as Severity;
      const changes = from !== result.severity;
      if (changes && current.classification !== null && !input.reason?.trim()) {
        throw new FirebreakError('FB_ERR_REASON_REQUIRED', {
          action: `reclassifying ${id} from ${from} to ${result.severity}`,
          why: 'give body.reason so the timeline says why',
        });
      }
      const set: Partial<IncidentTable> = {
        severity: result.severity,
        classification: JSON.stringify(result),
      };
      if (changes) Object.assign(set, this.severityChange(result.severity, now));
      return {
        set,
        timeline: {
          kind: 'classified',
          data: {
            from,
            to: result.severity,
            reasoning: result.reasoning,
            ...(input.reason ? { reason: input.reason } : {}),
          },
        },
        action: 'incident.classify',
      };
    });
  }

  async assignRole(actor: string, id: string, role: ResponseRole, person: string): Promise<Incident> {
    return this.change(actor, id, (current) => {
      const roles = JSON.parse(current.roles) as Partial<Record<ResponseRole, string>>;
      const previous = roles[role];
      roles[role] = person;
      return {
        set: { roles: JSON.stringify(roles) },
        timeline: { kind: 'role_assigned', data: previous ? { role, person, previous } : { role, person } },
        action: 'incident.assign_role',
      };
    });
  }

  async addNote(actor: string, id: string, text: string): Promise<Incident> {
    return this.change(actor, id, () => ({
      set: {},
      timeline: { kind: 'note_added', data: { text } },
      action: 'incident.add_note',
    }));
  }

  /**
   * Puts an alert on an open incident's timeline, inside the caller's transaction. An alert more
   * severe than the incident raises it, restarting its clocks as any change of severity does; a
   * less severe one never lowers it.
   */
  async recordAlertIn(
    trx: Transaction<Database>,
    actor: string,
    id: string,
    alert: AlertJoinedData,
  ): Promise<{ incident: Incident; raised?: { from: Severity; to: Severity } }> {
    const joined = await this.changeIn(trx, actor, id, (current) => {
      if (!isOpen(current.status as IncidentStatus)) {
        throw new FirebreakError('FB_ERR_ILLEGAL_TRANSITION', {
          id,
          from: current.status,
          to: 'joined by an alert',
          allowed: 'none: an alert after resolution opens a new incident',
        });
      }
      return { set: {}, timeline: { kind: 'alert_joined', data: alert }, action: 'incident.alert_joined' };
    });
    const from = joined.severity;
    const to = alert.severity;
    if (SEVERITIES.indexOf(to) >= SEVERITIES.indexOf(from)) return { incident: joined };
    const raised = await this.changeIn(trx, actor, id, (_current, now) => ({
      set: this.severityChange(to, now),
      timeline: {
        kind: 'severity_raised',
        data: { from, to, rule: alert.rule, fingerprint: alert.fingerprint },
      },
      action: 'incident.raise_severity',
    }));
    return { incident: raised, raised: { from, to } };
  }

  /**
   * Puts on an incident's timeline that another tool acknowledged or resolved an alert it
   * sent, inside the caller's transaction. Also on a resolved or closed incident: it is a fact
   * about the alert, and it changes nothing but the timeline.
   */
  async recordOutsideAlertIn(
    trx: Transaction<Database>,
    actor: string,
    id: string,
    data: OutsideAlertData,
  ): Promise<Incident> {
    return this.changeIn(trx, actor, id, () => ({
      set: {},
      timeline: { kind: 'outside_alert', data },
      action: `incident.outside_alert_${data.action}`,
    }));
  }

  /**
   * Puts on an incident's timeline that a notification about it was dead-lettered, inside the
   * caller's transaction (the outbox worker's, which marks the notification dead). Also on a
   * resolved or closed incident: the failure happened all the same.
   */
  async recordNotificationFailedIn(
    trx: Transaction<Database>,
    actor: string,
    id: string,
    data: NotificationFailedData,
  ): Promise<Incident> {
    return this.changeIn(trx, actor, id, () => ({
      set: {},
      timeline: { kind: 'notification_failed', data },
      action: 'incident.notification_failed',
    }));
  }

  /**
   * Puts a playbook run's progress on the incident's timeline (and the audit log, as every
   * change), inside the runner's transaction, so the record and the step's new state commit
   * together. Also on a resolved incident: an undo often runs after it.
   */
  async recordPlaybookIn(
    trx: Transaction<Database>,
    actor: string,
    id: string,
    data: PlaybookRunData,
  ): Promise<Incident> {
    return this.changeIn(trx, actor, id, () => ({
      set: {},
      timeline: { kind: 'playbook', data },
      action: `playbook.${data.event}`,
    }));
  }

  /** What `/health` reports as security_status. */
  async securitySummary(): Promise<SecuritySummary> {
    const counts = await this.db
      .selectFrom('incidents')
      .select(['severity', sql<number>`count(*)`.as('n')])
      .where('status', 'not in', ['resolved', 'closed'])
      .groupBy('severity')
      .execute();
    const open_by_severity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
    for (const c of counts) open_by_severity[c.severity as Severity] = Number(c.n);
    const oldest = await this.db
      .selectFrom('incidents')
      .select(['id', 'severity', 'detected_at', 'ack_by'])
      .where('status', '=', 'detected')
      .orderBy('detected_at', 'asc')
      .orderBy('id', 'asc')
      .limit(1)
      .executeTakeFirst();
    const now = this.deps.clock.now().toISOString();
    return {
      open_by_severity,
      oldest_unacknowledged: oldest
        ? { ...oldest, severity: oldest.severity as Severity, overdue: oldest.ack_by < now }
        : null,
    };
  }

  private deadlines(severity: Severity, from: Date): { ack_by: string; respond_by: string } {
    const level = this.deps.policy.severities[severity];
    return {
      ack_by: dueAt(this.deps.policy, from, level.acknowledgeWithin).toISOString(),
      respond_by: dueAt(this.deps.policy, from, level.responseTime).toISOString(),
    };
  }

  /** A new severity, and its clocks restarted from the moment of the change. */
  private severityChange(severity: Severity, now: Date): Partial<IncidentTable> {
    return { severity, clock_started_at: now.toISOString(), ...this.deadlines(severity, now) };
  }

  /** Read, check, write, record: one transaction, guarded by the row's version. */
  private async change(
    actor: string,
    id: string,
    decide: (current: IncidentTable, now: Date) => Change,
  ): Promise<Incident> {
    return this.db.transaction().execute((trx) => this.changeIn(trx, actor, id, decide));
  }

  private async changeIn(
    trx: Transaction<Database>,
    actor: string,
    id: string,
    decide: (current: IncidentTable, now: Date) => Change,
  ): Promise<Incident> {
    const query = trx.selectFrom('incidents').selectAll().where('id', '=', id);
    const current = await (this.deps.store.dialect === 'postgres'
      ? query.forUpdate()
      : query
    ).executeTakeFirst();
    if (!current) throw new FirebreakError('FB_ERR_INCIDENT_NOT_FOUND', { id });
    const now = this.deps.clock.now();
    const change = decide(current, now);
    const next: IncidentTable = {
      ...current,
      ...change.set,
      updated_at: now.toISOString(),
      version: current.version + 1,
    };
    const updated = await trx
      .updateTable('incidents')
      .set({ ...change.set, updated_at: next.updated_at, version: next.version })
      .where('id', '=', id)
      .where('version', '=', current.version)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) throw new FirebreakError('FB_ERR_CONCURRENT_UPDATE', { id });
    await this.appendTimeline(trx, id, now, actor, change.timeline);
    await this.deps.audit.append(trx, now, {
      actor,
      action: change.action,
      target: id,
      details: change.timeline.data as unknown as Record<string, unknown>,
    });
    const after = toIncident(next);
    await this.emit(trx, { type: 'changed', before: toIncident(current), after, record: change.timeline });
    return after;
  }

  private async appendTimeline(
    trx: Transaction<Database>,
    incidentId: string,
    at: Date,
    actor: string,
    record: Omit<TimelineRecord, 'id' | 'at' | 'actor'>,
  ): Promise<void> {
    await trx
      .insertInto('incident_timeline')
      .values({
        incident_id: incidentId,
        at: at.toISOString(),
        actor,
        kind: record.kind,
        data: JSON.stringify(record.data),
      })
      .execute();
  }
}

function toIncident(row: IncidentTable): Incident {
  const reached: Record<string, string> = {};
  for (const [status, column] of Object.entries(REACHED_AT_COLUMN)) {
    const at = row[column];
    if (at) reached[status] = at;
  }
  const status = row.status as IncidentStatus;
  return {
    id: row.id,
    title: row.title,
    summary: row.summary,
    severity: row.severity as Severity,
    status,
    phase: phaseOf(status),
    detected_at: row.detected_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
    created_by: row.created_by,
    reached,
    ack_by: row.ack_by,
    respond_by: row.respond_by,
    classification: row.classification ? JSON.parse(row.classification) : null,
    roles: JSON.parse(row.roles),
    version: row.version,
  };
}

function encodeCursor(year: number, number: number): string {
  return Buffer.from(`${year}:${number}`).toString('base64url');
}

function decodeCursor(cursor: string): { year: number; number: number } {
  const match = /^(\d{4}):(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw invalid('query.cursor', 'must be a next_cursor value returned by a previous page');
  return { year: Number(match[1]), number: Number(match[2]) };
}

function invalid(path: string, message: string): FirebreakError {
  return new FirebreakError(
    'FB_ERR_VALIDATION',
    { summary: `${path} ${message}` },
    { details: [{ path, message }] },
  );
}
