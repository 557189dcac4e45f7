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

/** What the runner tells an operation about the call it is making. */
export interface RunContext {
  /**
   * The same for every attempt of one step of one run (`run_3f.../ban-ip`): an operation that
   * can be repeated by accident (a retry after a crash) uses it so the effect happens once:
   * Stripe's `Idempotency-Key` header, a decision's origin.
   */
  readonly idempotencyKey: string;
  /** Who the effect is attributed to: `playbook:<run id>`, with the incident. */
  readonly actor: string;
  readonly incidentId: string;
  /** Aborted when the step's timeout passes; an operation should stop its I/O then. */
  readonly signal: AbortSignal;
}

export interface ConnectorOperation {
  /** Checks the parameters; returns problems as `param: reason` (empty when fine). */
  validate(params: Readonly<Record<string, unknown>>): string[];
  plan(params: Readonly<Record<string, unknown>>): PlannedAction;
  run(params: Readonly<Record<string, unknown>>, context?: RunContext): Promise<ActionOutcome>;
}

export interface Connector {
  readonly name: string;
  readonly operations: Readonly<Record<string, ConnectorOperation>>;
}

/**
 * A failure the runner's retry policy matches on (DESIGN.md style rule 4). `retryable: false`
 * means the request itself was refused (bad credentials, a missing table) and a retry would
 * fail the same way; any other error (a timeout, a refused connection, a 5xx, a 429) is retried
 * up to the step's `retries`.
 */
export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** True when a failure says a retry cannot help: a `retryable: false` on any error. */
export function isPermanentFailure(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false
  );
}

/**
 * What a connector needs from Firebreak to be built: its settings (the `connectors.<id>`
 * section of firebreak.yaml, already checked against `configSchema`) and a way to read the
 * secrets those settings name (`firebreak secrets set NAME`), decrypted only when used.
 */
export interface ConnectorDeps {
  /** The plain text of a stored secret; FB_ERR_SECRET_NOT_FOUND when there is none. */
  secret(name: string): Promise<string>;
}

/**
 * How a connector registers (DESIGN.md style rule 7): the core finds it by id and never
 * imports it. `operations` lists what steps may call, `undoneBy` which operation puts each
 * back (null: it cannot be undone, such as ending sessions or sending a message).
 */
export interface ConnectorManifest {
  readonly id: string;
  readonly description: string;
  /** A TypeBox/JSON schema for the `connectors.<id>` settings; `undefined`: takes none. */
  readonly configSchema: unknown;
  readonly operations: readonly string[];
  readonly undoneBy: Readonly<Record<string, string | null>>;
  /** `settings` has passed `configSchema`. */
  create(settings: unknown, deps: ConnectorDeps): Connector;
}
