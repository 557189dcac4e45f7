/**
 * `firebreak oncall now|check`: who holds each response role right now, from the roster file,
 * and checking a roster against the policy. Both read local files; no server is needed.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { DateTime } from 'luxon';
import { parseIsoTime } from '../events/index.js';
import { FirebreakError } from '../kernel/index.js';
import { loadRosterFile, onCallAt, type Roster, type SlotHolder, type SlotSource } from '../oncall/index.js';
import { loadPolicyFile, type ResponsePolicy } from '../policy/index.js';
import type { CliContext } from './context.js';
import type { Output } from './output.js';
import { table } from './output.js';

const EXAMPLE_ROSTER = 'rosters/kct-menswear.example.yaml';

function isoTime(text: string): Date {
  const ms = parseIsoTime(text);
  if (ms === undefined)
    throw new InvalidArgumentError('expected an ISO 8601 time such as 2026-03-02T10:00:00Z');
  return new Date(ms);
}

/** Loads policy and roster; a file with several problems prints each as file:line: path: problem first. */
function loadBoth(
  output: Output,
  policyFile: string,
  rosterFile: string,
): { policy: ResponsePolicy; roster: Roster } {
  try {
    const policy = loadPolicyFile(policyFile);
    return { policy, roster: loadRosterFile(rosterFile, policy) };
  } catch (error) {
    if (error instanceof FirebreakError && error.details.length > 1) {
      for (const d of error.details)
        output.err(`${error.params.file}:${d.line ?? 1}: ${d.path ? `${d.path}: ` : ''}${d.message}`);
    }
    throw error;
  }
}

function noRoster(): FirebreakError {
  return new FirebreakError('FB_ERR_CONFIG_INVALID', {
    source: 'roster',
    problem: `no on-call roster is set; set FIREBREAK_ROSTER=${EXAMPLE_ROSTER}, put "roster: ${EXAMPLE_ROSTER}" in firebreak.yaml, or pass --roster FILE`,
  });
}

export function registerOncallCommands(program: Command, ctx: CliContext): void {
  const oncall = program
    .command('oncall')
    .description('the on-call roster: who holds each response role (primary and backup)')
    .addHelpText('after', `\nExample:\n  $ firebreak oncall now --roster ${EXAMPLE_ROSTER}`);

  oncall
    .command('now')
    .description('who holds each role now (or --at a time), and until when; reads local files only')
    .option('--at <iso>', 'the time to ask about (ISO 8601; no zone means UTC); default now', isoTime)
    .option('--roster <file>', 'roster file (FIREBREAK_ROSTER, or roster: in firebreak.yaml)')
    .option('--policy <file>', 'response policy whose roles it fills (FIREBREAK_POLICY)')
    .addHelpText(
      'after',
      `\nExample:\n  $ firebreak oncall now --roster ${EXAMPLE_ROSTER}\n  $ firebreak oncall now --at 2026-12-24T12:00:00Z --json`,
    )
    .action((opts: { at?: Date; roster?: string; policy?: string }) => {
      const { output } = ctx;
      const config = ctx.config({
        ...(opts.roster ? { rosterFile: opts.roster } : {}),
        ...(opts.policy ? { policyFile: opts.policy } : {}),
      });
      if (!config.rosterFile) throw noRoster();
      const { policy, roster } = loadBoth(output, config.policyFile, config.rosterFile);
      // The CLI is the edge: reading the wall clock here is what "now" means.
      const at = opts.at ?? new Date();
      const rows = onCallAt(roster, policy, at);
      for (const r of rows) {
        if (r.primary.person.id === r.backup.person.id) {
          output.err(
            `firebreak: warning: ${r.title}: ${r.primary.person.name} holds both primary and backup (check the overrides and rotations)`,
          );
        }
      }
      if (output.json) {
        output.out(JSON.stringify({ at, policy: policy.name, roster: roster.file, roles: rows }, null, 2));
        return;
      }
      const when = (d: Date) =>
        DateTime.fromJSDate(d, { zone: policy.timeZone }).toFormat('yyyy-MM-dd HH:mm ZZZZ');
      const holder = (h: SlotHolder) =>
        `${h.person.name} <${h.person.email}>${h.via === 'override' ? ' (override)' : h.rotation ? ` (${h.rotation})` : ''}`;
      output.out(`On call at ${when(at)} (policy "${policy.name}", roster ${roster.file}):`);
      output.out(
        table(
          ['role', 'primary', 'backup', 'until'],
          rows.map((r) => {
            const changes = [r.primary.until, r.backup.until].filter((d): d is Date => d !== undefined);
            const next =
              changes.length > 0 ? new Date(Math.min(...changes.map((d) => d.getTime()))) : undefined;
            return [r.title, holder(r.primary), holder(r.backup), next ? when(next) : '—'];
          }),
        ),
      );
    });

  oncall
    .command('check [file]')
    .description(
      'validate a roster file against the policy (default: the configured roster); problems print as file:line',
    )
    .option('--policy <file>', 'response policy whose roles it fills (FIREBREAK_POLICY)')
    .addHelpText(
      'after',
      `\nExample:\n  $ firebreak oncall check ${EXAMPLE_ROSTER}\n  $ firebreak oncall check rosters/creatorflow.example.yaml --policy policies/creatorflow.yaml`,
    )
    .action((file: string | undefined, opts: { policy?: string }) => {
      const { output } = ctx;
      const config = ctx.config(opts.policy ? { policyFile: opts.policy } : {});
      const rosterFile = file ?? config.rosterFile;
      if (!rosterFile) throw noRoster();
      const { policy, roster } = loadBoth(output, config.policyFile, rosterFile);
      if (output.json) return output.out(JSON.stringify(roster, null, 2));
      const people = Object.keys(roster.people).length;
      const rotations = Object.keys(roster.rotations).length;
      output.out(
        `${rosterFile}: valid roster for policy "${policy.name}": ${people} people, ${rotations} rotation(s), ${roster.overrides.length} override(s)`,
      );
      const ref = (s: SlotSource) =>
        s.kind === 'person' ? s.person : s.offset === 0 ? s.rotation : `${s.rotation} +${s.offset}`;
      output.out(
        table(
          ['role', 'primary', 'backup'],
          Object.entries(policy.roles).map(([id, r]) => {
            const slots = roster.roles[id]!;
            return [r.title, ref(slots.primary), ref(slots.backup)];
          }),
        ),
      );
    });
}
