/**
 * The playbook runner (README "Containment"). A run is rows: the run, and one row per step and
 * direction. Every move commits together with its timeline record and audit entry, and a
 * step's effect happens between two commits:
 *
 *   pending ──(approval, when the step needs one)──▶ running ──▶ succeeded
 *                                                        └──▶ pending again (retryable, attempts left)
 *                                                        └──▶ failed (the run stops)
 *
 * A server that dies while a step is `running` leaves the row so; whoever takes the run over
 * (the same server restarted, or another on the same PostgreSQL database once the lease runs
 * out) runs that step again with the same idempotency key, and never a step already
 * `succeeded`. Undo turns the succeeded steps' recorded undos into steps of their own, grouped
 * by the KCT plan's recovery phases and run in that order, each phase waiting for approval.
 */
import { randomBytes } from 'node:crypto';
import type { ExpressionBuilder } from 'kysely';
import type {
  AlertJoinedData,
  AlertQuery,
  Incident,
  IncidentChange,
  IncidentService,
  StoredAlert,
} from '../incidents/index.js';
import { type Clock, FirebreakError, LoopPause } from '../kernel/index.js';
import type { Roster } from '../oncall/index.js';
import type { ResponsePolicy } from '../policy/index.js';
import type {
  Database,
  Kysely,
  PlaybookRunStepTable,
  PlaybookRunTable,
  Store,
  Transaction,
} from '../store/index.js';
import { type ActionOutcome, type Connector, isPermanentFailure, type PlannedAction } from './connector.js';
import {
  type Playbook,
  type PlaybookStep,
  RECOVERY_PHASES,
  type RecoveryPhase,
  type StepAction,
} from './playbook.js';
import {
  ACTIVE_RUN_STATUSES,
  type PlaybookRun,
  type RunOrigin,
  type RunStatus,
  type RunStep,
  type StepDirection,
  toRun,
  toRunStep,
  UNDOABLE_RUN_STATUSES,
} from './playbook-run.js';
import { type Approver, assertHoldsRole, roleHolders } from './run-approvals.js';
import { renderParams, type TemplateContext, TemplateError } from './step-params.js';

export interface PlaybookRunnerDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly incidents: IncidentService;
  readonly alerts: AlertQuery;
  readonly policy: ResponsePolicy;
  readonly roster: Roster | undefined;
  readonly playbooks: readonly Playbook[];
  /** The connectors set up on this server, by name. */
  readonly connectors: ReadonlyMap<string, Connector>;
  /** Where the background loop reports a round that failed (the database went away). */
  readonly warn?: (line: string) => void;
  /**
   * Tells whoever holds a role what needs them: a step or recovery phase waiting for their
   * approval, or a run that stopped on a failed step (the incident commander). Main sends it
   * through the notify connector. Called after the change is committed, once per event: `key`
   * is the same for a repeat, so a message is not sent twice. A failure to tell is reported
   * through `warn`; the timeline has the event either way.
   */
  readonly tell?: (message: RunMessage) => Promise<void>;
}

/** A message about a run to whoever holds `role`. */
export interface RunMessage {
  readonly key: string;
  readonly runId: string;
  readonly incidentId: string;
  readonly role: string;
  readonly subject: string;
  readonly text: string;
}

export interface PlaybookRunnerOptions {
  /** How long a server holds a run it works on; renewed while a step runs. Default 30 s. */
  readonly leaseMs?: number;
  /** How often the background loop looks for runs to advance. Default 1 s. */
  readonly pollMs?: number;
  /** First retry delay; doubles per attempt, at most 60 s. Default 1 s. */
  readonly retryBaseMs?: number;
  /** At most this many proposals of one playbook per incident (an attack from many addresses). Default 20. */
  readonly maxProposalsPerIncident?: number;
}

/** One step of a dry run: what it would call, as the connector plans it, and its undo. */
export interface DryRunStep {
  readonly id: string;
  readonly title: string;
  readonly phase: string;
  readonly recovery_phase: RecoveryPhase;
  readonly approval: string | null;
  readonly timeout_ms: number;
  readonly retries: number;
  readonly action: StepAction | null;
  readonly plan: PlannedAction | null;
  readonly undo: {
    readonly action: StepAction | null;
    readonly plan: PlannedAction | null;
    readonly none?: string;
  };
  /** Why it could not run as things stand (a missing value, a connector not set up); empty: it can. */
  readonly problems: readonly string[];
}

export interface DryRun {
  readonly playbook: string;
  readonly title: string;
  readonly incident: string;
  readonly ok: boolean;
  readonly steps: readonly DryRunStep[];
}

/**
 * Where each step's undo falls in the KCT plan's phased restoration when the playbook does not
 * say (`recovery_phase`): the database first, then what users touch, then payments, admin last.
 */
const DEFAULT_RECOVERY_PHASE: Readonly<Record<string, RecoveryPhase>> = {
  'postgres.read_only_mode': 'core_infrastructure',
  'postgres.revoke_writes': 'core_infrastructure',
  'postgres.force_row_level_security': 'core_infrastructure',
  'postgres.checkout_off': 'payments',
  'http.stripe_disable_payments': 'payments',
  'postgres.force_admin_password_reset': 'admin_functions',
  'postgres.end_admin_sessions': 'admin_functions',
};

