/**
 * Alerts into incidents (README "From events to incidents"). Each alert is stored once, by its
 * fingerprint, and goes to exactly one incident:
 *
 *  1. an alert stored before (a replay after a crash) is skipped;
 *  2. else it joins the open incident that already holds an alert of the same rule and group;
 *  3. else it joins an open incident holding an alert (of any rule) that shares an entity with
 *     it (a value of `source.ip` or `user.name` in the alert's group), if the alert's time is
 *     within the correlation window of that incident's alerts (see `withinWindow`);
 *  4. else it opens a new incident, of the rule's severity, detected at the alert's time.
 *
 * Joining can raise an incident's severity, never lower it. One call is one transaction that
 * first locks a row (`alert_intake_lock`): intakes take turns, also across servers sharing a
 * PostgreSQL database, so two of them never open two incidents for one rule and group.
 */
import { sql } from 'kysely';
import type { Alert } from '../detect/index.js';
import type { Clock } from '../kernel/index.js';
import type { Severity } from '../policy/index.js';
import type { AlertTable, Database, Kysely, Store, Transaction } from '../store/index.js';
import { AlertQuery, type StoredAlert } from './alert-query.js';
import type { AlertJoinedData, AlertJoinedVia } from './incident.js';
import type { IncidentService } from './incident-service.js';
import { isOpen, STATUSES } from './lifecycle.js';

export const DEFAULT_CORRELATION_WINDOW_MS = 60 * 60_000;
/** Group-by fields whose values name an entity that alerts of different rules can share. */
export const DEFAULT_ENTITY_FIELDS: readonly string[] = ['source.ip', 'user.name'];
/** The API's limit on incident titles. */
const TITLE_MAX = 200;
const CLOSED_STATUSES = STATUSES.filter((s) => !isOpen(s));

export interface AlertGrouperDeps {
  readonly store: Store;
  readonly incidents: IncidentService;
  readonly clock: Clock;
  /**
   * How far apart in event time an alert and an incident's alerts may be for the alert to join
   * it through a shared entity. Default 1 h.
   */
  readonly correlationWindowMs?: number;
  /** Default `source.ip`, `user.name`. */
  readonly entityFields?: readonly string[];
}

/**
 * What became of one alert: it opened an incident, joined one of the same rule and group,
 * joined one through a shared entity, or had been stored before.
 */
export type IntakeOutcome = 'created' | 'joined' | 'correlated' | 'duplicate';

export interface AlertIntake {
  readonly fingerprint: string;
  readonly rule: string;
  readonly outcome: IntakeOutcome;
  readonly incident: string;
  /** For `correlated`: the entity it shares with the incident's alerts. */
  readonly entity?: { readonly field: string; readonly value: string };
  /** Set when the alert raised the incident's severity. */
  readonly raised?: { readonly from: Severity; readonly to: Severity };
}

export interface IntakeResult {
  /** One per alert given, in order. */
  readonly alerts: readonly AlertIntake[];
  readonly created: number;
  readonly joined: number;
  readonly correlated: number;
  readonly duplicates: number;
  /** Incidents whose severity an alert raised (counted once per raise). */
  readonly raised: number;
}

interface Found {
  readonly incident: string;
  readonly via: Exclude<AlertJoinedVia, 'opened'>;
  readonly entity?: { readonly field: string; readonly value: string };
}

export class AlertGrouper {
  private readonly db: Kysely<Database>;
  private readonly windowMs: number;
  private readonly entityFields: ReadonlySet<string>;
  private readonly reader: AlertQuery;

  constructor(private readonly deps: AlertGrouperDeps) {
    this.db = deps.store.db;
    this.reader = new AlertQuery({ store: deps.store });
    this.windowMs = deps.correlationWindowMs ?? DEFAULT_CORRELATION_WINDOW_MS;
    if (!(this.windowMs >= 0)) throw new RangeError(`AlertGrouper: correlationWindowMs ${this.windowMs}`);
    this.entityFields = new Set(deps.entityFields ?? DEFAULT_ENTITY_FIELDS);
  }

  /**
   * Stores the alerts and files each under an incident, in order, in one transaction: either
   * all of them land with their incidents, timeline records and audit entries, or none do.
   *
   * @example
   * const result = await grouper.intake(engine.process(event, epochMs, seq));
   * for (const a of result.alerts) log(`${a.rule} → ${a.incident} (${a.outcome})`);
   */
  async intake(alerts: readonly Alert[], actor = 'detection'): Promise<IntakeResult> {
    const counts = { created: 0, joined: 0, correlated: 0, duplicates: 0, raised: 0 };
    if (alerts.length === 0) return { alerts: [], ...counts };
    const results = await this.db.transaction().execute((trx) => this.intakeIn(trx, alerts, actor));
    for (const r of results) {
      if (r.outcome === 'duplicate') counts.duplicates += 1;
      else counts[r.outcome] += 1;
      if (r.raised) counts.raised += 1;
    }
    return { alerts: results, ...counts };
  }

