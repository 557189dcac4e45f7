/**
 * Every route but /health and /openapi.json needs a key with a scope (DESIGN.md principle 6).
 * Checked in onRequest, before the body is read: a caller without a key learns nothing about
 * what a valid body looks like, and an unauthenticated upload is not parsed at all.
 */
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { FirebreakError } from '../kernel/index.js';
import { type ApiKeyService, hasScope, type Principal, type Scope } from './api-keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function requireScope(keys: ApiKeyService, needed: Scope): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const header = request.headers.authorization;
    if (!header) throw new FirebreakError('FB_ERR_AUTH_MISSING');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new FirebreakError('FB_ERR_AUTH_MISSING');
    const principal = await keys.authenticate(match[1]!);
    if (!hasScope(principal.scopes, needed)) {
      throw new FirebreakError('FB_ERR_SCOPE', { needed, has: principal.scopes.join(', ') || 'none' });
    }
    request.principal = principal;
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route is missing requireScope');
  return request.principal;
}

export function actorOf(request: FastifyRequest): string {
  return principalOf(request).actor;
}