export function recoveryPhaseOf(step: PlaybookStep): RecoveryPhase {
  return (
    step.recoveryPhase ??
    DEFAULT_RECOVERY_PHASE[`${step.action.connector}.${step.action.operation}`] ??
    (step.action.connector === 'decisions' && step.action.params.switch === 'checkout_enabled'
      ? 'payments'
      : 'user_services')
  );
}

const TERMINAL_STEP = new Set(['succeeded', 'failed', 'refused', 'skipped']);
const MAX_RETRY_DELAY_MS = 60_000;

export class PlaybookRunner {
  private readonly db;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly retryBaseMs: number;
  private readonly maxProposals: number;
  /** Names this server in leases. */
  private readonly owner = `runner-${randomBytes(6).toString('hex')}`;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private readonly pause = new LoopPause();
  private readonly byId: ReadonlyMap<string, Playbook>;

  constructor(
    private readonly deps: PlaybookRunnerDeps,
    options: PlaybookRunnerOptions = {},
  ) {
    this.db = deps.store.db;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? 1_000;
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
    this.maxProposals = options.maxProposalsPerIncident ?? 20;
    this.byId = new Map(deps.playbooks.map((p) => [p.id, p]));
  }

  get playbooks(): readonly Playbook[] {
    return this.deps.playbooks;
  }

  playbook(id: string): Playbook {
    const found = this.byId.get(id);
    if (!found) {
      throw new FirebreakError('FB_ERR_PLAYBOOK_NOT_FOUND', { id, known: [...this.byId.keys()].join(', ') });
    }
    return found;
  }

  // -------------------------------------------------------------------------------------------
  // What people ask for

  /** Every step as it would run for this incident, secrets masked; nothing is written or called. */
  async dryRun(playbookId: string, incidentId: string): Promise<DryRun> {
    const playbook = this.playbook(playbookId);
    const context = await this.contextFor(playbook, await this.deps.incidents.get(incidentId));
    const steps = playbook.steps.map((step) => this.dryRunStep(step, context));
    return {
      playbook: playbook.id,
      title: playbook.title,
      incident: incidentId,
      ok: steps.every((s) => s.problems.length === 0),
      steps,
    };
  }

  /**
   * Starts the playbook on the incident: the proposal a trigger made, if one waits, else a new
   * run. Refused (FB_ERR_RUN_PARAMS, nothing written) when a step cannot run as things stand.
   */
  async startRun(playbookId: string, incidentId: string, actor: string): Promise<PlaybookRun> {
    const playbook = this.playbook(playbookId);
    const incident = await this.deps.incidents.get(incidentId);
    const proposal = await this.db
      .selectFrom('playbook_runs')
      .selectAll()
      .where('incident_id', '=', incidentId)
      .where('playbook_id', '=', playbookId)
      .where('status', '=', 'proposed')
      .orderBy('created_at', 'asc')
      .executeTakeFirst();
    const context = proposal
      ? await this.contextFor(playbook, incident, JSON.parse(proposal.context_json) as TemplateContext)
      : await this.contextFor(playbook, incident);
    const steps = this.materialise(playbook, incident.id, context);
    const now = this.deps.clock.now().toISOString();
    const id = proposal?.id ?? newRunId();
    await this.db.transaction().execute(async (trx) => {
      if (proposal) {
        const taken = await trx
          .updateTable('playbook_runs')
          .set({ status: 'running', context_json: JSON.stringify(context), updated_at: now })
          .where('id', '=', id)
          .where('status', '=', 'proposed')
          .executeTakeFirst();
        if (Number(taken.numUpdatedRows) !== 1)
          throw this.stateError(id, 'proposed', 'it was started already');
      } else {
        await trx
          .insertInto('playbook_runs')
          .values(this.runRow(id, playbook, incident.id, 'manual', 'running', context, actor, now))
          .execute();
      }
      await this.insertSteps(trx, id, 'forward', steps);
      await this.record(trx, actor, incident.id, {
        run_id: id,
        playbook: playbook.id,
        event: 'started',
        summary: `started ${playbook.id} (${steps.length} steps)`,
      });
    });
    this.kick();
    return this.get(id);
  }

  async get(id: string): Promise<PlaybookRun> {
    return (await this.load(id)).run;
  }

  /** The run as shown, and its row (the playbook and the values it was started with). */
  private async load(id: string): Promise<{ row: PlaybookRunTable; run: PlaybookRun }> {
    const row = await this.loadRow(id);
    const steps = await this.db
      .selectFrom('playbook_run_steps')
      .selectAll()
      .where('run_id', '=', id)
      .execute();
    return { row, run: toRun(row, snapshotOf(row).title, steps) };
  }

