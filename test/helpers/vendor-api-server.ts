/**
 * Stand-ins for the vendor APIs the `http` connector calls, on a real HTTP server on 127.0.0.1
 * (DESIGN.md principle 7: test doubles for third-party SaaS speak the vendor's documented wire
 * format). Each double keeps state, checks what the vendor checks (authentication, content
 * type, the body's documented shape) and answers in the vendor's documented success and error
 * shapes. Every request is recorded so tests can assert exactly what was sent.
 *
 * Routes, one server: /cloudflare/client/v4/…, /stripe/v1/…, /supabase/functions/v1/…,
 * /vercel/v{1,9,10}/…, /partner/… (a shop-defined API).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Reply {
  readonly status: number;
  readonly json?: unknown;
  readonly headers?: Record<string, string>;
}

export const CREDENTIALS = {
  cloudflare: 'cf-token-5e1f0c2b9a7d4e3f8c6b',
  stripe: 'sk_test_51Hx9firebreakSECRETkey000',
  supabase: 'eyJhbGciOiJIUzI1NiJ9.service-role.firebreak-secret',
  vercel: 'vercel-token-9f8e7d6c5b4a',
  partner: 'tiktok-partner-token-4d3c2b1a',
} as const;

export const ZONE = '023e105f4ecef8ad9ca31a8372d0c353';

interface CfRule {
  id: string;
  mode: string;
  configuration: { target: string; value: string };
  notes: string;
}
interface StripeLink {
  id: string;
  object: 'payment_link';
  active: boolean;
  metadata: Record<string, string>;
  url: string;
}
interface VercelEnv {
  id: string;
  key: string;
  value: string;
  type: string;
  target: string[];
}

export class VendorApiServer {
  readonly requests: SeenRequest[] = [];
  /** Replies forced on the next requests, before any double sees them. */
  readonly forced: Reply[] = [];
  /** When true, requests are never answered (a vendor that hangs). */
  hang = false;
  /** Sees each request first; a reply it returns is sent instead of the double's. */
  intercept: ((req: SeenRequest) => Reply | undefined) | undefined;

  readonly cloudflare = { rules: new Map<string, CfRule>() };
  readonly stripe = {
    links: new Map<string, StripeLink>(),
    /** Page size the double uses whatever `limit` asks (to exercise paging). */
    pageSize: 2,
    idempotency: new Map<string, { body: string; reply: Reply }>(),
  };
  readonly supabase = {
    settings: { mode: 'normal', requests_per_minute: 600 } as Record<string, unknown>,
    reportPrevious: true,
  };
  readonly vercel = { envs: new Map<string, VercelEnv>() };
  readonly partner = { revoked: [] as string[], carriers: new Map<string, boolean>([['ups', true]]) };

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<VendorApiServer> {
    let self: VendorApiServer | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const seen: SeenRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        self!.handle(seen, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    self = new VendorApiServer(server, `http://127.0.0.1:${port}`);
    return self;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Requests whose path starts with the prefix, in order. */
  seen(prefix: string): SeenRequest[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  reset(): void {
    this.requests.length = 0;
    this.forced.length = 0;
    this.hang = false;
    this.intercept = undefined;
  }

  private handle(req: SeenRequest, res: ServerResponse): void {
    this.requests.push(req);
    if (this.hang) return;
    const reply = this.forced.shift() ?? this.intercept?.(req) ?? this.route(req);
    res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.headers ?? {}) });
    res.end(reply.json === undefined ? '' : JSON.stringify(reply.json));
  }

  private route(req: SeenRequest): Reply {
    const [, vendor, ...rest] = req.path.split('/');
    const path = `/${rest.join('/')}`;
    switch (vendor) {
      case 'cloudflare':
        return this.cloudflareApi(req, path);
      case 'stripe':
        return this.stripeApi(req, path);
      case 'supabase':
        return this.supabaseApi(req, path);
      case 'vercel':
        return this.vercelApi(req, path);
      case 'partner':
        return this.partnerApi(req, path);
      default:
        return { status: 404, json: { message: 'no such vendor' } };
    }
  }

  // ---- Cloudflare API v4: IP Access rules for a zone ------------------------------------------
  private cloudflareApi(req: SeenRequest, path: string): Reply {
    const fail = (status: number, code: number, message: string): Reply => ({
      status,
      json: { success: false, errors: [{ code, message }], messages: [], result: null },
    });
    if (req.headers.authorization !== `Bearer ${CREDENTIALS.cloudflare}`)
      return fail(403, 10000, 'Authentication error');
    const base = `/client/v4/zones/${ZONE}/firewall/access_rules/rules`;
    const ok = (result: unknown, extra: Record<string, unknown> = {}): Reply => ({
      status: 200,
      json: { success: true, errors: [], messages: [], result, ...extra },
    });
    if (path === base && req.method === 'POST') {
      if (!String(req.headers['content-type']).startsWith('application/json'))
        return fail(400, 6003, 'Invalid request headers');
      const body = JSON.parse(req.body) as Partial<CfRule>;
      const target = body.configuration?.target;
      const value = body.configuration?.value ?? '';
      if (
        !['block', 'challenge', 'whitelist', 'js_challenge', 'managed_challenge'].includes(String(body.mode))
      )
        return fail(400, 10001, 'firewallaccessrules.api.validation_error:mode');
      if (!['ip', 'ip6', 'ip_range', 'asn', 'country'].includes(String(target)))
        return fail(400, 10001, 'firewallaccessrules.api.validation_error:configuration.target');
      if (target === 'ip_range' && !/\/(16|24|32|48|64)$/.test(value))
        return fail(400, 10001, 'firewallaccessrules.api.validation_error:invalid_ip_range');
      if ([...this.cloudflare.rules.values()].some((r) => r.configuration.value === value))
        return fail(400, 10009, 'firewallaccessrules.api.duplicate_of_existing');
      const rule: CfRule = {
        id: randomBytes(16).toString('hex'),
        mode: String(body.mode),
        configuration: { target: String(target), value },
        notes: body.notes ?? '',
      };
      this.cloudflare.rules.set(rule.id, rule);
      return ok({ ...rule, allowed_modes: ['block', 'challenge'], scope: { id: ZONE, type: 'zone' } });
    }
    if (path === base && req.method === 'GET') {
      const match = [...this.cloudflare.rules.values()].filter(
        (r) =>
          (!req.query.has('configuration.target') ||
            r.configuration.target === req.query.get('configuration.target')) &&
          (!req.query.has('configuration.value') ||
            r.configuration.value === req.query.get('configuration.value')) &&
          (!req.query.has('mode') || r.mode === req.query.get('mode')),
      );
      return ok(match, {
        result_info: {
          page: 1,
          per_page: 50,
          count: match.length,
          total_count: match.length,
          total_pages: 1,
        },
      });
    }
    const one = new RegExp(`^${base}/([0-9a-f]{32})$`).exec(path);
    if (one && req.method === 'DELETE') {
      if (!this.cloudflare.rules.delete(one[1]!))
        return fail(404, 10001, 'firewallaccessrules.api.not_found');
      return ok({ id: one[1] });
    }
    return fail(404, 7003, 'Could not route to the requested path');
  }

  // ---- Stripe API: Payment Links (form-encoded, Basic or Bearer with the secret key) ----------
  private stripeApi(req: SeenRequest, path: string): Reply {
    const fail = (status: number, type: string, message: string, code?: string): Reply => ({
      status,
      json: { error: { type, message, ...(code ? { code } : {}) } },
    });
    const basic = `Basic ${Buffer.from(`${CREDENTIALS.stripe}:`).toString('base64')}`;
    if (req.headers.authorization !== basic && req.headers.authorization !== `Bearer ${CREDENTIALS.stripe}`)
      return fail(401, 'invalid_request_error', 'Invalid API Key provided: sk_test_****************0000');
    if (path === '/v1/payment_links' && req.method === 'GET') {
      const active = req.query.get('active');
      const all = [...this.stripe.links.values()].filter(
        (l) => active === null || String(l.active) === active,
      );
      const after = req.query.get('starting_after');
      const start = after ? all.findIndex((l) => l.id === after) + 1 : 0;
      const size = Math.min(Number(req.query.get('limit') ?? 10), this.stripe.pageSize);
      const data = all.slice(start, start + size);
      return {
        status: 200,
        json: { object: 'list', data, has_more: start + size < all.length, url: '/v1/payment_links' },
      };
    }
    const one = /^\/v1\/payment_links\/(plink_[A-Za-z0-9]+)$/.exec(path);
    const link = one ? this.stripe.links.get(one[1]!) : undefined;
    if (one && !link)
      return fail(404, 'invalid_request_error', `No such payment_link: '${one[1]}'`, 'resource_missing');
    if (link && req.method === 'GET') return { status: 200, json: link };
    if (link && req.method === 'POST') {
      if (req.headers['content-type'] !== 'application/x-www-form-urlencoded')
        return fail(400, 'invalid_request_error', 'Invalid request: expected form encoding');
      const key = req.headers['idempotency-key'];
      if (typeof key !== 'string' || key.length === 0 || key.length > 255)
        return fail(400, 'invalid_request_error', 'this double requires an Idempotency-Key on every POST');
      const saved = this.stripe.idempotency.get(key);
      if (saved) {
        if (saved.body !== req.body)
          return fail(
            400,
            'idempotency_error',
            'Keys for idempotent requests can only be used with the same parameters they were first used with.',
          );
        return { ...saved.reply, headers: { 'idempotent-replayed': 'true' } };
      }
      for (const [name, value] of new URLSearchParams(req.body)) {
        const meta = /^metadata\[([^\]]+)\]$/.exec(name);
        if (name === 'active') {
          if (value !== 'true' && value !== 'false')
            return fail(400, 'invalid_request_error', 'Invalid boolean: active', 'parameter_invalid_boolean');
          link.active = value === 'true';
        } else if (meta) {
          if (value === '') delete link.metadata[meta[1]!];
          else link.metadata[meta[1]!] = value;
        } else
          return fail(
            400,
            'invalid_request_error',
            `Received unknown parameter: ${name}`,
            'parameter_unknown',
          );
      }
      const reply: Reply = { status: 200, json: structuredClone(link) };
      this.stripe.idempotency.set(key, { body: req.body, reply });
      return reply;
    }
    return fail(404, 'invalid_request_error', `Unrecognized request URL (${req.method}: ${path})`);
  }

  // ---- Supabase Edge Function: the shop's update-rate-limits -----------------------------------
  private supabaseApi(req: SeenRequest, path: string): Reply {
    if (req.headers.authorization !== `Bearer ${CREDENTIALS.supabase}`)
      return { status: 401, json: { code: 401, message: 'Invalid JWT' } };
    if (path !== '/functions/v1/update-rate-limits' || req.method !== 'POST')
      return { status: 404, json: { code: 'NOT_FOUND', message: 'Requested function was not found' } };
    if (req.headers['content-type'] !== 'application/json')
      return { status: 400, json: { error: 'expected JSON' } };
    const body = JSON.parse(req.body) as Record<string, unknown>;
    if (typeof body.mode !== 'string') return { status: 400, json: { error: 'mode is required' } };
    const previous = this.supabase.settings;
    this.supabase.settings = body;
    return { status: 200, json: this.supabase.reportPrevious ? { ok: true, previous } : { ok: true } };
  }

  // ---- Vercel REST API: project environment variables ------------------------------------------
  private vercelApi(req: SeenRequest, path: string): Reply {
    const fail = (status: number, code: string, message: string): Reply => ({
      status,
      json: { error: { code, message } },
    });
    if (req.headers.authorization !== `Bearer ${CREDENTIALS.vercel}`)
      return fail(403, 'forbidden', 'Not authorized');
    if (req.query.get('teamId') !== 'team_123') return fail(404, 'not_found', 'Project not found');
    const shown = (e: VercelEnv) => ({
      ...e,
      value: e.type === 'plain' ? e.value : `enc:${Buffer.from(e.value).toString('base64')}`,
    });
    if (path === '/v10/projects/shop/env' && req.method === 'GET') {
      return {
        status: 200,
        json: {
          envs: [...this.vercel.envs.values()].map(shown),
          pagination: { count: this.vercel.envs.size, next: null, prev: null },
        },
      };
    }
    if (path === '/v10/projects/shop/env' && req.method === 'POST') {
      if (req.headers['content-type'] !== 'application/json') return fail(400, 'bad_request', 'Invalid JSON');
      const body = JSON.parse(req.body) as Partial<VercelEnv>;
      if (typeof body.key !== 'string' || typeof body.value !== 'string' || !Array.isArray(body.target))
        return fail(400, 'bad_request', 'Invalid request: missing key, value or target');
      if (!['encrypted', 'plain', 'sensitive', 'system'].includes(String(body.type)))
        return fail(400, 'bad_request', 'Invalid type');
      const existing = [...this.vercel.envs.values()].find(
        (e) => e.key === body.key && e.target.some((t) => body.target!.includes(t)),
      );
      if (existing && req.query.get('upsert') !== 'true')
        return {
          status: 201,
          json: {
            created: [],
            failed: [
              {
                error: {
                  code: 'ENV_ALREADY_EXISTS',
                  message: `A variable with the name \`${body.key}\` already exists`,
                  key: body.key,
                },
              },
            ],
          },
        };
      const env: VercelEnv = {
        id: existing?.id ?? randomBytes(8).toString('hex'),
        key: body.key,
        value: body.value,
        type: String(body.type),
        target: body.target,
      };
      this.vercel.envs.set(env.id, env);
      return { status: 201, json: { created: { ...shown(env), createdAt: 1 }, failed: [] } };
    }
    const decrypted = /^\/v1\/projects\/shop\/env\/([0-9a-f]+)$/.exec(path);
    if (decrypted && req.method === 'GET') {
      const env = this.vercel.envs.get(decrypted[1]!);
      if (!env) return fail(404, 'not_found', 'Environment Variable not found');
      return {
        status: 200,
        json: {
          decrypted: env.type !== 'sensitive',
          ...env,
          ...(env.type === 'sensitive' ? { value: '' } : {}),
        },
      };
    }
    const del = /^\/v9\/projects\/shop\/env\/([0-9a-f]+)$/.exec(path);
    if (del && req.method === 'DELETE') {
      const env = this.vercel.envs.get(del[1]!);
      if (!env) return fail(404, 'not_found', 'Environment Variable not found');
      this.vercel.envs.delete(env.id);
      return { status: 200, json: shown(env) };
    }
    return fail(404, 'not_found', 'The requested path was not found');
  }

  // ---- A shop-defined partner API (TikTok Shop keys, carriers) ---------------------------------
  private partnerApi(req: SeenRequest, path: string): Reply {
    const token = req.headers.authorization ?? `Bearer ${req.query.get('api_key')}`;
    if (token !== `Bearer ${CREDENTIALS.partner}`) return { status: 401, json: { message: 'invalid token' } };
    const revoke = /^\/keys\/([^/]+)\/revoke$/.exec(path);
    if (revoke && req.method === 'POST') {
      const body = JSON.parse(req.body) as Record<string, unknown>;
      if (typeof body.reason !== 'string') return { status: 400, json: { message: 'reason is required' } };
      this.partner.revoked.push(decodeURIComponent(revoke[1]!));
      return { status: 200, json: { data: { key_id: decodeURIComponent(revoke[1]!), revoked: true } } };
    }
    const carrier = /^\/carriers\/([a-z]+)\/(disable|enable)$/.exec(path);
    if (carrier && req.method === 'POST') {
      if (req.headers['content-type'] !== 'application/x-www-form-urlencoded')
        return { status: 415, json: { message: 'form only' } };
      const was = this.partner.carriers.get(carrier[1]!) ?? false;
      this.partner.carriers.set(carrier[1]!, carrier[2] === 'enable');
      return {
        status: 200,
        json: { carrier: carrier[1], enabled: carrier[2] === 'enable', was_enabled: was },
      };
    }
    // Like many APIs, it echoes the URL it could not route (query string and all).
    return { status: 404, json: { message: `no route for ${req.method} ${path}?${req.query}` } };
  }
}
