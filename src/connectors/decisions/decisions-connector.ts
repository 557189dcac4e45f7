/**
 * The built-in `decisions` connector (issue 6): what a playbook step calls to ban an address
 * in Firebreak's own blocklist, to end such a ban, and to flip a kill switch. It is a thin
 * layer over DecisionService, which does the checking, the change numbers and the audit.
 *
 * Idempotency (DESIGN.md principle 4): a step that is run again after a crash carries the same
 * `RunContext.idempotencyKey`, and that key names the step in what it leaves behind:
 * - `add` makes decisions with origin `playbook:<key>`; a repeat finds the one still in force
 *   and returns it instead of adding a second.
 * - `set_switch` sets the switch as `playbook:<key>`; a repeat that finds the switch already
 *   set by that actor knows its own earlier attempt changed it, so the recorded previous value
 *   (and the undo) stays the one found before the first attempt.
 * - `delete` ends decisions, and ending one already ended changes nothing.
 *
 * A decision also ends by itself when its duration runs out: the undo recorded for `add` only
 * ends it sooner.
 */

import { formatDuration, parseDuration } from '../../kernel/index.js';
import {
  type ActionOutcome,
  type Connector,
  ConnectorError,
  type ConnectorOperation,
  type PlannedAction,
  type RunContext,
} from '../../respond/index.js';
import { assertValidParams, storeFailure } from '../store-failure.js';
import {
  DECISION_ID_PATTERN,
  DECISION_MAX_DURATION_MS,
  DECISION_TYPES,
  type Decision,
  type DecisionScope,
  type DecisionService,
  type DecisionType,
  SWITCH_NAMES,
  SWITCHES,
  type SwitchName,
} from './decision-service.js';
import { parseAddress, parseNetwork } from './ip-value.js';

export interface DecisionsConnectorDeps {
  readonly decisions: DecisionService;
}

type Params = Readonly<Record<string, unknown>>;

/** The longest reason a decision or a switch keeps (as the API allows). */
const MAX_REASON = 1000;
const DECISION_ID = new RegExp(DECISION_ID_PATTERN);

/**
 * Builds the connector. Example: `createDecisionsConnector({ decisions })`, with the server's
 * DecisionService; main hands it to the playbook runner among the built-in connectors.
 */
