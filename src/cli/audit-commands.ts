/**
 * `firebreak audit verify`: reads the database itself, read-only, rather than asking the
 * server, so a compromised server cannot vouch for its own log.
 */
import type { Command } from 'commander';
import { AuditLog } from '../audit/index.js';
import { FirebreakError } from '../kernel/index.js';
import { openStore } from '../store/index.js';
import type { CliContext } from './context.js';

export function registerAuditCommands(program: Command, ctx: CliContext): void {
  const audit = program
    .command('audit')
    .description('the hash-chained audit log')
    .addHelpText('after', '\nExample:\n  $ firebreak audit verify');

  audit
    .command('verify')
    .description('walk the audit chain; exit 6 naming the first edited, deleted or reordered entry')
    .option('--data-dir <dir>', 'embedded database directory (FIREBREAK_DATA_DIR)')
    .option('--database-url <url>', 'PostgreSQL instead (DATABASE_URL)')
    .addHelpText('after', '\nExample:\n  $ firebreak audit verify --data-dir .firebreak')
    .action(async (opts: { dataDir?: string; databaseUrl?: string }) => {
      const config = ctx.config({
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
        ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
      });
      const store = await openStore({
        dataDir: config.dataDir,
        databaseUrl: config.databaseUrl,
        readonly: true,
      });
      try {
        const result = await new AuditLog(store.dialect).verify(store.db);
        const { output } = ctx;
        if (output.json) output.out(JSON.stringify({ location: store.location, ...result }, null, 2));
        if (!result.ok && result.firstBad) {
          throw new FirebreakError('FB_ERR_AUDIT_CHAIN_BROKEN', {
            seq: result.firstBad.seq,
            problem: result.firstBad.problem,
          });
        }
        if (!output.json) {
          output.out(`audit log intact: ${result.entries} entries in ${store.location}`);
          output.out(
            `head hash ${result.headHash} (record it elsewhere to detect a rewrite of the whole log)`,
          );
        }
      } finally {
        await store.close();
      }
    });
}
