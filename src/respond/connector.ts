/**
 * The contract between playbooks and the systems they act on (issue 6). A playbook step names
 * a connector, one of its operations and parameters; the runner asks the operation to describe
 * what it would do (the dry run, secrets masked), runs it, and records what it changed and how
 * to undo it. Connectors live in src/connectors and are handed to the runner by main.
 */

/** What an operation says it will do, before it does it: shown in a dry run and to approvers. */
export interface PlannedAction {
  /** One line: "revoke INSERT, UPDATE, DELETE on all tables in schema public from shop_app". */
  readonly summary: string;
  /** The exact statements or requests, secrets replaced by `***`. */
  readonly detail: readonly string[];
}

/** What an operation did: facts for the timeline and the audit log, and its undo. */
export interface ActionOutcome {
  readonly summary: string;
  /** Machine-readable facts (rows changed, previous values ...), no secrets. */
  readonly changed: Readonly<Record<string, unknown>>;
  /** The operation and parameters that put things back; absent: nothing to undo. */
  readonly undo?: { readonly operation: string; readonly params: Readonly<Record<string, unknown>> };
}

export interface ConnectorOperation {
  /** Checks the parameters; returns problems as `param: reason` (empty when fine). */
  validate(params: Readonly<Record<string, unknown>>): string[];
  plan(params: Readonly<Record<string, unknown>>): PlannedAction;
  run(params: Readonly<Record<string, unknown>>): Promise<ActionOutcome>;
}

export interface Connector {
  readonly name: string;
  readonly operations: Readonly<Record<string, ConnectorOperation>>;
}
