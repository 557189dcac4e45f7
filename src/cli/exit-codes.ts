/** The one place an error kind becomes a process exit code (README, "Exit codes"). */
import type { ErrorKind } from '../kernel/index.js';

export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = {
  invalid: 2,
  too_large: 2,
  unsupported: 2,
  not_found: 3,
  conflict: 4,
  gone: 3,
  unauthorized: 5,
  forbidden: 5,
  too_many_requests: 7,
  integrity: 6,
  unavailable: 7,
  internal: 1,
};

/** Bad usage (unknown option, missing argument) is bad input too. */
export const EXIT_USAGE = 2;
