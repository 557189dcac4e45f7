/**
 * The one strict schema for Firebreak's settings (DESIGN.md style rule 11), read once from
 * `firebreak.yaml` (optional) and the environment, and frozen. This is the only module that
 * reads `process.env`; everything else is handed a FirebreakConfig.
 *
 * Precedence, lowest first: built-in defaults, firebreak.yaml, environment, command-line flags.
 *
 * @example firebreak.yaml
 * data_dir: /var/lib/firebreak        # embedded SQLite lives here (FIREBREAK_DATA_DIR)
 * database_url: postgres://fb@db/fb   # use PostgreSQL instead (DATABASE_URL)
 * listen: { host: 127.0.0.1, port: 7340 }   # FIREBREAK_HOST, FIREBREAK_PORT
 * policy: policies/creatorflow.yaml   # FIREBREAK_POLICY
 * roster: rosters/creatorflow.yaml    # who is on call for each role (FIREBREAK_ROSTER); none unless set
 * paging: { public_url: https://firebreak.shop.example, team: [{ channel: webhook, target: https://hooks.shop.example/incidents }] }
 * channels: { email: { host: smtp.shop.example, port: 587, user: firebreak, from: firebreak@shop.example }, webhook: {} }
 * syslog: { udp_port: 5514, tcp_port: 5514 }   # FIREBREAK_SYSLOG_UDP_PORT, _TCP_PORT; off unless set
 * rules: [./shop-rules]               # rule folders the server adds to the pack (FIREBREAK_RULES, comma-separated)
 * builtin_rules: true                 # false: only the folders above (FIREBREAK_BUILTIN_RULES)
 * playbooks: [./shop-playbooks]       # playbook folders added to the built-in ones (FIREBREAK_PLAYBOOKS)
 * builtin_playbooks: true             # false: only the folders above
 * connectors:                         # what playbooks act on; each connector checks its own block
 *   postgres: { connection_secret: shop_db }   # a secret stored with `firebreak secrets set shop_db`
 * # FIREBREAK_SECRET_KEY (64 hex characters) seals stored secrets; without it, <data_dir>/secret.key
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from 'typebox';
import { FirebreakError, parseValidatedYaml } from '../kernel/index.js';

const FileSchema = Type.Object(
  {
    data_dir: Type.Optional(Type.String({ minLength: 1 })),
    database_url: Type.Optional(
      Type.String({ pattern: '^postgres(ql)?://', description: 'a postgres:// URL' }),
    ),
    listen: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1 })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
        },
        { additionalProperties: false },
      ),
    ),
    policy: Type.Optional(Type.String({ minLength: 1 })),
    roster: Type.Optional(Type.String({ minLength: 1 })),
    paging: Type.Optional(
      Type.Object(
        {
          public_url: Type.Optional(Type.String({ pattern: '^https?://', description: 'an http(s) URL' })),
          templates: Type.Optional(Type.String({ minLength: 1 })),
          team: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  channel: Type.Enum(['webhook', 'pagerduty']),
                  target: Type.String({ minLength: 1 }),
                },
                { additionalProperties: false },
              ),
              { maxItems: 20 },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    channels: Type.Optional(
      Type.Object(
        {
          email: Type.Optional(
            Type.Object(
              {
                host: Type.String({ minLength: 1 }),
                port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
                secure: Type.Optional(Type.Boolean()),
                starttls: Type.Optional(Type.Enum(['required', 'opportunistic', 'never'])),
                user: Type.Optional(Type.String({ minLength: 1 })),
                from: Type.String({ minLength: 3 }),
                timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
              },
              { additionalProperties: false },
            ),
          ),
          slack: Type.Optional(
            Type.Object(
              {
                webhooks: Type.Optional(Type.Record(Type.String(), Type.String({ pattern: '^https://' }))),
                timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
              },
              { additionalProperties: false },
            ),
          ),
          webhook: Type.Optional(
            Type.Object(
              { timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })) },
              { additionalProperties: false },
            ),
          ),
          pagerduty: Type.Optional(
            Type.Object(
              {
                endpoint: Type.Optional(Type.String({ pattern: '^https?://' })),
                source: Type.Optional(Type.String({ minLength: 1 })),
                timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    syslog: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1 })),
          udp_port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          tcp_port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
        },
        { additionalProperties: false },
      ),
    ),
    rules: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 100 })),
    builtin_rules: Type.Optional(Type.Boolean()),
    playbooks: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 100 })),
    builtin_playbooks: Type.Optional(Type.Boolean()),
    // Each connector's block is checked against that connector's own schema when the server
    // builds it (config comes before the connectors, which it must not know).
    connectors: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_-]*$' }), Type.Record(Type.String(), Type.Unknown())),
    ),
    body_limit_bytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 })),
    log_level: Type.Optional(Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
  },
  { additionalProperties: false },
);

type FileSettings = {
  data_dir?: string;
  database_url?: string;
  listen?: { host?: string; port?: number };
  policy?: string;
  roster?: string;
  paging?: {
    public_url?: string;
    templates?: string;
    team?: { channel: 'webhook' | 'pagerduty'; target: string }[];
  };
  channels?: {
    email?: {
      host: string;
      port?: number;
      secure?: boolean;
      starttls?: 'required' | 'opportunistic' | 'never';
      user?: string;
      from: string;
      timeout_ms?: number;
    };
    slack?: { webhooks?: Record<string, string>; timeout_ms?: number };
    webhook?: { timeout_ms?: number };
    pagerduty?: { endpoint?: string; source?: string; timeout_ms?: number };
  };
  syslog?: { host?: string; udp_port?: number; tcp_port?: number };
  rules?: string[];
  builtin_rules?: boolean;
  playbooks?: string[];
  builtin_playbooks?: boolean;
  connectors?: Record<string, Record<string, unknown>>;
  body_limit_bytes?: number;
  log_level?: LogLevel;
};

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface FirebreakConfig {
  /** Where the embedded SQLite database and its lock live. */
  readonly dataDir: string;
  /** When set, PostgreSQL is used instead of the embedded database. */
  readonly databaseUrl: string | undefined;
  readonly host: string;
  readonly port: number;
  /** The response policy the server runs (absolute path). */
  readonly policyFile: string;
  /** The on-call roster (absolute path); undefined when none is set (the default). */
  readonly rosterFile: string | undefined;
  /** Paging: the channels set up, team routes, templates and the server's public URL. */
  readonly paging: PagingSettings;
  /** The syslog listener; undefined when neither port is set (the default). */
  readonly syslog: SyslogSettings | undefined;
  /** Rule folders the server loads besides the pack (absolute paths). */
  readonly ruleDirs: readonly string[];
  /** Whether the server loads the built-in rule pack (default true). */
  readonly builtinRules: boolean;
  /** Playbook folders the server loads besides the built-in ones (absolute paths). */
  readonly playbookDirs: readonly string[];
  /** Whether the server loads the built-in playbooks (default true). */
  readonly builtinPlaybooks: boolean;
  /** `connectors.<id>` blocks as written; each connector checks its own. Where they came from: `configFile`. */
  readonly connectors: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The firebreak.yaml read, if any (for messages). */
  readonly configFile: string | undefined;
  /**
   * FIREBREAK_SECRET_KEY: 32 bytes (64 hex characters) that seal stored secrets. Undefined: the
   * server keeps a key in <data dir>/secret.key, made on first use.
   */
  readonly secretKey: Buffer | undefined;
  readonly bodyLimitBytes: number;
  readonly logLevel: LogLevel;
  /** Where CLI commands find a running server. */
  readonly serverUrl: string;
  /** The key CLI commands send. */
  readonly apiKey: string | undefined;
  /** True under CI=true: tests that need a server fail instead of skipping. */
  readonly ci: boolean;
}

