/**
 * `firebreak secrets ...`: connector credentials, through a running server with an admin key.
 * A value is read from stdin only, never from the command line, where other users of the
 * machine can see it in `ps` and where it lands in shell history. No command prints a value.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { SECRET_NAME_PATTERN, SECRET_VALUE_MAX_BYTES, type SecretInfo } from '../store/index.js';
import type { CliContext } from './context.js';
import { table } from './output.js';

const NAME = new RegExp(SECRET_NAME_PATTERN);

function secretName(text: string): string {
  if (!NAME.test(text)) {
    throw new InvalidArgumentError(
      `a secret name is lower-case letters, digits and _, starting with a letter, at most 64 (such as shop_db); got ${JSON.stringify(text)}`,
    );
  }
  return text;
}

export function registerSecretCommands(program: Command, ctx: CliContext): void {
  const secrets = program
    .command('secrets')
    .description('store, list and delete the secrets connectors use, encrypted at rest (needs an admin key)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ firebreak secrets list\n  $ printf %s "$TOKEN" | firebreak secrets set cloudflare_token',
    );

  secrets
    .command('set')
    .description('store or replace a secret; the value is read from stdin (one final newline is dropped)')
    .argument('<name>', 'the name settings refer to, such as shop_db', secretName)
    .addHelpText(
      'after',
      [
        '',
        'The value is never taken from the command line: other users can see arguments in `ps`.',
        '',
        'Examples:',
        '  $ firebreak secrets set shop_db < shop-db-url.txt',
        '  $ printf %s "$TOKEN" | firebreak secrets set cloudflare_token',
      ].join('\n'),
    )
    .action(async (name: string) => {
      const client = ctx.client();
      // Before reading: a missing key should not swallow what was piped in.
      client.requireKey();
      const value = await readValue();
      const info = await client.request<SecretInfo & { created: boolean }>(
        'PUT',
        `/v1/secrets/${encodeURIComponent(name)}`,
        { value },
      );
      const { output } = ctx;
      if (output.json) return output.out(JSON.stringify(info, null, 2));
      output.out(`${info.created ? 'stored' : 'replaced'} secret ${info.name} (${info.updated_at})`);
    });

  secrets
    .command('list')
    .description('list secrets: names, dates and who set them (never values)')
    .addHelpText('after', '\nExample:\n  $ firebreak secrets list --json')
    .action(async () => {
      const list = await ctx.client().request<SecretInfo[]>('GET', '/v1/secrets');
      const { output } = ctx;
      if (output.json) return output.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return output.out('no secrets; store one with `firebreak secrets set NAME`');
      output.out(
        table(
          ['name', 'updated', 'updated by', 'created', 'key'],
          list.map((s) => [
            s.name,
            s.updated_at,
            s.updated_by,
            s.created_at,
            s.key_matches ? s.key_id : `${s.key_id} (not this server's key: set it again)`,
          ]),
        ),
      );
    });

  secrets
    .command('delete')
    .description('delete a secret; connectors that name it fail until it is set again')
    .argument('<name>', 'the secret', secretName)
    .addHelpText('after', '\nExample:\n  $ firebreak secrets delete cloudflare_token')
    .action(async (name: string) => {
      await ctx.client().request<undefined>('DELETE', `/v1/secrets/${encodeURIComponent(name)}`);
      const { output } = ctx;
      if (output.json) return output.out(JSON.stringify({ name, deleted: true }, null, 2));
      output.out(`deleted secret ${name}`);
    });
}

/** All of stdin, less one final newline; refused when empty, too large or a terminal. */
async function readValue(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new InvalidArgumentError(
      'the value is read from stdin, not typed at a terminal: printf %s "$TOKEN" | firebreak secrets set NAME',
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += bytes.length;
    // Room for the newline that is dropped; anything beyond is refused without holding it all.
    if (size > SECRET_VALUE_MAX_BYTES + 2) break;
    chunks.push(bytes);
  }
  const value = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  const bytes = Buffer.byteLength(value, 'utf8');
  if (size > SECRET_VALUE_MAX_BYTES + 2 || bytes > SECRET_VALUE_MAX_BYTES) {
    throw new InvalidArgumentError(`the value on stdin is larger than ${SECRET_VALUE_MAX_BYTES} bytes`);
  }
  if (value.length === 0) {
    throw new InvalidArgumentError(
      'the value on stdin is empty; pipe it in: printf %s "$TOKEN" | firebreak secrets set NAME',
    );
  }
  return value;
}
