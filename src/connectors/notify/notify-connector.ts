/**
 * The built-in `notify` connector (issue 6): a playbook step that tells responders something
 * ("capture evidence before changing anything"), through the same channels and outbox as pages.
 *
 * Who: each response role in `to` reaches the person holding it for this incident (the one
 * assigned on the incident when that is a roster person, else the roster's primary on call now;
 * `backup: true` adds the backup on call), and each policy stakeholder in `to` reaches its roster
 * entry or its policy contact, as the escalation matrix does. `team: true` also posts to the
 * team-wide channels (webhook, PagerDuty). Addresses never come from the step: a parameter
 * filled from an alert must not be able to choose where incident details are mailed.
 *
 * How: every message is written to the outbox in one transaction, each under a key made of the
 * step's `RunContext.idempotencyKey`, the recipient and the channel, so a step run again after a
 * crash queues nothing new; the outbox worker delivers (and retries) them. A sent message cannot
 * be unsent: the outcome has no undo.
 */

import type { Incident } from '../../incidents/index.js';
import type { Clock } from '../../kernel/index.js';
import type { EnqueueInput, EnqueueResult, InternalAlert, PagingRoutes } from '../../notify/index.js';
import { onCallAt, type Person, type Roster } from '../../oncall/index.js';
import type { ResponsePolicy } from '../../policy/index.js';
import {
  type ActionOutcome,
  type Connector,
  ConnectorError,
  type ConnectorOperation,
  type RunContext,
} from '../../respond/index.js';
import type { Database, Store, Transaction } from '../../store/index.js';
import { assertValidParams, storeFailure } from '../store-failure.js';

export interface NotifyConnectorDeps {
  /** The messages of one step are written in one transaction of this store. */
  readonly store: Store;
  /** The outbox (`paging.outbox`). */
  readonly outbox: {
    enqueueIn(trx: Transaction<Database>, input: EnqueueInput): Promise<EnqueueResult>;
  };
  /** The incident a message is about (the IncidentService). */
  readonly incidents: { get(id: string): Promise<Incident> };
  readonly policy: ResponsePolicy;
  /** Who holds each role; undefined: roles cannot be told (stakeholders with a contact still can). */
  readonly roster: Roster | undefined;
  readonly clock: Clock;
  /** The channels set up, as paging has them: email, Slack (people's webhooks), team-wide routes. */
  readonly routes: PagingRoutes;
  /** Wakes the outbox worker once the messages are committed; without it they go at its next poll. */
  readonly wake?: () => void;
}

/** The longest subject (one line) and text a step may send. */
export const NOTIFY_LIMITS = { subject: 200, text: 10_000 } as const;

type Params = Readonly<Record<string, unknown>>;
const KNOWN_PARAMS = ['to', 'team', 'backup', 'subject', 'text'] as const;
const SLACK_WEBHOOK = /^https:\/\/hooks\.slack\.com\//;

/** One person or contact a message goes to, and why. */
interface Target {
  readonly id: string;
  readonly name: string;
  readonly email: string | undefined;
  readonly slackWebhook: string | undefined;
  /** The `to` entries (`security_lead`, `security_lead (backup)`, `legal`) it stands for. */
  readonly for: string[];
}

/**
 * Builds the connector.
 *
 * @example
 * createNotifyConnector({ store, outbox: paging.outbox, incidents, policy, roster, clock,
 *   routes: { email: true, slack: false, team: [] }, wake: () => paging.worker.notify() })
 */