/**
 * Paging settings. Secrets come from the environment only, never from firebreak.yaml:
 * FIREBREAK_SMTP_PASSWORD, FIREBREAK_WEBHOOK_SECRETS (comma-separated, newest first while
 * rotating), FIREBREAK_PAGERDUTY_ROUTING_KEYS (`name=key,name=key`).
 */
export interface PagingSettings {
  /** Where people reach this server (one-click acknowledgement links); none: no links. */
  readonly publicUrl: string | undefined;
  /** A folder of templates overriding the packaged ones (absolute path). */
  readonly templatesDir: string | undefined;
  /** Team-wide routes: every page of a level goes to each (webhook URL, PagerDuty routing key name). */
  readonly team: readonly { readonly channel: 'webhook' | 'pagerduty'; readonly target: string }[];
  readonly email?: {
    readonly host: string;
    readonly port?: number;
    readonly secure?: boolean;
    readonly starttls?: 'required' | 'opportunistic' | 'never';
    readonly auth?: { readonly user: string; readonly password: string };
    readonly from: string;
    readonly timeoutMs?: number;
  };
  readonly slack?: { readonly webhooks?: Readonly<Record<string, string>>; readonly timeoutMs?: number };
  readonly webhook?: { readonly secrets: readonly string[]; readonly timeoutMs?: number };
  readonly pagerduty?: {
    readonly routingKeys: Readonly<Record<string, string>>;
    readonly endpoint?: string;
    readonly source?: string;
    readonly timeoutMs?: number;
  };
}

