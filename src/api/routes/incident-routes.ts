/** /v1/incidents: open, list, read, move, classify, assign roles, add notes. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { IncidentService } from '../../incidents/index.js';
import type { ApiKeyService } from '../api-keys.js';
import { actorOf, requireScope } from '../auth.js';
import {
  AssignRoleBody,
  AUTH_ERRORS,
  ClassifyBody,
  CreateIncidentBody,
  ErrorSchema,
  IncidentIdParams,
  IncidentSchema,
  ListIncidentsQuery,
  NoteBody,
  RoleParams,
  TimelineRecordSchema,
  TransitionBody,
} from '../schemas.js';

export interface IncidentRoutesOptions {
  readonly incidents: IncidentService;
  readonly keys: ApiKeyService;
}

const tags = ['incidents'];
const changed = { 200: IncidentSchema, ...AUTH_ERRORS, 404: ErrorSchema, 409: ErrorSchema };

export const incidentRoutes: FastifyPluginAsyncTypebox<IncidentRoutesOptions> = async (
  app,
  { incidents, keys },
) => {
  const read = requireScope(keys, 'read');
  const write = requireScope(keys, 'write');

  app.post(
    '/v1/incidents',
    {
      onRequest: write,
      schema: {
        tags,
        summary: 'Open an incident',
        body: CreateIncidentBody,
        response: { 201: IncidentSchema, ...AUTH_ERRORS },
      },
    },
    async (request, reply) => reply.status(201).send(await incidents.create(actorOf(request), request.body)),
  );

  app.get(
    '/v1/incidents',
    {
      onRequest: read,
      schema: {
        tags,
        summary: 'List incidents, newest first',
        querystring: ListIncidentsQuery,
        response: {
          200: Type.Object({
            items: Type.Array(IncidentSchema),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...AUTH_ERRORS,
        },
      },
    },
    async (request) => {
      const { status, severity, limit, cursor } = request.query;
      return incidents.list({
        limit: limit ?? 50,
        ...(status ? { status } : {}),
        ...(severity ? { severity } : {}),
        ...(cursor ? { cursor } : {}),
      });
    },
  );

  app.get(
    '/v1/incidents/:id',
    {
      onRequest: read,
      schema: {
        tags,
        summary: 'One incident with its timeline',
        params: IncidentIdParams,
        response: {
          200: Type.Intersect([IncidentSchema, Type.Object({ timeline: Type.Array(TimelineRecordSchema) })]),
          ...AUTH_ERRORS,
          404: ErrorSchema,
        },
      },
    },
    async (request) => {
      const incident = await incidents.get(request.params.id);
      return { ...incident, timeline: await incidents.timeline(incident.id) };
    },
  );

  app.post(
    '/v1/incidents/:id/transitions',
    {
      onRequest: write,
      schema: {
        tags,
        summary: 'Move an incident to its next lifecycle status',
        params: IncidentIdParams,
        body: TransitionBody,
        response: changed,
      },
    },
    async (request) =>
      incidents.transition(actorOf(request), request.params.id, request.body.to, request.body.reason),
  );

  app.post(
    '/v1/incidents/:id/classification',
    {
      onRequest: write,
      schema: {
        tags,
        summary: "Classify with the plan's decision tree and impact assessment",
        params: IncidentIdParams,
        body: ClassifyBody,
        response: changed,
      },
    },
    async (request) => incidents.classify(actorOf(request), request.params.id, request.body),
  );

  app.put(
    '/v1/incidents/:id/roles/:role',
    {
      onRequest: write,
      schema: {
        tags,
        summary: 'Assign a response role',
        params: RoleParams,
        body: AssignRoleBody,
        response: changed,
      },
    },
    async (request) =>
      incidents.assignRole(actorOf(request), request.params.id, request.params.role, request.body.person),
  );

  app.post(
    '/v1/incidents/:id/notes',
    {
      onRequest: write,
      schema: {
        tags,
        summary: 'Add a note to the timeline',
        params: IncidentIdParams,
        body: NoteBody,
        response: changed,
      },
    },
    async (request) => incidents.addNote(actorOf(request), request.params.id, request.body.text),
  );
};
