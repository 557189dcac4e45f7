/** `firebreak playbook list|show|check`: read and validate playbooks (running them comes next). */
import type { Command } from 'commander';
import { PLAYBOOKS_DIR } from '../config/index.js';
import { FirebreakError, formatDuration } from '../kernel/index.js';
import { RESPONSE_ROLES } from '../policy/index.js';
import {
  KNOWN_CONNECTOR_OPERATIONS,
  loadPlaybooks,
  type Playbook,
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
}
