/**
 * Cloudflare: block an address or range for the shop's zone with an IP Access rule, and take
 * that rule away again.
 *
 * Why IP Access rules and not the plan's `POST /zones/{zone}/firewall/rules`: that Firewall
 * Rules API is deprecated (replaced by WAF custom rules in the Rulesets API, where adding one
 * rule means rewriting the zone's whole phase ruleset, and a lost race overwrites someone
 * else's change). An IP Access rule is one object per address with its own id: creating it
 * touches nothing else, and deleting that id is an exact undo.
 *
 *   POST   /zones/{zone_id}/firewall/access_rules/rules       {mode, configuration:{target, value}, notes}
 *   GET    /zones/{zone_id}/firewall/access_rules/rules?configuration.target=…&configuration.value=…
 *   DELETE /zones/{zone_id}/firewall/access_rules/rules/{id}
 *
 * Cloudflare answers `{success, errors:[{code, message}], result}`; its message is surfaced.
 * The rule's notes carry the run's idempotency key, so a retry after a crash finds the rule its
 * first attempt made (and still undoes it) instead of failing on a duplicate.
 */
import ipaddr from 'ipaddr.js';
import { ConnectorError } from '../../respond/index.js';
import {
  type CallContext,
  callHttp,
  curlLine,
  type HttpCall,
  type HttpReply,
  isStatus,
  type VendorErrors,
} from './http-call.js';
import { notConfigured, type OperationRecipe, type RecipeEnv, trimBase } from './http-recipe.js';
import type { CloudflareSettings } from './http-settings.js';
import { isRecord, type Params, text } from './param-checks.js';

const DEFAULT_BASE = 'https://api.cloudflare.com/client/v4';
const RULE_ID = /^[0-9a-f]{32}$/;
const IPV4_RANGES = [16, 24];
const IPV6_RANGES = [32, 48, 64];

/** An address or range as Cloudflare's IP Access rules take it. */
export interface CloudflareTarget {
  readonly target: 'ip' | 'ip6' | 'ip_range';
  readonly value: string;
}

/**
 * The configuration for an address or CIDR range, or the reason Cloudflare would refuse it:
 * ranges are /16 or /24 for IPv4 and /32, /48 or /64 for IPv6; /32 (IPv4) and /128 (IPv6) are
 * single addresses. A range is reduced to its network address (10.1.2.3/24 → 10.1.2.0/24).
 */
