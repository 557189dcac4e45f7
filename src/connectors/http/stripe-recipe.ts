/**
 * Stripe: stop taking payments through the shop's Payment Links, and start again.
 *
 * The KCT plan's `POST /v1/payment_intents/disable_all` does not exist: Stripe has no account
 * switch for "stop all payments" in its API. What the API does offer, documented and exactly
 * reversible, is a Payment Link's `active` flag: `POST /v1/payment_links/{id}` with
 * `active=false` makes its URL show "this link has been deactivated" instead of a checkout, and
 * `active=true` brings it back unchanged. So `stripe_disable_payments` lists the active links
 * (`GET /v1/payment_links?active=true`, every page), deactivates each, and its outcome names
 * exactly those ids; `stripe_enable_payments` re-activates exactly those, never a link the shop
 * had switched off itself. Payments the shop's own server starts (Checkout Sessions, Payment
 * Intents) are stopped by the `decisions` connector's `checkout_enabled` switch, which the
 * payment playbook turns off first; revoking the API key is left to a person, because it also
 * stops refunds and the investigation's own reads.
 *
 * Requests are form-encoded, authenticated with the secret key (HTTP Basic, key as user name, as
 * `curl -u sk_…:` does), and every POST carries an `Idempotency-Key` derived from the run's key,
 * so a retry never applies a change twice. Each deactivated link is tagged with metadata
 * (`firebreak_incident`, `firebreak_step`, `firebreak_reason`): the dashboard shows why it is
 * off, a retry after a crash finds the links its first attempt switched off, and enabling by
 * incident alone finds them; re-enabling removes the tags (Stripe unsets a key posted empty).
 */
import { createHash } from 'node:crypto';
import { ConnectorError } from '../../respond/index.js';
import {
  type CallContext,
  callHttp,
  curlLine,
  formBody,
  type HttpCall,
  type HttpReply,
  type VendorErrors,
} from './http-call.js';
import { notConfigured, type OperationRecipe, type RecipeEnv, trimBase } from './http-recipe.js';
import type { StripeSettings } from './http-settings.js';
import { idList, isRecord, type Params, text } from './param-checks.js';

const DEFAULT_BASE = 'https://api.stripe.com';
const LINK_ID = /^plink_[A-Za-z0-9]{1,250}$/;
const MAX_PAGES = 100;
const LINK_LIST = { items: 'Payment Link ids (plink_…)', item: 'a Payment Link id (plink_…)' };
const TAGS = ['firebreak_incident', 'firebreak_step', 'firebreak_reason'] as const;

export const stripeErrors: VendorErrors = {
  message(reply: HttpReply) {
    const error = isRecord(reply.json) && isRecord(reply.json.error) ? reply.json.error : undefined;
    if (!error) return undefined;
    const code = typeof error.code === 'string' ? ` (${error.code})` : '';
    return `${String(error.message ?? error.type ?? 'error')}${code}`;
  },
  retryable(reply: HttpReply) {
    // Stripe says itself whether a retry may succeed; 409 is a concurrent use of the same key.
    const should = reply.headers.get('stripe-should-retry');
    if (should === 'true') return true;
    if (should === 'false') return false;
    return reply.status === 409 ? true : undefined;
  },
};

