/**
 * How the built-in connectors (decisions, notify), which act on Firebreak's own database, turn
 * a failure into one the runner's retry policy reads: refused input (a FirebreakError of any
 * kind but `unavailable`, an SQL error in the request itself) fails the same way again; an
 * unreachable or busy database may clear.
 */
import { FirebreakError } from '../kernel/index.js';
import { ConnectorError } from '../respond/index.js';

const RETRYABLE_STATES = /^(08|40001|40P01|53|57P0[1-3])/;
const RETRYABLE_SQLITE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|PROTOCOL)/;

/** @example throw storeFailure('decisions', error) */
export function storeFailure(connector: string, error: unknown): ConnectorError {
  if (error instanceof ConnectorError) return error;
  if (error instanceof FirebreakError) {
    return new ConnectorError(`${connector}: ${error.message}`, error.kind === 'unavailable');
  }
  const e = error as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(error);
  const code = typeof e.code === 'string' ? e.code : undefined;
  // No code: a dropped connection, a pool timeout, an abort. A network code (ECONNREFUSED ...)
  // may clear (EPIPE is checked first: it is spelt like an SQLSTATE); Node's own ERR_* codes
  // are mistakes in the call and will not.
  const retryable =
    code === undefined || code === 'EPIPE'
      ? true
      : code.startsWith('SQLITE_')
        ? RETRYABLE_SQLITE.test(code)
        : /^[0-9A-Z]{5}$/.test(code)
          ? RETRYABLE_STATES.test(code)
          : !code.startsWith('ERR_');
  return new ConnectorError(`${connector}: ${message}`, retryable);
}

/** Throws a non-retryable ConnectorError listing the problems, when there are any. */
export function assertValidParams(problems: readonly string[]): void {
  if (problems.length > 0) throw new ConnectorError(`invalid parameters: ${problems.join('; ')}`, false);
}
