/** `firebreak incident ...`: the incident routes of a running server, from a terminal. */
import { type Command, InvalidArgumentError } from 'commander';
import {
  CLASSIFICATION_QUESTIONS,
  IMPACT_LEVELS,
  type Incident,
  type IncidentPage,
  STATUSES,
  type TimelineRecord,
} from '../incidents/index.js';
import { RESPONSE_ROLES, SEVERITIES } from '../policy/index.js';
import type { CliContext } from './context.js';
import { keyValues, table } from './output.js';

const QUESTION_IDS = CLASSIFICATION_QUESTIONS.map((q) => q.id) as string[];

function oneOf(allowed: readonly string[], what: string) {
  return (text: string) => {
    if (!allowed.includes(text)) throw new InvalidArgumentError(`expected ${what}: ${allowed.join(', ')}`);
    return text;
  };
}

function listOf(allowed: readonly string[], what: string) {
  return (text: string) => {
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = items.filter((i) => !allowed.includes(i));
    if (bad.length || items.length === 0) {
      throw new InvalidArgumentError(`expected a comma-separated list of ${what} (${allowed.join(', ')})`);
    }
    return items;
  };
}

export function registerIncidentCommands(program: Command, ctx: CliContext): void {
  const incident = program
    .command('incident')
    .description('open, list and work incidents on a running server (FIREBREAK_URL, FIREBREAK_API_KEY)')
    .addHelpText('after', '\nExample:\n  $ firebreak incident list --status detected');

  const printIncident = (i: Incident & { timeline?: TimelineRecord[] }) => {
    const { output } = ctx;
    if (output.json) return output.out(JSON.stringify(i, null, 2));
    output.out(
      keyValues([
        ['id', i.id],
        ['title', i.title],
        ['severity', i.severity],
        ['status', `${i.status} (${i.phase.replaceAll('_', ' ')})`],
        ['detected', i.detected_at],
        ['acknowledge by', i.reached.acknowledged ? `done ${i.reached.acknowledged}` : i.ack_by],
        ['respond by', i.respond_by],
        ...Object.entries(i.roles).map(
          ([role, person]) => [role.replaceAll('_', ' '), person] as [string, string],
        ),
        ...(i.classification
          ? [['classified', i.classification.reasoning.join('\n')] as [string, string]]
          : []),
        ...(i.summary ? [['summary', i.summary] as [string, string]] : []),
      ]),
    );
    if (i.timeline) {
      output.out(
        table(
          ['at', 'who', 'what', 'details'],
          // A playbook record carries the line a responder reads; the rest are shown as data.
          i.timeline.map((t) => [
            t.at,
            t.actor,
            t.kind,
            t.kind === 'playbook' ? (t.data as { summary: string }).summary : JSON.stringify(t.data),
          ]),
        ),
      );
    }
  };

  incident
    .command('list')
    .description('list incidents, newest first')
    .option('--status <list>', `filter: ${STATUSES.join(',')}`, listOf(STATUSES, 'statuses'))
    .option('--severity <list>', 'filter: P0,P1,P2,P3', listOf(SEVERITIES, 'severities'))
    .option('--limit <n>', 'page size 1-200', (t) => {
      const n = Number(t);
      if (!Number.isInteger(n) || n < 1 || n > 200) throw new InvalidArgumentError('expected a number 1-200');
      return n;
    })
    .option('--cursor <cursor>', 'next page: the cursor the previous page printed')
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak incident list --status detected,acknowledged --severity P0,P1',
    )
    .action(async (opts: { status?: string[]; severity?: string[]; limit?: number; cursor?: string }) => {
      const query = new URLSearchParams();
      for (const s of opts.status ?? []) query.append('status', s);
      for (const s of opts.severity ?? []) query.append('severity', s);
      if (opts.limit) query.set('limit', String(opts.limit));
      if (opts.cursor) query.set('cursor', opts.cursor);
      const page = await ctx.client().request<IncidentPage>('GET', `/v1/incidents?${query}`);
      const { output } = ctx;
      if (output.json) return output.out(JSON.stringify(page, null, 2));
      output.out(
        table(
          ['id', 'sev', 'status', 'title', 'detected', 'ack by'],
          page.items.map((i) => [
            i.id,
            i.severity,
            i.status,
            i.title,
            i.detected_at,
            i.reached.acknowledged ? '(acked)' : i.ack_by,
          ]),
        ),
      );
      if (page.next_cursor) output.out(`more: firebreak incident list --cursor ${page.next_cursor}`);
    });

  incident
    .command('show <id>')
    .description('one incident with its timeline')
    .addHelpText('after', '\nExample:\n  $ firebreak incident show INC-2026-001')
    .action(async (id: string) =>
      printIncident(await ctx.client().request('GET', `/v1/incidents/${encodeURIComponent(id)}`)),
    );

  incident
    .command('create')
    .description('open an incident by hand')
    .requiredOption('--title <text>', 'what is happening, in a line')
    .requiredOption('--severity <P0|P1|P2|P3>', 'initial severity', oneOf(SEVERITIES, 'a severity'))
    .option('--summary <text>', 'more detail')
    .option('--detected-at <iso>', 'when it was detected (default: now)')
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak incident create --title "Admin logins from unknown IPs" --severity P1',
    )
    .action(async (opts: { title: string; severity: string; summary?: string; detectedAt?: string }) => {
      printIncident(
        await ctx.client().request('POST', '/v1/incidents', {
          title: opts.title,
          severity: opts.severity,
          ...(opts.summary ? { summary: opts.summary } : {}),
          ...(opts.detectedAt ? { detected_at: opts.detectedAt } : {}),
        }),
      );
    });

  const move = async (id: string, to: string, reason?: string) =>
    printIncident(
      await ctx.client().request('POST', `/v1/incidents/${encodeURIComponent(id)}/transitions`, {
        to,
        ...(reason ? { reason } : {}),
      }),
    );

  incident
    .command('ack <id>')
    .description('acknowledge: you have it')
    .addHelpText('after', '\nExample:\n  $ firebreak incident ack INC-2026-001')
    .action(async (id: string) => move(id, 'acknowledged'));

  incident
    .command('move <id> <status>')
    .description(`move to the next status: ${STATUSES.join(' → ')}`)
    .option('--reason <text>', 'why (needed to resolve straight from acknowledged)')
    .addHelpText('after', '\nExample:\n  $ firebreak incident move INC-2026-001 contained')
    .action(async (id: string, status: string, opts: { reason?: string }) => {
      oneOf(STATUSES, 'a status')(status);
      await move(id, status, opts.reason);
    });

  incident
    .command('classify <id>')
    .description("classify with the plan's decision tree: name the questions answered yes, and the impact")
    .option(
      '--yes <questions>',
      `questions answered yes: ${QUESTION_IDS.join(', ')}`,
      listOf(QUESTION_IDS, 'questions'),
    )
    .requiredOption(
      '--data <level>',
      `data impact: ${IMPACT_LEVELS.join(', ')}`,
      oneOf(IMPACT_LEVELS, 'an impact level'),
    )
    .requiredOption('--service <level>', 'service impact', oneOf(IMPACT_LEVELS, 'an impact level'))
    .requiredOption('--customer <level>', 'customer impact', oneOf(IMPACT_LEVELS, 'an impact level'))
    .option('--reason <text>', 'why (needed when this changes an earlier classification)')
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak incident classify INC-2026-001 --yes admin_access_compromised --data high --service low --customer low',
    )
    .action(
      async (
        id: string,
        opts: { yes?: string[]; data: string; service: string; customer: string; reason?: string },
      ) => {
        const answers = Object.fromEntries(QUESTION_IDS.map((q) => [q, (opts.yes ?? []).includes(q)]));
        printIncident(
          await ctx.client().request('POST', `/v1/incidents/${encodeURIComponent(id)}/classification`, {
            answers,
            impact: { data: opts.data, service: opts.service, customer: opts.customer },
            ...(opts.reason ? { reason: opts.reason } : {}),
          }),
        );
      },
    );

  incident
    .command('note <id> <text>')
    .description('add a note to the timeline')
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak incident note INC-2026-001 "Blocked 203.0.113.7 at Cloudflare"',
    )
    .action(async (id: string, text: string) =>
      printIncident(
        await ctx.client().request('POST', `/v1/incidents/${encodeURIComponent(id)}/notes`, { text }),
      ),
    );

  incident
    .command('assign <id> <role> <person>')
    .description(`assign a response role: ${RESPONSE_ROLES.join(', ')}`)
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak incident assign INC-2026-001 incident_commander "Dana (CTO)"',
    )
    .action(async (id: string, role: string, person: string) => {
      oneOf(RESPONSE_ROLES, 'a role')(role);
      printIncident(
        await ctx
          .client()
          .request('PUT', `/v1/incidents/${encodeURIComponent(id)}/roles/${role}`, { person }),
      );
    });
}