  /**
   * `intake` inside the caller's transaction, for a caller that keeps state of its own beside
   * the alerts (the outside alerts' table). Call `lockIn` before reading that state: the lock is
   * what makes two intakes take turns. One result per alert, in order.
   */
  async intakeIn(
    trx: Transaction<Database>,
    alerts: readonly Alert[],
    actor: string,
  ): Promise<AlertIntake[]> {
    await this.lockIn(trx);
    const out: AlertIntake[] = [];
    for (const alert of alerts) out.push(await this.intakeOne(trx, alert, actor));
    return out;
  }

  /**
   * Takes the intake lock for the rest of the transaction. Every intake updates the one lock row
   * first and holds it until commit: intakes queue here (a row lock on PostgreSQL; SQLite's write
   * lock taken at once instead of upgraded). Taking it twice in one transaction is harmless.
   */
  async lockIn(trx: Transaction<Database>): Promise<void> {
    await trx
      .updateTable('alert_intake_lock')
      .set({ intakes: sql<number>`intakes + 1` })
      .where('id', '=', 1)
      .execute();
  }

  /** The alerts filed under an incident, oldest window end first. */
  async alertsOf(incidentId: string): Promise<StoredAlert[]> {
    return this.reader.alertsOf(incidentId);
  }

  /** Alerts stored, all told. */
  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('alerts')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  private async intakeOne(trx: Transaction<Database>, alert: Alert, actor: string): Promise<AlertIntake> {
    const seen = await trx
      .selectFrom('alerts')
      .select('incident_id')
      .where('fingerprint', '=', alert.fingerprint)
      .executeTakeFirst();
    if (seen) {
      return {
        fingerprint: alert.fingerprint,
        rule: alert.rule,
        outcome: 'duplicate',
        incident: seen.incident_id,
      };
    }

    const key = groupKey(alert.group);
    const found =
      (await this.sameRuleAndGroup(trx, alert.rule, key)) ?? (await this.sharedEntity(trx, alert));
    const incident = found?.incident ?? (await this.open(trx, alert, actor));
    await this.store(trx, alert, key, incident);
    const via: AlertJoinedVia = found?.via ?? 'opened';
    const recorded = await this.deps.incidents.recordAlertIn(trx, actor, incident, {
      rule: alert.rule,
      fingerprint: alert.fingerprint,
      severity: alert.severity,
      group: alert.group,
      value: finiteOrNull(alert.value),
      end: new Date(alert.end).toISOString(),
      via,
      ...(found?.entity ? { entity: found.entity } : {}),
    } satisfies AlertJoinedData);
    const outcome: IntakeOutcome =
      via === 'opened' ? 'created' : via === 'rule_group' ? 'joined' : 'correlated';
    return {
      fingerprint: alert.fingerprint,
      rule: alert.rule,
      outcome,
      incident,
      ...(found?.entity ? { entity: found.entity } : {}),
      ...(recorded.raised ? { raised: recorded.raised } : {}),
    };
  }

