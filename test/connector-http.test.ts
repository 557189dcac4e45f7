/**
 * The `http` connector against stand-ins for Cloudflare, Stripe, Supabase, Vercel and a
 * shop-defined partner API, served over real HTTP on 127.0.0.1 (test/helpers/vendor-api-server.ts).
 * Each recipe is run, the request the vendor saw is checked against the documented shape, the
 * outcome's undo is passed through JSON (as the runner stores it) and run, and its request
 * checked too. Every plan, outcome and error the suite produces is kept, and the last test
 * asserts no secret appears in any of them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  cloudflareTarget,
  createHttpConnector,
  HTTP_OPERATIONS,
  type HttpConnectorSettings,
  HttpConnectorSettingsSchema,
  httpConnectorManifest,
} from '../src/connectors/http/index.js';
import { FirebreakError } from '../src/kernel/index.js';
import {
  type ActionOutcome,
  type Connector,
  ConnectorError,
  isPermanentFailure,
  KNOWN_CONNECTOR_OPERATIONS,
  type RunContext,
  renderParams,
} from '../src/respond/index.js';
import { CREDENTIALS, type SeenRequest, VendorApiServer, ZONE } from './helpers/vendor-api-server.js';

const NEW_TIKTOK_KEY = 'ttk_new_live_key_77c1d0e4';
const SECRETS: Record<string, string> = {
  cloudflare_token: CREDENTIALS.cloudflare,
  stripe_key: CREDENTIALS.stripe,
  supabase_service_key: CREDENTIALS.supabase,
  vercel_token: CREDENTIALS.vercel,
  tiktok_token: CREDENTIALS.partner,
  tiktok_api_key_new: NEW_TIKTOK_KEY,
  wrong_token: 'not-the-right-token-31337',
};
/** Every string that must never be shown: the secrets and the forms they travel in. */
const FORBIDDEN = [
  ...Object.values(SECRETS),
  Buffer.from(`${CREDENTIALS.stripe}:`).toString('base64'),
  encodeURIComponent(CREDENTIALS.supabase),
];

let api: VendorApiServer;
let settings: HttpConnectorSettings;
let http: Connector;
let secretReads: string[] = [];
/** Every plan, outcome and error produced, for the final no-secret check. */
const shown: unknown[] = [];

const deps = {
  async secret(name: string): Promise<string> {
    secretReads.push(name);
    const value = SECRETS[name];
    if (value === undefined) throw new FirebreakError('FB_ERR_SECRET_NOT_FOUND', { name });
    return value;
  },
};

function context(step: string, signal: AbortSignal = new AbortController().signal): RunContext {
  return {
    idempotencyKey: `run_0f3a/forward/${step}`,
    actor: 'playbook:run_0f3a',
    incidentId: 'INC-2025-007',
    signal,
  };
}

function plan(connector: Connector, operation: string, params: Record<string, unknown>) {
  const planned = op(connector, operation).plan(params);
  shown.push(planned);
  return planned;
}

async function run(
  connector: Connector,
  operation: string,
  params: Record<string, unknown>,
  ctx: RunContext = context(operation),
): Promise<ActionOutcome> {
  expect(op(connector, operation).validate(params)).toEqual([]);
  const outcome = await op(connector, operation).run(params, ctx);
  shown.push(outcome);
  return outcome;
}

/** Runs the outcome's undo as the runner would: through JSON, validated first. */
async function undo(connector: Connector, outcome: ActionOutcome, step = 'undo'): Promise<ActionOutcome> {
  if (!outcome.undo) throw new Error('the outcome names no undo');
  const { operation, params } = JSON.parse(JSON.stringify(outcome.undo)) as NonNullable<
    ActionOutcome['undo']
  >;
  expect(httpConnectorManifest.operations).toContain(operation);
  return run(connector, operation, params, { ...context(step), idempotencyKey: `run_0f3a/undo/${step}` });
}

async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
  try {
    await promise;
  } catch (error) {
    shown.push({ message: (error as Error).message, error });
    expect(error).toBeInstanceOf(ConnectorError);
    return error as ConnectorError;
  }
  throw new Error('expected a failure');
}

function op(connector: Connector, name: string) {
  const found = connector.operations[name];
  if (!found) throw new Error(`no operation ${name}`);
  return found;
}

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function json(request: SeenRequest | undefined): unknown {
  return JSON.parse(request?.body ?? 'null');
}

