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