interface Link {
  readonly id: string;
  readonly active: boolean;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export function stripeOperations(
  settings: StripeSettings | undefined,
  env: RecipeEnv,
): Record<'stripe_disable_payments' | 'stripe_enable_payments', OperationRecipe> {
  const config = (operation: string): StripeSettings => {
    if (!settings) throw notConfigured('http.stripe', operation, 'api_key_secret');
    return settings;
  };
  const base = (c: StripeSettings) => `${trimBase(c.base_url ?? DEFAULT_BASE)}/v1/payment_links`;
  const auth = (key: string) =>
    key === '***' ? 'Basic ***' : `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
  const secretsOf = (key: string) => (key === '***' ? [] : [key, auth(key).slice(6)]);
  const get = (key: string, url: string): HttpCall => ({
    vendor: 'stripe',
    method: 'GET',
    url,
    headers: { Authorization: auth(key) },
    secrets: secretsOf(key),
  });
  const post = (key: string, url: string, fields: [string, string][], idempotencyKey: string): HttpCall => ({
    vendor: 'stripe',
    method: 'POST',
    url,
    headers: {
      Authorization: auth(key),
      'Content-Type': 'application/x-www-form-urlencoded',
      'Idempotency-Key': idempotencyKey,
    },
    body: formBody(fields),
    secrets: secretsOf(key),
  });
  const listUrl = (c: StripeSettings, active: boolean, after?: string) =>
    `${base(c)}?${new URLSearchParams({ active: String(active), limit: '100', ...(after ? { starting_after: after } : {}) })}`;
  const offFields = (incident: string, step: string, reason: string): [string, string][] => [
    ['active', 'false'],
    ['metadata[firebreak_incident]', incident],
    ['metadata[firebreak_step]', step],
    ['metadata[firebreak_reason]', reason],
  ];
  const onFields = (): [string, string][] => [
    ['active', 'true'],
    ...TAGS.map((t): [string, string] => [`metadata[${t}]`, '']),
  ];
  const incidentOf = (params: Params, ctx?: CallContext) =>
    typeof params.incident === 'string' ? params.incident : (ctx?.run.incidentId ?? '<incident>');
  const reasonOf = (params: Params) =>
    typeof params.reason === 'string' ? params.reason : 'security_incident';

  async function list(c: StripeSettings, key: string, active: boolean, ctx: CallContext): Promise<Link[]> {
    const links: Link[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const reply = await callHttp(get(key, listUrl(c, active, after)), ctx, stripeErrors);
      const data = isRecord(reply.json) && Array.isArray(reply.json.data) ? reply.json.data : undefined;
      if (!data)
        throw new ConnectorError(`stripe: payment link list answered ${reply.status} without data`, false);
      links.push(...data.filter(isRecord).map(linkOf));
      const last = links[links.length - 1];
      if (!(isRecord(reply.json) && reply.json.has_more === true) || !last) return links;
      after = last.id;
    }
    throw new ConnectorError(
      `stripe: more than ${MAX_PAGES * 100} payment links; narrow with payment_links`,
      false,
    );
  }

  async function fetchLink(c: StripeSettings, key: string, id: string, ctx: CallContext): Promise<Link> {
    const reply = await callHttp(get(key, `${base(c)}/${encodeURIComponent(id)}`), ctx, stripeErrors);
    if (!isRecord(reply.json))
      throw new ConnectorError(`stripe: payment link ${id} answered without a body`, false);
    return linkOf(reply.json);
  }

  const disable: OperationRecipe = {
    params: ['reason', 'incident', 'payment_links'],
    check(params, problems) {
      text(params, 'reason', problems, { max: 500 });
      text(params, 'incident', problems, { max: 100 });
      idList(params, 'payment_links', LINK_ID, problems, LINK_LIST);
    },
    plan(params) {
      const c = config('stripe_disable_payments');
      const fields = offFields(incidentOf(params), '<run step key>', reasonOf(params));
      const ids = params.payment_links as string[] | undefined;
      const each = (id: string) => curlLine(post('***', `${base(c)}/${id}`, fields, `<run step key>/${id}`));
      return {
        summary: ids
          ? `deactivate Stripe Payment Links ${ids.join(', ')}`
          : 'deactivate every active Stripe Payment Link (customers see "link deactivated"; re-enabled by undo)',
        detail: ids
          ? ids.flatMap((id) => [curlLine(get('***', `${base(c)}/${id}`)), each(id)])
          : [curlLine(get('***', listUrl(c, true))), `${each('{id}')}   # for each active link`],
      };
    },
    async run(params, ctx) {
      const c = config('stripe_disable_payments');
      const key = await env.secret(c.api_key_secret);
      const step = ctx.run.idempotencyKey;
      let targets: Link[];
      let earlier: string[] = [];
      if (Array.isArray(params.payment_links)) {
        targets = [];
        for (const id of params.payment_links as string[]) targets.push(await fetchLink(c, key, id, ctx));
      } else {
        targets = await list(c, key, true, ctx);
        // Links an earlier attempt of this step switched off before it was interrupted.
        earlier = (await list(c, key, false, ctx))
          .filter((l) => l.metadata.firebreak_step === step)
          .map((l) => l.id);
      }
      const deactivated: string[] = [];
      const skipped: string[] = [];
      for (const link of targets) {
        if (!link.active && link.metadata.firebreak_step !== step) {
          skipped.push(link.id); // already off before this step: not ours to turn back on
          continue;
        }
        const fields = offFields(incidentOf(params, ctx), step, reasonOf(params));
        await callHttp(
          post(key, `${base(c)}/${encodeURIComponent(link.id)}`, fields, keyFor(step, link.id)),
          ctx,
          stripeErrors,
        );
        deactivated.push(link.id);
      }
      const ids = [...new Set([...earlier, ...deactivated])];
      return {
        summary:
          ids.length === 0
            ? 'no active Stripe Payment Links: nothing to deactivate'
            : `deactivated ${ids.length} Stripe Payment Link(s): ${ids.join(', ')}`,
        changed: {
          payment_links_deactivated: ids,
          already_inactive: skipped,
          scope: 'Payment Links only; checkout started by the shop itself is stopped by checkout_enabled',
        },
        ...(ids.length > 0
          ? {
              undo: {
                operation: 'stripe_enable_payments',
                params: { payment_links: ids, incident: incidentOf(params, ctx) },
              },
            }
          : {}),
      };
    },
  };

  const enable: OperationRecipe = {
    params: ['payment_links', 'incident'],
    check(params, problems) {
      idList(params, 'payment_links', LINK_ID, problems, LINK_LIST);
      text(params, 'incident', problems, { max: 100 });
      if (params.payment_links === undefined && params.incident === undefined) {
        problems.push(
          'payment_links: required unless incident is given (then the links tagged with it are enabled)',
        );
      }
    },
    plan(params) {
      const c = config('stripe_enable_payments');
      const each = (id: string) =>
        curlLine(post('***', `${base(c)}/${id}`, onFields(), `<run step key>/${id}`));
      const ids = params.payment_links as string[] | undefined;
      return ids
        ? { summary: `re-activate Stripe Payment Links ${ids.join(', ')}`, detail: ids.map(each) }
        : {
            summary: `re-activate the Stripe Payment Links Firebreak deactivated for ${String(params.incident)}`,
            detail: [
              `${curlLine(get('***', listUrl(c, false)))}   # links with metadata firebreak_incident=${String(params.incident)}`,
              `${each('{id}')}   # for each`,
            ],
          };
    },
    async run(params, ctx) {
      const c = config('stripe_enable_payments');
      const key = await env.secret(c.api_key_secret);
      const ids = Array.isArray(params.payment_links)
        ? (params.payment_links as string[])
        : (await list(c, key, false, ctx))
            .filter((l) => l.metadata.firebreak_incident === params.incident)
            .map((l) => l.id);
      for (const id of ids) {
        await callHttp(
          post(key, `${base(c)}/${encodeURIComponent(id)}`, onFields(), keyFor(ctx.run.idempotencyKey, id)),
          ctx,
          stripeErrors,
        );
      }
      return {
        summary:
          ids.length === 0
            ? 'no Stripe Payment Links to re-activate'
            : `re-activated ${ids.length} Stripe Payment Link(s): ${ids.join(', ')}`,
        changed: { payment_links_reactivated: ids },
        ...(ids.length > 0
          ? {
              undo: {
                operation: 'stripe_disable_payments',
                params: {
                  payment_links: ids,
                  ...(typeof params.incident === 'string' ? { incident: params.incident } : {}),
                },
              },
            }
          : {}),
      };
    },
  };

  return { stripe_disable_payments: disable, stripe_enable_payments: enable };
}

function linkOf(raw: Record<string, unknown>): Link {
  return {
    id: String(raw.id),
    active: raw.active === true,
    metadata: isRecord(raw.metadata) ? raw.metadata : {},
  };
}

/** Stripe idempotency keys are at most 255 characters: long ones are hashed (still one per link and step). */
function keyFor(step: string, id: string): string {
  const key = `${step}/${id}`;
  return key.length <= 255 ? key : `fb-${createHash('sha256').update(key).digest('hex')}`;
}