beforeAll(async () => {
  api = await VendorApiServer.start();
  const partner = `${api.url}/partner`;
  settings = {
    timeout_ms: 5_000,
    cloudflare: {
      zone_id: ZONE,
      api_token_secret: 'cloudflare_token',
      base_url: `${api.url}/cloudflare/client/v4`,
    },
    stripe: { api_key_secret: 'stripe_key', base_url: `${api.url}/stripe` },
    supabase: { url: `${api.url}/supabase/`, service_key_secret: 'supabase_service_key' },
    vercel: {
      project: 'shop',
      team_id: 'team_123',
      token_secret: 'vercel_token',
      base_url: `${api.url}/vercel`,
    },
    requests: {
      tiktok_revoke_api_key: {
        method: 'POST',
        url: `${partner}/keys/{{ params.app_key }}/revoke`,
        headers: { Authorization: 'Bearer {{ secret.tiktok_token }}' },
        body: { reason: '{{ params.reason }}', incident: '{{ context.incident_id }}' },
        undo: null,
      },
      carrier_disable: {
        method: 'POST',
        url: `${partner}/carriers/{{ params.carrier }}/disable`,
        headers: {
          Authorization: 'Bearer {{ secret.tiktok_token }}',
          'X-Request-Id': '{{ context.idempotency_key }}',
        },
        body: { incident: '{{ params.incident }}' },
        body_encoding: 'form',
        record: ['was_enabled'],
        undo: { operation: 'carrier_enable', params: { carrier: '{{ response.carrier }}' } },
      },
      tiktok_start_reauthorisation: {
        method: 'GET',
        url: `${partner}/oauth/start`,
        query: { api_key: '{{ secret.tiktok_token }}', incident: '{{ params.incident }}' },
      },
      carrier_enable: {
        method: 'POST',
        url: `${partner}/carriers/{{ params.carrier }}/enable`,
        headers: { Authorization: 'Bearer {{ secret.tiktok_token }}' },
        body: {},
        body_encoding: 'form',
        undo: { operation: 'carrier_disable', params: { carrier: '{{ params.carrier }}' } },
      },
    },
  };
  http = httpConnectorManifest.create(settings, deps);
});

afterAll(async () => {
  await api?.close();
});

beforeEach(() => {
  api.reset();
  secretReads = [];
});