export function createDecisionsConnector(deps: DecisionsConnectorDeps): Connector {
  const { decisions } = deps;

  // ---- add: { type, scope?, value, duration, reason? }
  const add = operation(
    ['type', 'scope', 'value', 'duration', 'reason'],
    checkAdd,
    (params) => {
      const input = addInputOf(params);
      return {
        summary: `${input.type} ${input.value} (${input.scope}) for ${input.duration}; it ends by itself then`,
        detail: [
          `POST /v1/decisions ${JSON.stringify({
            type: input.type,
            scope: input.scope,
            value: input.value,
            duration: input.duration,
            reason: input.reason,
          })}`,
          "-- origin playbook:<this step>, with the run's incident; a repeat while it is in force returns it",
        ],
      };
    },
    async (params, context) => {
      const input = addInputOf(params);
      const origin = `playbook:${context.idempotencyKey}`;
      const earlier = (await decisions.findLive({ origin })).find(
        (d) => d.value === input.value && d.type === input.type && d.scope === input.scope,
      );
      const decision =
        earlier ??
        (await decisions.add(
          {
            type: input.type,
            scope: input.scope,
            value: input.value,
            origin,
            reason: input.reason,
            durationMs: input.durationMs,
            incidentId: context.incidentId,
          },
          context.actor,
        ));
      return {
        summary:
          `${decision.type} on ${decision.value} until ${decision.expires_at} (${decision.id})` +
          (earlier ? ', made by an earlier attempt of this step' : ''),
        changed: {
          id: decision.id,
          type: decision.type,
          scope: decision.scope,
          value: decision.value,
          expires_at: decision.expires_at,
          existing: earlier !== undefined,
        },
        undo: { operation: 'delete', params: { id: decision.id } },
      };
    },
  );

  // ---- delete: { id } or { value }
  const remove = operation(
    ['id', 'value'],
    checkDelete,
    (params) =>
      typeof params.id === 'string'
        ? { summary: `end decision ${params.id} now`, detail: [`DELETE /v1/decisions/${params.id}`] }
        : {
            summary: `end the decisions on ${canonicalValue(params.value as string)} that playbooks made for this incident`,
            detail: [
              `DELETE /v1/decisions/{id} for each decision in force with value ${canonicalValue(params.value as string)}, origin playbook:*, and the run's incident`,
            ],
          },
    async (params, context) => {
      let ended: Decision[];
      let target: Record<string, string>;
      if (typeof params.id === 'string') {
        target = { id: params.id };
        const live = await decisions.findLive({ id: params.id });
        // Not in force: ended already (a repeat), or no such decision (FB_ERR_DECISION_NOT_FOUND).
        if (live.length === 0) await decisions.get(params.id);
        ended = live;
      } else {
        const value = canonicalValue(params.value as string);
        target = { value };
        ended = await decisions.findLive({ value, originKind: 'playbook', incidentId: context.incidentId });
      }
      for (const decision of ended) await decisions.delete(decision.id, context.actor);
      const none = target.id
        ? `decision ${target.id} had already ended; nothing changed`
        : `no decision a playbook made on ${target.value} for ${context.incidentId} is in force; nothing changed`;
      return {
        summary:
          ended.length === 0
            ? none
            : `ended ${ended.map((d) => `${d.type} on ${d.value} (${d.id})`).join(', ')}`,
        // No undo: an ended decision is not brought back. Re-adding one would be a new decision
        // with a different id, made when the undo runs, for whatever time it had left then.
        changed: { ...target, deleted: ended.map((d) => d.id) },
      };
    },
  );

  // ---- set_switch: { switch, enabled, reason? }
  const setSwitch = operation(
    ['switch', 'enabled', 'reason'],
    checkSetSwitch,
    (params) => {
      const name = params.switch as SwitchName;
      const body: Record<string, unknown> = { enabled: params.enabled };
      if (typeof params.reason === 'string') body.reason = params.reason;
      return {
        summary: `turn ${name} ${params.enabled ? 'on' : 'off'} (${SWITCHES[name]})`,
        detail: [`PUT /v1/switches/${name} ${JSON.stringify(body)}`],
      };
    },
    async (params, context) => {
      const name = params.switch as SwitchName;
      const enabled = params.enabled as boolean;
      const actor = `playbook:${context.idempotencyKey}`;
      const current = (await decisions.switches()).find((s) => s.name === name)!;
      let previous: boolean;
      let changed: boolean;
      if (current.enabled !== enabled) {
        await decisions.setSwitch(name, enabled, actor, reasonOf(params, context));
        [previous, changed] = [current.enabled, true];
      } else if (current.updated_by === actor) {
        // An earlier attempt of this very step set it (and then the run lost track of it).
        [previous, changed] = [!enabled, true];
      } else {
        // Already as asked: nothing is written, so that the switch still names who set it.
        [previous, changed] = [enabled, false];
      }
      const state = (on: boolean) => (on ? 'on' : 'off');
      return {
        summary: changed
          ? `${name} is ${state(enabled)} (was ${state(previous)})`
          : `${name} was already ${state(enabled)}; nothing changed`,
        changed: { switch: name, enabled, previous, changed },
        // Puts back what was found, not "on": a switch a person had turned off stays off.
        undo: {
          operation: 'set_switch',
          params: { switch: name, enabled: previous, reason: `undo of ${context.idempotencyKey}` },
        },
      };
    },
  );

  return {
    name: 'decisions',
    operations: Object.freeze({ add, delete: remove, set_switch: setSwitch }),
  };
}

/** validate/plan/run around an operation's own check, plan and effect (as the postgres connector does). */
function operation(
  known: readonly string[],
  check: (params: Params, problems: string[]) => void,
  plan: (params: Params) => PlannedAction,
  run: (params: Params, context: RunContext) => Promise<ActionOutcome>,
): ConnectorOperation {
  const validate = (params: Params): string[] => {
    const problems = Object.keys(params)
      .filter((key) => !known.includes(key))
      .map((key) => `${key}: unknown parameter (expected ${known.join(', ')})`);
    check(params, problems);
    return problems;
  };
  return {
    validate,
    plan: (params) => {
      assertValidParams(validate(params));
      return plan(params);
    },
    run: async (params, context) => {
      assertValidParams(validate(params));
      if (context === undefined) {
        throw new ConnectorError('decisions: a run context (its idempotency key) is required', false);
      }
      try {
        context.signal.throwIfAborted();
        return await run(params, context);
      } catch (error) {
        throw storeFailure('decisions', error);
      }
    },
  };
}