export function createNotifyConnector(deps: NotifyConnectorDeps): Connector {
  const { policy, routes } = deps;
  const known = [...Object.keys(policy.roles), ...Object.keys(policy.stakeholders)];

  const validate = (params: Params): string[] => {
    const problems = Object.keys(params)
      .filter((key) => !(KNOWN_PARAMS as readonly string[]).includes(key))
      .map((key) => `${key}: unknown parameter (expected ${KNOWN_PARAMS.join(', ')})`);
    const to = params.to;
    if (to !== undefined && !isTextList(to)) {
      problems.push('to: expected a response role or stakeholder id, or a list of them');
    } else {
      for (const id of toList(to)) {
        if (!known.includes(id)) {
          problems.push(
            `to: ${JSON.stringify(id)} is not a response role or stakeholder of policy ${policy.name} (known: ${known.join(', ')})`,
          );
        }
      }
    }
    for (const key of ['team', 'backup'] as const) {
      if (params[key] !== undefined && typeof params[key] !== 'boolean') {
        problems.push(`${key}: expected true or false`);
      }
    }
    if (toList(to).length === 0 && params.team !== true) {
      problems.push('to: name at least one role or stakeholder, or set team: true');
    }
    const subject = params.subject;
    if (
      typeof subject !== 'string' ||
      subject.trim() === '' ||
      subject.length > NOTIFY_LIMITS.subject ||
      /[\r\n]/.test(subject)
    ) {
      problems.push(`subject: expected one line of 1 to ${NOTIFY_LIMITS.subject} characters`);
    }
    const text = params.text;
    if (typeof text !== 'string' || text.trim() === '' || text.length > NOTIFY_LIMITS.text) {
      problems.push(`text: expected text of 1 to ${NOTIFY_LIMITS.text} characters`);
    }
    return problems;
  };

  const channels = [
    ...(routes.email ? ['email'] : []),
    ...(routes.slack ? ['Slack (where the person has a webhook)'] : []),
  ];
  const send: ConnectorOperation = {
    validate,
    plan(params) {
      assertValidParams(validate(params));
      const to = toList(params.to).map((id) =>
        Object.hasOwn(policy.roles, id)
          ? `${id}${params.backup === true ? ' (primary and backup)' : ''}`
          : id,
      );
      const where = [
        ...(to.length > 0 ? [to.join(', ')] : []),
        ...(params.team === true ? ['the team channels'] : []),
      ];
      return {
        summary: `send "${params.subject as string}" to ${where.join(' and ')} (a message cannot be unsent)`,
        detail: [
          `subject: ${params.subject as string}`,
          `text: ${JSON.stringify(params.text)}`,
          `through the outbox by ${channels.join(' and ') || 'no personal channel (none is set up)'}` +
            (params.team === true
              ? `; team: ${routes.team.map((r) => r.channel).join(', ') || 'none set up'}`
              : '') +
            '; one message per person and channel, keyed by this step',
        ],
      };
    },
    async run(params, context) {
      assertValidParams(validate(params));
      if (context === undefined) {
        throw new ConnectorError('notify: a run context (its idempotency key) is required', false);
      }
      try {
        context.signal.throwIfAborted();
        return await sendMessage(deps, params, context);
      } catch (error) {
        throw storeFailure('notify', error);
      }
    },
  };
  return { name: 'notify', operations: Object.freeze({ send }) };
}

