#!/usr/bin/env node
/**
 * The composition root: the only file that knows every module. It wires settings, store,
 * policy and services into the HTTP server and the detection service, and hands the CLI a way
 * to start them.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiKeyService, buildServer, IngestGate } from './api/index.js';
import { AuditLog } from './audit/index.js';
import { type CliDeps, type Output, type RunningServer, runCli } from './cli/index.js';
import { BUILTIN_RULES_DIR, type FirebreakConfig, PLAYBOOKS_DIR } from './config/index.js';
import {
  createDecisionsConnector,
  createNotifyConnector,
  DecisionService,
  httpConnectorManifest,
  postgresConnectorManifest,
} from './connectors/index.js';
import { calendarFromPolicy, loadRules, type RuleNode, readRuleFiles } from './detect/index.js';
import {
  AlertGrouper,
  AlertQuery,
  DetectionService,
  IncidentService,
  OutsideAlertService,
} from './incidents/index.js';
import { EventLog, SyslogListener } from './ingest/index.js';
import { type Clock, FirebreakError, systemClock } from './kernel/index.js';
import { createPaging, type Paging } from './notify/index.js';
import { loadRosterFile } from './oncall/index.js';
import { loadPolicyFile, type ResponsePolicy } from './policy/index.js';
import {
  buildConnectors,
  type ConnectorManifest,
  KNOWN_CONNECTOR_OPERATIONS,
  loadPlaybooks,
  type Playbook,
  PlaybookRunner,
} from './respond/index.js';
import { loadSecretKey, openStore, SecretStore } from './store/index.js';

export const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface StartOptions {
  readonly clock?: Clock;
  /** Where the start-up lines go (address, first admin key). */
  readonly announce?: (line: string) => void;
  readonly requestLog?: boolean;
  /**
   * Ingest backpressure (tests): detection's lag above which ingest is refused (default
   * 1,000,000 events), ingest requests served at once (default 64), and how often the cached
   * lag is refreshed (default 250 ms).
   */
  readonly ingestLimits?: { lagLimit?: number; maxInFlight?: number; lagRefreshMs?: number };
  /** false: detection is not started until `startDetection()` (tests of backpressure). */
  readonly startDetection?: boolean;
  /** Playbook runner timings (tests): lease, poll and first retry delay. */
  readonly runner?: { leaseMs?: number; pollMs?: number; retryBaseMs?: number };
}

/** The connectors configured through `connectors:` in firebreak.yaml. */
const CONNECTOR_MANIFESTS: readonly ConnectorManifest[] = [postgresConnectorManifest, httpConnectorManifest];

export interface Firebreak extends RunningServer {
  readonly port: number;
  /** Present on the very first start only. */
  readonly firstAdminKey: string | undefined;
  /** The syslog listener's bound ports, when it runs. */
  readonly syslogPorts: { readonly udpPort?: number; readonly tcpPort?: number } | undefined;
  /** Starts detection when `startDetection: false` held it back; otherwise does nothing. */
  startDetection(): Promise<void>;
}

/**
 * Opens the store (taking the data directory's lock), loads the policy and the rules, listens,
 * and runs the detection service over the event log.
 */
