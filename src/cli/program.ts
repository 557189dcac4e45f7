/**
 * The `firebreak` command. Each command group lives in its own file; this one wires them,
 * turns every failure into one line on stderr and an exit code (exit-codes.ts), and keeps
 * stack traces for internal errors only.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { FirebreakError, isFirebreakError } from '../kernel/index.js';
import { registerAlertCommands } from './alert-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import { type CliDeps, makeContext } from './context.js';
import { registerDecisionCommands } from './decision-commands.js';
import { registerDetectCommand } from './detect-command.js';
import { registerEventCommands } from './event-commands.js';
import { EXIT_CODES, EXIT_USAGE } from './exit-codes.js';
import { registerIncidentCommands } from './incident-commands.js';
import { registerIngestCommand } from './ingest-command.js';
import { registerKeyCommands } from './key-commands.js';
import { registerOncallCommands } from './oncall-commands.js';
import type { Output } from './output.js';
import { describeError } from './output.js';
import { registerPlaybookCommands } from './playbook-commands.js';
import { registerPolicyCommands } from './policy-commands.js';
import { registerRulesCommands } from './rules-commands.js';
import { registerSecretCommands } from './secret-commands.js';
import { registerServeCommand } from './serve-command.js';

export function buildProgram(deps: CliDeps, output: Output, version: string): Command {
  const program = new Command('firebreak')
    .description('Firebreak: security incident response for online shops')
    .version(version)
    .option('--json', 'machine-readable output')
    .option(
      '--url <url>',
      'server for incident, alerts, key, events and ingest commands (FIREBREAK_URL, default http://127.0.0.1:7340)',
    )
    .option('--key <key>', 'API key (FIREBREAK_API_KEY)')
    .option('--config <file>', 'settings file (FIREBREAK_CONFIG, default ./firebreak.yaml when present)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ firebreak serve\n  $ export FIREBREAK_API_KEY=fbk_...\n  $ firebreak incident create --title "Card testing on checkout" --severity P0\n  $ firebreak incident list --status detected\n  $ firebreak detect --json events.ndjson',
    )
    .showHelpAfterError('(add --help for usage and an example)')
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) });
  const ctx = makeContext(program, output, deps);
  registerServeCommand(program, ctx);
  registerIncidentCommands(program, ctx);
  registerAlertCommands(program, ctx);
  registerDecisionCommands(program, ctx);
  registerKeyCommands(program, ctx);
  registerSecretCommands(program, ctx);
  registerEventCommands(program, ctx);
  registerAuditCommands(program, ctx);
  registerPolicyCommands(program, ctx);
  registerOncallCommands(program, ctx);
  registerRulesCommands(program, ctx);
  registerPlaybookCommands(program, ctx);
  registerDetectCommand(program, ctx);
  registerIngestCommand(program, ctx);
  // Every subcommand reports usage errors through the handler below instead of exiting itself.
  const override = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  return program;
}

/** Runs the CLI and returns the exit code. */
export async function runCli(
  argv: readonly string[],
  deps: CliDeps,
  output: Output,
  version: string,
): Promise<number> {
  const program = buildProgram(deps, output, version);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    // Checked first: InvalidArgumentError is a CommanderError too, and one thrown from an action
    // (a bad status or role argument) has not been printed by commander yet.
    if (error instanceof InvalidArgumentError) {
      output.err(`firebreak: ${error.message}`);
      return EXIT_USAGE;
    }
    if (error instanceof CommanderError) {
      // Help and version exit through here too, with code 0.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (isFirebreakError(error)) {
      output.err(describeError(error));
      return EXIT_CODES[error.kind];
    }
    const internal = new FirebreakError('FB_ERR_INTERNAL', { reference: 'cli' });
    output.err(describeError(internal));
    output.err((error as Error).stack ?? String(error));
    return EXIT_CODES.internal;
  }
}
