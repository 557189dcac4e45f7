/**
 * `firebreak playbook list|show|check` read and validate playbook files; `run|runs|status|
 * approve|refuse|undo` drive runs on a server.
 */
import type { Command } from 'commander';
import { PLAYBOOKS_DIR } from '../config/index.js';
import { FirebreakError, formatDuration } from '../kernel/index.js';
import { RESPONSE_ROLES } from '../policy/index.js';
import {
  type DryRun,
  KNOWN_CONNECTOR_OPERATIONS,
  loadPlaybooks,
  type Playbook,
  type PlaybookRun,
  type PlaybookStep,
  type StepAction,
  type Trigger,
} from '../respond/index.js';
import type { CliContext } from './context.js';
import type { Output } from './output.js';
import { keyValues, table } from './output.js';

/**
 * Loads every playbook of the folders (default: the built-in ones). When playbooks are bad,
 * each problem is printed on its own line (file:line path: reason) before the error propagates.
 */
function loadPlaybookFolders(dirs: readonly string[], output: Output): Playbook[] {
  const folders = dirs.length > 0 ? dirs : [PLAYBOOKS_DIR];
  try {
    return loadPlaybooks(folders, { connectors: KNOWN_CONNECTOR_OPERATIONS, roles: RESPONSE_ROLES });
  } catch (error) {
    if (error instanceof FirebreakError && error.details.length > 1) {
      for (const d of error.details) output.err(`${d.path}: ${d.message}`);
    }
    throw error;
  }
}

function describeTrigger(t: Trigger): string {
  const parts = [
    t.rules.length > 0 ? `rules ${t.rules.join(',')}` : '',
    t.tags.length > 0 ? `tags ${t.tags.join(',')}` : '',
    t.severities.length > 0 ? `severity ${t.severities.join(',')}` : '',
  ].filter((p) => p !== '');
  return `${t.mode}: ${parts.join('; ')}`;
}

function describeAction(a: StepAction): string {
  const params = Object.keys(a.params).length > 0 ? ` ${JSON.stringify(a.params)}` : '';
  return `${a.connector}.${a.operation}${params}`;
}

function stepJson(s: PlaybookStep) {
  return {
    id: s.id,
    title: s.title,
    phase: s.phase,
    recovery_phase: s.recoveryPhase ?? null,
    action: s.action,
    approval: s.approval.kind === 'none' ? 'none' : s.approval.role,
    timeout: formatDuration(s.timeoutMs),
    retries: s.retries,
    undo: s.undo.kind === 'none' ? { none: s.undo.reason } : s.undo.action,
  };
}

function playbookJson(p: Playbook) {
  return {
    id: p.id,
    title: p.title,
    description: p.description,
    triggers: p.triggers,
    steps: p.steps.map(stepJson),
    file: p.source.file,
    line: p.source.line,
  };
}

function listTable(playbooks: readonly Playbook[]): string {
  return table(
    ['id', 'title', 'triggers', 'steps'],
    playbooks.map((p) => [
      p.id,
      p.title,
      p.triggers.map(describeTrigger).join('\n'),
      p.steps.map((s) => `${s.phase}: ${s.action.connector}.${s.action.operation}`).join('\n'),
    ]),
  );
}

