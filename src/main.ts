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
import { EventLog, SyslogListener } from './ingest/index.js';
import { type Clock, FirebreakError, systemClock } from './kernel/index.js';
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
  /** The syslog listener's bound ports, when it runs. */
  readonly syslogPorts: { readonly udpPort?: number; readonly tcpPort?: number } | undefined;
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
  let syslog: SyslogListener | undefined;
  let closeApp: (() => Promise<void>) | undefined;
  try {
    const audit = new AuditLog(store.dialect);
    const incidents = new IncidentService({ store, audit, policy, clock });
    const keys = new ApiKeyService({ store, audit, clock });
    const events = new EventLog({ store, clock });
    syslog = config.syslog
      ? new SyslogListener({
          log: events,
          clock,
          host: config.syslog.host,
          ...(config.syslog.udpPort === undefined ? {} : { udpPort: config.syslog.udpPort }),
          ...(config.syslog.tcpPort === undefined ? {} : { tcpPort: config.syslog.tcpPort }),
          warn: (line) => console.error(`firebreak: syslog: ${line}`),
        })
      : undefined;

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
    closeApp = () => app.close();
    const syslogPorts = syslog === undefined ? undefined : await startSyslog(syslog, config.syslog!.host);
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

    announce(`Firebreak ${VERSION} listening on ${url}`);
    announce(`storage: ${store.dialect} at ${store.location}`);
    announce(`policy: ${policy.name} (${config.policyFile})`);
    if (syslogPorts) {
      const where = [
        syslogPorts.udpPort === undefined ? '' : `udp ${config.syslog!.host}:${syslogPorts.udpPort}`,
        syslogPorts.tcpPort === undefined ? '' : `tcp ${config.syslog!.host}:${syslogPorts.tcpPort}`,
      ];
      announce(`syslog: ${where.filter(Boolean).join(', ')}`);
    }
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
      syslogPorts,
      async close() {
        // The listener first: its stop appends what it still holds, which needs the store.
        await syslog?.stop();
        await app.close();
        await store.close();
      },
    };
  } catch (error) {
    await syslog?.stop();
    await closeApp?.();
    await store.close();
    throw error;
  }
}

async function startSyslog(
  syslog: SyslogListener,
  host: string,
): Promise<{ udpPort?: number; tcpPort?: number }> {
  try {
    return await syslog.start();
  } catch (error) {
    throw new FirebreakError(
      'FB_ERR_LISTEN_FAILED',
      { what: 'the syslog listener', address: host, reason: (error as Error).message },
      { cause: error },
    );
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
