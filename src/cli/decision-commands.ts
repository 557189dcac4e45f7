/** `firebreak decisions ...` and `firebreak switches ...`: the blocklist and kill switches of a running server. */
import { type Command, InvalidArgumentError } from 'commander';
import {
  DECISION_LIST_MAX_LIMIT,
  DECISION_SCOPES,
  DECISION_TYPES,
  type Decision,
  type DecisionPage,
  SWITCH_NAMES,
  type Switch,
} from '../connectors/index.js';
import { parseDuration } from '../kernel/index.js';
import type { CliContext } from './context.js';
import { table } from './output.js';

function oneOf(values: readonly string[]) {
  return (text: string): string => {
    if (!values.includes(text)) throw new InvalidArgumentError(`expected ${values.join(', ')}`);
    return text;
  };
}

function duration(text: string): string {
  if (parseDuration(text) === undefined)
    throw new InvalidArgumentError('expected a duration such as 4h, 30m or 7d');
  return text;
}

function limit(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > DECISION_LIST_MAX_LIMIT) {
    throw new InvalidArgumentError(`expected a number 1-${DECISION_LIST_MAX_LIMIT}`);
  }
  return n;
}

function onOff(text: string): boolean {
  if (text === 'on') return true;
  if (text === 'off') return false;
  throw new InvalidArgumentError('expected on or off');
}

const rows = (items: readonly Decision[]) =>
  items.map((d) => [
    d.id,
    d.type,
    d.value,
    d.origin,
    d.expires_at,
    d.deleted_at ? `deleted ${d.deleted_at}` : d.reason,
  ]);

