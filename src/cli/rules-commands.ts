/** `firebreak rules check DIR...`: validate detection rules before they run. */
import type { Command } from 'commander';
import { BUILTIN_RULES_DIR } from '../config/index.js';
import { loadRules, type RuleNode, readRuleFiles } from '../detect/index.js';
import { FirebreakError, formatDuration } from '../kernel/index.js';
import type { CliContext } from './context.js';
import type { Output } from './output.js';
import { table } from './output.js';

/**
 * Loads every rule under the folders. When rules are bad, each problem is printed on its own
 * line (file:line path: problem) before the error propagates, so one run shows them all.
 */
export function loadRuleFolders(dirs: readonly string[], output: Output): RuleNode[] {
  try {
    return loadRules(dirs.flatMap((dir) => readRuleFiles(dir)));
  } catch (error) {
    if (error instanceof FirebreakError && error.details.length > 1) {
      // Each detail's path is already `file:line field`.
      for (const d of error.details) output.err(`${d.path}: ${d.message}`);
    }
    throw error;
  }
}

export function registerRulesCommands(program: Command, ctx: CliContext): void {
  const rules = program
    .command('rules')
    .description('detection rules (Firebreak YAML, Sigma rules and Sigma correlations)')
    .addHelpText('after', '\nExample:\n  $ firebreak rules check rules/ my-rules/');

  rules
    .command('check [dir...]')
    .description(
      'validate every rule file in the folders (default: the built-in pack); problems print as file:line',
    )
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak rules check ./my-rules\n  $ firebreak --json rules check rules/',
    )
    .action((dirs: string[]) => {
      const { output } = ctx;
      const folders = dirs.length > 0 ? dirs : [BUILTIN_RULES_DIR];
      const nodes = loadRuleFolders(folders, output);
      // Hidden halves of Firebreak rules (`id/filter`, `id/step-1`) are not rules a person wrote.
      const visible = nodes.filter((n) => !n.id.includes('/'));
      if (output.json) {
        output.out(
          JSON.stringify(
            visible.map((n) => ({
              id: n.id,
              title: n.title,
              severity: n.severity,
              kind: n.type === 'filter' ? 'event' : n.aggregation.kind,
              file: n.source.file,
              line: n.source.line,
            })),
            null,
            2,
          ),
        );
        return;
      }
      output.out(`${visible.length} rule(s) valid in ${folders.join(', ')}`);
      output.out(
        table(
          ['id', 'severity', 'kind', 'window', 'group by', 'file'],
          visible.map((n) => [
            n.id,
            n.severity,
            n.type === 'filter' ? 'event' : n.aggregation.kind,
            n.type === 'filter'
              ? n.quietMs
                ? `quiet ${formatDuration(n.quietMs)}`
                : ''
              : formatDuration(n.windowMs),
            n.groupBy.join(', '),
            `${n.source.file}:${n.source.line}`,
          ]),
        ),
      );
    });
}
