import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FirebreakError } from '../kernel/index.js';
import { DEFAULT_PORT, loadConfig, POLICIES_DIR } from './config.js';

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'firebreak-config-'));
});
afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

function writeYaml(name: string, text: string): string {
  const path = join(cwd, name);
  writeFileSync(path, text);
  return path;
}

function refusal(run: () => unknown): FirebreakError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FirebreakError);
    expect((error as FirebreakError).code).toBe('FB_ERR_CONFIG_INVALID');
    return error as FirebreakError;
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadConfig defaults', () => {
  it('without a file or environment', () => {
    const config = loadConfig({}, {}, cwd);
    expect(config).toEqual({
      dataDir: join(cwd, '.firebreak'),
      databaseUrl: undefined,
      host: '127.0.0.1',
      port: 7340,
      policyFile: join(POLICIES_DIR, 'kct-menswear.yaml'),
      rosterFile: undefined,
      bodyLimitBytes: 65_536,
      logLevel: 'info',
      serverUrl: 'http://127.0.0.1:7340',
      apiKey: undefined,
      ci: false,
      ruleDirs: [],
      builtinRules: true,
      playbookDirs: [],
      builtinPlaybooks: true,
      connectors: {},
      configFile: undefined,
      secretKey: undefined,
      paging: { publicUrl: undefined, templatesDir: undefined, team: [] },
    });
    expect(DEFAULT_PORT).toBe(7340);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads connector blocks as written, playbook folders and a secret key from the environment', () => {
    const path = writeYaml(
      'firebreak.yaml',
      'playbooks: [shop-playbooks]\nbuiltin_playbooks: false\nconnectors:\n  postgres:\n    connection_secret: shop_db\n',
    );
    const key = 'ab'.repeat(32);
    const config = loadConfig({ configFile: path }, { FIREBREAK_SECRET_KEY: key }, cwd);
    expect(config.playbookDirs).toEqual([join(cwd, 'shop-playbooks')]);
    expect(config.builtinPlaybooks).toBe(false);
    expect(config.connectors).toEqual({ postgres: { connection_secret: 'shop_db' } });
    expect(config.configFile).toBe(path);
    expect(config.secretKey?.toString('hex')).toBe(key);
  });

  it('refuses a secret key that is not 64 hex characters, naming the variable', () => {
    for (const bad of ['ab'.repeat(31), 'zz'.repeat(32), 'ab'.repeat(33)]) {
      expect(() => loadConfig({}, { FIREBREAK_SECRET_KEY: bad }, cwd)).toThrow(
        /FIREBREAK_SECRET_KEY.*64 hex/,
      );
    }
  });

  it('treats empty variables as unset', () => {
    const env = {
      FIREBREAK_PORT: '',
      FIREBREAK_HOST: '',
      DATABASE_URL: '',
      FIREBREAK_DATA_DIR: '',
      FIREBREAK_LOG_LEVEL: '',
    };
    expect(loadConfig({}, env, cwd)).toEqual(loadConfig({}, {}, cwd));
  });
});

describe('loadConfig from the environment', () => {
  it('takes every variable', () => {
    const config = loadConfig(
      {},
      {
        FIREBREAK_DATA_DIR: 'var/fb',
        DATABASE_URL: 'postgresql://fb:pw@db:5432/fb',
        FIREBREAK_HOST: '0.0.0.0',
        FIREBREAK_PORT: '8080',
        FIREBREAK_POLICY: 'policies/creatorflow.yaml',
        FIREBREAK_LOG_LEVEL: 'debug',
        FIREBREAK_URL: 'http://fb.internal:9000',
        FIREBREAK_API_KEY: 'fbk_secret',
        CI: 'true',
      },
      cwd,
    );
    expect(config).toMatchObject({
      dataDir: join(cwd, 'var/fb'),
      databaseUrl: 'postgresql://fb:pw@db:5432/fb',
      host: '0.0.0.0',
      port: 8080,
      policyFile: join(cwd, 'policies/creatorflow.yaml'),
      logLevel: 'debug',
      serverUrl: 'http://fb.internal:9000',
      apiKey: 'fbk_secret',
      ci: true,
    });
  });

  it('derives the server URL from the port', () => {
    expect(loadConfig({}, { FIREBREAK_PORT: '9100' }, cwd).serverUrl).toBe('http://127.0.0.1:9100');
  });

  it.each([
    ['1', true],
    ['true', true],
    ['false', false],
    ['0', false],
  ])('CI=%s → ci %s', (value, ci) => {
    expect(loadConfig({}, { CI: value }, cwd).ci).toBe(ci);
  });

  it.each([
    ['0', 0],
    ['1', 1],
    ['65535', 65535],
  ])('accepts FIREBREAK_PORT=%s', (value, port) => {
    expect(loadConfig({}, { FIREBREAK_PORT: value }, cwd).port).toBe(port);
  });

  it.each(['65536', '-1', '80.5', 'http', '99999999', ' 80', '0x1F90', '1e3'])(
    'refuses FIREBREAK_PORT=%s, naming the variable and value',
    (value) => {
      const error = refusal(() => loadConfig({}, { FIREBREAK_PORT: value }, cwd));
      expect(error.message).toBe(`FIREBREAK_PORT: must be a port number 0-65535, got "${value}"`);
    },
  );

  it.each(['postgres://u@h/db', 'postgresql://u@h:5432/db'])('accepts DATABASE_URL=%s', (url) => {
    expect(loadConfig({}, { DATABASE_URL: url }, cwd).databaseUrl).toBe(url);
  });

  it.each(['mysql://u@h/db', 'postgres:/u@h/db', 'h:5432/db', ' postgres://u@h/db'])(
    'refuses DATABASE_URL=%j',
    (url) => {
      const error = refusal(() => loadConfig({}, { DATABASE_URL: url }, cwd));
      expect(error.message).toMatch(/^DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/);
    },
  );

  it('refuses an unknown FIREBREAK_LOG_LEVEL, naming it', () => {
    const error = refusal(() => loadConfig({}, { FIREBREAK_LOG_LEVEL: 'loud' }, cwd));
    expect(error.message).toContain('FIREBREAK_LOG_LEVEL');
  });
});

