/** `firebreak policy check FILE`: validate a response policy before the server runs it. */
import type { Command } from 'commander';
import { FirebreakError } from '../kernel/index.js';
import { describeDeadline, loadPolicyFile, SEVERITIES } from '../policy/index.js';
import type { CliContext } from './context.js';
import { table } from './output.js';

export function registerPolicyCommands(program: Command, ctx: CliContext): void {
  const policy = program
    .command('policy')
    .description('response policies (severities, escalation, roles, hours)')
    .addHelpText('after', '\nExample:\n  $ firebreak policy check policies/creatorflow.yaml');

  policy
    .command('check <file>')
    .description('validate a policy file; every problem is printed as file:line: path: problem')
    .addHelpText('after', '\nExample:\n  $ firebreak policy check policies/kct-menswear.yaml')
    .action(async (file: string) => {
      const { output } = ctx;
      let loaded: ReturnType<typeof loadPolicyFile>;
      try {
        loaded = loadPolicyFile(file);
      } catch (error) {
        if (error instanceof FirebreakError && error.details.length > 1) {
          for (const d of error.details)
            output.err(`${file}:${d.line ?? 1}: ${d.path ? `${d.path}: ` : ''}${d.message}`);
        }
        throw error;
      }
      if (output.json) return output.out(JSON.stringify(loaded, null, 2));
      output.out(`${file}: valid policy "${loaded.name}"`);
      output.out(
        table(
          ['severity', 'name', 'acknowledge within', 'respond within', 'escalation'],
          SEVERITIES.map((s) => {
            const level = loaded.severities[s];
            const steps = loaded.escalation[s].map((e) => `+${e.withinMs / 60_000}m: ${e.notify.join(', ')}`);
            return [
              s,
              level.name,
              describeDeadline(level.acknowledgeWithin),
              describeDeadline(level.responseTime),
              steps.join('\n'),
            ];
          }),
        ),
      );
    });
}