describe('manifest and settings', () => {
  it('lists exactly the operations playbooks may call, each with its undo', () => {
    expect(httpConnectorManifest.id).toBe('http');
    expect([...httpConnectorManifest.operations].sort()).toEqual(
      [...(KNOWN_CONNECTOR_OPERATIONS.http ?? [])].sort(),
    );
    expect(Object.keys(http.operations).sort()).toEqual([...HTTP_OPERATIONS].sort());
    for (const name of httpConnectorManifest.operations) {
      const undoneBy = httpConnectorManifest.undoneBy[name];
      expect(undoneBy === null || httpConnectorManifest.operations.includes(undoneBy as string), name).toBe(
        true,
      );
    }
    expect(httpConnectorManifest.undoneBy.cloudflare_block_ip).toBe('cloudflare_unblock');
    expect(httpConnectorManifest.undoneBy.tiktok_revoke_api_key).toBeNull();
  });

  it('has a schema that takes the documented example and refuses typos', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(
      HttpConnectorSettingsSchema as object,
    );
    const example = {
      cloudflare: { zone_id: ZONE, api_token_secret: 'cloudflare_token' },
      stripe: { api_key_secret: 'stripe_key' },
      supabase: {
        url: 'https://xyz.supabase.co',
        service_key_secret: 'supabase_service_key',
        rate_limit_function: 'update-rate-limits',
      },
      vercel: { project: 'shop', team_id: 'team_123', token_secret: 'vercel_token' },
      requests: {
        tiktok_revoke_api_key: {
          method: 'POST',
          url: 'https://partner.example/keys/{{ params.app_key }}/revoke',
          headers: { Authorization: 'Bearer {{ secret.tiktok_token }}' },
          body: { reason: '{{ params.reason }}' },
          undo: null,
        },
      },
    };
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...example, stripe: { api_key: 'sk_live_x' } })).toBe(false); // a secret inline, not a name
    expect(validate({ ...example, cloudflare: { zone_id: 'example.com', api_token_secret: 'cf' } })).toBe(
      false,
    );
    expect(
      validate({ ...example, requests: { tiktok_revoke_key: example.requests.tiktok_revoke_api_key } }),
    ).toBe(false);
    expect(validate({ ...example, cloudfare: {} })).toBe(false);
  });

  it('refuses request templates it could not send safely, naming the field', () => {
    const bad = (template: Record<string, unknown>) => {
      try {
        createHttpConnector(
          {
            requests: {
              carrier_disable: { method: 'POST', url: 'https://carrier.example/x', ...template } as never,
            },
          },
          deps,
        );
      } catch (error) {
        expect(error).toBeInstanceOf(FirebreakError);
        expect((error as FirebreakError).code).toBe('FB_ERR_CONNECTOR_CONFIG');
        return (error as Error).message;
      }
      throw new Error('expected a config error');
    };
    expect(bad({ url: 'https://{{ params.host }}/disable' })).toMatch(
      /requests\.carrier_disable\.url: .*no template in the host/,
    );
    expect(bad({ body: { a: '{{ params.x }' } })).toMatch(/body\.a: an unclosed/);
    expect(bad({ headers: { A: '{{ env.HOME }}' } })).toMatch(
      /headers\.A: \{\{ env\.HOME \}\} is not params/,
    );
    expect(
      bad({ undo: { operation: 'carrier_enable', params: { token: '{{ secret.tiktok_token }}' } } }),
    ).toMatch(/secrets may not go into an undo/);
    expect(bad({ undo: { operation: 'carrier_teleport' } })).toMatch(
      /carrier_teleport is not an http operation/,
    );
    expect(bad({ body: { a: '{{ secret.Tiktok.token }}' } })).toMatch(
      /\{\{ secret\.Tiktok\.token \}\} is not a plain name/,
    );
  });

  it('accepts the parameters every built-in playbook passes to its http steps', () => {
    const dir = join(import.meta.dirname, '..', 'playbooks');
    const ctx = {
      incident: { id: 'INC-2025-007' },
      alerts: [],
      alert: { group: { 'source.ip': '203.0.113.7' } },
    };
    // The shop's own request templates decide their params; here the built-in recipes are checked.
    const builtIn = createHttpConnector({ ...settings, requests: {} }, deps);
    let checked = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
      const doc = parseYaml(readFileSync(join(dir, file), 'utf8')) as { steps: Record<string, unknown>[] };
      for (const step of doc.steps) {
        for (const action of [step.action, step.undo] as Record<string, unknown>[]) {
          if (action?.connector !== 'http') continue;
          const params = renderParams((action.params ?? {}) as Record<string, unknown>, ctx);
          expect(
            op(builtIn, action.operation as string).validate(params),
            `${file} ${String(step.id)}`,
          ).toEqual([]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(14);
  });
});

describe('cloudflare IP Access rules', () => {
  it('blocks an address with a zone IP Access rule and undoes exactly that rule', async () => {
    const planned = plan(http, 'cloudflare_block_ip', { ip: '203.0.113.7', note: 'firebreak INC-2025-007' });
    expect(planned.detail.join('\n')).toContain(
      `curl -X POST '${api.url}/cloudflare/client/v4/zones/${ZONE}/firewall/access_rules/rules' -H 'Authorization: Bearer ***'`,
    );
    expect(api.requests).toHaveLength(0);

    const outcome = await run(http, 'cloudflare_block_ip', {
      ip: '203.0.113.7',
      note: 'firebreak INC-2025-007',
    });
    const [lookup, create] = api.seen('/cloudflare');
    expect(lookup?.method).toBe('GET');
    expect(lookup?.query.get('configuration.value')).toBe('203.0.113.7');
    expect(create?.method).toBe('POST');
    expect(create?.path).toBe(`/cloudflare/client/v4/zones/${ZONE}/firewall/access_rules/rules`);
    expect(create?.headers.authorization).toBe(`Bearer ${CREDENTIALS.cloudflare}`);
    expect(create?.headers['content-type']).toBe('application/json');
    expect(json(create)).toEqual({
      mode: 'block',
      configuration: { target: 'ip', value: '203.0.113.7' },
      notes: 'firebreak INC-2025-007 [run_0f3a/forward/cloudflare_block_ip]',
    });
    const [rule] = [...api.cloudflare.rules.values()];
    expect(outcome.changed).toMatchObject({ rule_id: rule?.id, value: '203.0.113.7', created: true });
    expect(outcome.undo).toEqual({
      operation: 'cloudflare_unblock',
      params: { ip: '203.0.113.7', rule_id: rule?.id },
    });

    api.reset();
    const undone = await undo(http, outcome);
    expect(api.seen('/cloudflare').map((r) => `${r.method} ${r.path}`)).toEqual([
      `DELETE /cloudflare/client/v4/zones/${ZONE}/firewall/access_rules/rules/${rule?.id}`,
    ]);
    expect(api.cloudflare.rules.size).toBe(0);
    expect(undone.changed).toMatchObject({ removed: [{ id: rule?.id }] });
  });

  it('takes IPv6 and the CIDR sizes Cloudflare accepts, reduced to the network', async () => {
    expect(cloudflareTarget('2001:db8::1')).toEqual({ target: 'ip6', value: '2001:db8::1' });
    expect(cloudflareTarget('198.51.100.77/24')).toEqual({ target: 'ip_range', value: '198.51.100.0/24' });
    expect(cloudflareTarget('2001:db8:1:2::/64')).toEqual({ target: 'ip_range', value: '2001:db8:1:2::/64' });
    expect(cloudflareTarget('203.0.113.9/32')).toEqual({ target: 'ip', value: '203.0.113.9' });
    const outcome = await run(http, 'cloudflare_block_ip', { ip: '198.51.100.77/24' });
    expect(json(api.seen('/cloudflare')[1])).toMatchObject({
      configuration: { target: 'ip_range', value: '198.51.100.0/24' },
    });
    await undo(http, outcome);
    expect(api.cloudflare.rules.size).toBe(0);
  });

  it('refuses the CIDR sizes Cloudflare refuses, saying which it takes', () => {
    expect(op(http, 'cloudflare_block_ip').validate({ ip: '10.0.0.0/20' })).toEqual([
      'ip: Cloudflare IP Access rules take IPv4 ranges of /16 or /24 only (or one address), not /20',
    ]);
    expect(op(http, 'cloudflare_block_ip').validate({ ip: '2001:db8::/56' })).toEqual([
      'ip: Cloudflare IP Access rules take IPv6 ranges of /32, /48 or /64 only (or one address), not /56',
    ]);
    expect(op(http, 'cloudflare_block_ip').validate({ ip: '0x7f.0.0.1' })).toEqual([
      'ip: "0x7f.0.0.1" is not an IPv4 or IPv6 address',
    ]);
  });

  it('unblocks by address alone: finds the block rule, deletes it, and can block again', async () => {
    await run(http, 'cloudflare_block_ip', { ip: '192.0.2.44' });
    api.reset();
    const outcome = await run(http, 'cloudflare_unblock', { ip: '192.0.2.44' });
    const [find, del] = api.seen('/cloudflare');
    expect(find?.method).toBe('GET');
    expect(Object.fromEntries(find?.query ?? [])).toMatchObject({
      'configuration.target': 'ip',
      'configuration.value': '192.0.2.44',
      mode: 'block',
    });
    expect(del?.method).toBe('DELETE');
    expect(api.cloudflare.rules.size).toBe(0);
    expect(outcome.undo).toEqual({
      operation: 'cloudflare_block_ip',
      params: { ip: '192.0.2.44', note: 'firebreak INC-2025-007' },
    });
    await undo(http, outcome);
    expect([...api.cloudflare.rules.values()].map((r) => r.configuration.value)).toEqual(['192.0.2.44']);
    await run(http, 'cloudflare_unblock', { ip: '192.0.2.44' });
  });

  it('on a retry finds the rule its first attempt made; leaves a rule it did not make alone', async () => {
    const first = await run(http, 'cloudflare_block_ip', { ip: '192.0.2.50' }, context('ban'));
    api.reset();
    const again = await run(http, 'cloudflare_block_ip', { ip: '192.0.2.50' }, context('ban'));
    expect(api.seen('/cloudflare').map((r) => r.method)).toEqual(['GET']); // no second POST
    expect(again.undo).toEqual(first.undo);

    const other = await run(http, 'cloudflare_block_ip', { ip: '192.0.2.50' }, context('another-run'));
    expect(other.changed).toMatchObject({ already_blocked: true, created: false });
    expect(other.undo).toBeUndefined();
    await undo(http, first);

    api.cloudflare.rules.set('a'.repeat(32), {
      id: 'a'.repeat(32),
      mode: 'whitelist',
      configuration: { target: 'ip', value: '192.0.2.60' },
      notes: 'office',
    });
    const error = await failure(op(http, 'cloudflare_block_ip').run({ ip: '192.0.2.60' }, context('x')));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`whitelist rule ${'a'.repeat(32)}`);
    api.cloudflare.rules.clear();
  });

  it("surfaces Cloudflare's own error message; a refused token is permanent", async () => {
    const wrong = createHttpConnector(
      { ...settings, cloudflare: { ...settings.cloudflare!, api_token_secret: 'wrong_token' } },
      deps,
    );
    const error = await failure(op(wrong, 'cloudflare_block_ip').run({ ip: '203.0.113.8' }, context('x')));
    expect(error.retryable).toBe(false);
    expect(isPermanentFailure(error)).toBe(true);
    expect(error.message).toMatch(/answered 403: Authentication error \(10000\)/);
    expect(api.seen('/cloudflare')[0]?.headers.authorization).toBe(`Bearer ${SECRETS.wrong_token}`);
  });
});