describe('loadConfig: the on-call roster', () => {
  it('is unset by default, and read from the file, the environment and flags, in that order', () => {
    expect(loadConfig({}, { FIREBREAK_ROSTER: '' }, cwd).rosterFile).toBeUndefined();
    writeYaml('firebreak.yaml', 'roster: rosters/shop.yaml\n');
    expect(loadConfig({}, {}, cwd).rosterFile).toBe(join(cwd, 'rosters/shop.yaml'));
    const env = { FIREBREAK_ROSTER: '/etc/firebreak/roster.yaml' };
    expect(loadConfig({}, env, cwd).rosterFile).toBe('/etc/firebreak/roster.yaml');
    expect(loadConfig({ rosterFile: 'flag.yaml' }, env, cwd).rosterFile).toBe(join(cwd, 'flag.yaml'));
  });

  it('refuses an empty roster path in the file, naming its line', () => {
    const file = writeYaml('firebreak.yaml', 'policy: p.yaml\nroster: ""\n');
    expect(refusal(() => loadConfig({}, {}, cwd)).params.source).toBe(`${file}:2`);
  });
});

describe('loadConfig: paging channels', () => {
  const yaml = [
    'paging:',
    '  public_url: https://firebreak.shop.example/',
    '  templates: my-templates',
    '  team: [{ channel: webhook, target: "https://hooks.shop.example/in" }, { channel: pagerduty, target: security }]',
    'channels:',
    '  email: { host: smtp.shop.example, port: 587, user: firebreak, from: firebreak@shop.example }',
    '  slack: { webhooks: { sec: "https://hooks.slack.com/services/T/B/x" } }',
    '  webhook: { timeout_ms: 5000 }',
    '  pagerduty: { endpoint: "http://127.0.0.1:9/v2/enqueue" }',
    '',
  ].join('\n');
  const secrets = {
    FIREBREAK_SMTP_PASSWORD: 'smtp-pw',
    FIREBREAK_WEBHOOK_SECRETS: 'new,old',
    FIREBREAK_PAGERDUTY_ROUTING_KEYS: 'security=R0123,ops=R0456',
  };

  it('reads the blocks from the file and the secrets from the environment only', () => {
    writeYaml('firebreak.yaml', yaml);
    expect(loadConfig({}, secrets, cwd).paging).toEqual({
      publicUrl: 'https://firebreak.shop.example',
      templatesDir: join(cwd, 'my-templates'),
      team: [
        { channel: 'webhook', target: 'https://hooks.shop.example/in' },
        { channel: 'pagerduty', target: 'security' },
      ],
      email: {
        host: 'smtp.shop.example',
        port: 587,
        auth: { user: 'firebreak', password: 'smtp-pw' },
        from: 'firebreak@shop.example',
      },
      slack: { webhooks: { sec: 'https://hooks.slack.com/services/T/B/x' } },
      webhook: { secrets: ['new', 'old'], timeoutMs: 5000 },
      pagerduty: {
        routingKeys: { security: 'R0123', ops: 'R0456' },
        endpoint: 'http://127.0.0.1:9/v2/enqueue',
      },
    });
  });

  it('refuses a channel without its secret, a secret in the file, a team route to nothing, naming what to set', () => {
    writeYaml('firebreak.yaml', yaml);
    for (const missing of Object.keys(secrets)) {
      const env = { ...secrets, [missing]: '' };
      expect(refusal(() => loadConfig({}, env, cwd)).message).toContain(missing);
    }
    expect(
      refusal(() => loadConfig({}, { ...secrets, FIREBREAK_PAGERDUTY_ROUTING_KEYS: 'ops=R0456' }, cwd))
        .message,
    ).toMatch(/paging\.team.*"security"/);
    expect(
      refusal(() => loadConfig({}, { ...secrets, FIREBREAK_PAGERDUTY_ROUTING_KEYS: 'nokey' }, cwd)).message,
    ).toMatch(/name=key pairs/);
    const inline = writeYaml(
      'inline.yaml',
      'channels:\n  email: { host: h, from: a@b.c, password: hunter2 }\n',
    );
    expect(refusal(() => loadConfig({ configFile: inline }, {}, cwd)).message).toMatch(/inline\.yaml:2/);
    expect(refusal(() => loadConfig({}, { FIREBREAK_PUBLIC_URL: 'firebreak.example' }, cwd)).message).toMatch(
      /FIREBREAK_PUBLIC_URL/,
    );
  });
});