export async function startFirebreak(
  config: FirebreakConfig,
  options: StartOptions = {},
): Promise<Firebreak> {
  const clock = options.clock ?? systemClock;
  const announce = options.announce ?? ((line: string) => console.log(line));
  // The policy first: a typo in it should stop the start before the database is touched.
  const policy = loadPolicyFile(config.policyFile);
  const roster = config.rosterFile === undefined ? undefined : loadRosterFile(config.rosterFile, policy);
  const ruleDirs = [...(config.builtinRules ? [BUILTIN_RULES_DIR] : []), ...config.ruleDirs];
  const rules = loadServerRules(ruleDirs);
  const playbookDirs = [...(config.builtinPlaybooks ? [PLAYBOOKS_DIR] : []), ...config.playbookDirs];
  const playbooks = loadServerPlaybooks(
    playbookDirs,
    policy,
    rules.map((r) => r.id),
  );
  const store = await openStore({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    exclusive: true,
  });
  let syslog: SyslogListener | undefined;
  let detection: DetectionService | undefined;
  let paging: Paging | undefined;
  let runner: PlaybookRunner | undefined;
  let closeApp: (() => Promise<void>) | undefined;
  try {
    const audit = new AuditLog(store.dialect);
    const incidents = new IncidentService({ store, audit, policy, clock });
    const keys = new ApiKeyService({ store, audit, clock });
    const events = new EventLog({ store, clock });
    const secrets = new SecretStore({ store, audit, clock, key: loadSecretKey(config) });
    // Paging listens to incident changes: attached before anything can change an incident.
    paging = createPaging({
      store,
      policy,
      roster,
      clock,
      incidents,
      settings: config.paging,
      warn: (line) => console.error(`firebreak: ${line}`),
    });
    const decisions = new DecisionService({ store, clock, audit });
    const notify = createNotifyConnector({
      store,
      outbox: paging.outbox,
      incidents,
      policy,
      roster,
      clock,
      routes: paging.routes,
      wake: () => paging?.worker.notify(),
    });
    const connectors = buildConnectors(
      CONNECTOR_MANIFESTS,
      { blocks: config.connectors, file: config.configFile },
      { secret: (name) => secrets.get(name) },
      [createDecisionsConnector({ decisions }), notify],
    );
    const alerts = new AlertQuery({ store });
    runner = new PlaybookRunner(
      {
        store,
        clock,
        incidents,
        alerts,
        policy,
        roster,
        playbooks,
        connectors,
        warn: (line) => console.error(`firebreak: ${line}`),
        // Approvals asked for and runs stopped by a failure reach whoever holds the role, by
        // the channels paging uses.
        tell: async (message) => {
          await notify.operations.send!.run(
            { to: message.role, subject: message.subject, text: message.text },
            {
              idempotencyKey: message.key,
              actor: `playbook:${message.runId}`,
              incidentId: message.incidentId,
              signal: AbortSignal.timeout(30_000),
            },
          );
        },
      },
      options.runner ?? {},
    );
    // Like paging, attached before any alert can join an incident: proposals commit with it.
    const playbookRunner = runner;
    incidents.onChange((trx, change) => playbookRunner.onIncidentChange(trx, change));
    const grouper = new AlertGrouper({ store, incidents, clock });
    const outside = new OutsideAlertService({ store, grouper, incidents, clock });
    const detector = new DetectionService({
      log: events,
      grouper,
      nodes: rules,
      engineOptions: { calendar: calendarFromPolicy(policy) },
      warn: (line) => console.error(`firebreak: ${line}`),
    });
    detection = detector;
    // One backpressure gate for every source: HTTP answers 503, syslog holds its appends.
    const gate = new IngestGate({ ...options.ingestLimits, lag: async () => (await detector.stats()).lag });
    syslog = config.syslog
      ? new SyslogListener({
          // Appends wake the detection service instead of leaving it to its next poll.
          log: {
            append: async (batch, appendOptions) => {
              const result = await events.append(batch, appendOptions);
              detector.notify();
              return result;
            },
          },
          clock,
          host: config.syslog.host,
          ...(config.syslog.udpPort === undefined ? {} : { udpPort: config.syslog.udpPort }),
          ...(config.syslog.tcpPort === undefined ? {} : { tcpPort: config.syslog.tcpPort }),
          warn: (line) => console.error(`firebreak: ${line}`),
          mayAppend: async () => (await gate.currentLag()) <= gate.lagLimit,
        })
      : undefined;

    const firstAdminKey = await keys.createFirstAdminKey();

    const app = await buildServer({
      store,
      audit,
      incidents,
      keys,
      events,
      onAppended: () => detector.notify(),
      outside,
      policy,
      clock,
      version: VERSION,
      bodyLimitBytes: config.bodyLimitBytes,
      detection: () => detector.stats(),
      ...(syslog === undefined
        ? {}
        : {
            syslog: () => {
              const stats = syslog!.stats();
              // Rejected: not syslog, too long, or dropped (UDP overflow, appends that kept failing).
              const dropped = stats.overflowDropped + stats.appendDropped;
              return { accepted: stats.appendedEvents, rejected: stats.rejected + stats.tooLong + dropped };
            },
          }),
      gate,
      ...(paging.ackLinks === undefined ? {} : { ackLinks: paging.ackLinks }),
      outbox: paging.outbox,
      secrets,
      decisions,
      alerts,
      runner,
      logger:
        options.requestLog === false || config.logLevel === 'silent' ? false : { level: config.logLevel },
    });
    await app.listen({ host: config.host, port: config.port });
    closeApp = () => app.close();
    const syslogPorts = syslog === undefined ? undefined : await startSyslog(syslog, config.syslog!.host);
    if (options.startDetection !== false) await detector.start();
    paging.start();
    runner.start();
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

    announce(`Firebreak ${VERSION} listening on ${url}`);
    announce(`storage: ${store.dialect} at ${store.location}`);
    announce(`policy: ${policy.name} (${config.policyFile})`);
    // Hidden halves of Firebreak rules (`id/filter`) are not rules a person wrote.
    const from = [...(config.builtinRules ? ['the built-in pack'] : []), ...config.ruleDirs].join(', ');
    announce(`detection: ${rules.filter((r) => !r.id.includes('/')).length} rules (${from})`);
    announce(`paging: ${paging.summary}`);
    const fromPlaybooks = [...(config.builtinPlaybooks ? ['built-in'] : []), ...config.playbookDirs].join(
      ', ',
    );
    announce(
      `playbooks: ${playbooks.length} (${fromPlaybooks || 'none'}); connectors: ${[...connectors.keys()].join(', ')}`,
    );
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
      startDetection: () => detector.start(),
      async close() {
        // Detection first: it finishes its batch and saves its checkpoint while the store is open.
        // Then the listener: its stop appends what it still holds (detected on the next start).
        await detection?.stop();
        await syslog?.stop();
        await app.close();
        await runner?.stop();
        await paging?.stop();
        await store.close();
      },
    };
  } catch (error) {
    await detection?.stop();
    await syslog?.stop();
    await closeApp?.();
    await runner?.stop();
    await paging?.stop();
    await store.close();
    throw error;
  }
}

