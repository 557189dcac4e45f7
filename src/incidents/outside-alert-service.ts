/**
 * Alerts from other tools (README "Alerts from other tools"): Prometheus Alertmanager's webhook
 * and PagerDuty Events API v2 events become Firebreak alerts and go through the same grouping as
 * the detection service's (AlertGrouper), so they open or join incidents by the same rules.
 *
 * Each outside alert is kept by its source and dedup key (Alertmanager: the notification's
 * groupKey and the alert's fingerprint; PagerDuty: `dedup_key`), following PagerDuty's rules:
 *
 *  - trigger (Alertmanager: an alert `firing`): if the key has an open alert, it is that alert
 *    again (counted, nothing new); else a new Firebreak alert, the key's next occurrence;
 *  - acknowledge: applies only to the key's open alert; recorded on its incident's timeline;
 *  - resolve (Alertmanager: `resolved`): applies only to the key's open alert, which is then
 *    resolved (recorded on the timeline); a later trigger opens a new alert;
 *  - acknowledge or resolve of a key without an open alert is accepted and changes nothing.
 *
 * The incident itself is never acknowledged or resolved by another tool: its acknowledgement is
 * what the policy's clocks measure, and it may hold alerts of other sources. The timeline tells
 * the responders, who decide.
 */
import { createHash } from 'node:crypto';
import type { Alert } from '../detect/index.js';
import { parseIsoTime } from '../events/index.js';
import type { Clock } from '../kernel/index.js';
import type { Severity } from '../policy/index.js';
import type { Database, Kysely, OutsideAlertTable, Store, Transaction } from '../store/index.js';
import type { AlertGrouper, IntakeOutcome } from './alert-grouper.js';
import type { IncidentService } from './incident-service.js';

export type OutsideSource = 'alertmanager' | 'pagerduty';
export type OutsideAction = 'trigger' | 'acknowledge' | 'resolve';
export type OutsideAlertStatus = 'open' | 'acknowledged' | 'resolved';

/** One alert of an Alertmanager webhook notification (payload version 4), the fields we use. */
export interface AlertmanagerAlert {
  readonly status: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly startsAt?: string;
  readonly fingerprint?: string;
}

/** An Alertmanager webhook notification (payload version 4), the fields we use. */
export interface AlertmanagerNotification {
  readonly groupKey: string;
  readonly groupLabels?: Readonly<Record<string, string>>;
  readonly alerts: readonly AlertmanagerAlert[];
}

/** A PagerDuty Events API v2 alert event, checked; `dedup_key` generated for a bare trigger. */
export interface PagerDutyEvent {
  readonly event_action: OutsideAction;
  readonly dedup_key: string;
  /** Present on a trigger. */
  readonly payload?: {
    readonly summary: string;
    readonly source: string;
    readonly severity: 'critical' | 'error' | 'warning' | 'info';
    readonly timestamp?: string;
    readonly component?: string;
    readonly group?: string;
  };
}

/**
 * What became of one outside alert: it opened a Firebreak alert, was the key's open alert again,
 * acknowledged or resolved it, or found no open alert to apply to.
 */
export type OutsideOutcome = 'opened' | 'deduplicated' | 'acknowledged' | 'resolved' | 'ignored';

export interface OutsideAlertResult {
  readonly source: OutsideSource;
  readonly dedup_key: string;
  readonly outcome: OutsideOutcome;
  /** The key's occurrence acted on; null when ignored. */
  readonly occurrence: number | null;
  /** The Firebreak alert's fingerprint; null when ignored. */
  readonly fingerprint: string | null;
  readonly incident: string | null;
  /** For `opened`: whether the alert opened its incident or joined one (AlertGrouper's outcome). */
  readonly intake?: IntakeOutcome;
}

/** An outside alert as stored. Times are ISO 8601. */
export interface StoredOutsideAlert {
  readonly source: OutsideSource;
  readonly dedup_key: string;
  readonly occurrence: number;
  readonly status: OutsideAlertStatus;
  readonly fingerprint: string;
  readonly incident_id: string;
  readonly triggers: number;
  readonly opened_at: string;
  readonly last_triggered_at: string;
  readonly acknowledged_at: string | null;
  readonly resolved_at: string | null;
}

export interface OutsideAlertServiceDeps {
  readonly store: Store;
  readonly grouper: AlertGrouper;
  readonly incidents: IncidentService;
  readonly clock: Clock;
}

/** One thing another tool said about one alert, in our terms. */
interface Signal {
  readonly source: OutsideSource;
  readonly dedupKey: string;
  readonly action: OutsideAction;
  /** For a trigger: the Firebreak alert of the key's next occurrence, given its fingerprint. */
  readonly alert?: (fingerprint: string) => Alert;
}

const SEVERITY_LABEL = /^P[0-3]$/;