describe('loadConfig: rule folders for the server', () => {
  it('reads them from the file, the environment (comma-separated) and flags, in that order', () => {
    writeYaml('firebreak.yaml', 'rules: [shop-rules, /etc/firebreak/rules]\nbuiltin_rules: false\n');
    expect(loadConfig({}, {}, cwd)).toMatchObject({
      ruleDirs: [join(cwd, 'shop-rules'), '/etc/firebreak/rules'],
      builtinRules: false,
    });
    const env = { FIREBREAK_RULES: ' a , ,b ', FIREBREAK_BUILTIN_RULES: 'true' };
    expect(loadConfig({}, env, cwd)).toMatchObject({
      ruleDirs: [join(cwd, 'a'), join(cwd, 'b')],
      builtinRules: true,
    });
    expect(loadConfig({ ruleDirs: ['c'], builtinRules: false }, env, cwd)).toMatchObject({
      ruleDirs: [join(cwd, 'c')],
      builtinRules: false,
    });
    expect(loadConfig({}, { FIREBREAK_RULES: '', FIREBREAK_BUILTIN_RULES: '' }, cwd).ruleDirs).toEqual([
      join(cwd, 'shop-rules'),
      '/etc/firebreak/rules',
    ]);
  });

  it('refuses a FIREBREAK_BUILTIN_RULES that is not a boolean, and rules that are not a list', () => {
    expect(refusal(() => loadConfig({}, { FIREBREAK_BUILTIN_RULES: 'yes' }, cwd)).message).toMatch(
      /FIREBREAK_BUILTIN_RULES.*must be true or false, got "yes"/,
    );
    const file = writeYaml('bad.yaml', 'policy: p.yaml\nrules: ./one-folder\n');
    expect(refusal(() => loadConfig({ configFile: file }, {}, cwd)).message).toMatch(/bad\.yaml:2/);
  });
});

