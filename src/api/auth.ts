/** Every route but /health and /openapi.json needs a key with a scope (DESIGN.md principle 6). */
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { FirebreakError } from '../kernel/index.js';
import { type ApiKeyService, hasScope, type Principal, type Scope } from './api-keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function requireScope(keys: ApiKeyService, needed: Scope): preHandlerAsyncHookHandler {
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

export function actorOf(request: FastifyRequest): string {
  if (!request.principal) throw new Error('route is missing requireScope');
  return request.principal.actor;
}