describe('stripe payment links', () => {
  beforeEach(() => {
    api.stripe.links.clear();
    api.stripe.idempotency.clear();
    for (const [id, active] of [
      ['plink_A1', true],
      ['plink_B2', false],
      ['plink_C3', true],
      ['plink_D4', true],
    ] as const) {
      api.stripe.links.set(id, {
        id,
        object: 'payment_link',
        active,
        metadata: { sku: id },
        url: `https://buy.stripe.com/${id}`,
      });
    }
  });

  it('deactivates every active link (all pages), form-encoded with an Idempotency-Key, and re-enables exactly those', async () => {
    const planned = plan(http, 'stripe_disable_payments', {
      reason: 'security_incident',
      incident: 'INC-2025-007',
    });
    expect(planned.detail[0]).toBe(
      `curl -X GET '${api.url}/stripe/v1/payment_links?active=true&limit=100' -H 'Authorization: Basic ***'`,
    );

    const outcome = await run(http, 'stripe_disable_payments', {
      reason: 'security_incident',
      incident: 'INC-2025-007',
    });
    const seen = api.seen('/stripe');
    const lists = seen.filter((r) => r.method === 'GET');
    expect(lists.map((r) => r.query.toString())).toEqual([
      'active=true&limit=100',
      'active=true&limit=100&starting_after=plink_C3',
      'active=false&limit=100',
    ]);
    const posts = seen.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.path)).toEqual([
      '/stripe/v1/payment_links/plink_A1',
      '/stripe/v1/payment_links/plink_C3',
      '/stripe/v1/payment_links/plink_D4',
    ]);
    for (const post of posts) {
      expect(post.headers.authorization).toBe(
        `Basic ${Buffer.from(`${CREDENTIALS.stripe}:`).toString('base64')}`,
      );
      expect(post.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(post.headers['idempotency-key']).toBe(
        `run_0f3a/forward/stripe_disable_payments/${post.path.split('/').pop()}`,
      );
      expect(Object.fromEntries(new URLSearchParams(post.body))).toEqual({
        active: 'false',
        'metadata[firebreak_incident]': 'INC-2025-007',
        'metadata[firebreak_step]': 'run_0f3a/forward/stripe_disable_payments',
        'metadata[firebreak_reason]': 'security_incident',
      });
    }
    expect([...api.stripe.links.values()].filter((l) => l.active)).toEqual([]);
    expect(outcome.changed).toMatchObject({
      payment_links_deactivated: ['plink_A1', 'plink_C3', 'plink_D4'],
      already_inactive: [],
    });
    expect(outcome.undo).toEqual({
      operation: 'stripe_enable_payments',
      params: { payment_links: ['plink_A1', 'plink_C3', 'plink_D4'], incident: 'INC-2025-007' },
    });

    api.reset();
    await undo(http, outcome);
    const enables = api.seen('/stripe');
    expect(enables.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /stripe/v1/payment_links/plink_A1',
      'POST /stripe/v1/payment_links/plink_C3',
      'POST /stripe/v1/payment_links/plink_D4',
    ]);
    expect(enables[0]?.headers['idempotency-key']).toBe('run_0f3a/undo/undo/plink_A1');
    expect(enables[0]?.body).toBe(
      'active=true&metadata[firebreak_incident]=&metadata[firebreak_step]=&metadata[firebreak_reason]=',
    );
    // Exactly as before: the link the shop had switched off stays off, the tags are gone.
    expect(Object.fromEntries([...api.stripe.links.values()].map((l) => [l.id, l.active]))).toEqual({
      plink_A1: true,
      plink_B2: false,
      plink_C3: true,
      plink_D4: true,
    });
    expect(api.stripe.links.get('plink_A1')?.metadata).toEqual({ sku: 'plink_A1' });
  });

  it('after an interrupted attempt, a retry records the links the first attempt switched off', async () => {
    const ctx = context('stripe-off');
    // Lists, then POST plink_A1 goes through and POST plink_C3 meets a Stripe outage.
    let posts = 0;
    api.intercept = (r) =>
      r.method === 'POST' && ++posts === 2
        ? { status: 500, json: { error: { type: 'api_error', message: 'Something went wrong on our end' } } }
        : undefined;
    const error = await failure(op(http, 'stripe_disable_payments').run({}, ctx));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('answered 500: Something went wrong on our end');
    expect(api.stripe.links.get('plink_A1')?.active).toBe(false);
    expect(api.stripe.links.get('plink_C3')?.active).toBe(true);

    api.reset();
    const outcome = await run(http, 'stripe_disable_payments', {}, ctx);
    expect(outcome.changed).toMatchObject({
      payment_links_deactivated: ['plink_A1', 'plink_C3', 'plink_D4'],
    });
    await undo(http, outcome);
    expect([...api.stripe.links.values()].filter((l) => l.active).map((l) => l.id)).toEqual([
      'plink_A1',
      'plink_C3',
      'plink_D4',
    ]);
  });

  it('enables by incident alone the links tagged with it', async () => {
    await run(http, 'stripe_disable_payments', { incident: 'INC-2025-007' });
    api.reset();
    const outcome = await run(http, 'stripe_enable_payments', { incident: 'INC-2025-007' });
    expect(outcome.changed).toEqual({ payment_links_reactivated: ['plink_A1', 'plink_C3', 'plink_D4'] });
    expect(api.stripe.links.get('plink_B2')?.active).toBe(false);
  });

  it('reads a bad key as permanent and a rate limit as retryable', async () => {
    const wrong = createHttpConnector(
      { ...settings, stripe: { ...settings.stripe!, api_key_secret: 'wrong_token' } },
      deps,
    );
    const refused = await failure(op(wrong, 'stripe_disable_payments').run({}, context('x')));
    expect(refused.retryable).toBe(false);
    expect(refused.message).toContain('answered 401: Invalid API Key provided');

    api.forced.push({
      status: 429,
      json: {
        error: {
          type: 'invalid_request_error',
          code: 'rate_limit',
          message: 'Too many requests hit the API too quickly.',
        },
      },
    });
    const limited = await failure(op(http, 'stripe_disable_payments').run({}, context('x')));
    expect(limited.retryable).toBe(true);
    expect(limited.message).toContain('Too many requests hit the API too quickly. (rate_limit)');
  });
});