interface AddInput {
  readonly type: DecisionType;
  readonly scope: DecisionScope;
  /** Canonical: 203.0.113.7, 2001:db8::1, 198.51.100.0/24. */
  readonly value: string;
  readonly duration: string;
  readonly durationMs: number;
  readonly reason: string;
}

function checkAdd(params: Params, problems: string[]): void {
  if (!(DECISION_TYPES as readonly unknown[]).includes(params.type)) {
    problems.push(`type: expected one of ${DECISION_TYPES.join(', ')}`);
  }
  const scope = params.scope;
  if (scope !== undefined && scope !== 'ip' && scope !== 'cidr') {
    problems.push('scope: expected ip or cidr (or leave it out: it follows from the value)');
  }
  if (typeof params.value !== 'string') {
    problems.push('value: expected an address such as 203.0.113.7 or a network such as 198.51.100.0/24');
  } else {
    const problem = valueProblem(params.value, scope === 'ip' || scope === 'cidr' ? scope : undefined);
    if (problem) problems.push(`value: ${problem}`);
  }
  const ms = typeof params.duration === 'string' ? parseDuration(params.duration) : undefined;
  if (ms === undefined || ms < 1 || ms > DECISION_MAX_DURATION_MS) {
    problems.push(
      `duration: expected a duration such as 30m, 4h or 7d, at most ${formatDuration(DECISION_MAX_DURATION_MS)}`,
    );
  }
  checkReason(params, problems);
}

function checkDelete(params: Params, problems: string[]): void {
  const hasId = params.id !== undefined;
  const hasValue = params.value !== undefined;
  if (hasId === hasValue) {
    problems.push(
      'id: give either id (one decision) or value (the decisions playbooks made on it), not both',
    );
    return;
  }
  if (hasId && (typeof params.id !== 'string' || !DECISION_ID.test(params.id))) {
    problems.push('id: expected a decision id such as dec_0a1b2c3d4e5f6a7b');
  }
  if (hasValue) {
    const problem =
      typeof params.value === 'string' ? valueProblem(params.value, undefined) : 'expected text';
    if (problem) problems.push(`value: ${problem}`);
  }
}

function checkSetSwitch(params: Params, problems: string[]): void {
  if (!(SWITCH_NAMES as readonly unknown[]).includes(params.switch)) {
    problems.push(
      `switch: ${JSON.stringify(params.switch)} is not a switch (known: ${SWITCH_NAMES.join(', ')})`,
    );
  }
  if (typeof params.enabled !== 'boolean') problems.push('enabled: expected true or false');
  checkReason(params, problems);
}

function checkReason(params: Params, problems: string[]): void {
  const reason = params.reason;
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON)) {
    problems.push(`reason: expected text of at most ${MAX_REASON} characters`);
  }
}

/** Why a value cannot be a decision's, or undefined; `scope` undefined: inferred (a `/` makes a network). */
function valueProblem(value: string, scope: DecisionScope | undefined): string | undefined {
  const asNetwork = scope === 'cidr' || (scope === undefined && value.includes('/'));
  if (asNetwork) {
    return parseNetwork(value)
      ? undefined
      : `${JSON.stringify(value)} is not a network such as 198.51.100.0/24 or 2001:db8::/32`;
  }
  if (parseAddress(value)) return undefined;
  return value.includes('/') && parseNetwork(value)
    ? `${JSON.stringify(value)} is a network: use scope cidr`
    : `${JSON.stringify(value)} is not an IPv4 or IPv6 address such as 203.0.113.7 or 2001:db8::1`;
}

/** A checked value in the spelling decisions store (10.0.0.7/24 → 10.0.0.0/24). */
function canonicalValue(value: string): string {
  return (value.includes('/') ? parseNetwork(value) : parseAddress(value))!.canonical;
}

function addInputOf(params: Params): AddInput {
  const value = params.value as string;
  const scope: DecisionScope =
    params.scope === 'ip' || params.scope === 'cidr' ? params.scope : value.includes('/') ? 'cidr' : 'ip';
  const duration = params.duration as string;
  return {
    type: params.type as DecisionType,
    scope,
    value: canonicalValue(value),
    duration,
    durationMs: parseDuration(duration)!,
    reason: typeof params.reason === 'string' ? params.reason : '',
  };
}

function reasonOf(params: Params, context: RunContext): string {
  return typeof params.reason === 'string' && params.reason !== ''
    ? params.reason
    : `playbook step ${context.idempotencyKey}`;
}
