/**
 * Playbooks and their runs (README "Playbooks"): what is loaded, a dry run, starting, approving,
 * refusing and undoing a run, and where each run stands. Approving needs a key made for a
 * person (`key create --person`) who holds the step's role.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { type PlaybookRunner, RECOVERY_PHASES, RUN_ID_PATTERN, RUN_STATUSES } from '../../respond/index.js';
import type { ApiKeyService } from '../api-keys.js';
import { actorOf, principalOf, requireScope } from '../auth.js';
import { AUTH_ERRORS, ErrorSchema, IncidentIdParams } from '../schemas.js';

const closed = { additionalProperties: false } as const;
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Anything = Type.Unknown();
/** The runner's records are readonly; the response schemas below describe the same JSON. */
const plain = <T>(value: T) => value as never;

const PlanSchema = Type.Object({ summary: Type.String(), detail: Type.Array(Type.String()) });
const ActionSchema = Type.Object({
  connector: Type.String(),
  operation: Type.String(),
  params: Type.Record(Type.String(), Anything),
});

const StepSchema = Type.Object({
  seq: Type.Integer(),
  direction: Type.Enum(['forward', 'undo']),
  step_id: Type.String(),
  title: Type.String(),
  phase: Type.String(),
  recovery_phase: Nullable(Type.String()),
  status: Type.String(),
  approval_role: Nullable(Type.String()),
  approved_by: Nullable(Type.String()),
  approved_at: Nullable(Type.String()),
  refusal: Nullable(Type.String()),
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  timeout_ms: Type.Integer(),
  action: Type.Union([ActionSchema, Type.Null()]),
  plan: Type.Union([PlanSchema, Type.Null()]),
  outcome: Type.Union([
    Type.Object({
      summary: Type.String(),
      changed: Type.Record(Type.String(), Anything),
      undo: Type.Optional(
        Type.Object({ operation: Type.String(), params: Type.Record(Type.String(), Anything) }),
      ),
    }),
    Type.Null(),
  ]),
  error: Nullable(Type.String()),
  next_attempt_at: Nullable(Type.String()),
  started_at: Nullable(Type.String()),
  finished_at: Nullable(Type.String()),
});

const RunSchema = Type.Object({
  id: Type.String(),
  incident_id: Type.String(),
  playbook_id: Type.String(),
  title: Type.String(),
  status: Type.Enum([...RUN_STATUSES]),
  origin: Type.String(),
  created_at: Type.String(),
  created_by: Type.String(),
  updated_at: Type.String(),
  steps: Type.Array(StepSchema),
});

const DryRunSchema = Type.Object({
  playbook: Type.String(),
  title: Type.String(),
  incident: Type.String(),
  ok: Type.Boolean(),
  steps: Type.Array(
    Type.Object({
      id: Type.String(),
      title: Type.String(),
      phase: Type.String(),
      recovery_phase: Type.String(),
      approval: Nullable(Type.String()),
      timeout_ms: Type.Integer(),
      retries: Type.Integer(),
      action: Type.Union([ActionSchema, Type.Null()]),
      plan: Type.Union([PlanSchema, Type.Null()]),
      undo: Type.Object({
        action: Type.Union([ActionSchema, Type.Null()]),
        plan: Type.Union([PlanSchema, Type.Null()]),
        none: Type.Optional(Type.String()),
      }),
      problems: Type.Array(Type.String()),
    }),
  ),
});

const PlaybookSummarySchema = Type.Object({
  id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  triggers: Type.Array(Anything),
  steps: Type.Array(
    Type.Object({
      id: Type.String(),
      title: Type.String(),
      phase: Type.String(),
      approval: Nullable(Type.String()),
      connector: Type.String(),
      operation: Type.String(),
      undo: Type.String(),
    }),
  ),
  file: Type.String(),
});

const RunIdParams = Type.Object({ id: Type.String({ pattern: RUN_ID_PATTERN }) }, closed);
const Expect = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 100,
    description: `the step id (or, during an undo, the recovery phase: ${RECOVERY_PHASES.join(', ')}) you mean to decide on; refused when something else waits`,
  }),
);

export interface PlaybookRoutesOptions {
  readonly runner: PlaybookRunner;
  readonly keys: ApiKeyService;
}