describe('supabase rate limits (the shop Edge Function)', () => {
  beforeEach(() => {
    api.supabase.settings = { mode: 'normal', requests_per_minute: 600 };
    api.supabase.reportPrevious = true;
  });

  it("posts the plan's emergency body and puts back exactly what the function reports it replaced", async () => {
    const planned = plan(http, 'supabase_emergency_rate_limit', {
      mode: 'emergency',
      requests_per_minute: 10,
    });
    expect(planned.detail).toEqual([
      `curl -X POST '${api.url}/supabase/functions/v1/update-rate-limits' -H 'Authorization: Bearer ***' -H 'Content-Type: application/json' -H 'Idempotency-Key: <run step key>' -d '{"mode":"emergency","requests_per_minute":10}'`,
    ]);
    const outcome = await run(http, 'supabase_emergency_rate_limit', {
      mode: 'emergency',
      requests_per_minute: 10,
    });
    const [call] = api.seen('/supabase');
    expect(call?.headers.authorization).toBe(`Bearer ${CREDENTIALS.supabase}`);
    expect(call?.headers['idempotency-key']).toBe('run_0f3a/forward/supabase_emergency_rate_limit');
    expect(json(call)).toEqual({ mode: 'emergency', requests_per_minute: 10 });
    expect(outcome.changed).toMatchObject({ previous: { mode: 'normal', requests_per_minute: 600 } });

    api.reset();
    await undo(http, outcome);
    expect(json(api.seen('/supabase')[0])).toEqual({ mode: 'normal', requests_per_minute: 600 });
    expect(api.supabase.settings).toEqual({ mode: 'normal', requests_per_minute: 600 });
  });

  it('restores with {"mode":"normal"} when the function does not say what it replaced', async () => {
    api.supabase.reportPrevious = false;
    const outcome = await run(http, 'supabase_emergency_rate_limit', {});
    expect(json(api.seen('/supabase')[0])).toEqual({ mode: 'emergency', requests_per_minute: 10 });
    expect(outcome.undo).toEqual({ operation: 'supabase_restore_rate_limit', params: {} });
    api.reset();
    await undo(http, outcome);
    expect(json(api.seen('/supabase')[0])).toEqual({ mode: 'normal' });
  });
});

