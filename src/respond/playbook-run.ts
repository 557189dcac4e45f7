/**
 * A playbook run as the API, the CLI and the timeline show it: where it stands and every step
 * with its approval, attempts, plan and outcome. Rows live in playbook_runs and
 * playbook_run_steps (migration 0008); these are their shapes after parsing.
 */
import type { PlaybookRunStepTable, PlaybookRunTable } from '../store/index.js';
import type { ActionOutcome, PlannedAction } from './connector.js';
import type { StepAction } from './playbook.js';

export const RUN_STATUSES = [
  'proposed',
  'running',
  'waiting_approval',
  'succeeded',
  'failed',
  'refused',
  'undoing',
  'undo_waiting_approval',
  'undone',
  'undo_failed',
] as const;
/**
 * `proposed`: a trigger offered it; nothing has run. `running` / `waiting_approval`: going
 * forward. `succeeded`, `failed`, `refused`: forward finished (refused: a person said no).
 * `undoing` / `undo_waiting_approval` / `undone` / `undo_failed`: recovery, phase by phase.
 */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The statuses a worker advances. */
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ['running', 'undoing'];
/** The statuses an undo may start from: the forward run has stopped. */
export const UNDOABLE_RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'refused'];

export const STEP_STATUSES = [
  'pending',
  'waiting_approval',
  'running',
  'succeeded',
  'failed',
  'refused',
  'skipped',
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];
export type StepDirection = 'forward' | 'undo';

/** How a run came to be: started by a person, offered by a trigger, or started by one. */
export type RunOrigin = 'manual' | 'proposed' | 'automatic';

export interface RunStep {
  readonly seq: number;
  readonly direction: StepDirection;
  readonly step_id: string;
  readonly title: string;
  readonly phase: string;
  readonly recovery_phase: string | null;
  readonly status: StepStatus;
  /** The role a person must hold to let it run; null: runs without approval. */
  readonly approval_role: string | null;
  readonly approved_by: string | null;
  readonly approved_at: string | null;
  /** Why it was refused or skipped. */
  readonly refusal: string | null;
  readonly attempts: number;
  readonly max_attempts: number;
  readonly timeout_ms: number;
  /** What it calls, parameters filled; null: nothing to call (a step that cannot be undone). */
  readonly action: StepAction | null;
  readonly plan: PlannedAction | null;
  readonly outcome: ActionOutcome | null;
  /** The last failure, as the connector said it. */
  readonly error: string | null;
  readonly next_attempt_at: string | null;
  readonly started_at: string | null;
  readonly finished_at: string | null;
}

export interface PlaybookRun {
  readonly id: string;
  readonly incident_id: string;
  readonly playbook_id: string;
  readonly title: string;
  readonly status: RunStatus;
  readonly origin: RunOrigin;
  readonly created_at: string;
  readonly created_by: string;
  readonly updated_at: string;
  /** Forward steps, then undo steps (when an undo started), each in the order they run. */
  readonly steps: readonly RunStep[];
}

export const RUN_ID_PATTERN = '^run_[0-9a-f]{16}$';

export function toRunStep(row: PlaybookRunStepTable): RunStep {
  return {
    seq: Number(row.seq),
    direction: row.direction as StepDirection,
    step_id: row.step_id,
    title: row.title,
    phase: row.phase,
    recovery_phase: row.recovery_phase,
    status: row.status as StepStatus,
    approval_role: row.approval_role,
    approved_by: row.approved_by,
    approved_at: row.approved_at,
    refusal: row.refusal,
    attempts: Number(row.attempts),
    max_attempts: Number(row.max_attempts),
    timeout_ms: Number(row.timeout_ms),
    action: parse(row.action_json),
    plan: parse(row.plan_json),
    outcome: parse(row.outcome_json),
    error: row.error,
    next_attempt_at: row.next_attempt_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
  };
}

export function toRun(
  row: PlaybookRunTable,
  title: string,
  steps: readonly PlaybookRunStepTable[],
): PlaybookRun {
  const order = (s: RunStep) => (s.direction === 'forward' ? 0 : 1_000_000) + s.seq;
  return {
    id: row.id,
    incident_id: row.incident_id,
    playbook_id: row.playbook_id,
    title,
    status: row.status as RunStatus,
    origin: row.origin as RunOrigin,
    created_at: row.created_at,
    created_by: row.created_by,
    updated_at: row.updated_at,
    steps: steps.map(toRunStep).sort((a, b) => order(a) - order(b)),
  };
}

function parse<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}
