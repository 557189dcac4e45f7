/**
 * What a vendor recipe gives the `http` connector: for each operation, its parameters, their
 * checks, a plan (the exact requests, secrets as `***`, built without reading any secret) and
 * a run. The connector adds the common parts: unknown-parameter checks, refusing invalid
 * parameters, and the run context.
 */
import { type ActionOutcome, ConnectorError, type PlannedAction } from '../../respond/index.js';
import type { CallContext } from './http-call.js';
import type { Params } from './param-checks.js';

export interface OperationRecipe {
  /** Every parameter the operation accepts; undefined: any (a shop request not yet defined). */
  readonly params: readonly string[] | undefined;
  /** Pushes `param: reason` problems; runs whether or not the vendor is configured. */
  check(params: Params, problems: string[]): void;
  /** Throws a non-retryable ConnectorError when the vendor block is missing. */
  plan(params: Params): PlannedAction;
  run(params: Params, context: CallContext): Promise<ActionOutcome>;
}

/** What recipes need from the connector: secrets, read when a run needs them and never kept. */
export interface RecipeEnv {
  /** The secret's plain text; a non-retryable ConnectorError naming it when none is stored. */
  secret(name: string): Promise<string>;
}

/** The failure for an operation whose vendor has no block in firebreak.yaml. */
export function notConfigured(block: string, operation: string, needs: string): ConnectorError {
  return new ConnectorError(
    `${operation} needs connectors.${block} in firebreak.yaml (${needs}); it is not set up on this server`,
    false,
  );
}

/** The base URL without a trailing slash. */
export function trimBase(url: string): string {
  return url.replace(/\/+$/, '');
}
