/** The `firebreak` command line. */
export type { CliDeps, RunningServer } from './context.js';
export { EXIT_CODES, EXIT_USAGE } from './exit-codes.js';
export type { Output } from './output.js';
export { buildProgram, runCli } from './program.js';