export function registerPlaybookCommands(program: Command, ctx: CliContext): void {
  const playbook = program
    .command('playbook')
    .description('containment playbooks (YAML files: triggers and steps with approval and undo)')
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak playbook list\n  $ firebreak playbook check ./my-playbooks',
    );

  playbook
    .command('list [dir...]')
    .description('list the playbooks in the folders (default: the built-in ones)')
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak playbook list\n  $ firebreak --json playbook list playbooks/ my-playbooks/',
    )
    .action((dirs: string[]) => {
      const { output } = ctx;
      const playbooks = loadPlaybookFolders(dirs, output);
      if (output.json) {
        output.out(JSON.stringify(playbooks.map(playbookJson), null, 2));
        return;
      }
      output.out(listTable(playbooks));
    });

  playbook
    .command('show <id> [dir...]')
    .description('every step of one playbook: phase, action, parameters, approval, timeout, retries, undo')
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak playbook show admin-compromise\n  $ firebreak playbook show my-playbook ./my-playbooks',
    )
    .action((id: string, dirs: string[]) => {
      const { output } = ctx;
      const playbooks = loadPlaybookFolders(dirs, output);
      const found = playbooks.find((p) => p.id === id);
      if (found === undefined) {
        throw new FirebreakError('FB_ERR_VALIDATION', {
          summary: `no playbook has the id "${id}" (known: ${playbooks.map((p) => p.id).join(', ')})`,
        });
      }
      if (output.json) {
        output.out(JSON.stringify(playbookJson(found), null, 2));
        return;
      }
      output.out(
        keyValues([
          ['id', found.id],
          ['title', found.title],
          ['description', found.description],
          ['triggers', found.triggers.map(describeTrigger).join('\n')],
          ['file', `${found.source.file}:${found.source.line}`],
        ]),
      );
      output.out(
        table(
          ['#', 'step', 'phase', 'action', 'approval', 'timeout', 'retries', 'undo'],
          found.steps.map((s, i) => [
            i + 1,
            `${s.id}\n${s.title}`,
            s.recoveryPhase ? `${s.phase} (${s.recoveryPhase})` : s.phase,
            describeAction(s.action),
            s.approval.kind === 'none' ? 'none' : s.approval.role,
            formatDuration(s.timeoutMs),
            s.retries,
            s.undo.kind === 'none' ? `none: ${s.undo.reason}` : describeAction(s.undo.action),
          ]),
        ),
      );
    });

  playbook
    .command('check [dir...]')
    .description(
      'validate every playbook file in the folders (default: the built-in ones); problems print as file:line',
    )
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak playbook check ./my-playbooks\n  $ firebreak --json playbook check playbooks/',
    )
    .action((dirs: string[]) => {
      const { output } = ctx;
      const playbooks = loadPlaybookFolders(dirs, output);
      if (output.json) {
        output.out(
          JSON.stringify(
            playbooks.map((p) => ({ id: p.id, title: p.title, steps: p.steps.length, file: p.source.file })),
            null,
            2,
          ),
        );
        return;
      }
      const folders = dirs.length > 0 ? dirs : [PLAYBOOKS_DIR];
      output.out(`${playbooks.length} playbook(s) valid in ${folders.join(', ')}`);
    });

  playbook
    .command('run <playbook> <incident>')
    .description(
      'start a playbook on an incident (or --dry-run: show each step as it would run, secrets masked)',
    )
    .option('--dry-run', 'show every step, its exact request or SQL and its undo; run nothing')
    .addHelpText(
      'after',
      '\nExamples:\n  $ firebreak playbook run ddos-api-abuse INC-2026-014 --dry-run\n  $ firebreak playbook run ddos-api-abuse INC-2026-014',
    )
    .action(async (playbookId: string, incident: string, opts: { dryRun?: boolean }) => {
      const { output } = ctx;
      const path = `/v1/incidents/${encodeURIComponent(incident)}/playbook-runs`;
      if (opts.dryRun) {
        const dry = await ctx.client().request<DryRun>('POST', path, { playbook: playbookId, dry_run: true });
        if (output.json) return output.out(JSON.stringify(dry, null, 2));
        output.out(describeDryRun(dry));
        return;
      }
      const run = await ctx.client().request<PlaybookRun>('POST', path, { playbook: playbookId });
      if (output.json) return output.out(JSON.stringify(run, null, 2));
      output.out(describeRun(run));
      output.out(`\nfollow it: firebreak playbook status ${run.id}`);
    });

  playbook
    .command('runs <incident>')
    .description("the incident's playbook runs and proposals")
    .addHelpText('after', '\nExample:\n  $ firebreak playbook runs INC-2026-014')
    .action(async (incident: string) => {
      const { output } = ctx;
      const { items } = await ctx
        .client()
        .request<{ items: PlaybookRun[] }>(
          'GET',
          `/v1/incidents/${encodeURIComponent(incident)}/playbook-runs`,
        );
      if (output.json) return output.out(JSON.stringify(items, null, 2));
      if (items.length === 0) return output.out(`no playbook runs on ${incident}`);
      output.out(
        table(
          ['run', 'playbook', 'status', 'origin', 'steps', 'waiting for'],
          items.map((r) => [r.id, r.playbook_id, r.status, r.origin, progress(r), waitingFor(r) ?? '']),
        ),
      );
    });

  playbook
    .command('status <run>')
    .description('where a run stands: each step with its approval, attempts, plan and outcome')
    .addHelpText('after', '\nExample:\n  $ firebreak playbook status run_3f9c2a1b7d4e8f60')
    .action(async (runId: string) => {
      const { output } = ctx;
      const run = await ctx
        .client()
        .request<PlaybookRun>('GET', `/v1/playbook-runs/${encodeURIComponent(runId)}`);
      if (output.json) return output.out(JSON.stringify(run, null, 2));
      output.out(describeRun(run));
    });

  playbook
    .command('approve <run>')
    .description(
      'approve what waits: the step, or during an undo the recovery phase (needs a key made with --person)',
    )
    .option('--expect <step-or-phase>', 'refuse unless this step (or recovery phase) is the one waiting')
    .addHelpText(
      'after',
      '\nExamples:\n  $ firebreak playbook approve run_3f9c2a1b7d4e8f60 --expect cloudflare-block\n  $ firebreak playbook approve run_3f9c2a1b7d4e8f60 --expect core_infrastructure',
    )
    .action(async (runId: string, opts: { expect?: string }) => {
      const { output } = ctx;
      const run = await ctx
        .client()
        .request<PlaybookRun>('POST', `/v1/playbook-runs/${encodeURIComponent(runId)}/approve`, {
          ...(opts.expect ? { expect: opts.expect } : {}),
        });
      if (output.json) return output.out(JSON.stringify(run, null, 2));
      output.out(describeRun(run));
    });

  playbook
    .command('refuse <run>')
    .description('refuse what waits (or decline a proposal); the run stops there')
    .requiredOption('--reason <text>', 'why, for the timeline')
    .option('--expect <step-or-phase>', 'refuse unless this step (or recovery phase) is the one waiting')
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak playbook refuse run_3f9c2a1b7d4e8f60 --reason "that address is our payment provider"',
    )
    .action(async (runId: string, opts: { reason: string; expect?: string }) => {
      const { output } = ctx;
      const run = await ctx
        .client()
        .request<PlaybookRun>('POST', `/v1/playbook-runs/${encodeURIComponent(runId)}/refuse`, {
          reason: opts.reason,
          ...(opts.expect ? { expect: opts.expect } : {}),
        });
      if (output.json) return output.out(JSON.stringify(run, null, 2));
      output.out(describeRun(run));
    });

  playbook
    .command('undo <run>')
    .description(
      'start recovery: undo what the run did in the KCT phases (core infrastructure, user services, payments, admin functions), each phase approved',
    )
    .addHelpText('after', '\nExample:\n  $ firebreak playbook undo run_3f9c2a1b7d4e8f60')
    .action(async (runId: string) => {
      const { output } = ctx;
      const run = await ctx
        .client()
        .request<PlaybookRun>('POST', `/v1/playbook-runs/${encodeURIComponent(runId)}/undo`, {});
      if (output.json) return output.out(JSON.stringify(run, null, 2));
      output.out(describeRun(run));
    });
}

