/** `firebreak alerts ...`: the stored alerts of a running server, newest first. */
import { type Command, InvalidArgumentError } from 'commander';
import { parseIsoTime } from '../events/index.js';
import {
  ALERT_LIST_DEFAULT_LIMIT,
  ALERT_LIST_MAX_LIMIT,
  type AlertPage,
  INCIDENT_ID_PATTERN,
  type StoredAlert,
} from '../incidents/index.js';
import { SEVERITIES } from '../policy/index.js';
import type { CliContext } from './context.js';
import { table } from './output.js';

const INCIDENT_ID = new RegExp(INCIDENT_ID_PATTERN);

/** Repeatable, and each use may list several: `--severity P0 --severity P1` or `--severity P0,P1`. */
function severities(text: string, previous: string[] = []): string[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0 || items.some((i) => !(SEVERITIES as readonly string[]).includes(i))) {
    throw new InvalidArgumentError(`expected ${SEVERITIES.join(', ')} (repeat or separate with commas)`);
  }
  return [...previous, ...items];
}

function rules(text: string, previous: string[] = []): string[] {
  if (text === '') throw new InvalidArgumentError('expected a rule id, e.g. admin-login-failures');
  return [...previous, text];
}

function incidentId(text: string): string {
  if (!INCIDENT_ID.test(text)) throw new InvalidArgumentError('expected an incident id such as INC-2026-001');
  return text;
}

/** Checked here too, so that a typo is reported against the option rather than a query field. */
function isoTime(text: string): string {
  if (parseIsoTime(text) === undefined) {
    throw new InvalidArgumentError('expected an ISO 8601 time such as 2026-03-02T10:00:00Z');
  }
  return text;
}

function limit(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > ALERT_LIST_MAX_LIMIT) {
    throw new InvalidArgumentError(`expected a number 1-${ALERT_LIST_MAX_LIMIT}`);
  }
  return n;
}

/** `user.name=dana, source.ip=203.0.113.7`, in the rule's order. */
function describeGroup(group: StoredAlert['group']): string {
  return Object.entries(group)
    .map(([field, value]) => `${field}=${value}`)
    .join(', ');
}

function describeValue(value: number | null): string {
  return value === null ? '-' : String(Number(value.toPrecision(6)));
}

interface ListOptions {
  rule?: string[];
  incident?: string;
  severity?: string[];
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

export function registerAlertCommands(program: Command, ctx: CliContext): void {
  const alerts = program
    .command('alerts')
    .description(
      'the alerts detection and other tools raised, on a running server (FIREBREAK_URL, FIREBREAK_API_KEY with scope read)',
    )
    .addHelpText('after', '\nExample:\n  $ firebreak alerts list --incident INC-2026-001');

  alerts
    .command('list')
    .description('stored alerts, newest window end (event time) first')
    .option('--rule <id>', 'only this rule; repeat for any of several', rules)
    .option('--incident <id>', 'only the alerts filed under this incident', incidentId)
    .option('--severity <P0|P1|P2|P3>', 'only this severity; repeat for any of several', severities)
    .option('--since <iso>', 'window end at or after (ISO 8601; no zone means UTC)', isoTime)
    .option('--until <iso>', 'window end before', isoTime)
    .option('--limit <n>', `page size 1-${ALERT_LIST_MAX_LIMIT} (default ${ALERT_LIST_DEFAULT_LIMIT})`, limit)
    .option('--cursor <cursor>', 'next page: the cursor the previous page printed (keep the same filters)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ firebreak alerts list --rule admin-login-failures --severity P0 --since 2026-03-02T00:00:00Z',
        '  $ firebreak alerts list --incident INC-2026-001 --limit 500 --json > alerts.json',
      ].join('\n'),
    )
    .action(async (opts: ListOptions) => {
      const query = new URLSearchParams();
      for (const r of opts.rule ?? []) query.append('rule', r);
      if (opts.incident) query.set('incident', opts.incident);
      for (const s of opts.severity ?? []) query.append('severity', s);
      if (opts.since) query.set('since', opts.since);
      if (opts.until) query.set('until', opts.until);
      if (opts.limit !== undefined) query.set('limit', String(opts.limit));
      if (opts.cursor) query.set('cursor', opts.cursor);
      const page = await ctx.client().request<AlertPage>('GET', `/v1/alerts?${query}`);
      const { output } = ctx;
      if (output.json) return output.out(JSON.stringify(page, null, 2));
      output.out(
        table(
          ['end', 'sev', 'rule', 'group', 'value', 'incident'],
          page.items.map((a) => [
            a.end,
            a.severity,
            a.rule,
            describeGroup(a.group),
            describeValue(a.value),
            a.incident_id,
          ]),
        ),
      );
      const n = page.items.length;
      output.out(
        page.next_cursor
          ? `${n} alerts shown; more: repeat with --cursor ${page.next_cursor}`
          : `${n} alert${n === 1 ? '' : 's'}`,
      );
    });
}
