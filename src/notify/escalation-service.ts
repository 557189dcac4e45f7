/**
 * Keeps the plan's clocks: listens to incident changes (inside their transactions) and runs
 * the escalation timers on the injected clock.
 *
 * - An incident opens, or its severity changes: the first level is paged now and the later
 *   steps, the escalation to the backups and the first status reminder become timers
 *   (escalation-plan.ts). A change of severity cancels the old timers first.
 * - It is acknowledged (leaves `detected`): pending escalations are cancelled; reminders go on.
 * - It is resolved or closed: every pending timer is cancelled.
 * - `runDue()` fires the timers whose time has come, each in its own transaction that marks it
 *   done only if it was still pending: pages are written to the outbox in that transaction,
 *   with the next timer. A crash before commit leaves the timer pending (it fires after the
 *   restart); after commit it is done (it never fires twice).
 *
 * Recipients are resolved when a page is written: the roster's holder of each role's slot at
 * that moment (a hand-off in between is honoured), stakeholders by their policy contact.
 */
import { randomUUID } from 'node:crypto';
import {
  type Incident,
  type IncidentChange,
  type IncidentService,
  type IncidentStatus,
  isOpen,
} from '../incidents/index.js';
import type { Clock } from '../kernel/index.js';
import { onCallAt, type Person, type Roster } from '../oncall/index.js';
import type { ResponsePolicy, Severity } from '../policy/index.js';
import type { Database, Kysely, Store, Transaction } from '../store/index.js';
import {
  type Audience,
  type EscalatingIncident,
  escalate,
  remind,
  startEscalation,
  type TimerPlan,
} from './escalation-plan.js';
import type { ChannelKind, InternalAlert, NotificationKind } from './notification.js';

const isOpenStatus = (status: string) => isOpen(status as IncidentStatus);

/** What the service needs of the outbox: write one notification inside the caller's transaction. */
export interface NotificationSink {
  enqueueIn(
    trx: Transaction<Database>,
    input: {
      readonly incidentId: string;
      readonly kind: NotificationKind;
      readonly channel: ChannelKind;
      readonly recipient: string;
      readonly target: string;
      readonly idempotencyKey: string;
      readonly message: InternalAlert;
    },
  ): Promise<unknown>;
}

/** Which channels are set up: people get email (and Slack when their roster entry has a webhook). */
export interface PagingRoutes {
  /** People and stakeholders with an address get email. */
  readonly email: boolean;
  /** People whose `slack` is an incoming webhook URL get Slack. */
  readonly slack: boolean;
  /** Team-wide channels: each page of a level goes to each once (recipient `team`). */
  readonly team: readonly { readonly channel: 'webhook' | 'pagerduty'; readonly target: string }[];
}

export interface EscalationServiceOptions {
  readonly store: Store;
  readonly policy: ResponsePolicy;
  /** Who holds each role; without one, roles cannot be paged (team channels and stakeholders still are). */
  readonly roster: Roster | undefined;
  readonly clock: Clock;
  readonly outbox: NotificationSink;
  readonly routes: PagingRoutes;
  /**
   * Issues one-click acknowledgement links (when the server has a public URL): each person paged
   * while the incident waits for acknowledgement gets their own, in the page's transaction.
   */
  readonly ackLinks?: {
    createIn(trx: Transaction<Database>, input: { incidentId: string; recipient: string }): Promise<string>;
  };
  /** Timers fired per runDue call at most. Default 100. */
  readonly batchSize?: number;
}

/** One recipient of a page, resolved. */
export interface Recipient {
  /** Roster person id, or stakeholder id. */
  readonly id: string;
  readonly name: string;
  readonly email: string | undefined;
  readonly slackWebhook: string | undefined;
}

const SLACK_WEBHOOK = /^https:\/\/hooks\.slack\.com\//;

export class EscalationService {
  private readonly db: Kysely<Database>;
  private readonly batchSize: number;

  constructor(private readonly options: EscalationServiceOptions) {
    this.db = options.store.db;
    this.batchSize = options.batchSize ?? 100;
  }

  private loop: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;