export function cloudflareTarget(input: string): CloudflareTarget | string {
  const slash = input.indexOf('/');
  if (slash < 0) {
    const address = parseAddress(input);
    if (!address) return `${JSON.stringify(input)} is not an IPv4 or IPv6 address`;
    return address.kind() === 'ipv4'
      ? { target: 'ip', value: address.toString() }
      : { target: 'ip6', value: address.toString() };
  }
  const address = parseAddress(input.slice(0, slash));
  const prefixText = input.slice(slash + 1);
  if (!address || !/^\d{1,3}$/.test(prefixText)) return `${JSON.stringify(input)} is not a CIDR range`;
  const prefix = Number(prefixText);
  if (address.kind() === 'ipv4') {
    if (prefix === 32) return { target: 'ip', value: address.toString() };
    if (!IPV4_RANGES.includes(prefix)) {
      return `Cloudflare IP Access rules take IPv4 ranges of /16 or /24 only (or one address), not /${prefix}`;
    }
    return {
      target: 'ip_range',
      value: `${ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefix}`)}/${prefix}`,
    };
  }
  if (prefix === 128) return { target: 'ip6', value: address.toString() };
  if (!IPV6_RANGES.includes(prefix)) {
    return `Cloudflare IP Access rules take IPv6 ranges of /32, /48 or /64 only (or one address), not /${prefix}`;
  }
  return {
    target: 'ip_range',
    value: `${ipaddr.IPv6.networkAddressFromCIDR(`${address}/${prefix}`)}/${prefix}`,
  };
}

function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) {
    const v6 = ipaddr.IPv6.parse(text);
    return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
  }
  return undefined;
}

export const cloudflareErrors: VendorErrors = {
  message(reply: HttpReply) {
    const errors = isRecord(reply.json) ? reply.json.errors : undefined;
    if (!Array.isArray(errors) || errors.length === 0) return undefined;
    return errors
      .map((e) =>
        isRecord(e) ? `${String(e.message ?? 'error')}${e.code === undefined ? '' : ` (${e.code})`}` : '',
      )
      .join('; ');
  },
};

interface Rule {
  readonly id: string;
  readonly mode: string;
  readonly target: string;
  readonly value: string;
  readonly notes: string;
}

export function cloudflareOperations(
  settings: CloudflareSettings | undefined,
  env: RecipeEnv,
): Record<'cloudflare_block_ip' | 'cloudflare_unblock', OperationRecipe> {
  const config = (operation: string): CloudflareSettings => {
    if (!settings) throw notConfigured('http.cloudflare', operation, 'zone_id, api_token_secret');
    return settings;
  };
  const rulesUrl = (c: CloudflareSettings) =>
    `${trimBase(c.base_url ?? DEFAULT_BASE)}/zones/${encodeURIComponent(c.zone_id)}/firewall/access_rules/rules`;
  const call = (token: string, method: HttpCall['method'], url: string, body?: unknown): HttpCall => ({
    vendor: 'cloudflare',
    method,
    url,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    secrets: token === '***' ? [] : [token],
  });
  const findUrl = (c: CloudflareSettings, t: CloudflareTarget, mode?: string) => {
    const query = new URLSearchParams({ 'configuration.target': t.target, 'configuration.value': t.value });
    if (mode) query.set('mode', mode);
    query.set('per_page', '50');
    return `${rulesUrl(c)}?${query}`;
  };
  const createBody = (t: CloudflareTarget, notes: string) => ({
    mode: 'block',
    configuration: { target: t.target, value: t.value },
    notes,
  });
  const notesOf = (params: Params, context?: CallContext) => {
    const note =
      typeof params.note === 'string' ? params.note : `firebreak ${context?.run.incidentId ?? ''}`.trim();
    return context ? `${note} [${context.run.idempotencyKey}]` : `${note} [<run step key>]`;
  };
  const targetOf = (params: Params) => cloudflareTarget(params.ip as string) as CloudflareTarget;

  async function findRules(
    c: CloudflareSettings,
    token: string,
    t: CloudflareTarget,
    ctx: CallContext,
    mode?: string,
  ) {
    const reply = await callHttp(call(token, 'GET', findUrl(c, t, mode)), ctx, cloudflareErrors);
    const result = isRecord(reply.json) && Array.isArray(reply.json.result) ? reply.json.result : undefined;
    if (!result) throw unexpected(reply, 'a list of rules');
    return result
      .filter(isRecord)
      .map(ruleOf)
      .filter((r) => r.value === t.value);
  }

  async function deleteRule(
    c: CloudflareSettings,
    token: string,
    id: string,
    ctx: CallContext,
  ): Promise<boolean> {
    try {
      await callHttp(
        call(token, 'DELETE', `${rulesUrl(c)}/${encodeURIComponent(id)}`),
        ctx,
        cloudflareErrors,
      );
      return true;
    } catch (error) {
      // A retry after a lost answer finds the rule already gone: that is the state we wanted.
      if (isStatus(error, 404)) return false;
      throw error;
    }
  }

  const checkIp = (params: Params, problems: string[], required: boolean) => {
    if (params.ip === undefined) {
      if (required) problems.push('ip: required (an IPv4 or IPv6 address or a CIDR range)');
      return;
    }
    if (typeof params.ip !== 'string') {
      problems.push('ip: expected an IPv4 or IPv6 address or a CIDR range');
      return;
    }
    const t = cloudflareTarget(params.ip);
    if (typeof t === 'string') problems.push(`ip: ${t}`);
  };

  const block: OperationRecipe = {
    params: ['ip', 'note'],
    check(params, problems) {
      checkIp(params, problems, true);
      text(params, 'note', problems, { max: 400 });
    },
    plan(params) {
      const c = config('cloudflare_block_ip');
      const t = targetOf(params);
      return {
        summary: `block ${t.value} for Cloudflare zone ${c.zone_id} with an IP Access rule`,
        detail: [
          `${curlLine(call('***', 'GET', findUrl(c, t)))}   # an existing rule for it?`,
          curlLine(call('***', 'POST', rulesUrl(c), createBody(t, notesOf(params)))),
        ],
      };
    },
    async run(params, ctx) {
      const c = config('cloudflare_block_ip');
      const t = targetOf(params);
      const token = await env.secret(c.api_token_secret);
      const notes = notesOf(params, ctx);
      const existing = (await findRules(c, token, t, ctx))[0];
      let rule: Rule;
      let created: boolean;
      if (existing) {
        if (existing.mode !== 'block') {
          throw new ConnectorError(
            `cloudflare: zone ${c.zone_id} already has a ${existing.mode} rule ${existing.id} for ${t.value}; ` +
              'Cloudflare keeps one rule per address: change or delete it in the dashboard first',
            false,
          );
        }
        rule = existing;
        // Made by an earlier attempt of this very step (its key is in the notes): still ours to undo.
        created = existing.notes.includes(`[${ctx.run.idempotencyKey}]`);
      } else {
        const reply = await callHttp(
          call(token, 'POST', rulesUrl(c), createBody(t, notes)),
          ctx,
          cloudflareErrors,
        );
        const result = isRecord(reply.json) && isRecord(reply.json.result) ? reply.json.result : undefined;
        if (!result || typeof result.id !== 'string') throw unexpected(reply, 'the new rule');
        rule = ruleOf(result);
        created = true;
      }
      const changed = {
        zone_id: c.zone_id,
        rule_id: rule.id,
        target: t.target,
        value: t.value,
        mode: 'block',
        notes: rule.notes || notes,
        created,
      };
      if (!created) {
        return {
          summary: `${t.value} was already blocked at Cloudflare by rule ${rule.id} (left as it was)`,
          changed: { ...changed, already_blocked: true },
        };
      }
      return {
        summary: `blocked ${t.value} at Cloudflare (IP Access rule ${rule.id})`,
        changed,
        undo: { operation: 'cloudflare_unblock', params: { ip: t.value, rule_id: rule.id } },
      };
    },
  };

  const unblock: OperationRecipe = {
    params: ['ip', 'rule_id'],
    check(params, problems) {
      checkIp(params, problems, params.rule_id === undefined);
      text(params, 'rule_id', problems, {
        pattern: RULE_ID,
        expected: 'a Cloudflare rule id (32 hex characters)',
      });
    },
    plan(params) {
      const c = config('cloudflare_unblock');
      if (typeof params.rule_id === 'string') {
        return {
          summary: `delete Cloudflare IP Access rule ${params.rule_id}${params.ip ? ` (${params.ip})` : ''}`,
          detail: [curlLine(call('***', 'DELETE', `${rulesUrl(c)}/${params.rule_id}`))],
        };
      }
      const t = targetOf(params);
      return {
        summary: `delete the Cloudflare IP Access rules that block ${t.value}`,
        detail: [
          curlLine(call('***', 'GET', findUrl(c, t, 'block'))),
          `${curlLine(call('***', 'DELETE', `${rulesUrl(c)}/{id}`))}   # for each rule found`,
        ],
      };
    },
    async run(params, ctx) {
      const c = config('cloudflare_unblock');
      const token = await env.secret(c.api_token_secret);
      let rules: { id: string; value: string | undefined; target?: string; notes?: string }[];
      if (typeof params.rule_id === 'string') {
        rules = [{ id: params.rule_id, value: typeof params.ip === 'string' ? params.ip : undefined }];
      } else {
        rules = await findRules(c, token, targetOf(params), ctx, 'block');
      }
      const removed: typeof rules = [];
      const alreadyGone: string[] = [];
      for (const rule of rules) {
        if (await deleteRule(c, token, rule.id, ctx)) removed.push(rule);
        else alreadyGone.push(rule.id);
      }
      const what = typeof params.ip === 'string' ? params.ip : `rule ${params.rule_id}`;
      const first = removed[0];
      return {
        summary:
          removed.length === 0
            ? `${what} was not blocked at Cloudflare (nothing to delete)`
            : `unblocked ${what} at Cloudflare (deleted ${removed.map((r) => r.id).join(', ')})`,
        changed: { zone_id: c.zone_id, removed, already_gone: alreadyGone },
        ...(removed.length === 1 && first?.value
          ? {
              undo: {
                operation: 'cloudflare_block_ip',
                params: { ip: first.value, ...(first.notes ? { note: stripKey(first.notes) } : {}) },
              },
            }
          : {}),
      };
    },
  };

  return { cloudflare_block_ip: block, cloudflare_unblock: unblock };
}

function ruleOf(raw: Record<string, unknown>): Rule {
  const configuration = isRecord(raw.configuration) ? raw.configuration : {};
  return {
    id: String(raw.id),
    mode: String(raw.mode ?? ''),
    target: String(configuration.target ?? ''),
    value: String(configuration.value ?? ''),
    notes: typeof raw.notes === 'string' ? raw.notes : '',
  };
}

/** Notes without the run key Firebreak appended: `firebreak INC-1 [run/forward/x]` → `firebreak INC-1`. */
function stripKey(notes: string): string {
  return notes.replace(/\s*\[[^\]]*\]$/, '').slice(0, 400) || 'firebreak';
}

function unexpected(reply: HttpReply, wanted: string): ConnectorError {
  return new ConnectorError(`cloudflare: answered ${reply.status} without ${wanted} in result`, false);
}