export interface SyslogSettings {
  /** Defaults to the HTTP host. */
  readonly host: string;
  readonly udpPort: number | undefined;
  readonly tcpPort: number | undefined;
}

export const DEFAULT_PORT = 7340;
/** The packaged policies folder (src/config and dist/config are both two levels down). */
export const POLICIES_DIR = fileURLToPath(new URL('../../policies/', import.meta.url));
/** The packaged detection rule pack, loaded unless `--no-builtin`. */
export const BUILTIN_RULES_DIR = fileURLToPath(new URL('../../rules/', import.meta.url));
/** The packaged playbooks (`firebreak playbook list` and `check` read it unless given folders). */
export const PLAYBOOKS_DIR = fileURLToPath(new URL('../../playbooks/', import.meta.url));

export interface ConfigOverrides {
  configFile?: string;
  dataDir?: string;
  databaseUrl?: string;
  host?: string;
  port?: number;
  policyFile?: string;
  rosterFile?: string;
  /** Syslog ports (0: any free port); tests use this. */
  syslogUdpPort?: number;
  syslogTcpPort?: number;
  ruleDirs?: readonly string[];
  builtinRules?: boolean;
  serverUrl?: string;
  apiKey?: string;
}

/**
 * Reads firebreak.yaml (FIREBREAK_CONFIG, else ./firebreak.yaml when present) and the
 * environment. Throws FB_ERR_CONFIG_INVALID naming the file and line, or the variable.
 */
