/** Containment and recovery: playbooks, their runs, approvals and undo (issue 6). */
export type { ActionOutcome, Connector, ConnectorOperation, PlannedAction } from './connector.js';