export const playbookRoutes: FastifyPluginAsyncTypebox<PlaybookRoutesOptions> = async (
  app,
  { runner, keys },
) => {
  const read = requireScope(keys, 'read');
  const write = requireScope(keys, 'write');
  const notFound = { 404: ErrorSchema };
  const conflict = { 404: ErrorSchema, 409: ErrorSchema };

  app.get(
    '/v1/playbooks',
    {
      onRequest: read,
      schema: {
        tags: ['playbooks'],
        summary: 'The playbooks this server runs',
        response: { 200: Type.Object({ items: Type.Array(PlaybookSummarySchema) }), ...AUTH_ERRORS },
      },
    },
    async () => ({
      items: runner.playbooks.map((p) => ({
        id: p.id,
        title: p.title,
        description: p.description,
        triggers: [...p.triggers],
        steps: p.steps.map((s) => ({
          id: s.id,
          title: s.title,
          phase: s.phase,
          approval: s.approval.kind === 'role' ? s.approval.role : null,
          connector: s.action.connector,
          operation: s.action.operation,
          undo:
            s.undo.kind === 'none'
              ? `none: ${s.undo.reason}`
              : `${s.undo.action.connector}.${s.undo.action.operation}`,
        })),
        file: p.source.file,
      })),
    }),
  );

  app.post(
    '/v1/incidents/:id/playbook-runs',
    {
      onRequest: write,
      schema: {
        tags: ['playbooks'],
        summary: 'Start a playbook on an incident, or (dry_run) show every step as it would run',
        description:
          'A proposal of the same playbook waiting on the incident is the run started. A dry run writes and calls nothing; plans show secrets as `***`.',
        params: IncidentIdParams,
        body: Type.Object(
          {
            playbook: Type.String({ minLength: 1, maxLength: 100 }),
            dry_run: Type.Optional(Type.Boolean({ default: false })),
          },
          closed,
        ),
        response: { 200: DryRunSchema, 201: RunSchema, ...AUTH_ERRORS, ...notFound, 409: ErrorSchema },
      },
    },
    async (request, reply) => {
      const { playbook, dry_run } = request.body;
      if (dry_run) return reply.status(200).send(plain(await runner.dryRun(playbook, request.params.id)));
      return reply
        .status(201)
        .send(plain(await runner.startRun(playbook, request.params.id, actorOf(request))));
    },
  );

  app.get(
    '/v1/incidents/:id/playbook-runs',
    {
      onRequest: read,
      schema: {
        tags: ['playbooks'],
        summary: "The incident's playbook runs and proposals, oldest first",
        params: IncidentIdParams,
        response: { 200: Type.Object({ items: Type.Array(RunSchema) }), ...AUTH_ERRORS, ...notFound },
      },
    },
    async (request) => ({ items: plain(await runner.list(request.params.id)) }),
  );

  app.get(
    '/v1/playbook-runs/:id',
    {
      onRequest: read,
      schema: {
        tags: ['playbooks'],
        summary: 'Where a run stands: each step with its approval, attempts, plan and outcome',
        params: RunIdParams,
        response: { 200: RunSchema, ...AUTH_ERRORS, ...notFound },
      },
    },
    async (request) => plain(await runner.get(request.params.id)),
  );

  app.post(
    '/v1/playbook-runs/:id/approve',
    {
      onRequest: write,
      schema: {
        tags: ['playbooks'],
        summary: 'Approve what waits: the step, or during an undo the recovery phase',
        description:
          "Needs a person's key (`key create --person`) whose person holds the role, assigned or on call.",
        params: RunIdParams,
        body: Type.Optional(Type.Object({ expect: Expect }, closed)),
        response: { 200: RunSchema, ...AUTH_ERRORS, ...conflict },
      },
    },
    async (request) =>
      plain(await runner.approve(request.params.id, principalOf(request), request.body?.expect)),
  );

  app.post(
    '/v1/playbook-runs/:id/refuse',
    {
      onRequest: write,
      schema: {
        tags: ['playbooks'],
        summary: 'Refuse what waits (or decline a proposal): the run stops there',
        params: RunIdParams,
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 1000 }), expect: Expect }, closed),
        response: { 200: RunSchema, ...AUTH_ERRORS, ...conflict },
      },
    },
    async (request) =>
      plain(
        await runner.refuse(
          request.params.id,
          principalOf(request),
          request.body.reason,
          request.body.expect,
        ),
      ),
  );

  app.post(
    '/v1/playbook-runs/:id/undo',
    {
      onRequest: write,
      schema: {
        tags: ['playbooks'],
        summary: 'Start recovery: undo what the run did, phase by phase, each phase approved',
        params: RunIdParams,
        body: Type.Optional(Type.Object({}, closed)),
        response: { 200: RunSchema, ...AUTH_ERRORS, ...conflict },
      },
    },
    async (request) => plain(await runner.undo(request.params.id, actorOf(request))),
  );
};