  /**
   * Fires due timers every `pollMs` in the background until `stop()`. A failed round (the
   * database away) is retried on the next tick: the timers stay pending.
   */
  start(pollMs = 1000, warn: (message: string) => void = () => {}): void {
    if (this.loop !== undefined) return;
    this.stopping = false;
    this.loop = (async () => {
      while (!this.stopping) {
        try {
          await this.runDue();
        } catch (error) {
          warn(
            `paging: escalation timers failed (${error instanceof Error ? error.message : String(error)}); retrying`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          timer.unref();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    })();
  }

  /** Finishes the round in progress and stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  /** Subscribes to the incident service's changes (call once at start). */
  attach(incidents: IncidentService): void {
    incidents.onChange((trx, change) => this.onChange(trx, change));
  }

  async onChange(trx: Transaction<Database>, change: IncidentChange): Promise<void> {
    const now = this.options.clock.now();
    if (change.type === 'opened') {
      await this.begin(trx, change.incident, change.incident.detected_at, now);
      return;
    }
    const { before, after } = change;
    if (!isOpenStatus(after.status)) {
      if (isOpenStatus(before.status)) {
        await this.cancel(trx, after.id, ['notify_step', 'escalate', 'reminder']);
        await this.pageTeam(trx, after, 'resolved', `v${after.version}`, now);
      }
      return;
    }
    if (after.severity !== before.severity) {
      await this.cancel(trx, after.id, ['notify_step', 'escalate', 'reminder']);
      // The severity's clocks restart now, as the incident's deadlines do.
      await this.begin(trx, after, now.toISOString(), now);
      // Still to be acknowledged? The new severity's escalation stands; else only its reminders.
      if (after.status !== 'detected') await this.cancel(trx, after.id, ['notify_step', 'escalate']);
      return;
    }
    if (before.status === 'detected' && after.status !== 'detected') {
      await this.cancel(trx, after.id, ['notify_step', 'escalate']);
      await this.pageTeam(trx, after, 'acknowledged', `v${after.version}`, now);
    }
  }

  /**
   * Fires every pending timer due by now, oldest first; returns how many fired. Each in its own
   * transaction, so one failing (the database away) leaves the others and itself pending.
   */
  async runDue(): Promise<number> {
    let fired = 0;
    for (;;) {
      const now = this.options.clock.now();
      const due = await this.db
        .selectFrom('escalation_timers')
        .selectAll()
        .where('status', '=', 'pending')
        .where('due_at', '<=', now.toISOString())
        .orderBy('due_at')
        .orderBy('id')
        .limit(this.batchSize)
        .execute();
      if (due.length === 0) return fired;
      for (const timer of due) {
        if (await this.fire(timer.id)) fired++;
      }
    }
  }

  /**
   * A notification was dead-lettered: tell the incident commander on call (email, and Slack
   * when set up), in the transaction that marks it dead. A failed `delivery_failed` message is
   * not raised again (the timeline record is all that is left to do).
   */
  async raiseDeliveryFailureIn(
    trx: Transaction<Database>,
    failed: {
      readonly id: string;
      readonly channel: string;
      readonly recipient: string;
      readonly kind: string;
      readonly lastError: string | null;
      readonly message: InternalAlert;
    },
  ): Promise<void> {
    if (failed.kind === 'delivery_failed') return;
    const now = this.options.clock.now();
    const commander = this.recipientsOf(
      { level: 0, roles: [{ role: 'incident_commander', slot: 'primary' }], stakeholders: [] },
      now,
    );
    const message: InternalAlert = {
      ...failed.message,
      kind: 'delivery_failed',
      summary: `A ${failed.kind} to ${failed.recipient} by ${failed.channel} could not be delivered (${failed.lastError ?? 'unknown error'}). ${failed.message.summary}`,
    };
    for (const r of commander) {
      await this.enqueuePersonal(
        trx,
        failed.message.incidentId,
        'delivery_failed',
        r,
        (channel) => `${failed.id}:delivery_failed:${r.id}:${channel}`,
        message,
      );
    }
  }

  /** The pending timers of an incident, soonest first (for the API and tests). */
  async pendingTimers(incidentId: string): Promise<{ kind: string; dueAt: string; data: unknown }[]> {
    const rows = await this.db
      .selectFrom('escalation_timers')
      .selectAll()
      .where('incident_id', '=', incidentId)
      .where('status', '=', 'pending')
      .orderBy('due_at')
      .execute();
    return rows.map((r) => ({ kind: r.kind, dueAt: r.due_at, data: JSON.parse(r.data) }));
  }

  private async fire(timerId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const now = this.options.clock.now();
      // Claim: only the transaction that moves it from pending fires it.
      const claimed = await trx
        .updateTable('escalation_timers')
        .set({ status: 'done', fired_at: now.toISOString() })
        .where('id', '=', timerId)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) return false;
      const timer = await trx
        .selectFrom('escalation_timers')
        .selectAll()
        .where('id', '=', timerId)
        .executeTakeFirstOrThrow();
      const incidentRow = await trx
        .selectFrom('incidents')
        .select([
          'id',
          'severity',
          'status',
          'clock_started_at',
          'ack_by',
          'title',
          'summary',
          'roles',
          'version',
          'classification',
        ])
        .where('id', '=', timer.incident_id)
        .executeTakeFirstOrThrow();
      const plan = JSON.parse(timer.data) as TimerPlan;
      const incident: EscalatingIncident = {
        severity: incidentRow.severity as Severity,
        clockStart: incidentRow.clock_started_at,
        ackBy: incidentRow.ack_by,
      };
      const classification = incidentRow.classification
        ? (JSON.parse(incidentRow.classification) as {
            impact: { data: string; service: string; customer: string };
          })
        : undefined;
      const snapshot: IncidentSnapshot = {
        ...(classification ? { impact: impactText(classification.impact) } : {}),
        id: incidentRow.id,
        title: incidentRow.title,
        summary: incidentRow.summary,
        severity: incident.severity,
        status: incidentRow.status,
        ack_by: incidentRow.ack_by,
        roles: JSON.parse(incidentRow.roles) as Record<string, string>,
      };
      // A timer of another severity, or for an incident no longer waiting for it, does nothing.
      if (plan.severity !== incident.severity || !isOpenStatus(incidentRow.status)) return true;
      if (plan.kind !== 'reminder' && incidentRow.status !== 'detected') return true;

      const cause = `timer:${timer.id}`;
      if (plan.kind === 'notify_step') {
        await this.page(trx, snapshot, 'page', plan.audience, cause, now);
      } else if (plan.kind === 'escalate') {
        const { audience, next } = escalate(this.options.policy, incident, plan.level, now);
        await this.page(trx, snapshot, 'escalation', audience, cause, now);
        await this.schedule(trx, snapshot.id, [next], now);
      } else {
        const reminder = remind(this.options.policy, incident.severity, now);
        if (reminder) {
          await this.page(trx, snapshot, 'reminder', reminder.audience, cause, now);
          await this.schedule(trx, snapshot.id, [reminder.next], now);
        }
      }
      return true;
    });
  }