  /** The incident's runs, oldest first (proposals too). */
  async list(incidentId: string): Promise<PlaybookRun[]> {
    await this.deps.incidents.get(incidentId);
    const rows = await this.db
      .selectFrom('playbook_runs')
      .selectAll()
      .where('incident_id', '=', incidentId)
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
    if (rows.length === 0) return [];
    const steps = await this.db
      .selectFrom('playbook_run_steps')
      .selectAll()
      .where(
        'run_id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
    return rows.map((row) =>
      toRun(
        row,
        snapshotOf(row).title,
        steps.filter((s) => s.run_id === row.id),
      ),
    );
  }

  /**
   * Lets the waiting step run (or, during an undo, every step of the waiting recovery phase).
   * `expect` guards against approving something else than the person looked at: a step id, or
   * a recovery phase.
   */
  async approve(id: string, approver: Approver, expect?: string): Promise<PlaybookRun> {
    await this.decide(id, approver, expect, undefined);
    this.kick();
    return this.get(id);
  }

  /** Says no to what waits: the run stops there (undo can still put back what already ran). */
  async refuse(id: string, approver: Approver, reason: string, expect?: string): Promise<PlaybookRun> {
    await this.decide(id, approver, expect, reason);
    return this.get(id);
  }

  /**
   * Starts recovery: the succeeded steps' undos in the KCT plan's phases (core infrastructure,
   * user services, payments, admin functions), newest first within a phase, each phase waiting
   * for the incident commander's approval. Steps that cannot be undone are listed as skipped.
   */
  async undo(id: string, actor: string): Promise<PlaybookRun> {
    const { row, run } = await this.load(id);
    if (!UNDOABLE_RUN_STATUSES.includes(run.status)) {
      throw this.stateError(
        id,
        run.status,
        run.status === 'proposed'
          ? 'nothing has run, so nothing needs undoing'
          : 'undo starts once the run has stopped (succeeded, failed or refused)',
      );
    }
    const playbook = snapshotOf(row);
    const context = JSON.parse(row.context_json) as TemplateContext;
    const gate = this.gateRole();
    const candidates = run.steps
      .filter((s) => s.direction === 'forward' && s.status === 'succeeded')
      .map((s) => {
        const step = playbook.steps.find((p) => p.id === s.step_id)!;
        return { s, step, phase: recoveryPhaseOf(step) };
      })
      .sort(
        (a, b) => RECOVERY_PHASES.indexOf(a.phase) - RECOVERY_PHASES.indexOf(b.phase) || b.s.seq - a.s.seq,
      );
    const rows: NewStep[] = candidates.map(({ s, step, phase }) => {
      const recorded = s.outcome?.undo;
      let action: StepAction | null = null;
      let none: string | undefined;
      if (step.undo.kind === 'none') none = `cannot be undone: ${step.undo.reason}`;
      else if (recorded)
        action = { connector: s.action!.connector, operation: recorded.operation, params: recorded.params };
      else {
        try {
          action = { ...step.undo.action, params: renderParams(step.undo.action.params, context) };
        } catch (error) {
          none = `its undo cannot be filled in: ${(error as Error).message}`;
        }
      }
      return {
        step_id: step.id,
        title: `undo: ${step.title}`,
        phase: 'recovery',
        recovery_phase: phase,
        approval_role: action ? gate : null,
        timeout_ms: step.timeoutMs,
        max_attempts: step.retries + 1,
        action,
        plan: action ? this.tryPlan(action, []) : null,
        skipped: none,
      };
    });
    const now = this.deps.clock.now().toISOString();
    await this.db.transaction().execute(async (trx) => {
      const moved = await trx
        .updateTable('playbook_runs')
        .set({ status: 'undoing', updated_at: now })
        .where('id', '=', id)
        .where('status', '=', run.status)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1)
        throw this.stateError(id, run.status, 'it changed meanwhile; look again');
      await this.insertSteps(trx, id, 'undo', rows);
      const phases = [...new Set(rows.filter((r) => r.action).map((r) => r.recovery_phase))];
      await this.record(trx, actor, run.incident_id, {
        run_id: id,
        playbook: run.playbook_id,
        event: 'undo_started',
        summary: `undo of ${run.playbook_id}: ${rows.filter((r) => r.action).length} steps in ${phases.join(', ') || 'no phase'}; ${rows.filter((r) => !r.action).length} cannot be undone`,
        direction: 'undo',
      });
    });
    this.kick();
    return this.get(id);
  }

  // -------------------------------------------------------------------------------------------
  // Triggers

  /**
   * The incident listener: an alert that joins an incident proposes (or, for `automatic`
   * triggers, starts) each playbook whose trigger it matches, inside the alert's transaction.
   */
  async onIncidentChange(trx: Transaction<Database>, change: IncidentChange): Promise<void> {
    if (change.type !== 'changed' || change.record.kind !== 'alert_joined') return;
    const alert = change.record.data as AlertJoinedData;
    const incident = change.after;
    for (const playbook of this.deps.playbooks) {
      const trigger = playbook.triggers.find(
        (t) =>
          (t.rules.length === 0 || t.rules.includes(alert.rule)) &&
          (t.severities.length === 0 || t.severities.includes(incident.severity)) &&
          // Incidents carry no tags yet: a trigger that needs tags matches none.
          t.tags.length === 0,
      );
      if (!trigger) continue;
      const existing = await trx
        .selectFrom('playbook_runs')
        .select(['id', 'context_json'])
        .where('incident_id', '=', incident.id)
        .where('playbook_id', '=', playbook.id)
        .execute();
      const group = JSON.stringify(alert.group);
      if (
        existing.some(
          (r) => JSON.stringify((JSON.parse(r.context_json) as TemplateContext).alert?.group) === group,
        )
      )
        continue;
      if (existing.length >= this.maxProposals) continue;
      const context: TemplateContext = {
        incident: incident as unknown as Record<string, unknown>,
        alerts: [],
        alert: alertValues(alert),
      };
      // An alert without the values the steps need (a ban needs an address) proposes nothing
      // a person could start.
      if (!fillable(playbook, context)) continue;
      const id = newRunId();
      const now = this.deps.clock.now().toISOString();
      await trx
        .insertInto('playbook_runs')
        .values(this.runRow(id, playbook, incident.id, 'proposed', 'proposed', context, 'system', now))
        .execute();
      const about = Object.entries(alert.group)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      await this.record(trx, 'system', incident.id, {
        run_id: id,
        playbook: playbook.id,
        event: 'proposed',
        summary: `${alert.rule}${about ? ` (${about})` : ''} proposes ${playbook.id}: start it with \`firebreak playbook run ${playbook.id} ${incident.id}\``,
      });
      if (trigger.mode === 'automatic') await this.startProposalIn(trx, id, playbook, incident, context, now);
    }
  }

