/** `firebreak events ...`: the event log of a running server, for the evidence steps of the plans. */
import { type Command, InvalidArgumentError } from 'commander';
import { formatEventQuery, SEARCH_MAX_LIMIT } from '../ingest/index.js';
import type { CliContext } from './context.js';
import { table } from './output.js';

interface SearchAnswer {
  events: { seq: number; received_at: string; source: string; event: Record<string, unknown> }[];
  truncated: boolean;
}

function fieldEquals(text: string, previous: [string, string][] = []): [string, string][] {
  const at = text.indexOf('=');
  const field = text.slice(0, at);
  if (at <= 0 || field.split('.').some((part) => part === '' || /[\s:"]/.test(part))) {
    throw new InvalidArgumentError('expected field=value, e.g. event.action=login');
  }
  if (previous.some(([f]) => f === field)) throw new InvalidArgumentError(`${field} is given twice`);
  return [...previous, [field, text.slice(at + 1)]];
}

function limit(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > SEARCH_MAX_LIMIT) {
    throw new InvalidArgumentError(`expected a number 1-${SEARCH_MAX_LIMIT}`);
  }
  return n;
}

/** A field of an event for a table cell: `user.name` → `dana`; arrays are joined. */
function cell(event: Record<string, unknown>, path: string): string {
  let value: unknown = event;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return '';
    value = (value as Record<string, unknown>)[part];
  }
  if (value === undefined || value === null) return '';
  if (Array.isArray(value))
    return value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',');
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

export function registerEventCommands(program: Command, ctx: CliContext): void {
  const events = program
    .command('events')
    .description(
      'search the event log of a running server (FIREBREAK_URL, FIREBREAK_API_KEY with scope read)',
    )
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak events search --from 2026-03-02T09:00:00Z --to 2026-03-02T11:00:00Z --where user.name=dana',
    );

  events
    .command('search')
    .description('events by event time (at most 31 days) and field values, oldest first')
    .requiredOption('--from <iso>', 'event time, inclusive (ISO 8601; no zone means UTC)')
    .requiredOption('--to <iso>', 'event time, exclusive')
    .option('--where <field=value>', 'only events whose field has this value; repeat to AND', fieldEquals)
    .option('--limit <n>', `at most this many events, 1-${SEARCH_MAX_LIMIT} (default 100)`, limit)
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ firebreak events search --from 2026-03-02T09:00:00Z --to 2026-03-02T11:00:00Z \\',
        '      --where event.action=login --where event.outcome=failure --where user.name=dana',
        '  $ firebreak events search --from 2026-03-01T00:00:00Z --to 2026-03-08T00:00:00Z \\',
        '      --where source.ip=203.0.113.7 --limit 10000 --json > evidence.json',
      ].join('\n'),
    )
    .action(async (opts: { from: string; to: string; where?: [string, string][]; limit?: number }) => {
      const query = new URLSearchParams({ from: opts.from, to: opts.to });
      if (opts.where?.length) query.set('q', formatEventQuery(Object.fromEntries(opts.where)));
      if (opts.limit !== undefined) query.set('limit', String(opts.limit));
      const found = await ctx.client().request<SearchAnswer>('GET', `/v1/events?${query}`);
      const { output } = ctx;
      if (output.json) return output.out(JSON.stringify(found, null, 2));
      output.out(
        table(
          ['seq', 'time', 'event.action', 'user.name', 'source.ip', 'outcome'],
          found.events.map(({ seq, event }) => [
            seq,
            cell(event, '@timestamp'),
            cell(event, 'event.action'),
            cell(event, 'user.name'),
            cell(event, 'source.ip'),
            cell(event, 'event.outcome'),
          ]),
        ),
      );
      const n = found.events.length;
      output.out(
        found.truncated
          ? `${n} events shown; more match: narrow --from/--to or --where, or raise --limit (at most ${SEARCH_MAX_LIMIT})`
          : `${n} event${n === 1 ? '' : 's'}`,
      );
    });
}
