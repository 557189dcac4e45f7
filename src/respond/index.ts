/** Containment and recovery: playbooks, their runs, approvals and undo (issue 6). */
export {
  type ActionOutcome,
  type Connector,
  type ConnectorDeps,
  ConnectorError,
  type ConnectorManifest,
  type ConnectorOperation,
  isPermanentFailure,
  type PlannedAction,
  type RunContext,
} from './connector.js';
export { buildConnectors, type ConnectorSettings } from './connector-registry.js';
export {
  type Approval,
  KNOWN_CONNECTOR_OPERATIONS,
  PHASES,
  type Phase,
  type Playbook,
  type PlaybookStep,
  RECOVERY_PHASES,
  type RecoveryPhase,
  STEP_LIMITS,
  type StepAction,
  type StepUndo,
  TEMPLATE_ROOTS,
  TRIGGER_MODES,
  type Trigger,
  type TriggerMode,
} from './playbook.js';
export {
  loadPlaybooks,
  type PlaybookCheckOptions,
  type PlaybookText,
  parsePlaybooks,
  templateProblems,
} from './playbook-loader.js';
export {
  ACTIVE_RUN_STATUSES,
  type PlaybookRun,
  RUN_ID_PATTERN,
  RUN_STATUSES,
  type RunOrigin,
  type RunStatus,
  type RunStep,
  STEP_STATUSES,
  type StepDirection,
  type StepStatus,
} from './playbook-run.js';
export {
  type DryRun,
  type DryRunStep,
  PlaybookRunner,
  type PlaybookRunnerDeps,
  type PlaybookRunnerOptions,
  type RunMessage,
  recoveryPhaseOf,
} from './playbook-runner.js';
export { type Approver, assertHoldsRole, roleHolders } from './run-approvals.js';
export { renderParams, type TemplateContext, TemplateError } from './step-params.js';