export function loadConfig(
  overrides: ConfigOverrides = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): FirebreakConfig {
  const configFile = overrides.configFile ?? env.FIREBREAK_CONFIG ?? defaultConfigFile(cwd);
  const file = configFile ? readConfigFile(resolve(cwd, configFile)) : {};

  const port =
    overrides.port ?? envPort('FIREBREAK_PORT', env.FIREBREAK_PORT) ?? file.listen?.port ?? DEFAULT_PORT;
  const host = overrides.host ?? nonEmpty(env.FIREBREAK_HOST) ?? file.listen?.host ?? '127.0.0.1';
  const databaseUrl = overrides.databaseUrl ?? nonEmpty(env.DATABASE_URL) ?? file.database_url;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
      source: 'DATABASE_URL',
      problem: 'must be a postgres:// or postgresql:// URL',
    });
  }
  const policy = overrides.policyFile ?? nonEmpty(env.FIREBREAK_POLICY) ?? file.policy;
  const roster = overrides.rosterFile ?? nonEmpty(env.FIREBREAK_ROSTER) ?? file.roster;
  const udpPort =
    overrides.syslogUdpPort ??
    envPort('FIREBREAK_SYSLOG_UDP_PORT', env.FIREBREAK_SYSLOG_UDP_PORT) ??
    file.syslog?.udp_port;
  const tcpPort =
    overrides.syslogTcpPort ??
    envPort('FIREBREAK_SYSLOG_TCP_PORT', env.FIREBREAK_SYSLOG_TCP_PORT) ??
    file.syslog?.tcp_port;
  const syslog =
    udpPort === undefined && tcpPort === undefined
      ? undefined
      : { host: nonEmpty(env.FIREBREAK_SYSLOG_HOST) ?? file.syslog?.host ?? host, udpPort, tcpPort };

  const ruleDirs = overrides.ruleDirs ?? envList(env.FIREBREAK_RULES) ?? file.rules ?? [];
  const builtinRules =
    overrides.builtinRules ??
    envBoolean('FIREBREAK_BUILTIN_RULES', env.FIREBREAK_BUILTIN_RULES) ??
    file.builtin_rules ??
    true;

  const playbookDirs = envList(env.FIREBREAK_PLAYBOOKS) ?? file.playbooks ?? [];
  const secretKeyText = nonEmpty(env.FIREBREAK_SECRET_KEY);
  if (secretKeyText !== undefined && !/^[0-9a-fA-F]{64}$/.test(secretKeyText)) {
    throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
      source: 'FIREBREAK_SECRET_KEY',
      problem: 'must be 64 hex characters (32 bytes), such as the output of `openssl rand -hex 32`',
    });
  }

  return Object.freeze({
    dataDir: resolve(
      cwd,
      overrides.dataDir ?? nonEmpty(env.FIREBREAK_DATA_DIR) ?? file.data_dir ?? '.firebreak',
    ),
    databaseUrl,
    host,
    port,
    policyFile: policy ? resolve(cwd, policy) : resolve(POLICIES_DIR, 'kct-menswear.yaml'),
    rosterFile: roster ? resolve(cwd, roster) : undefined,
    paging: pagingSettings(file, env, cwd),
    syslog,
    ruleDirs: Object.freeze(ruleDirs.map((dir) => resolve(cwd, dir))),
    builtinRules,
    playbookDirs: Object.freeze(playbookDirs.map((dir) => resolve(cwd, dir))),
    builtinPlaybooks: file.builtin_playbooks ?? true,
    connectors: Object.freeze(file.connectors ?? {}),
    configFile: configFile ? resolve(cwd, configFile) : undefined,
    secretKey: secretKeyText === undefined ? undefined : Buffer.from(secretKeyText, 'hex'),
    bodyLimitBytes: file.body_limit_bytes ?? 64 * 1024,
    logLevel: envLogLevel(env.FIREBREAK_LOG_LEVEL) ?? file.log_level ?? 'info',
    serverUrl: overrides.serverUrl ?? nonEmpty(env.FIREBREAK_URL) ?? `http://127.0.0.1:${port}`,
    apiKey: overrides.apiKey ?? nonEmpty(env.FIREBREAK_API_KEY),
    ci: env.CI === 'true' || env.CI === '1',
  });
}

function defaultConfigFile(cwd: string): string | undefined {
  const candidate = resolve(cwd, 'firebreak.yaml');
  return existsSync(candidate) ? candidate : undefined;
}

