#!/usr/bin/env node
/**
 * The composition root: the only file that knows every module. It wires settings, store,
 * policy and services into the HTTP server, and hands the CLI a way to start it.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiKeyService, buildServer } from './api/index.js';
import { AuditLog } from './audit/index.js';
import { type CliDeps, type Output, type RunningServer, runCli } from './cli/index.js';
import type { FirebreakConfig } from './config/index.js';
import { IncidentService } from './incidents/index.js';
import { EventLog } from './ingest/index.js';
import { type Clock, systemClock } from './kernel/index.js';
import { loadPolicyFile } from './policy/index.js';
import { openStore } from './store/index.js';

export const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface StartOptions {
  readonly clock?: Clock;
  /** Where the start-up lines go (address, first admin key). */
  readonly announce?: (line: string) => void;
  readonly requestLog?: boolean;
}

export interface Firebreak extends RunningServer {
  readonly port: number;
  /** Present on the very first start only. */
  readonly firstAdminKey: string | undefined;
}

/** Opens the store (taking the data directory's lock), loads the policy and listens. */
export async function startFirebreak(
  config: FirebreakConfig,
  options: StartOptions = {},
): Promise<Firebreak> {
  const clock = options.clock ?? systemClock;
  const announce = options.announce ?? ((line: string) => console.log(line));
  // The policy first: a typo in it should stop the start before the database is touched.
  const policy = loadPolicyFile(config.policyFile);
  const store = await openStore({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    exclusive: true,
  });
  try {
    const audit = new AuditLog(store.dialect);
    const incidents = new IncidentService({ store, audit, policy, clock });
    const keys = new ApiKeyService({ store, audit, clock });
    const events = new EventLog({ store, clock });

    const firstAdminKey = await keys.createFirstAdminKey();

    const app = await buildServer({
      store,
      audit,
      incidents,
      keys,
      events,
      policy,
      clock,
      version: VERSION,
      bodyLimitBytes: config.bodyLimitBytes,
      logger:
        options.requestLog === false || config.logLevel === 'silent' ? false : { level: config.logLevel },
    });
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

    announce(`Firebreak ${VERSION} listening on ${url}`);
    announce(`storage: ${store.dialect} at ${store.location}`);
    announce(`policy: ${policy.name} (${config.policyFile})`);
    if (firstAdminKey) {
      announce('');
      announce('First start: an admin API key was created. It is shown only this once:');
      announce(`  ${firstAdminKey}`);
      announce('Next:');
      announce(`  export FIREBREAK_URL=${url} FIREBREAK_API_KEY=${firstAdminKey}`);
      announce('  npx firebreak incident create --title "Test incident" --severity P3');
    }

    return {
      url,
      port,
      firstAdminKey,
      async close() {
        await app.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

const cliDeps: CliDeps = {
  startServer: (config: FirebreakConfig, out) => startFirebreak(config, { announce: out }),
};

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const output: Output = {
    json: false,
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  };
  const code = await runCli(process.argv, cliDeps, output, VERSION);
  process.exitCode = code;
}