  private async begin(
    trx: Transaction<Database>,
    incident: Incident,
    clockStart: string,
    now: Date,
  ): Promise<void> {
    const plan = startEscalation(
      this.options.policy,
      { severity: incident.severity, clockStart, ackBy: incident.ack_by },
      now,
    );
    if (plan.now) await this.page(trx, snapshotOf(incident), 'page', plan.now, `v${incident.version}`, now);
    await this.schedule(trx, incident.id, plan.timers, now);
  }

  private async schedule(
    trx: Transaction<Database>,
    incidentId: string,
    timers: readonly TimerPlan[],
    now: Date,
  ): Promise<void> {
    for (const timer of timers) {
      await trx
        .insertInto('escalation_timers')
        .values({
          id: randomUUID(),
          incident_id: incidentId,
          kind: timer.kind,
          due_at: timer.dueAt.toISOString(),
          data: JSON.stringify(timer),
          status: 'pending',
          created_at: now.toISOString(),
          fired_at: null,
        })
        .execute();
    }
  }

  private async cancel(
    trx: Transaction<Database>,
    incidentId: string,
    kinds: readonly string[],
  ): Promise<void> {
    await trx
      .updateTable('escalation_timers')
      .set({ status: 'cancelled' })
      .where('incident_id', '=', incidentId)
      .where('status', '=', 'pending')
      .where('kind', 'in', [...kinds])
      .execute();
  }

  /** The people (and stakeholders) of an audience at `at`, each once. */
  recipientsOf(audience: Audience, at: Date): Recipient[] {
    const out = new Map<string, Recipient>();
    const { roster, policy } = this.options;
    if (roster) {
      const onCall = onCallAt(roster, policy, at);
      for (const { role, slot } of audience.roles) {
        const holder = onCall.find((r) => r.role === role)?.[slot];
        if (holder) out.set(holder.person.id, personRecipient(holder.person));
      }
    }
    for (const id of audience.stakeholders) {
      const contact = policy.stakeholders[id]?.contact;
      const person = roster?.people[id];
      if (person) out.set(id, personRecipient(person));
      else
        out.set(id, {
          id,
          name: policy.stakeholders[id]?.title ?? id,
          email: contact,
          slackWebhook: undefined,
        });
    }
    return [...out.values()];
  }