describe('loadConfig from firebreak.yaml', () => {
  const full = [
    'data_dir: data',
    'database_url: postgres://file@db/fb',
    'listen:',
    '  host: 10.0.0.1',
    '  port: 7000',
    'policy: my-policy.yaml',
    'body_limit_bytes: 2048',
    'log_level: warn',
    '',
  ].join('\n');

  it('is found in the working directory', () => {
    writeYaml('firebreak.yaml', full);
    expect(loadConfig({}, {}, cwd)).toMatchObject({
      dataDir: join(cwd, 'data'),
      databaseUrl: 'postgres://file@db/fb',
      host: '10.0.0.1',
      port: 7000,
      policyFile: join(cwd, 'my-policy.yaml'),
      bodyLimitBytes: 2048,
      logLevel: 'warn',
      serverUrl: 'http://127.0.0.1:7000',
    });
  });

  it('is read from FIREBREAK_CONFIG, relative to the working directory, or from the override', () => {
    mkdirSync(join(cwd, 'etc'));
    writeYaml('etc/fb.yaml', 'listen: { port: 7100 }\n');
    writeYaml('other.yaml', 'listen: { port: 7200 }\n');
    expect(loadConfig({}, { FIREBREAK_CONFIG: 'etc/fb.yaml' }, cwd).port).toBe(7100);
    expect(loadConfig({ configFile: 'other.yaml' }, { FIREBREAK_CONFIG: 'etc/fb.yaml' }, cwd).port).toBe(
      7200,
    );
  });

  it('is overridden by the environment, which is overridden by flags', () => {
    writeYaml('firebreak.yaml', full);
    const env = {
      FIREBREAK_PORT: '7001',
      FIREBREAK_HOST: 'env-host',
      DATABASE_URL: 'postgres://env@db/fb',
      FIREBREAK_DATA_DIR: 'env-data',
      FIREBREAK_POLICY: 'env-policy.yaml',
      FIREBREAK_LOG_LEVEL: 'debug',
    };
    expect(loadConfig({}, env, cwd)).toMatchObject({
      port: 7001,
      host: 'env-host',
      databaseUrl: 'postgres://env@db/fb',
      dataDir: join(cwd, 'env-data'),
      policyFile: join(cwd, 'env-policy.yaml'),
      logLevel: 'debug',
    });
    const flags = {
      port: 7002,
      host: 'flag-host',
      databaseUrl: 'postgres://flag@db/fb',
      dataDir: 'flag-data',
      policyFile: 'flag-policy.yaml',
    };
    expect(loadConfig(flags, env, cwd)).toMatchObject({
      port: 7002,
      host: 'flag-host',
      databaseUrl: 'postgres://flag@db/fb',
      dataDir: join(cwd, 'flag-data'),
      policyFile: join(cwd, 'flag-policy.yaml'),
    });
  });

  it('refuses an unknown key, naming file:line', () => {
    const path = writeYaml('firebreak.yaml', 'data_dir: data\nlisten:\n  port: 7000\nlsten_port: 7000\n');
    const error = refusal(() => loadConfig({}, {}, cwd));
    expect(error.message).toBe(`${path}:4: lsten_port: is not a known field`);
    expect(error.details).toEqual([{ path: 'lsten_port', line: 4, message: 'is not a known field' }]);
  });

  it('refuses an unknown nested key, naming its line', () => {
    const path = writeYaml('firebreak.yaml', 'listen:\n  port: 7000\n  hots: 0.0.0.0\n');
    expect(refusal(() => loadConfig({}, {}, cwd)).message).toMatch(new RegExp(`^${path}:3: listen\\.hots: `));
  });

  it.each([
    ['listen:\n  port: 65536\n', 2, 'listen.port'],
    ['listen:\n  port: seven\n', 2, 'listen.port'],
    ['\n\ndatabase_url: mysql://db/fb\n', 3, 'database_url'],
    ['body_limit_bytes: 1023\n', 1, 'body_limit_bytes'],
    ['log_level: loud\n', 1, 'log_level'],
    ['data_dir: [unclosed\n', 2, ''],
  ])('refuses a bad value (%j) at its line', (text, line, path) => {
    const file = writeYaml('firebreak.yaml', text);
    const error = refusal(() => loadConfig({}, {}, cwd));
    expect(error.params.source).toBe(`${file}:${line}`);
    expect(error.details[0]?.path).toBe(path);
  });

  it('accepts the edges of the ranges', () => {
    writeYaml('a.yaml', 'listen: { port: 65535 }\nbody_limit_bytes: 1024\n');
    writeYaml('b.yaml', `listen: { port: 0 }\nbody_limit_bytes: ${64 * 1024 * 1024}\n`);
    expect(loadConfig({ configFile: 'a.yaml' }, {}, cwd)).toMatchObject({
      port: 65535,
      bodyLimitBytes: 1024,
    });
    expect(loadConfig({ configFile: 'b.yaml' }, {}, cwd)).toMatchObject({
      port: 0,
      bodyLimitBytes: 64 * 1024 * 1024,
    });
    writeYaml('c.yaml', `body_limit_bytes: ${64 * 1024 * 1024 + 1}\n`);
    expect(refusal(() => loadConfig({ configFile: 'c.yaml' }, {}, cwd)).details[0]?.path).toBe(
      'body_limit_bytes',
    );
  });

  it('accepts an empty file', () => {
    writeYaml('firebreak.yaml', '# nothing set yet\n');
    expect(loadConfig({}, {}, cwd)).toMatchObject({
      port: 7340,
      host: '127.0.0.1',
      dataDir: join(cwd, '.firebreak'),
      logLevel: 'info',
    });
  });

  it('refuses a named file that does not exist, naming it', () => {
    const error = refusal(() => loadConfig({}, { FIREBREAK_CONFIG: 'missing.yaml' }, cwd));
    expect(error.message).toContain(join(cwd, 'missing.yaml'));
    expect(error.message).toContain('ENOENT');
  });
});