async function sendMessage(
  deps: NotifyConnectorDeps,
  params: Params,
  context: RunContext,
): Promise<ActionOutcome> {
  const { policy, roster, routes } = deps;
  const now = deps.clock.now();
  const incident = await deps.incidents.get(context.incidentId);
  const onCall = roster ? onCallAt(roster, policy, now) : [];
  const targets = new Map<string, Target>();
  const unreached: { to: string; reason: string }[] = [];
  const reach = (person: Target) => {
    const seen = targets.get(person.id);
    if (seen) seen.for.push(...person.for.filter((f) => !seen.for.includes(f)));
    else targets.set(person.id, person);
  };

  for (const id of toList(params.to)) {
    if (Object.hasOwn(policy.roles, id)) {
      if (!roster) {
        unreached.push({ to: id, reason: 'no roster, so nobody holds the role (set FIREBREAK_ROSTER)' });
        continue;
      }
      const row = onCall.find((r) => r.role === id);
      const assigned = (incident.roles as Readonly<Record<string, string | undefined>>)[id];
      const primary = assigned && roster.people[assigned] ? roster.people[assigned] : row?.primary.person;
      if (primary) reach(personTarget(primary, id));
      if (params.backup === true && row) reach(personTarget(row.backup.person, `${id} (backup)`));
    } else {
      const person = roster?.people[id];
      const stakeholder = policy.stakeholders[id]!;
      if (person) reach(personTarget(person, id));
      else if (stakeholder.contact) {
        reach({
          id,
          name: stakeholder.title,
          email: stakeholder.contact,
          slackWebhook: undefined,
          for: [id],
        });
      } else unreached.push({ to: id, reason: 'not in the roster and no contact in the policy' });
    }
  }

  const people = [...targets.values()];
  const routed = people.map((p) => ({
    person: p,
    channels: [
      ...(routes.email && p.email ? ([['email', p.email]] as const) : []),
      ...(routes.slack && p.slackWebhook ? ([['slack', p.slackWebhook]] as const) : []),
    ],
  }));
  for (const { person, channels } of routed) {
    if (channels.length === 0) {
      unreached.push({
        to: person.for.join(', '),
        reason: `${person.name} has no address on a channel set up here (email ${routes.email ? 'on' : 'off'}, Slack ${routes.slack ? 'on' : 'off'})`,
      });
    }
  }
  const team = params.team === true ? routes.team : [];
  if (routed.every((r) => r.channels.length === 0) && team.length === 0) {
    const why = unreached.map((u) => `${u.to}: ${u.reason}`).join('; ');
    throw new ConnectorError(
      `notify: nobody can be told${why ? ` (${why})` : params.team === true ? ' (no team channel is set up)' : ''}`,
      false,
    );
  }

  const message = messageOf(deps, incident, params, context, people, onCall, now);
  const cause = `${incident.id}:playbook:${context.idempotencyKey}`;
  const queued = await deps.store.db.transaction().execute(async (trx) => {
    const out: { id: string; recipient: string; channel: string; created: boolean }[] = [];
    const enqueue = async (
      recipient: string,
      channel: EnqueueInput['channel'],
      target: string,
      key: string,
    ) => {
      const { notification, created } = await deps.outbox.enqueueIn(trx, {
        incidentId: incident.id,
        kind: message.kind,
        channel,
        recipient,
        target,
        idempotencyKey: key,
        message,
      });
      out.push({ id: notification.id, recipient, channel, created });
    };
    for (const { person, channels } of routed) {
      for (const [channel, target] of channels) {
        await enqueue(person.id, channel, target, `${cause}:${person.id}:${channel}`);
      }
    }
    for (const route of team) {
      await enqueue('team', route.channel, route.target, `${cause}:team:${route.channel}:${route.target}`);
    }
    return out;
  });
  deps.wake?.();

  const reached = routed.filter((r) => r.channels.length > 0).map((r) => r.person);
  const names = [
    ...reached.map((p) => `${p.name} (${p.for.join(', ')})`),
    ...(team.length > 0 ? ['the team channels'] : []),
  ];
  const fresh = queued.filter((q) => q.created).length;
  return {
    summary:
      `queued "${message.title}" for ${names.join(', ')}: ${queued.length} message(s)` +
      (fresh < queued.length ? `, ${queued.length - fresh} already queued by an earlier attempt` : '') +
      (unreached.length > 0 ? `; not reached: ${unreached.map((u) => u.to).join(', ')}` : ''),
    // Names and roles, not addresses: the outcome is shown on the timeline and in the API.
    changed: {
      notifications: queued,
      recipients: reached.map((p) => ({ id: p.id, name: p.name, for: p.for })),
      team: team.map((r) => r.channel),
      unreached,
      irreversible: 'a sent message cannot be unsent',
    },
  };
}

/** The internal alert every channel renders: the step's subject and text about the incident. */
function messageOf(
  deps: NotifyConnectorDeps,
  incident: Incident,
  params: Params,
  context: RunContext,
  people: readonly Target[],
  onCall: ReturnType<typeof onCallAt>,
  now: Date,
): InternalAlert {
  const cadence = deps.policy.statusUpdates[incident.severity];
  const onCallCommander = onCall.find((r) => r.role === 'incident_commander')?.primary.person.name;
  const impact = incident.classification?.impact;
  return {
    kind: 'message',
    incidentId: incident.id,
    title: (params.subject as string).trim(),
    severity: incident.severity,
    status: incident.status,
    summary: params.text as string,
    impact: impact
      ? `data ${impact.data}, service ${impact.service}, customers ${impact.customer}`
      : 'not yet assessed (the incident is not classified)',
    currentActions: `sent by ${context.actor}`,
    nextUpdate: new Date(now.getTime() + (cadence?.everyMs ?? 60 * 60_000)).toISOString(),
    commander:
      incident.roles.incident_commander ?? (onCallCommander ? `${onCallCommander} (on call)` : 'unassigned'),
    team: people.map((p) => p.name),
    ackBy: incident.ack_by,
  };
}

function personTarget(person: Person, role: string): Target {
  return {
    id: person.id,
    name: person.name,
    email: person.email,
    slackWebhook: person.slack && SLACK_WEBHOOK.test(person.slack) ? person.slack : undefined,
    for: [role],
  };
}

function isTextList(value: unknown): value is string | string[] {
  return typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
}

/** `to` as a list: one id or several, each once. */
function toList(to: unknown): string[] {
  if (!isTextList(to)) return [];
  return [...new Set(typeof to === 'string' ? [to] : to)];
}