/**
 * Alertmanager: a `firebreak_severity` label of P0–P3 wins; else the `severity` label:
 * critical → P0, high or error → P1, warning → P2, anything else (info, none) → P3.
 */
export function alertmanagerSeverity(labels: Readonly<Record<string, string>>): Severity {
  const explicit = labels.firebreak_severity;
  if (explicit !== undefined && SEVERITY_LABEL.test(explicit)) return explicit as Severity;
  switch ((labels.severity ?? '').toLowerCase()) {
    case 'critical':
      return 'P0';
    case 'high':
    case 'error':
      return 'P1';
    case 'warning':
      return 'P2';
    default:
      return 'P3';
  }
}

/** PagerDuty: critical → P0, error → P1, warning → P2, info → P3. */
export function pagerDutySeverity(severity: 'critical' | 'error' | 'warning' | 'info'): Severity {
  return ({ critical: 'P0', error: 'P1', warning: 'P2', info: 'P3' } as const)[severity];
}

/**
 * The Alertmanager alert's dedup key: the notification's groupKey and the alert's fingerprint
 * (Alertmanager's hash of its labels; computed the same way from the labels when absent).
 */
export function alertmanagerDedupKey(groupKey: string, alert: AlertmanagerAlert): string {
  const fingerprint =
    alert.fingerprint ??
    createHash('sha256')
      .update(JSON.stringify(Object.entries(alert.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
      .digest('hex')
      .slice(0, 16);
  return `${groupKey}#${fingerprint}`;
}

/** The Firebreak alert fingerprint of a key's occurrence: replays find the same one. */
export function outsideAlertFingerprint(source: OutsideSource, dedupKey: string, occurrence: number): string {
  return createHash('sha256')
    .update(`outside\u0000${source}\u0000${dedupKey}\u0000${occurrence}`)
    .digest('hex')
    .slice(0, 32);
}

export class OutsideAlertService {
  private readonly db: Kysely<Database>;

  constructor(private readonly deps: OutsideAlertServiceDeps) {
    this.db = deps.store.db;
  }

  /**
   * One Alertmanager notification, in one transaction: each alert `firing` is a trigger, each
   * `resolved` a resolve. One result per alert, in order.
   *
   * @example
   * const results = await service.alertmanager(body, 'key:0123abcd4567 (alertmanager)');
   */
  async alertmanager(notification: AlertmanagerNotification, actor: string): Promise<OutsideAlertResult[]> {
    const now = this.deps.clock.now().getTime();
    const groupLabels = notification.groupLabels ?? {};
    const signals = notification.alerts.map((a): Signal => {
      const dedupKey = alertmanagerDedupKey(notification.groupKey, a);
      if (a.status !== 'firing') return { source: 'alertmanager', dedupKey, action: 'resolve' };
      const name = a.labels.alertname ?? 'unnamed';
      const at = (a.startsAt === undefined ? undefined : parseIsoTime(a.startsAt)) ?? now;
      // Alertmanager's own grouping (its group_by labels) is the group; the name is the rule.
      const group = Object.fromEntries(
        Object.entries(groupLabels).filter(([label]) => label !== 'alertname'),
      );
      return {
        source: 'alertmanager',
        dedupKey,
        action: 'trigger',
        alert: (fingerprint) =>
          outsideAlert(fingerprint, {
            rule: `alertmanager:${name}`,
            title: a.annotations?.summary || name,
            severity: alertmanagerSeverity(a.labels),
            group,
            at,
            dedupKey,
          }),
      };
    });
    return this.db.transaction().execute(async (trx) => {
      await this.deps.grouper.lockIn(trx);
      const out: OutsideAlertResult[] = [];
      for (const signal of signals) out.push(await this.apply(trx, signal, actor));
      return out;
    });
  }

  /** One PagerDuty Events API v2 alert event (trigger, acknowledge or resolve). */
  async pagerduty(event: PagerDutyEvent, actor: string): Promise<OutsideAlertResult> {
    const now = this.deps.clock.now().getTime();
    const p = event.payload;
    const dedupKey = event.dedup_key;
    if (event.event_action === 'trigger' && p === undefined) throw new Error('a trigger needs its payload');
    const signal: Signal =
      event.event_action === 'trigger' && p !== undefined
        ? {
            source: 'pagerduty',
            dedupKey,
            action: 'trigger',
            alert: (fingerprint) =>
              outsideAlert(fingerprint, {
                rule: `pagerduty:${p.component ?? p.source}`,
                title: p.summary,
                severity: pagerDutySeverity(p.severity),
                group: { source: p.source, ...(p.group === undefined ? {} : { group: p.group }) },
                at: (p.timestamp === undefined ? undefined : parseIsoTime(p.timestamp)) ?? now,
                dedupKey,
              }),
          }
        : { source: 'pagerduty', dedupKey, action: event.event_action };
    return this.db.transaction().execute(async (trx) => {
      await this.deps.grouper.lockIn(trx);
      return this.apply(trx, signal, actor);
    });
  }

  /** Every occurrence of a key, oldest first. */
  async history(source: OutsideSource, dedupKey: string): Promise<StoredOutsideAlert[]> {
    const rows = await this.db
      .selectFrom('outside_alerts')
      .selectAll()
      .where('source', '=', source)
      .where('dedup_key', '=', dedupKey)
      .orderBy('occurrence', 'asc')
      .execute();
    return rows.map(toStored);
  }

  private async apply(
    trx: Transaction<Database>,
    signal: Signal,
    actor: string,
  ): Promise<OutsideAlertResult> {
    const { source, dedupKey } = signal;
    const now = this.deps.clock.now().toISOString();
    const open = await trx
      .selectFrom('outside_alerts')
      .selectAll()
      .where('source', '=', source)
      .where('dedup_key', '=', dedupKey)
      .where('status', '!=', 'resolved')
      .orderBy('occurrence', 'desc')
      .limit(1)
      .executeTakeFirst();
    const result = (
      outcome: OutsideOutcome,
      row: Pick<OutsideAlertTable, 'occurrence' | 'fingerprint' | 'incident_id'>,
    ) => ({
      source,
      dedup_key: dedupKey,
      outcome,
      occurrence: Number(row.occurrence),
      fingerprint: row.fingerprint,
      incident: row.incident_id,
    });

    if (signal.action === 'trigger') {
      if (open) {
        await trx
          .updateTable('outside_alerts')
          .set({ triggers: Number(open.triggers) + 1, last_triggered_at: now })
          .where('source', '=', source)
          .where('dedup_key', '=', dedupKey)
          .where('occurrence', '=', open.occurrence)
          .execute();
        return result('deduplicated', open);
      }
      const last = await trx
        .selectFrom('outside_alerts')
        .select((eb) => eb.fn.max('occurrence').as('n'))
        .where('source', '=', source)
        .where('dedup_key', '=', dedupKey)
        .executeTakeFirst();
      const occurrence = Number(last?.n ?? 0) + 1;
      const fingerprint = outsideAlertFingerprint(source, dedupKey, occurrence);
      const [intake] = await this.deps.grouper.intakeIn(trx, [signal.alert!(fingerprint)], actor);
      const row: OutsideAlertTable = {
        source,
        dedup_key: dedupKey,
        occurrence,
        status: 'open',
        fingerprint,
        incident_id: intake!.incident,
        triggers: 1,
        opened_at: now,
        last_triggered_at: now,
        acknowledged_at: null,
        resolved_at: null,
      };
      await trx.insertInto('outside_alerts').values(row).execute();
      return { ...result('opened', row), intake: intake!.outcome };
    }

    // Acknowledge and resolve apply to the key's open alert only; without one they are dropped.
    if (!open || (signal.action === 'acknowledge' && open.status === 'acknowledged')) {
      return {
        source,
        dedup_key: dedupKey,
        outcome: 'ignored',
        occurrence: null,
        fingerprint: null,
        incident: null,
      };
    }
    const action = signal.action === 'acknowledge' ? 'acknowledged' : 'resolved';
    await trx
      .updateTable('outside_alerts')
      .set(
        action === 'acknowledged'
          ? { status: action, acknowledged_at: now }
          : { status: action, resolved_at: now },
      )
      .where('source', '=', source)
      .where('dedup_key', '=', dedupKey)
      .where('occurrence', '=', open.occurrence)
      .execute();
    await this.deps.incidents.recordOutsideAlertIn(trx, actor, open.incident_id, {
      source,
      dedup_key: dedupKey,
      occurrence: Number(open.occurrence),
      fingerprint: open.fingerprint,
      action,
    });
    return result(action, open);
  }
}

interface OutsideAlertFields {
  readonly rule: string;
  readonly title: string;
  readonly severity: Severity;
  readonly group: Readonly<Record<string, string>>;
  /** Epoch ms: when the other tool saw it start. */
  readonly at: number;
  readonly dedupKey: string;
}

/** An outside alert as a Firebreak alert: one notification, value 1, at the time it started. */
function outsideAlert(fingerprint: string, f: OutsideAlertFields): Alert {
  return {
    rule: f.rule,
    title: f.title,
    severity: f.severity,
    group: f.group,
    value: 1,
    start: f.at,
    end: f.at,
    events: 1,
    trigger: f.dedupKey,
    fingerprint,
  };
}

function toStored(row: OutsideAlertTable): StoredOutsideAlert {
  return {
    ...row,
    source: row.source as OutsideSource,
    status: row.status as OutsideAlertStatus,
    occurrence: Number(row.occurrence),
    triggers: Number(row.triggers),
  };
}