  private async startProposalIn(
    trx: Transaction<Database>,
    id: string,
    playbook: Playbook,
    incident: Incident,
    context: TemplateContext,
    now: string,
  ): Promise<void> {
    let steps: NewStep[];
    try {
      steps = this.materialise(playbook, incident.id, context);
    } catch (error) {
      await this.record(trx, 'system', incident.id, {
        run_id: id,
        playbook: playbook.id,
        event: 'not_started',
        summary: `could not start ${playbook.id} by itself: ${(error as FirebreakError).message}`,
      });
      return;
    }
    await trx
      .updateTable('playbook_runs')
      .set({ status: 'running', origin: 'automatic', updated_at: now })
      .where('id', '=', id)
      .execute();
    await this.insertSteps(trx, id, 'forward', steps);
    await this.record(trx, 'system', incident.id, {
      run_id: id,
      playbook: playbook.id,
      event: 'started',
      summary: `started ${playbook.id} by itself (automatic trigger)`,
    });
  }

  // -------------------------------------------------------------------------------------------
  // The worker

  /** Advances runs in the background until `stop()`. On SQLite, runs left by a dead server are taken over at once. */
  start(): void {
    if (this.loop !== undefined) return;
    this.stopping = false;
    this.loop = this.runLoop();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.pause.wake();
    await this.loop;
    this.loop = undefined;
  }

  /** Looks for work now rather than at the next poll. */
  kick(): void {
    this.pause.wake();
  }

  /**
   * Advances every active run as far as it goes now (until it waits for approval, a retry's
   * time, or finishes). Returns how many steps were attempted. The background loop calls it;
   * tests call it directly.
   */
  async runDue(): Promise<number> {
    let attempted = 0;
    const now = this.deps.clock.now().toISOString();
    const candidates = await this.db
      .selectFrom('playbook_runs')
      .select('id')
      .where('status', 'in', [...ACTIVE_RUN_STATUSES])
      .where(this.leaseFree(now))
      .orderBy('created_at', 'asc')
      .execute();
    for (const { id } of candidates) {
      if (this.stopping) break;
      if (!(await this.takeLease(id))) continue;
      try {
        attempted += await this.advance(id);
      } finally {
        await this.releaseLease(id);
      }
    }
    return attempted;
  }

  private async runLoop(): Promise<void> {
    if (this.deps.store.dialect === 'sqlite') {
      // One server owns an embedded database (the data directory lock): any lease in it is
      // a dead server's.
      await this.db.updateTable('playbook_runs').set({ lease_owner: null, lease_until: null }).execute();
    }
    while (!this.stopping) {
      this.pause.clear();
      try {
        await this.runDue();
      } catch (error) {
        // A database hiccup: the next round tries again; nothing was half-written (every
        // move is one transaction).
        this.deps.warn?.(`playbook runner: a round failed and is tried again: ${(error as Error).message}`);
      }
      if (!this.stopping) await this.pause.sleep(this.pollMs);
    }
  }

  private async takeLease(id: string): Promise<boolean> {
    const now = this.deps.clock.now();
    const taken = await this.db
      .updateTable('playbook_runs')
      .set({ lease_owner: this.owner, lease_until: new Date(now.getTime() + this.leaseMs).toISOString() })
      .where('id', '=', id)
      .where(this.leaseFree(now.toISOString()))
      .executeTakeFirst();
    return Number(taken.numUpdatedRows) === 1;
  }