  /** The open incident holding the latest alert of this rule and group, if any. */
  private async sameRuleAndGroup(
    trx: Transaction<Database>,
    rule: string,
    key: string,
  ): Promise<Found | undefined> {
    const row = await trx
      .selectFrom('alerts as a')
      .innerJoin('incidents as i', 'i.id', 'a.incident_id')
      .select('a.incident_id')
      .where('a.rule', '=', rule)
      .where('a.group_key', '=', key)
      .where('i.status', 'not in', CLOSED_STATUSES)
      .orderBy('a.window_end', 'desc')
      .orderBy('a.incident_id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { incident: row.incident_id, via: 'rule_group' } : undefined;
  }

  /**
   * Of the open incidents holding an alert that shares an entity with this one and whose alerts
   * it is within the correlation window of (see `withinWindow`), the one with the latest alert.
   */
  private async sharedEntity(trx: Transaction<Database>, alert: Alert): Promise<Found | undefined> {
    const entities = Object.entries(alert.group).filter(([field]) => this.entityFields.has(field));
    if (entities.length === 0) return undefined;
    const matches = await trx
      .selectFrom('alert_entities as e')
      .innerJoin('alerts as a', 'a.fingerprint', 'e.fingerprint')
      .innerJoin('incidents as i', 'i.id', 'a.incident_id')
      .select(['a.incident_id', 'e.field', 'e.value'])
      .distinct()
      .where((eb) =>
        eb.or(
          entities.map(([field, value]) => eb.and([eb('e.field', '=', field), eb('e.value', '=', value)])),
        ),
      )
      .where('i.status', 'not in', CLOSED_STATUSES)
      .orderBy('a.incident_id')
      .orderBy('e.field')
      .execute();
    if (matches.length === 0) return undefined;

    const candidates = [...new Set(matches.map((m) => m.incident_id))];
    const spans = await trx
      .selectFrom('alerts')
      .select((eb) => [
        'incident_id',
        eb.fn.min('window_end').as('first'),
        eb.fn.max('window_end').as('latest'),
      ])
      .where('incident_id', 'in', candidates)
      .groupBy('incident_id')
      .execute();
    let best: { incident: string; latest: number } | undefined;
    for (const span of spans) {
      const first = Date.parse(span.first);
      const latest = Date.parse(span.latest);
      if (!withinWindow(alert.end, first, latest, this.windowMs)) continue;
      if (
        best === undefined ||
        latest > best.latest ||
        (latest === best.latest && span.incident_id > best.incident)
      ) {
        best = { incident: span.incident_id, latest };
      }
    }
    if (best === undefined) return undefined;
    const match = matches.find((m) => m.incident_id === best.incident)!;
    return { incident: best.incident, via: 'entity', entity: { field: match.field, value: match.value } };
  }

  /** A new incident for the alert: the rule's title and severity, detected at the alert's time. */
  private async open(trx: Transaction<Database>, alert: Alert, actor: string): Promise<string> {
    const now = this.deps.clock.now();
    // Event time ahead of the clock (a sender's clock running fast) is taken as now: an
    // incident is never detected in the future.
    const detected = new Date(Math.min(alert.end, now.getTime()));
    const group = describeGroup(alert.group);
    const title = group ? `${alert.title} (${group})` : alert.title;
    const incident = await this.deps.incidents.createIn(trx, actor, {
      title: title.length > TITLE_MAX ? `${title.slice(0, TITLE_MAX - 1)}…` : title,
      severity: alert.severity,
      detected_at: detected.toISOString(),
      summary: summarize(alert, group),
    });
    return incident.id;
  }

  private async store(
    trx: Transaction<Database>,
    alert: Alert,
    key: string,
    incident: string,
  ): Promise<void> {
    const row: AlertTable = {
      fingerprint: alert.fingerprint,
      rule: alert.rule,
      title: alert.title,
      severity: alert.severity,
      group_json: JSON.stringify(alert.group),
      group_key: key,
      value: finiteOrNull(alert.value),
      window_start: new Date(alert.start).toISOString(),
      window_end: new Date(alert.end).toISOString(),
      events: alert.events,
      trigger: alert.trigger === undefined ? null : String(alert.trigger),
      incident_id: incident,
      created_at: this.deps.clock.now().toISOString(),
    };
    await trx.insertInto('alerts').values(row).execute();
    const entities = Object.entries(alert.group).map(([field, value]) => ({
      fingerprint: alert.fingerprint,
      field,
      value,
    }));
    if (entities.length > 0) await trx.insertInto('alert_entities').values(entities).execute();
  }
}

/**
 * "Within the correlation window" measures event time: the alert's window end lies no more than
 * the window after the incident's latest alert (its latest window end), nor more than the window
 * before its first. An alert in between always qualifies: the incident is still going on then.
 */
export function withinWindow(alertEnd: number, first: number, latest: number, windowMs: number): boolean {
  return alertEnd >= first - windowMs && alertEnd <= latest + windowMs;
}

/**
 * The group as one canonical text for equality lookups: `field=value` pairs, sorted by field,
 * each part URI-encoded (so `=` and `&` in values cannot make two groups look alike), joined by `&`.
 *
 * @example groupKey({ 'user.name': 'dana', 'source.ip': '203.0.113.7' }) // 'source.ip=203.0.113.7&user.name=dana'
 */
export function groupKey(group: Readonly<Record<string, string>>): string {
  return Object.keys(group)
    .sort()
    .map((field) => `${encodeURIComponent(field)}=${encodeURIComponent(group[field]!)}`)
    .join('&');
}

function describeGroup(group: Readonly<Record<string, string>>): string {
  return Object.entries(group)
    .map(([field, value]) => `${field} ${value}`)
    .join(', ');
}

function summarize(alert: Alert, group: string): string {
  const value = Number.isFinite(alert.value)
    ? String(Number(alert.value.toPrecision(6)))
    : String(alert.value);
  const window = `${new Date(alert.start).toISOString()} to ${new Date(alert.end).toISOString()}`;
  const events = `${alert.events} event${alert.events === 1 ? '' : 's'}`;
  return `Rule ${alert.rule} held${group ? ` for ${group}` : ''}: value ${value} over ${events} from ${window}.`;
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
