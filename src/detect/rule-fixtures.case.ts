/**
 * Shared by the rule loader tests (*.test.ts beside it): rule texts written inline, with the lines
 * the tests point at, and small helpers. Not part of the build (tsconfig.build.json leaves out
 * *.case.ts).
 */
import type { EcsEvent } from '../events/index.js';
import { type FirebreakError, isFirebreakError } from '../kernel/index.js';
import type { RuleNode } from './rule-definition.js';
import { loadRules, type RuleText } from './rule-loader.js';

/** Strips the common indentation of a template literal; line 1 is the line after the backtick. */
export function dedent(text: string): string {
  const lines = text
    .replace(/^\n/, '')
    .replace(/\n\s*$/, '')
    .split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** `block` dedented, every line after the first indented by `spaces`, to interpolate in a template. */
export const nested = (block: string, spaces: number) =>
  dedent(block).replace(/\n/g, `\n${' '.repeat(spaces)}`);

export const ruleFile = (name: string, text: string): RuleText => ({
  file: `rules/${name}`,
  text: `${dedent(text)}\n`,
});

/** The FB_ERR_RULE_INVALID that loading `files` throws. */
export function loadError(...files: RuleText[]): FirebreakError {
  try {
    loadRules(files);
  } catch (error) {
    if (isFirebreakError(error) && error.code === 'FB_ERR_RULE_INVALID') return error;
    throw error;
  }
  throw new Error('expected FB_ERR_RULE_INVALID');
}

export function nodeById<T extends RuleNode>(nodes: readonly RuleNode[], id: string): T {
  const node = nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`no node ${id} in ${nodes.map((n) => n.id).join(', ')}`);
  return node as T;
}

export const ev = (fields: Record<string, unknown>): EcsEvent => ({
  '@timestamp': '2026-03-02T10:00:00.000Z',
  ...fields,
});

/** A Firebreak rule; `aggregation` is the indented block that follows line 10 (so it starts at line 11). */
export const firebreak = (aggregation: string, name = 'api-flood.yaml') =>
  ruleFile(
    name,
    `
    id: api-flood
    title: API flood
    severity: P1
    description: Too many requests from one address
    filter:
      selection:
        event.action: http_request
      condition: selection
    group_by: [source.ip]
    window: 5m
    ${nested(aggregation, 4)}
    `,
  );

/** Two Sigma rules (lines 1-14) and a correlation over both whose `correlation:` block starts at line 19. */
export const correlated = (correlation: string, name = 'logins.yml') =>
  ruleFile(
    name,
    `
    title: Failed login
    name: failed_login
    id: 5638f7c0-ac70-491d-8465-2a65075e0d86
    level: low
    logsource: {category: authentication}
    detection:
      selection: {event.action: login, event.outcome: failure}
      condition: selection
    ---
    title: Successful login
    name: successful_login
    detection:
      selection: {event.action: login, event.outcome: success}
      condition: selection
    ---
    title: Logins of one user
    id: user-logins
    level: high
    correlation:
      ${nested(correlation, 6)}
    `,
  );