  private async page(
    trx: Transaction<Database>,
    incident: IncidentSnapshot,
    kind: NotificationKind,
    audience: Audience,
    cause: string,
    now: Date,
  ): Promise<void> {
    const recipients = this.recipientsOf(audience, now);
    const message = this.messageOf(incident, kind, recipients, now);
    const { routes } = this.options;
    for (const r of recipients) {
      if (!(routes.email && r.email) && !(routes.slack && r.slackWebhook)) continue;
      // Their own link, for a page that asks for an acknowledgement.
      const linked =
        this.options.ackLinks && kind !== 'reminder' && incident.status === 'detected'
          ? {
              ...message,
              ackUrl: await this.options.ackLinks.createIn(trx, { incidentId: incident.id, recipient: r.id }),
            }
          : message;
      await this.enqueuePersonal(
        trx,
        incident.id,
        kind,
        r,
        (channel) => `${incident.id}:${cause}:${r.id}:${channel}`,
        linked,
      );
    }
    // Reminders are for people; team channels get pages, escalations, acks and resolutions.
    if (kind !== 'reminder') await this.pageTeamWith(trx, incident, kind, cause, message);
  }

  /** One person's copy of a message: by email, and by Slack when they have a webhook. */
  private async enqueuePersonal(
    trx: Transaction<Database>,
    incidentId: string,
    kind: NotificationKind,
    r: Recipient,
    key: (channel: string) => string,
    message: InternalAlert,
  ): Promise<void> {
    const { routes, outbox } = this.options;
    const targets: [ChannelKind, string | undefined][] = [
      ['email', routes.email ? r.email : undefined],
      ['slack', routes.slack ? r.slackWebhook : undefined],
    ];
    for (const [channel, target] of targets) {
      if (target === undefined) continue;
      await outbox.enqueueIn(trx, {
        incidentId,
        kind,
        channel,
        recipient: r.id,
        target,
        idempotencyKey: key(channel),
        message,
      });
    }
  }

  private async pageTeam(
    trx: Transaction<Database>,
    incident: Incident,
    kind: NotificationKind,
    cause: string,
    now: Date,
  ): Promise<void> {
    const snapshot = snapshotOf(incident);
    await this.pageTeamWith(trx, snapshot, kind, cause, this.messageOf(snapshot, kind, [], now));
  }

  private async pageTeamWith(
    trx: Transaction<Database>,
    incident: IncidentSnapshot,
    kind: NotificationKind,
    cause: string,
    message: InternalAlert,
  ): Promise<void> {
    for (const route of this.options.routes.team) {
      await this.options.outbox.enqueueIn(trx, {
        incidentId: incident.id,
        kind,
        channel: route.channel,
        recipient: 'team',
        target: route.target,
        idempotencyKey: `${incident.id}:${cause}:team:${route.channel}:${route.target}`,
        message,
      });
    }
  }

  private messageOf(
    incident: IncidentSnapshot,
    kind: NotificationKind,
    recipients: readonly Recipient[],
    now: Date,
  ): InternalAlert {
    const cadence = this.options.policy.statusUpdates[incident.severity];
    const commanderId = incident.roles.incident_commander;
    const onCallCommander = this.options.roster
      ? onCallAt(this.options.roster, this.options.policy, now).find((r) => r.role === 'incident_commander')
          ?.primary.person.name
      : undefined;
    return {
      kind,
      incidentId: incident.id,
      title: incident.title,
      severity: incident.severity,
      status: incident.status,
      summary: incident.summary || incident.title,
      impact: incident.impact ?? 'not yet assessed (the incident is not classified)',
      currentActions:
        incident.status === 'detected' ? 'awaiting acknowledgement' : `status ${incident.status}`,
      nextUpdate: new Date(now.getTime() + (cadence?.everyMs ?? 60 * 60_000)).toISOString(),
      commander: commanderId ?? (onCallCommander ? `${onCallCommander} (on call)` : 'unassigned'),
      team: recipients.map((r) => r.name),
      ackBy: incident.ack_by,
    };
  }
}

interface IncidentSnapshot {
  /** The classification's impact in words, when it has been classified. */
  readonly impact?: string;
  readonly id: string;
  readonly title: string;
  readonly summary: string;
  readonly severity: Severity;
  readonly status: string;
  readonly ack_by: string;
  readonly roles: Readonly<Record<string, string>>;
}

function impactText(impact: { data: string; service: string; customer: string }): string {
  return `data ${impact.data}, service ${impact.service}, customers ${impact.customer}`;
}

function snapshotOf(incident: Incident): IncidentSnapshot {
  return {
    ...(incident.classification ? { impact: impactText(incident.classification.impact) } : {}),
    id: incident.id,
    title: incident.title,
    summary: incident.summary,
    severity: incident.severity,
    status: incident.status,
    ack_by: incident.ack_by,
    roles: incident.roles,
  };
}

function personRecipient(person: Person): Recipient {
  return {
    id: person.id,
    name: person.name,
    email: person.email,
    slackWebhook: person.slack && SLACK_WEBHOOK.test(person.slack) ? person.slack : undefined,
  };
}