/**
 * The rules the server runs. None at all (no pack, no folder) refuses to start: a server that
 * detects nothing would look healthy. Every bad rule is printed as `file:line path: reason`
 * before the error, as `firebreak rules check` prints them.
 */
function loadServerRules(dirs: readonly string[]): RuleNode[] {
  if (dirs.length === 0) {
    throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
      source: 'rules',
      problem: 'no rules: builtin_rules is false and no rule folder is given (rules: or FIREBREAK_RULES)',
    });
  }
  try {
    return loadRules(dirs.flatMap((dir) => readRuleFiles(dir)));
  } catch (error) {
    if (error instanceof FirebreakError && error.details.length > 1) {
      // Each detail's path is already `file:line field`.
      for (const d of error.details) console.error(`firebreak: ${d.path}: ${d.message}`);
    }
    throw error;
  }
}

/**
 * The playbooks the server runs, checked against the policy's roles and the rules it loaded.
 * Every bad playbook is printed as `file:line path: reason` before the error.
 */
function loadServerPlaybooks(
  dirs: readonly string[],
  policy: ResponsePolicy,
  rules: readonly string[],
): Playbook[] {
  if (dirs.length === 0) return [];
  try {
    const playbooks = loadPlaybooks(dirs, {
      connectors: KNOWN_CONNECTOR_OPERATIONS,
      roles: Object.keys(policy.roles),
    });
    // A trigger naming a rule this server does not run (the pack left out with --no-builtin, a
    // typo) never fires: said at start rather than refused, so leaving out rules does not stop it.
    const loaded = new Set(rules);
    for (const p of playbooks) {
      const missing = [...new Set(p.triggers.flatMap((t) => t.rules))].filter((r) => !loaded.has(r));
      if (missing.length > 0) {
        console.error(
          `firebreak: playbook ${p.id} (${p.source.file}) is triggered by rules this server does not run: ${missing.join(', ')}; those triggers never fire`,
        );
      }
    }
    return playbooks;
  } catch (error) {
    if (error instanceof FirebreakError && error.details.length > 1) {
      for (const d of error.details) console.error(`firebreak: ${d.path}: ${d.message}`);
    }
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