export function registerDecisionCommands(program: Command, ctx: CliContext): void {
  const decisions = program
    .command('decisions')
    .description(
      "Firebreak's own IP blocklist, read by the shop's middleware (FIREBREAK_URL, FIREBREAK_API_KEY: scope read to list, write to change)",
    )
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak decisions add 203.0.113.7 --duration 4h --reason "card testing"',
    );

  decisions
    .command('list')
    .description('decisions in force now, newest first (--all: ended ones too)')
    .option('--all', 'include deleted and expired decisions')
    .option('--ip <address>', 'only the decisions in force on this address (exact or a network holding it)')
    .option('--limit <n>', `page size 1-${DECISION_LIST_MAX_LIMIT}`, limit)
    .option('--cursor <cursor>', 'next page: the cursor the previous page printed')
    .addHelpText(
      'after',
      '\nExamples:\n  $ firebreak decisions list\n  $ firebreak decisions list --ip 203.0.113.7 --json',
    )
    .action(async (opts: { all?: boolean; ip?: string; limit?: number; cursor?: string }) => {
      const { output } = ctx;
      if (opts.ip !== undefined) {
        const answer = await ctx
          .client()
          .request<{ ip: string; decisions: Decision[] }>(
            'GET',
            `/v1/decisions?${new URLSearchParams({ ip: opts.ip })}`,
          );
        if (output.json) return output.out(JSON.stringify(answer, null, 2));
        output.out(table(['id', 'type', 'value', 'origin', 'expires', 'reason'], rows(answer.decisions)));
        return output.out(`${answer.decisions.length} decision(s) in force on ${answer.ip}`);
      }
      const query = new URLSearchParams();
      if (opts.all) query.set('active', 'false');
      if (opts.limit !== undefined) query.set('limit', String(opts.limit));
      if (opts.cursor) query.set('cursor', opts.cursor);
      const page = await ctx.client().request<DecisionPage>('GET', `/v1/decisions?${query}`);
      if (output.json) return output.out(JSON.stringify(page, null, 2));
      output.out(table(['id', 'type', 'value', 'origin', 'expires', 'reason'], rows(page.items)));
      output.out(
        page.next_cursor
          ? `${page.items.length} shown; more: repeat with --cursor ${page.next_cursor}`
          : `${page.items.length} decision(s)`,
      );
    });

  decisions
    .command('add')
    .description('add a decision on an address or a network (CIDR), in force for --duration')
    .argument('<value>', 'an address (203.0.113.7, 2001:db8::1) or a network (198.51.100.0/24)')
    .requiredOption('--duration <duration>', 'how long, at most 365d: 30m, 4h, 7d', duration)
    .option('--type <type>', `${DECISION_TYPES.join(', ')} (default ban)`, oneOf(DECISION_TYPES), 'ban')
    .option(
      '--scope <scope>',
      `${DECISION_SCOPES.join(', ')} (default: cidr when the value has a /)`,
      oneOf(DECISION_SCOPES),
    )
    .option('--reason <text>', 'why, for the audit log and the people reading the list')
    .option(
      '--origin <origin>',
      "rule:<id>, person:<name> or playbook:<run id> (default person:<the key's name>)",
    )
    .option('--incident <id>', 'the incident it contains (INC-YYYY-NNN)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ firebreak decisions add 203.0.113.7 --duration 4h --reason "card testing" --incident INC-2026-001',
        '  $ firebreak decisions add 198.51.100.0/24 --duration 1d --type captcha',
      ].join('\n'),
    )
    .action(
      async (
        value: string,
        opts: {
          duration: string;
          type: string;
          scope?: string;
          reason?: string;
          origin?: string;
          incident?: string;
        },
      ) => {
        const body = {
          type: opts.type,
          scope: opts.scope ?? (value.includes('/') ? 'cidr' : 'ip'),
          value,
          duration: opts.duration,
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
          ...(opts.origin === undefined ? {} : { origin: opts.origin }),
          ...(opts.incident === undefined ? {} : { incident_id: opts.incident }),
        };
        const made = await ctx.client().request<Decision>('POST', '/v1/decisions', body);
        if (ctx.output.json) return ctx.output.out(JSON.stringify(made, null, 2));
        ctx.output.out(`${made.id}: ${made.type} ${made.value} until ${made.expires_at}`);
      },
    );

  decisions
    .command('delete')
    .description('end a decision now (the undo); ending one already ended changes nothing')
    .argument('<id>', 'the decision id (dec_...)')
    .addHelpText('after', '\nExample:\n  $ firebreak decisions delete dec_5f0c1e2d3a4b6978')
    .action(async (id: string) => {
      const ended = await ctx.client().request<Decision>('DELETE', `/v1/decisions/${encodeURIComponent(id)}`);
      if (ctx.output.json) return ctx.output.out(JSON.stringify(ended, null, 2));
      ctx.output.out(
        `${ended.id}: ${ended.value} ended (${ended.deleted_at ?? `expired ${ended.expires_at}`})`,
      );
    });

  const switches = program
    .command('switches')
    .description(`the shop's kill switches (${SWITCH_NAMES.join(', ')}), on unless turned off`)
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak switches set checkout_enabled off --reason "card testing wave"',
    );

  switches
    .command('list')
    .description('every switch and who set it last')
    .addHelpText('after', '\nExample:\n  $ firebreak switches list --json')
    .action(async () => {
      const answer = await ctx.client().request<{ items: Switch[] }>('GET', '/v1/switches');
      if (ctx.output.json) return ctx.output.out(JSON.stringify(answer, null, 2));
      ctx.output.out(
        table(
          ['switch', 'state', 'set at', 'by', 'reason'],
          answer.items.map((s) => [
            s.name,
            s.enabled ? 'on' : 'OFF',
            s.updated_at ?? '-',
            s.updated_by ?? '-',
            s.reason ?? '',
          ]),
        ),
      );
    });

  switches
    .command('set')
    .description('turn a switch on or off')
    .argument('<name>', SWITCH_NAMES.join(', '), oneOf(SWITCH_NAMES))
    .argument('<state>', 'on or off', onOff)
    .requiredOption('--reason <text>', 'why, for the audit log')
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak switches set checkout_enabled off --reason "card testing wave"',
    )
    .action(async (name: string, enabled: boolean, opts: { reason: string }) => {
      const set = await ctx
        .client()
        .request<Switch>('PUT', `/v1/switches/${encodeURIComponent(name)}`, { enabled, reason: opts.reason });
      if (ctx.output.json) return ctx.output.out(JSON.stringify(set, null, 2));
      ctx.output.out(`${set.name} is ${set.enabled ? 'on' : 'off'}`);
    });
}
