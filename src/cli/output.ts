/** How the CLI prints: readable tables by default, JSON for scripts with --json. */
import Table from 'cli-table3';
import { type FirebreakError, isFirebreakError } from '../kernel/index.js';

export interface Output {
  json: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
}

export function table(head: string[], rows: (string | number | null | undefined)[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) t.push(row.map((c) => (c === null || c === undefined ? '' : String(c))));
  return t.toString();
}

export function keyValues(pairs: [string, string | number | null | undefined][]): string {
  const t = new Table({ style: { head: [], border: [] } });
  for (const [k, v] of pairs) t.push({ [k]: v === null || v === undefined ? '' : String(v) });
  return t.toString();
}

/** One line: what went wrong and where, then the code to look up in the README. */
export function describeError(error: FirebreakError): string {
  return `firebreak: ${error.message} [${error.code}]`;
}

export function isUserError(error: unknown): error is FirebreakError {
  return isFirebreakError(error);
}
