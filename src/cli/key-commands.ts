/** `firebreak key ...`: API keys, through a running server with an admin key. */
import { type Command, InvalidArgumentError } from 'commander';
import { type ApiKeyInfo, SCOPES } from '../api/index.js';
import type { CliContext } from './context.js';
import { table } from './output.js';

export function registerKeyCommands(program: Command, ctx: CliContext): void {
  const key = program
    .command('key')
    .description('create, list and revoke API keys (needs an admin key)')
    .addHelpText('after', '\nExample:\n  $ firebreak key create --name ci --scope read');

  key
    .command('create')
    .description('create a key; it is printed once and cannot be shown again')
    .requiredOption('--name <name>', 'who or what uses it')
    .requiredOption(
      '--scope <list>',
      'comma-separated: read, write, admin (admin ⊃ write ⊃ read), ingest (only sends events)',
      (text: string) => {
        const scopes = text.split(',').map((s) => s.trim());
        if (scopes.some((s) => !(SCOPES as readonly string[]).includes(s)))
          throw new InvalidArgumentError('expected read, write, admin and/or ingest');
        return scopes;
      },
    )
    .option(
      '--person <id>',
      'the roster person who holds the key (their roles let them approve playbook steps)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ firebreak key create --name gus-laptop --scope read,write --person gus\n  $ firebreak key create --name storefront-servers --scope ingest',
    )
    .action(async (opts: { name: string; scope: string[]; person?: string }) => {
      const created = await ctx.client().request<ApiKeyInfo & { key: string }>('POST', '/v1/keys', {
        name: opts.name,
        scopes: [...new Set(opts.scope)],
        ...(opts.person ? { person: opts.person } : {}),
      });
      const { output } = ctx;
      if (output.json) return output.out(JSON.stringify(created, null, 2));
      output.out(`created key ${created.id} (${created.name}, scopes ${created.scopes.join(', ')})`);
      output.out(`key: ${created.key}`);
      output.out('Store it now: it is not shown again.');
    });

  key
    .command('list')
    .description('list keys (never their secrets)')
    .addHelpText('after', '\nExample:\n  $ firebreak key list --json')
    .action(async () => {
      const keys = await ctx.client().request<ApiKeyInfo[]>('GET', '/v1/keys');
      const { output } = ctx;
      if (output.json) return output.out(JSON.stringify(keys, null, 2));
      output.out(
        table(
          ['id', 'name', 'scopes', 'created', 'revoked'],
          keys.map((k) => [k.id, k.name, k.scopes.join(','), k.created_at, k.revoked_at ?? '']),
        ),
      );
    });

  key
    .command('revoke <id>')
    .description('revoke a key; requests with it fail from now on')
    .addHelpText('after', '\nExample:\n  $ firebreak key revoke 3f9a1c0b7e21')
    .action(async (id: string) => {
      const revoked = await ctx.client().request<ApiKeyInfo>('DELETE', `/v1/keys/${encodeURIComponent(id)}`);
      const { output } = ctx;
      if (output.json) return output.out(JSON.stringify(revoked, null, 2));
      output.out(`revoked key ${revoked.id} (${revoked.name}) at ${revoked.revoked_at}`);
    });
}
