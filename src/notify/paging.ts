/**
 * Paging, assembled for the server: the roster, the templates and channels from the settings,
 * the outbox and its worker, and the escalation clocks attached to the incident service. The
 * composition root (src/main.ts) starts it and stops it.
 */
import type { PagingSettings } from '../config/index.js';
import type { IncidentService } from '../incidents/index.js';
import type { Clock } from '../kernel/index.js';
import type { Roster } from '../oncall/index.js';
import type { ResponsePolicy } from '../policy/index.js';
import type { Store } from '../store/index.js';
import { AckLinks } from './ack-links.js';
import { createChannels } from './channels/index.js';
import { EscalationService, type PagingRoutes } from './escalation-service.js';
import { Outbox } from './outbox.js';
import { OutboxWorker, recordOnTimeline } from './outbox-worker.js';
import { loadTemplates } from './templates.js';

export interface PagingDeps {
  readonly store: Store;
  readonly policy: ResponsePolicy;
  readonly roster: Roster | undefined;
  readonly clock: Clock;
  readonly incidents: IncidentService;
  readonly settings: PagingSettings;
  readonly warn?: (message: string) => void;
  /** How often timers and the outbox are looked at. Default 1 s. */
  readonly pollMs?: number;
}

export interface Paging {
  readonly escalation: EscalationService;
  readonly outbox: Outbox;
  readonly worker: OutboxWorker;
  /** One-click acknowledgement links; undefined without a public URL. */
  readonly ackLinks: AckLinks | undefined;
  /** Which channels are set up (the notify connector sends through the same ones). */
  readonly routes: PagingRoutes;
  /** One line for the start-up banner: which channels, which roster. */
  readonly summary: string;
  start(): void;
  stop(): Promise<void>;
}

export function createPaging(deps: PagingDeps): Paging {
  const { store, policy, roster, clock, incidents, settings } = deps;
  const templates = loadTemplates(settings.templatesDir === undefined ? {} : { dir: settings.templatesDir });
  const channels = createChannels(settings, { templates, clock });
  const outbox = new Outbox({ store, clock });
  const ackLinks =
    settings.publicUrl === undefined
      ? undefined
      : new AckLinks({ store, clock, publicUrl: settings.publicUrl });
  const routes: PagingRoutes = {
    email: channels.email !== undefined,
    slack: channels.slack !== undefined,
    team: settings.team,
  };
  const escalation = new EscalationService({
    ...(ackLinks === undefined ? {} : { ackLinks }),
    store,
    policy,
    roster,
    clock,
    outbox,
    routes,
  });
  const onTimeline = recordOnTimeline(incidents);
  const worker = new OutboxWorker({
    store,
    clock,
    channels,
    onDeadLetterIn: async (trx, failed) => {
      await onTimeline(trx, failed);
      await escalation.raiseDeliveryFailureIn(trx, failed);
    },
    ...(deps.pollMs === undefined ? {} : { pollMs: deps.pollMs }),
    ...(deps.warn === undefined ? {} : { warn: deps.warn }),
  });
  escalation.attach(incidents);
  // No wake-up from the change listener: it runs inside the change's transaction, before the
  // pages are committed, so the worker would find nothing. Pages go out within one poll (1 s).
  const kinds = Object.keys(channels);
  const summary = [
    `channels ${kinds.length > 0 ? kinds.join(', ') : 'none (no page leaves the server: set channels: in firebreak.yaml)'}`,
    roster
      ? `roster ${roster.file} (${Object.keys(roster.people).length} people)`
      : 'no roster (roles cannot be paged: set FIREBREAK_ROSTER)',
    ackLinks
      ? `acknowledgement links at ${settings.publicUrl}`
      : 'no acknowledgement links (set paging.public_url)',
  ].join('; ');
  return {
    escalation,
    outbox,
    worker,
    ackLinks,
    routes,
    summary,
    start() {
      escalation.start(deps.pollMs ?? 1000, deps.warn);
      worker.start();
    },
    async stop() {
      await escalation.stop();
      await worker.stop();
    },
  };
}