  /** A run this server may work on: nobody holds it, its holder's lease ran out, or it is ours. */
  private leaseFree(now: string) {
    return (eb: ExpressionBuilder<Database, 'playbook_runs'>) =>
      eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now), eb('lease_owner', '=', this.owner)]);
  }

  /** An update of one step row. */
  private updateStep(
    db: Kysely<Database> | Transaction<Database>,
    runId: string,
    direction: StepDirection,
    seq: number,
  ) {
    return db
      .updateTable('playbook_run_steps')
      .where('run_id', '=', runId)
      .where('direction', '=', direction)
      .where('seq', '=', seq);
  }

  private async releaseLease(id: string): Promise<void> {
    await this.db
      .updateTable('playbook_runs')
      .set({ lease_owner: null, lease_until: null })
      .where('id', '=', id)
      .where('lease_owner', '=', this.owner)
      .execute();
  }

  /** Runs the run's next steps until it has to wait; returns the attempts made. */
  private async advance(id: string): Promise<number> {
    let attempted = 0;
    for (;;) {
      if (this.stopping) return attempted;
      const run = await this.loadRow(id);
      if (!ACTIVE_RUN_STATUSES.includes(run.status as RunStatus)) return attempted;
      const direction: StepDirection = run.status === 'undoing' ? 'undo' : 'forward';
      const steps = (
        await this.db
          .selectFrom('playbook_run_steps')
          .selectAll()
          .where('run_id', '=', id)
          .where('direction', '=', direction)
          .orderBy('seq', 'asc')
          .execute()
      ).map(toRunStep);
      const next = steps.find((s) => !TERMINAL_STEP.has(s.status));
      if (!next) {
        await this.finish(run, direction);
        return attempted;
      }
      if (next.approval_role !== null && next.approved_by === null) {
        await this.waitForApproval(run, next, direction);
        await this.tellRole(
          run,
          next.approval_role,
          `${run.id}/approval/${direction}/${next.seq}`,
          ...approvalMessage(run, next, direction),
        );
        return attempted;
      }
      if (next.next_attempt_at !== null && next.next_attempt_at > this.deps.clock.now().toISOString()) {
        return attempted;
      }
      attempted += 1;
      await this.execute(run, next, direction);
    }
  }

  private async execute(run: PlaybookRunTable, step: RunStep, direction: StepDirection): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    const { seq } = step;
    const attempt = step.attempts + 1;
    // Committed before the call: after a crash, `running` says the effect may have happened,
    // and the next attempt carries the same idempotency key.
    await this.updateStep(this.db, run.id, direction, seq)
      .set({
        status: 'running',
        attempts: attempt,
        started_at: step.started_at ?? now,
        next_attempt_at: null,
      })
      .execute();

    const action = step.action!;
    const connector = this.deps.connectors.get(action.connector);
    const operation = connector?.operations[action.operation];
    let outcome: ActionOutcome | undefined;
    let failure: { message: string; permanent: boolean } | undefined;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`timed out after ${step.timeout_ms} ms`)),
      step.timeout_ms,
    );
    const renew = setInterval(
      () => void this.takeLease(run.id).catch(() => undefined),
      Math.max(1_000, this.leaseMs / 3),
    );
    try {
      if (!operation) {
        failure = {
          message: `connector ${action.connector} (operation ${action.operation}) is not set up on this server`,
          permanent: true,
        };
      } else {
        outcome = await Promise.race([
          operation.run(action.params, {
            idempotencyKey: `${run.id}/${direction}/${step.step_id}`,
            actor: `playbook:${run.id}`,
            incidentId: run.incident_id,
            signal: controller.signal,
          }),
          new Promise<never>((_, reject) =>
            controller.signal.addEventListener('abort', () => reject(controller.signal.reason), {
              once: true,
            }),
          ),
        ]);
      }
    } catch (error) {
      failure = { message: (error as Error).message ?? String(error), permanent: isPermanentFailure(error) };
    } finally {
      clearTimeout(timer);
      clearInterval(renew);
    }

    const done = this.deps.clock.now();
    const base = { run_id: run.id, playbook: run.playbook_id, step: step.step_id, direction } as const;
    let stopped: string | undefined;
    await this.db.transaction().execute(async (trx) => {
      const where = this.updateStep(trx, run.id, direction, seq);
      if (outcome) {
        await where
          .set({
            status: 'succeeded',
            outcome_json: JSON.stringify(outcome),
            error: null,
            finished_at: done.toISOString(),
          })
          .execute();
        await this.record(trx, `playbook:${run.id}`, run.incident_id, {
          ...base,
          event: 'step_succeeded',
          summary: `${step.step_id}: ${outcome.summary}`,
        });
        return;
      }
      const { message, permanent } = failure!;
      if (!permanent && attempt < step.max_attempts) {
        const delay = Math.min(MAX_RETRY_DELAY_MS, this.retryBaseMs * 2 ** (attempt - 1));
        await where
          .set({
            status: 'pending',
            error: message,
            next_attempt_at: new Date(done.getTime() + delay).toISOString(),
          })
          .execute();
        await this.record(trx, `playbook:${run.id}`, run.incident_id, {
          ...base,
          event: 'step_retrying',
          summary: `${step.step_id}: attempt ${attempt} of ${step.max_attempts} failed (${message}); retrying in ${Math.round(delay / 1000)} s`,
        });
        return;
      }
      await where.set({ status: 'failed', error: message, finished_at: done.toISOString() }).execute();
      await this.stopRun(trx, run.id, direction === 'forward' ? 'failed' : 'undo_failed', seq);
      stopped = `${step.step_id} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}${permanent ? ' (not retryable)' : ''}: ${message}; the run stopped`;
      await this.record(trx, `playbook:${run.id}`, run.incident_id, {
        ...base,
        event: 'step_failed',
        summary: stopped,
      });
    });
    if (stopped !== undefined) {
      // A containment that stopped half-way must not wait for someone to read the timeline.
      await this.tellRole(
        run,
        this.gateRole(),
        `${run.id}/failed/${direction}/${seq}`,
        `playbook failed: ${run.playbook_id} ${direction === 'undo' ? 'undo ' : ''}step ${step.step_id}`,
        `${run.playbook_id} on ${run.incident_id}: ${stopped}. See \`firebreak playbook status ${run.id}\`` +
          (direction === 'forward' ? `; put back what ran with \`firebreak playbook undo ${run.id}\`.` : '.'),
      );
    }
  }

  private async waitForApproval(
    run: PlaybookRunTable,
    step: RunStep,
    direction: StepDirection,
  ): Promise<void> {
    const { seq, step_id: stepId, recovery_phase: recoveryPhase } = step;
    const role = step.approval_role;
    const waiting: RunStatus = direction === 'forward' ? 'waiting_approval' : 'undo_waiting_approval';
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('playbook_runs')
        .set({ status: waiting, updated_at: this.deps.clock.now().toISOString() })
        .where('id', '=', run.id)
        .execute();
      let q = trx
        .updateTable('playbook_run_steps')
        .set({ status: 'waiting_approval' })
        .where('run_id', '=', run.id)
        .where('direction', '=', direction);
      q =
        direction === 'undo'
          ? q
              .where('recovery_phase', '=', recoveryPhase)
              .where('status', '=', 'pending')
              .where('approval_role', 'is not', null)
          : q.where('seq', '=', seq);
      await q.execute();
      await this.record(trx, `playbook:${run.id}`, run.incident_id, {
        run_id: run.id,
        playbook: run.playbook_id,
        step: direction === 'forward' ? stepId : undefined,
        direction,
        event: direction === 'forward' ? 'step_waiting' : 'phase_waiting',
        summary:
          direction === 'forward'
            ? `${stepId} waits for approval by ${role}: \`firebreak playbook approve ${run.id}\``
            : `recovery phase ${recoveryPhase} waits for approval by ${role}: \`firebreak playbook approve ${run.id}\``,
      } as const);
    });
  }

  /** Sends a message about the run through `tell`, reporting (not throwing) a failure. */
  private async tellRole(
    run: PlaybookRunTable,
    role: string,
    key: string,
    subject: string,
    text: string,
  ): Promise<void> {
    if (!this.deps.tell) return;
    try {
      await this.deps.tell({ key, runId: run.id, incidentId: run.incident_id, role, subject, text });
    } catch (error) {
      this.deps.warn?.(
        `playbook runner: could not tell ${role} "${subject}" (${run.id}): ${(error as Error).message}`,
      );
    }
  }

  private async decide(
    id: string,
    approver: Approver,
    expect: string | undefined,
    refusal: string | undefined,
  ): Promise<void> {
    const run = await this.get(id);
    const direction: StepDirection | undefined =
      run.status === 'waiting_approval'
        ? 'forward'
        : run.status === 'undo_waiting_approval'
          ? 'undo'
          : undefined;
    if (run.status === 'proposed' && refusal !== undefined) {
      await this.declineProposal(run, approver, refusal);
      return;
    }
    if (!direction) {
      throw this.stateError(id, run.status, 'nothing waits for approval');
    }
    const waiting = run.steps.filter((s) => s.direction === direction && s.status === 'waiting_approval');
    const first = waiting[0];
    if (!first) throw this.stateError(id, run.status, 'nothing waits for approval');
    const target = direction === 'forward' ? first.step_id : first.recovery_phase!;
    if (expect !== undefined && expect !== target) {
      throw this.stateError(id, run.status, `what waits is ${target}, not ${expect}`);
    }
    const role = first.approval_role!;
    const incident = await this.deps.incidents.get(run.incident_id);
    const what =
      direction === 'forward' ? `step ${first.step_id} of ${id}` : `recovery phase ${target} of ${id}`;
    assertHoldsRole(
      approver,
      role,
      what,
      roleHolders(role, incident, this.deps.policy, this.deps.roster, this.deps.clock.now()),
    );

    const now = this.deps.clock.now().toISOString();
    const approved = refusal === undefined;
    const decided = direction === 'forward' ? target : `recovery phase ${target}`;
    await this.db.transaction().execute(async (trx) => {
      const seqs = waiting.map((s) => s.seq);
      const moved = await trx
        .updateTable('playbook_run_steps')
        .set(
          approved
            ? { status: 'pending', approved_by: approver.actor, approved_at: now }
            : { status: 'refused', refusal: `${approver.person}: ${refusal}`, finished_at: now },
        )
        .where('run_id', '=', id)
        .where('direction', '=', direction)
        .where('seq', 'in', seqs)
        .where('status', '=', 'waiting_approval')
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== seqs.length)
        throw this.stateError(id, run.status, 'someone decided first');
      if (approved) {
        await trx
          .updateTable('playbook_runs')
          .set({ status: direction === 'forward' ? 'running' : 'undoing', updated_at: now })
          .where('id', '=', id)
          .execute();
      } else {
        await this.stopRun(trx, id, direction === 'forward' ? 'refused' : 'undo_failed', Math.max(...seqs));
      }
      await this.record(trx, approver.actor, run.incident_id, {
        run_id: id,
        playbook: run.playbook_id,
        direction,
        ...(direction === 'forward' ? { step: target } : {}),
        event: `${direction === 'forward' ? 'step' : 'phase'}_${approved ? 'approved' : 'refused'}`,
        summary: approved
          ? `${approver.person} (${role}) approved ${decided}`
          : `${approver.person} (${role}) refused ${decided}: ${refusal}; the run stopped`,
      });
    });
  }

  private async declineProposal(run: PlaybookRun, approver: Approver, reason: string): Promise<void> {
    if (approver.person === undefined) {
      assertHoldsRole(approver, this.gateRole(), `the proposal ${run.id}`, {
        assigned: undefined,
        onCall: [],
      });
    }
    await this.db.transaction().execute(async (trx) => {
      const moved = await trx
        .updateTable('playbook_runs')
        .set({ status: 'refused', updated_at: this.deps.clock.now().toISOString() })
        .where('id', '=', run.id)
        .where('status', '=', 'proposed')
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1)
        throw this.stateError(run.id, 'proposed', 'it was started meanwhile');
      await this.record(trx, approver.actor, run.incident_id, {
        run_id: run.id,
        playbook: run.playbook_id,
        event: 'declined',
        summary: `${approver.person ?? approver.actor} declined the proposal of ${run.playbook_id}: ${reason}`,
      });
    });
  }

  /** Ends the run in `status`; steps after `seq` that never ran are marked skipped. */
  private async stopRun(
    trx: Transaction<Database>,
    runId: string,
    status: RunStatus,
    seq: number,
  ): Promise<void> {
    const direction = status === 'undo_failed' ? 'undo' : 'forward';
    const now = this.deps.clock.now().toISOString();
    await trx.updateTable('playbook_runs').set({ status, updated_at: now }).where('id', '=', runId).execute();
    await trx
      .updateTable('playbook_run_steps')
      .set({ status: 'skipped', refusal: `the run stopped before it (${status})` })
      .where('run_id', '=', runId)
      .where('direction', '=', direction)
      .where('seq', '>', seq)
      .where('status', 'in', ['pending', 'waiting_approval'])
      .execute();
  }

  private async finish(run: PlaybookRunTable, direction: StepDirection): Promise<void> {
    const status: RunStatus = direction === 'forward' ? 'succeeded' : 'undone';
    await this.db.transaction().execute(async (trx) => {
      const moved = await trx
        .updateTable('playbook_runs')
        .set({ status, updated_at: this.deps.clock.now().toISOString() })
        .where('id', '=', run.id)
        .where('status', '=', run.status)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return;
      await this.record(trx, `playbook:${run.id}`, run.incident_id, {
        run_id: run.id,
        playbook: run.playbook_id,
        direction,
        event: status,
        summary:
          direction === 'forward'
            ? `${run.playbook_id} finished: every step succeeded`
            : `${run.playbook_id} undone`,
      });
    });
  }

  // -------------------------------------------------------------------------------------------
  // Building runs

  private async contextFor(
    playbook: Playbook,
    incident: Incident,
    saved?: TemplateContext,
  ): Promise<TemplateContext> {
    const alerts = (await this.deps.alerts.alertsOf(incident.id)).map(alertValues);
    const rules = new Set(playbook.triggers.flatMap((t) => t.rules));
    const about =
      saved?.alert ??
      [...alerts].reverse().find((a) => rules.has(a.rule as string)) ??
      alerts[alerts.length - 1];
    return {
      incident: incident as unknown as Record<string, unknown>,
      alerts,
      ...(about ? { alert: about } : {}),
    };
  }

  private dryRunStep(step: PlaybookStep, context: TemplateContext): DryRunStep {
    const problems: string[] = [];
    const action = this.renderAction(step, step.action, context, problems);
    const plan = action ? this.tryPlan(action, problems) : null;
    const undoProblems: string[] = [];
    const undoAction =
      step.undo.kind === 'action' ? this.renderAction(step, step.undo.action, context, undoProblems) : null;
    problems.push(...undoProblems.map((p) => `undo: ${p}`));
    return {
      id: step.id,
      title: step.title,
      phase: step.phase,
      recovery_phase: recoveryPhaseOf(step),
      approval: step.approval.kind === 'role' ? step.approval.role : null,
      timeout_ms: step.timeoutMs,
      retries: step.retries,
      action,
      plan,
      undo:
        step.undo.kind === 'none'
          ? { action: null, plan: null, none: step.undo.reason }
          : { action: undoAction, plan: undoAction ? this.tryPlan(undoAction, []) : null },
      problems,
    };
  }

  private renderAction(
    step: PlaybookStep,
    action: StepAction,
    context: TemplateContext,
    problems: string[],
  ): StepAction | null {
    let params: Record<string, unknown>;
    try {
      params = renderParams(action.params, context);
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      problems.push(error.message);
      return null;
    }
    const connector = this.deps.connectors.get(action.connector);
    const operation = connector?.operations[action.operation];
    if (!operation) {
      problems.push(
        `connector ${action.connector} is not set up on this server (add connectors.${action.connector} to firebreak.yaml)`,
      );
    } else {
      problems.push(...operation.validate(params).map((p) => `${step.id}: ${p}`));
    }
    return { connector: action.connector, operation: action.operation, params };
  }

  private tryPlan(action: StepAction, problems: string[]): PlannedAction | null {
    const operation = this.deps.connectors.get(action.connector)?.operations[action.operation];
    if (!operation || operation.validate(action.params).length > 0) return null;
    try {
      return operation.plan(action.params);
    } catch (error) {
      problems.push(`${action.connector}.${action.operation}: ${(error as Error).message}`);
      return null;
    }
  }

  /** The steps to insert, every parameter filled and checked; FB_ERR_RUN_PARAMS on the first problem. */
  private materialise(playbook: Playbook, incidentId: string, context: TemplateContext): NewStep[] {
    return playbook.steps.map((step) => {
      const problems: string[] = [];
      const action = this.renderAction(step, step.action, context, problems);
      const plan = action && problems.length === 0 ? this.tryPlan(action, problems) : null;
      if (problems.length > 0 || !action) {
        throw new FirebreakError('FB_ERR_RUN_PARAMS', {
          step: step.id,
          playbook: playbook.id,
          incident: incidentId,
          problem: problems.join('; '),
        });
      }
      return {
        step_id: step.id,
        title: step.title,
        phase: step.phase,
        recovery_phase: recoveryPhaseOf(step),
        approval_role: step.approval.kind === 'role' ? step.approval.role : null,
        timeout_ms: step.timeoutMs,
        max_attempts: step.retries + 1,
        action,
        plan,
        skipped: undefined,
      };
    });
  }

  private async insertSteps(
    trx: Transaction<Database>,
    runId: string,
    direction: StepDirection,
    steps: readonly NewStep[],
  ): Promise<void> {
    if (steps.length === 0) return;
    const rows: PlaybookRunStepTable[] = steps.map((s, i) => ({
      run_id: runId,
      direction,
      seq: i + 1,
      step_id: s.step_id,
      title: s.title,
      phase: s.phase,
      recovery_phase: s.recovery_phase,
      status: s.skipped ? 'skipped' : 'pending',
      approval_role: s.approval_role,
      approved_by: null,
      approved_at: null,
      refusal: s.skipped ?? null,
      attempts: 0,
      max_attempts: s.max_attempts,
      timeout_ms: s.timeout_ms,
      action_json: s.action ? JSON.stringify(s.action) : null,
      plan_json: s.plan ? JSON.stringify(s.plan) : null,
      outcome_json: null,
      error: null,
      next_attempt_at: null,
      started_at: null,
      finished_at: null,
    }));
    await trx.insertInto('playbook_run_steps').values(rows).execute();
  }

  private runRow(
    id: string,
    playbook: Playbook,
    incidentId: string,
    origin: RunOrigin,
    status: RunStatus,
    context: TemplateContext,
    actor: string,
    now: string,
  ): PlaybookRunTable {
    return {
      id,
      incident_id: incidentId,
      playbook_id: playbook.id,
      status,
      origin,
      // The playbook as it was when the run began: a resumed run (or its undo) does what its
      // approvers saw, even if the file changed since.
      playbook_json: JSON.stringify(playbook),
      context_json: JSON.stringify(context),
      created_at: now,
      created_by: actor,
      updated_at: now,
      lease_owner: null,
      lease_until: null,
    };
  }

  private async loadRow(id: string, trx?: Transaction<Database>): Promise<PlaybookRunTable> {
    const row = await (trx ?? this.db)
      .selectFrom('playbook_runs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw new FirebreakError('FB_ERR_RUN_NOT_FOUND', { id });
    return row;
  }

  /** The role that approves each recovery phase: the incident commander (the plans' final say). */
  private gateRole(): string {
    const roles = Object.keys(this.deps.policy.roles);
    return roles.includes('incident_commander') ? 'incident_commander' : roles[0]!;
  }

  private stateError(id: string, status: string, problem: string): FirebreakError {
    return new FirebreakError('FB_ERR_RUN_STATE', { id, status, problem });
  }

  private async record(
    trx: Transaction<Database>,
    actor: string,
    incidentId: string,
    data: Parameters<IncidentService['recordPlaybookIn']>[3],
  ): Promise<void> {
    const clean = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)) as typeof data;
    await this.deps.incidents.recordPlaybookIn(trx, actor, incidentId, clean);
  }
}