describe('vercel environment variables', () => {
  beforeEach(() => api.vercel.envs.clear());

  it('adds a variable from a secret (never shown) and undoes it by removing it', async () => {
    const params = { name: 'TIKTOK_API_KEY', value_secret: 'tiktok_api_key_new', target: 'production' };
    const planned = plan(http, 'vercel_set_env', params);
    expect(planned.detail[1]).toBe(
      `curl -X POST '${api.url}/vercel/v10/projects/shop/env?upsert=true&teamId=team_123' -H 'Authorization: Bearer ***' -H 'Content-Type: application/json' -d '{"key":"TIKTOK_API_KEY","value":"***","type":"encrypted","target":["production"]}'`,
    );
    const outcome = await run(http, 'vercel_set_env', params);
    const [list, create] = api.seen('/vercel');
    expect(`${list?.method} ${list?.path}?${list?.query}`).toBe(
      'GET /vercel/v10/projects/shop/env?teamId=team_123',
    );
    expect(create?.method).toBe('POST');
    expect(create?.query.get('upsert')).toBe('true');
    expect(create?.headers.authorization).toBe(`Bearer ${CREDENTIALS.vercel}`);
    expect(json(create)).toEqual({
      key: 'TIKTOK_API_KEY',
      value: NEW_TIKTOK_KEY,
      type: 'encrypted',
      target: ['production'],
    });
    expect(outcome.changed).toMatchObject({
      name: 'TIKTOK_API_KEY',
      previous: null,
      value_from: 'secret tiktok_api_key_new',
    });
    expect(outcome.undo).toEqual({
      operation: 'vercel_remove_env',
      params: { name: 'TIKTOK_API_KEY', target: ['production'] },
    });

    api.reset();
    await undo(http, outcome);
    const [, del] = api.seen('/vercel');
    expect(del?.method).toBe('DELETE');
    expect(del?.path).toMatch(/^\/vercel\/v9\/projects\/shop\/env\/[0-9a-f]+$/);
    expect(api.vercel.envs.size).toBe(0);
  });

  it('records the previous value of a plain variable and sets it back', async () => {
    api.vercel.envs.set('aa11', {
      id: 'aa11',
      key: 'ADMIN_PANEL_DISABLED',
      value: 'false',
      type: 'plain',
      target: ['production', 'preview'],
    });
    const outcome = await run(http, 'vercel_set_env', {
      name: 'ADMIN_PANEL_DISABLED',
      value: 'true',
      type: 'plain',
    });
    expect(api.seen('/vercel').map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /vercel/v10/projects/shop/env',
      'GET /vercel/v1/projects/shop/env/aa11',
      'POST /vercel/v10/projects/shop/env',
    ]);
    expect(api.vercel.envs.get('aa11')?.value).toBe('true');
    expect(outcome.undo).toEqual({
      operation: 'vercel_set_env',
      params: {
        name: 'ADMIN_PANEL_DISABLED',
        value: 'false',
        type: 'plain',
        target: ['production', 'preview'],
      },
    });
    await undo(http, outcome);
    expect(api.vercel.envs.get('aa11')).toMatchObject({
      value: 'false',
      type: 'plain',
      target: ['production', 'preview'],
    });
  });

  it('does not copy an encrypted previous value: no undo, and it says why', async () => {
    api.vercel.envs.set('bb22', {
      id: 'bb22',
      key: 'STRIPE_SECRET_KEY',
      value: 'sk_live_old_value_9',
      type: 'encrypted',
      target: ['production'],
    });
    const outcome = await run(http, 'vercel_set_env', {
      name: 'STRIPE_SECRET_KEY',
      value_secret: 'stripe_key',
    });
    expect(api.seen('/vercel').some((r) => r.path.startsWith('/vercel/v1/'))).toBe(false);
    expect(outcome.undo).toBeUndefined();
    expect(outcome.changed).toMatchObject({ irreversible: expect.stringContaining('encrypted') });
    expect(JSON.stringify(outcome)).not.toContain('sk_live_old_value_9');
  });

  it('removes a variable and offers to set a plain one back', async () => {
    api.vercel.envs.set('cc33', {
      id: 'cc33',
      key: 'MAINTENANCE',
      value: 'off',
      type: 'plain',
      target: ['production'],
    });
    const outcome = await run(http, 'vercel_remove_env', { name: 'MAINTENANCE' });
    expect(api.vercel.envs.size).toBe(0);
    expect(outcome.undo).toEqual({
      operation: 'vercel_set_env',
      params: { name: 'MAINTENANCE', value: 'off', type: 'plain', target: ['production'] },
    });
    await undo(http, outcome);
    expect([...api.vercel.envs.values()]).toMatchObject([
      { key: 'MAINTENANCE', value: 'off', type: 'plain' },
    ]);
  });

  it('lists every parameter problem at once and refuses to run with them', async () => {
    const problems = op(http, 'vercel_set_env').validate({
      name: '1BAD',
      value: 'x',
      value_secret: 'a',
      target: 'staging',
      colour: 'red',
    });
    expect(problems).toEqual([
      'colour: unknown parameter (expected name, value, value_secret, target, type)',
      'name: "1BAD" is not a variable name (letters, digits, _)',
      'value: give either value or value_secret (the name of a stored secret)',
      'target: expected production, preview, development or a list of them',
    ]);
    expect(
      op(http, 'vercel_set_env').validate({
        name: 'A',
        value_secret: 'a',
        type: 'sensitive',
        target: ['development'],
      }),
    ).toEqual(['target: Vercel keeps sensitive variables for production and preview only']);
    const error = await failure(op(http, 'vercel_set_env').run({ name: '1BAD' }, context('x')));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/^invalid parameters: name: .*; value: give either/);
    expect(api.requests).toHaveLength(0);
  });
});