function readConfigFile(path: string): FileSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
      source: path,
      problem: `cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    });
  }
  return parseValidatedYaml<FileSettings>(text, path, FileSchema, 'FB_ERR_CONFIG_INVALID').value;
}

function pagingSettings(
  file: FileSettings,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): PagingSettings {
  const channels = file.channels ?? {};
  const publicUrl = nonEmpty(env.FIREBREAK_PUBLIC_URL) ?? file.paging?.public_url;
  if (publicUrl !== undefined && !/^https?:\/\/[^/]/.test(publicUrl)) {
    throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
      source: 'FIREBREAK_PUBLIC_URL',
      problem: `must be an http(s) URL such as https://firebreak.shop.example, got ${JSON.stringify(publicUrl)}`,
    });
  }
  const need = (name: string, what: string): never => {
    throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
      source: name,
      problem: `is required by ${what}; set it in the environment (secrets are never read from firebreak.yaml)`,
    });
  };
  const email = channels.email;
  const password = nonEmpty(env.FIREBREAK_SMTP_PASSWORD);
  if (email?.user !== undefined && password === undefined)
    need('FIREBREAK_SMTP_PASSWORD', 'channels.email.user');
  const secrets = envList(env.FIREBREAK_WEBHOOK_SECRETS);
  if (channels.webhook && secrets === undefined) need('FIREBREAK_WEBHOOK_SECRETS', 'channels.webhook');
  const routingKeys: Record<string, string> = {};
  for (const pair of envList(env.FIREBREAK_PAGERDUTY_ROUTING_KEYS) ?? []) {
    const at = pair.indexOf('=');
    if (at < 1 || at === pair.length - 1) {
      throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
        source: 'FIREBREAK_PAGERDUTY_ROUTING_KEYS',
        problem: 'must be name=key pairs separated by commas, such as security=R0123ABC',
      });
    }
    routingKeys[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (channels.pagerduty && Object.keys(routingKeys).length === 0) {
    need('FIREBREAK_PAGERDUTY_ROUTING_KEYS', 'channels.pagerduty');
  }
  const team = file.paging?.team ?? [];
  for (const route of team) {
    if (!channels[route.channel]) {
      throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
        source: 'paging.team',
        problem: `routes to ${route.channel}, which has no channels.${route.channel} block`,
      });
    }
    if (route.channel === 'pagerduty' && !(route.target in routingKeys)) {
      throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
        source: 'paging.team',
        problem: `names the PagerDuty routing key ${JSON.stringify(route.target)}, which FIREBREAK_PAGERDUTY_ROUTING_KEYS does not define`,
      });
    }
  }
  const timeout = (ms: number | undefined) => (ms === undefined ? {} : { timeoutMs: ms });
  return Object.freeze({
    publicUrl: publicUrl?.replace(/\/+$/, ''),
    templatesDir: file.paging?.templates ? resolve(cwd, file.paging.templates) : undefined,
    team,
    ...(email
      ? {
          email: {
            host: email.host,
            from: email.from,
            ...(email.port === undefined ? {} : { port: email.port }),
            ...(email.secure === undefined ? {} : { secure: email.secure }),
            ...(email.starttls === undefined ? {} : { starttls: email.starttls }),
            ...(email.user === undefined ? {} : { auth: { user: email.user, password: password! } }),
            ...timeout(email.timeout_ms),
          },
        }
      : {}),
    ...(channels.slack
      ? {
          slack: {
            ...(channels.slack.webhooks ? { webhooks: channels.slack.webhooks } : {}),
            ...timeout(channels.slack.timeout_ms),
          },
        }
      : {}),
    ...(channels.webhook ? { webhook: { secrets: secrets!, ...timeout(channels.webhook.timeout_ms) } } : {}),
    ...(channels.pagerduty
      ? {
          pagerduty: {
            routingKeys,
            ...(channels.pagerduty.endpoint ? { endpoint: channels.pagerduty.endpoint } : {}),
            ...(channels.pagerduty.source ? { source: channels.pagerduty.source } : {}),
            ...timeout(channels.pagerduty.timeout_ms),
          },
        }
      : {}),
  });
}

/** `a,b`: a list; empty parts are ignored, and an empty variable is unset. */
function envList(text: string | undefined): string[] | undefined {
  const items = (text ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  return items.length === 0 ? undefined : items;
}

function envBoolean(name: string, text: string | undefined): boolean | undefined {
  if (text === undefined || text === '') return undefined;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
    source: name,
    problem: `must be true or false, got ${JSON.stringify(text)}`,
  });
}

function envPort(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
      source: name,
      problem: `must be a port number 0-65535, got ${JSON.stringify(text)}`,
    });
  }
  return port;
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The environment overrides the file (see the precedence above), and is checked like it. */
function envLogLevel(text: string | undefined): LogLevel | undefined {
  if (text === undefined || text === '') return undefined;
  if (!LOG_LEVELS.includes(text as LogLevel)) {
    throw new FirebreakError('FB_ERR_CONFIG_INVALID', {
      source: 'FIREBREAK_LOG_LEVEL',
      problem: `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(text)}`,
    });
  }
  return text as LogLevel;
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
}