function progress(run: PlaybookRun): string {
  const forward = run.steps.filter((s) => s.direction === 'forward');
  const done = forward.filter((s) => s.status === 'succeeded').length;
  const undo = run.steps.filter((s) => s.direction === 'undo');
  const undone = undo.filter((s) => s.status === 'succeeded').length;
  return undo.length > 0
    ? `${done}/${forward.length} done, ${undone}/${undo.length} undone`
    : `${done}/${forward.length} done`;
}

function waitingFor(run: PlaybookRun): string | undefined {
  const waiting = run.steps.find((s) => s.status === 'waiting_approval');
  if (!waiting) return undefined;
  const what = waiting.direction === 'forward' ? waiting.step_id : `phase ${waiting.recovery_phase}`;
  return `${waiting.approval_role} to approve ${what}`;
}

function describeRun(run: PlaybookRun): string {
  const head = keyValues([
    ['run', run.id],
    ['playbook', `${run.playbook_id} (${run.title})`],
    ['incident', run.incident_id],
    ['status', run.status],
    ['waiting for', waitingFor(run)],
  ]);
  const rows = run.steps.map((s) => [
    s.direction === 'forward' ? s.seq : `undo ${s.seq}`,
    s.step_id,
    s.direction === 'forward' ? s.phase : (s.recovery_phase ?? ''),
    s.status,
    s.approval_role ? `${s.approval_role}${s.approved_by ? ` (by ${s.approved_by})` : ''}` : 'none',
    `${s.attempts}/${s.max_attempts}`,
    s.outcome?.summary ?? s.error ?? s.refusal ?? s.plan?.summary ?? '',
  ]);
  return `${head}\n\n${table(['#', 'step', 'phase', 'status', 'approval', 'attempts', 'what'], rows)}`;
}

function describeDryRun(dry: DryRun): string {
  const lines = [
    `dry run of ${dry.playbook} (${dry.title}) on ${dry.incident}: ${dry.ok ? 'every step can run' : 'some steps cannot run as things stand'}`,
  ];
  dry.steps.forEach((s, i) => {
    lines.push('');
    lines.push(
      `${i + 1}. ${s.id}: ${s.title} [${s.phase}; approval ${s.approval ?? 'none'}; timeout ${formatDuration(s.timeout_ms)}; retries ${s.retries}]`,
    );
    if (s.plan) {
      lines.push(`   ${s.plan.summary}`);
      for (const d of s.plan.detail) lines.push(`     ${d}`);
    } else if (s.action) {
      lines.push(`   ${describeAction(s.action)}`);
    }
    if (s.undo.none !== undefined) lines.push(`   undo: none (${s.undo.none})`);
    else if (s.undo.plan) lines.push(`   undo (${s.recovery_phase}): ${s.undo.plan.summary}`);
    else if (s.undo.action) lines.push(`   undo (${s.recovery_phase}): ${describeAction(s.undo.action)}`);
    for (const p of s.problems) lines.push(`   problem: ${p}`);
  });
  return lines.join('\n');
}
