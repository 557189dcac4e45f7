/** `firebreak serve`: the server, on embedded storage unless DATABASE_URL says otherwise. */
import { type Command, InvalidArgumentError } from 'commander';
import type { CliContext } from './context.js';

export function registerServeCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('start the Firebreak server (embedded SQLite in ./.firebreak unless DATABASE_URL is set)')
    .option('--host <host>', 'address to listen on (FIREBREAK_HOST)')
    .option('--port <port>', 'port to listen on, 0 for any free port (FIREBREAK_PORT)', parsePort)
    .option('--data-dir <dir>', 'embedded database directory (FIREBREAK_DATA_DIR)')
    .option('--policy <file>', 'response policy YAML (FIREBREAK_POLICY)')
    .option(
      '--rules <dir>',
      'a folder of detection rules to run besides the pack (repeatable; FIREBREAK_RULES)',
      (dir: string, dirs: string[] | undefined) => [...(dirs ?? []), dir],
    )
    .option('--no-builtin', 'leave out the built-in rule pack (FIREBREAK_BUILTIN_RULES=false)')
    .addHelpText(
      'after',
      '\nExample:\n  $ firebreak serve --port 7340 --policy policies/creatorflow.yaml --rules ./shop-rules',
    )
    .action(async (opts: ServeOptions) => {
      const config = ctx.config({
        ...(opts.host ? { host: opts.host } : {}),
        ...(opts.port !== undefined ? { port: opts.port } : {}),
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
        ...(opts.policy ? { policyFile: opts.policy } : {}),
        ...(opts.rules ? { ruleDirs: opts.rules } : {}),
        // Commander sets builtin to true unless --no-builtin: only the flag itself overrides.
        ...(opts.builtin === false ? { builtinRules: false } : {}),
      });
      const server = await ctx.deps.startServer(config, ctx.output.out);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          ctx.output.err(`firebreak: ${signal} received, stopping`);
          server.close().then(resolve, resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}

interface ServeOptions {
  host?: string;
  port?: number;
  dataDir?: string;
  policy?: string;
  rules?: string[];
  builtin: boolean;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('expected a port number 0-65535');
  }
  return port;
}