describe('shop-defined requests', () => {
  it('fills params and secrets (URL-encoded in the URL), shows *** in plans, and has no undo when it names none', async () => {
    const params = { app_key: 'app 7/x', reason: 'compromised', incident: 'INC-2025-007' };
    const planned = plan(http, 'tiktok_revoke_api_key', params);
    expect(planned.summary).toBe(
      `POST 127.0.0.1:${new URL(api.url).port} (tiktok_revoke_api_key); cannot be undone`,
    );
    expect(planned.detail).toEqual([
      `curl -X POST '${api.url}/partner/keys/app%207%2Fx/revoke' -H 'Authorization: Bearer ***' -H 'Content-Type: application/json' -d '{"reason":"compromised","incident":"<incident>"}'`,
    ]);
    expect(secretReads).toEqual([]);
    const outcome = await run(http, 'tiktok_revoke_api_key', params);
    const [call] = api.seen('/partner');
    expect(call?.path).toBe('/partner/keys/app%207%2Fx/revoke');
    expect(call?.headers.authorization).toBe(`Bearer ${CREDENTIALS.partner}`);
    expect(json(call)).toEqual({ reason: 'compromised', incident: 'INC-2025-007' });
    expect(api.partner.revoked).toEqual(['app 7/x']);
    expect(outcome.undo).toBeUndefined();
    expect(outcome.changed).toMatchObject({ status: 200, irreversible: expect.any(String) });
  });

  it('sends form bodies, records response fields, and builds the undo from params and the response', async () => {
    const outcome = await run(http, 'carrier_disable', { carrier: 'ups' });
    const [call] = api.seen('/partner');
    expect(call?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(call?.headers['x-request-id']).toBe('run_0f3a/forward/carrier_disable');
    expect(call?.body).toBe('incident=INC-2025-007');
    expect(api.partner.carriers.get('ups')).toBe(false);
    expect(outcome.changed).toMatchObject({ recorded: { was_enabled: true } });
    expect(outcome.undo).toEqual({ operation: 'carrier_enable', params: { carrier: 'ups' } });
    await undo(http, outcome);
    expect(api.partner.carriers.get('ups')).toBe(true);
  });

  it('masks a secret carried in the query, in plans and in the errors that echo the URL', async () => {
    const planned = plan(http, 'tiktok_start_reauthorisation', { incident: 'INC-2025-007' });
    expect(planned.detail).toEqual([
      `curl -X GET '${api.url}/partner/oauth/start?api_key=***&incident=INC-2025-007'`,
    ]);
    const error = await failure(op(http, 'tiktok_start_reauthorisation').run({}, context('reauth')));
    expect(api.seen('/partner')[0]?.query.get('api_key')).toBe(CREDENTIALS.partner);
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      `requests.tiktok_start_reauthorisation: GET ${api.url}/partner/oauth/start?api_key=***&incident=INC-2025-007 answered 404: no route for GET /oauth/start?api_key=***&incident=INC-2025-007`,
    );
  });

  it('reports a request that happened even when its undo cannot be filled from the answer', async () => {
    const carrier = settings.requests!.carrier_disable!;
    const odd = createHttpConnector(
      {
        requests: {
          carrier_disable: {
            ...carrier,
            undo: { operation: 'carrier_enable', params: { carrier: '{{ response.nope }}' } },
          },
        },
      },
      deps,
    );
    const outcome = await run(odd, 'carrier_disable', { carrier: 'ups' });
    expect(api.seen('/partner')).toHaveLength(1);
    expect(outcome.undo).toBeUndefined();
    expect(outcome.changed).toMatchObject({
      irreversible: expect.stringContaining('{{ response.nope }} has no value'),
    });
    api.partner.carriers.set('ups', true);
  });

  it('checks params against the template and says which key to add for an undefined operation', async () => {
    expect(op(http, 'tiktok_revoke_api_key').validate({ reason: 'x', extra: 1 })).toEqual([
      'extra: unknown parameter (expected app_key, reason, incident)',
      'app_key: required (connectors.http.requests.tiktok_revoke_api_key uses {{ params.app_key }})',
    ]);
    expect(op(http, 'creator_tokens_reset').validate({ incident: 'INC-2025-007' })).toEqual([]);
    expect(op(http, 'creator_tokens_reset').validate({ incident: { id: 1 }, note: 'a\r\nb' })).toEqual([
      'incident: expected text, a number or true/false',
      'note: control characters (line breaks) are not allowed',
    ]);
    const error = await failure(
      op(http, 'creator_tokens_reset').run({ incident: 'INC-2025-007' }, context('x')),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('connectors.http.requests.creator_tokens_reset');
    expect(() => op(http, 'creator_tokens_reset').plan({})).toThrow(
      /connectors\.http\.requests\.creator_tokens_reset/,
    );
  });
});

describe('failures', () => {
  it('an operation whose vendor is not configured still checks params, then fails naming the block', async () => {
    const bare = createHttpConnector({}, deps);
    expect(op(bare, 'stripe_disable_payments').validate({ payment_links: ['pi_123'] })).toEqual([
      'payment_links[0]: "pi_123" is not a Payment Link id (plink_…)',
    ]);
    for (const [operation, block, params] of [
      ['cloudflare_block_ip', 'cloudflare', { ip: '203.0.113.7' }],
      ['stripe_disable_payments', 'stripe', {}],
      ['supabase_emergency_rate_limit', 'supabase', {}],
      ['vercel_remove_env', 'vercel', { name: 'X' }],
    ] as const) {
      const error = await failure(op(bare, operation).run(params, context('x')));
      expect(error.retryable).toBe(false);
      expect(error.message).toContain(`connectors.http.${block} in firebreak.yaml`);
    }
    expect(secretReads).toEqual([]);
  });

  it('a 500 is retryable, a 403 is not', async () => {
    api.forced.push({
      status: 500,
      json: { success: false, errors: [{ code: 10002, message: 'Internal server error' }] },
    });
    const down = await failure(op(http, 'cloudflare_unblock').run({ rule_id: 'b'.repeat(32) }, context('x')));
    expect(down.retryable).toBe(true);
    expect(down.message).toContain('answered 500: Internal server error (10002)');

    api.forced.push({
      status: 403,
      json: { error: { code: 'forbidden', message: 'You do not have access to this project' } },
    });
    const forbidden = await failure(op(http, 'vercel_remove_env').run({ name: 'X' }, context('x')));
    expect(forbidden.retryable).toBe(false);
    expect(forbidden.message).toContain('You do not have access to this project (forbidden)');
  });

  it('a 429 is retryable', async () => {
    api.forced.push({
      status: 429,
      json: { success: false, errors: [{ code: 10429, message: 'Rate limited' }] },
    });
    const error = await failure(op(http, 'cloudflare_block_ip').run({ ip: '203.0.113.7' }, context('x')));
    expect(error.retryable).toBe(true);
  });

  it("a vendor that does not answer before the step's signal aborts is retryable, and stops waiting", async () => {
    api.hang = true;
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('step timeout')), 150);
    const started = Date.now();
    const error = await failure(
      op(http, 'supabase_emergency_rate_limit').run({}, context('x', controller.signal)),
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('the step timed out');
  });

  it("the connector's own timeout_ms applies too", async () => {
    api.hang = true;
    const quick = createHttpConnector({ ...settings, timeout_ms: 200 }, deps);
    const error = await failure(op(quick, 'vercel_remove_env').run({ name: 'X' }, context('x')));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('no answer within 200 ms');
  });

  it('a refused connection is retryable', async () => {
    const port = await freePort();
    const closed = createHttpConnector(
      { stripe: { api_key_secret: 'stripe_key', base_url: `http://127.0.0.1:${port}` } },
      deps,
    );
    const error = await failure(
      op(closed, 'stripe_enable_payments').run({ payment_links: ['plink_A1'] }, context('x')),
    );
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('a secret that is not stored is a permanent failure naming it', async () => {
    const missing = createHttpConnector(
      { ...settings, vercel: { ...settings.vercel!, token_secret: 'vercel_token_2' } },
      deps,
    );
    const error = await failure(op(missing, 'vercel_remove_env').run({ name: 'X' }, context('x')));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('firebreak secrets set vercel_token_2');
    expect(api.requests).toHaveLength(0);
  });

  it('plans read no secret', () => {
    for (const [name, params] of [
      ['cloudflare_block_ip', { ip: '203.0.113.7' }],
      ['cloudflare_unblock', { ip: '203.0.113.7' }],
      ['stripe_disable_payments', {}],
      ['stripe_enable_payments', { incident: 'INC-2025-007' }],
      ['supabase_emergency_rate_limit', {}],
      ['supabase_restore_rate_limit', {}],
      ['vercel_set_env', { name: 'A', value_secret: 'tiktok_api_key_new' }],
      ['vercel_remove_env', { name: 'A' }],
      ['carrier_disable', { carrier: 'ups' }],
    ] as const) {
      const planned = plan(http, name, params);
      expect(planned.detail.join('\n')).toContain('***');
    }
    expect(secretReads).toEqual([]);
  });
});

describe('secrets', () => {
  it('appear in no plan, outcome or error this suite produced', () => {
    expect(shown.length).toBeGreaterThan(40);
    const text = shown
      .map((item) => `${JSON.stringify(item)} ${(item as { message?: string }).message ?? ''}`)
      .join('\n');
    for (const secret of FORBIDDEN) expect(text.includes(secret), secret).toBe(false);
  });
});