interface NewStep {
  readonly step_id: string;
  readonly title: string;
  readonly phase: string;
  readonly recovery_phase: string;
  readonly approval_role: string | null;
  readonly timeout_ms: number;
  readonly max_attempts: number;
  readonly action: StepAction | null;
  readonly plan: PlannedAction | null;
  /** Set: the step is recorded as skipped, for this reason. */
  readonly skipped: string | undefined;
}

/** Whether every step's templates find a value in the context (alerts[...] aside: filled at start). */
function fillable(playbook: Playbook, context: TemplateContext): boolean {
  try {
    for (const step of playbook.steps) {
      if (JSON.stringify(step.action.params).includes('alerts[')) continue;
      renderParams(step.action.params, context);
    }
    return true;
  } catch (error) {
    if (error instanceof TemplateError) return false;
    throw error;
  }
}

/** The subject and text asking a role holder to approve what waits. */
function approvalMessage(run: PlaybookRunTable, step: RunStep, direction: StepDirection): [string, string] {
  const what = direction === 'forward' ? `step ${step.step_id}` : `recovery phase ${step.recovery_phase}`;
  const expect = direction === 'forward' ? step.step_id : step.recovery_phase;
  return [
    `approval needed: ${run.playbook_id} ${what}`,
    `${run.playbook_id} on ${run.incident_id} waits for ${step.approval_role} to approve ${what}. ` +
      `Check it with \`firebreak playbook status ${run.id}\`, then: firebreak playbook approve ${run.id} --expect ${expect}`,
  ];
}

/** The playbook as it was when the run began. */
function snapshotOf(row: PlaybookRunTable): Playbook {
  return JSON.parse(row.playbook_json) as Playbook;
}

function newRunId(): string {
  return `run_${randomBytes(8).toString('hex')}`;
}

/** An alert as templates read it: `{{ alert.rule }}` (also `rule_id`), `{{ alert.group.source.ip }}`. */
function alertValues(alert: StoredAlert | AlertJoinedData): Record<string, unknown> {
  return { ...alert, rule_id: alert.rule };
}
