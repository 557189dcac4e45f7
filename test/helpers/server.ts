/**
 * A real Firebreak server for end-to-end tests: startFirebreak on port 0 with settings built
 * from an explicit, empty environment (the developer's FIREBREAK_* and DATABASE_URL never leak
 * in). SQLite runs in a fresh temporary data directory; PostgreSQL runs in a freshly created
 * database that is dropped again on cleanup, since startFirebreak has no schema option.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { type ConfigOverrides, loadConfig, POLICIES_DIR } from '../../src/config/index.js';
import type { Clock } from '../../src/kernel/index.js';
import { type Firebreak, type StartOptions, startFirebreak } from '../../src/main.js';
import { type DialectName, POSTGRES_URL } from './stores.js';

export const DEFAULT_POLICY = resolve(POLICIES_DIR, 'kct-menswear.yaml');

/**
 * The secret part of an API key (`fbk_<id>_<secret>`). Not `split('_')`: the secret is
 * base64url and may itself contain `_`.
 */
export function keySecret(key: string): string {
  const secret = /^fbk_[0-9a-f]{12}_(.+)$/.exec(key)?.[1];
  if (secret === undefined) throw new Error(`not an API key: ${key}`);
  return secret;
}

export interface TestServer {
  readonly dialect: DialectName;
  readonly url: string;
  /** The admin key printed on the first start. */
  readonly adminKey: string;
  readonly dataDir: string;
  /** PostgreSQL only: the throw-away database's URL. */
  readonly databaseUrl: string | undefined;
  /** Every line the server announced, across restarts. */
  readonly announced: string[];
  readonly server: Firebreak;
  /** Stops the server (idempotent); the data stays. */
  stop(): Promise<void>;
  /** Stops, starts again on the same data, and returns the new server's URL. */
  restart(): Promise<Firebreak>;
  /** Stops the server and removes its data directory / drops its database. */
  cleanup(): Promise<void>;
}

export interface TestServerOptions {
  readonly clock?: Clock;
  readonly policyFile?: string;
  readonly ingestLimits?: StartOptions['ingestLimits'];
  readonly startDetection?: boolean;
  /** Turn the syslog listener on, TCP on this port (0: any free port). */
  readonly syslogTcpPort?: number;
  /** A firebreak.yaml to put in the data directory (which is the working directory of loadConfig). */
  readonly configYaml?: string;
  /** The environment loadConfig sees (else none). */
  readonly env?: Record<string, string>;
  /** Writes files the config names (a roster, playbook folders) into the data directory first. */
  readonly prepare?: (dataDir: string) => void;
  /** Playbook runner timings. */
  readonly runner?: StartOptions['runner'];
}

/** Settings as startFirebreak sees them, from overrides alone. */
export function testConfig(
  dataDir: string,
  databaseUrl?: string,
  policyFile = DEFAULT_POLICY,
  extra: ConfigOverrides = {},
  env: Record<string, string> = {},
) {
  return loadConfig(
    { port: 0, host: '127.0.0.1', dataDir, policyFile, ...(databaseUrl ? { databaseUrl } : {}), ...extra },
    env,
    dataDir,
  );
}

async function adminQuery(sqlText: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sqlText);
  } finally {
    await client.end();
  }
}

/** A new, empty PostgreSQL database; its URL and a function that drops it. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `fb_api_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

export async function startTestServer(
  dialect: DialectName = 'sqlite',
  options: TestServerOptions = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'firebreak-e2e-'));
  const database = dialect === 'postgres' ? await freshPostgresDatabase() : undefined;
  const announced: string[] = [];
  if (options.configYaml !== undefined) writeFileSync(join(dataDir, 'firebreak.yaml'), options.configYaml);
  options.prepare?.(dataDir);
  const config = testConfig(
    dataDir,
    database?.url,
    options.policyFile,
    options.syslogTcpPort === undefined ? {} : { syslogTcpPort: options.syslogTcpPort },
    options.env,
  );
  const start = () =>
    startFirebreak(config, {
      announce: (line) => announced.push(line),
      requestLog: false,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.ingestLimits ? { ingestLimits: options.ingestLimits } : {}),
      ...(options.startDetection === undefined ? {} : { startDetection: options.startDetection }),
      ...(options.runner ? { runner: options.runner } : {}),
    });

  let server: Firebreak;
  try {
    server = await start();
  } catch (error) {
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const adminKey = server.firstAdminKey;
  if (!adminKey) throw new Error('a fresh server did not create a first admin key');
  let running = true;

  const stop = async () => {
    if (!running) return;
    running = false;
    await server.close();
  };
  return {
    dialect,
    adminKey,
    dataDir,
    databaseUrl: database?.url,
    announced,
    get url() {
      return server.url;
    },
    get server() {
      return server;
    },
    stop,
    async restart() {
      await stop();
      server = await start();
      running = true;
      return server;
    },
    async cleanup() {
      await stop();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
  readonly headers: Headers;
}

export interface ApiRequest {
  /** A key to send as Bearer; omit for no Authorization header. */
  readonly key?: string;
  /** Sent as JSON. */
  readonly json?: unknown;
  /** Sent as is, with `contentType` (default application/json). */
  readonly raw?: string;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

/** One HTTP request; the answer parsed as JSON when it is JSON. */
export async function call<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  request: ApiRequest = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...(request.headers ?? {}) };
  if (request.key !== undefined) headers.authorization = `Bearer ${request.key}`;
  let body: string | undefined;
  if (request.json !== undefined) {
    body = JSON.stringify(request.json);
    headers['content-type'] = request.contentType ?? 'application/json';
  } else if (request.raw !== undefined) {
    body = request.raw;
    headers['content-type'] = request.contentType ?? 'application/json';
  }
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed as T, text, headers: response.headers };
}
