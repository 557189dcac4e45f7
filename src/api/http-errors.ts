/**
 * The one place an error becomes an HTTP answer. Every error body has the same shape:
 * `{ "error": { "code", "kind", "message", "details": [{ "path", "message" }] } }`.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance } from 'fastify';
import { type ErrorDetail, type ErrorKind, FirebreakError, isFirebreakError } from '../kernel/index.js';

export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  too_large: 413,
  unsupported: 415,
  unauthorized: 401,
  forbidden: 403,
  too_many_requests: 429,
  not_found: 404,
  conflict: 409,
  gone: 410,
  integrity: 500,
  unavailable: 503,
  internal: 500,
};

export interface ErrorBody {
  error: { code: string; kind: ErrorKind; message: string; details: readonly ErrorDetail[] };
}

export function errorBody(error: FirebreakError): ErrorBody {
  return { error: { code: error.code, kind: error.kind, message: error.message, details: error.details } };
}

interface AjvLikeError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turns Fastify's and Ajv's failures into catalogue errors; anything unknown is internal. */
export function toFirebreakError(
  error: FastifyError,
  bodyLimit: number,
  contentType = 'none',
): FirebreakError {
  if (isFirebreakError(error)) return error;
  if (error.validation) {
    const part = error.validationContext === 'querystring' ? 'query' : (error.validationContext ?? 'body');
    const details = (error.validation as AjvLikeError[]).map((e) => describe(part, e));
    const summary = details.map((d) => `${d.path} ${d.message}`).join('; ');
    return new FirebreakError('FB_ERR_VALIDATION', { summary }, { details });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new FirebreakError('FB_ERR_BODY_TOO_LARGE', { limit: bodyLimit });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new FirebreakError('FB_ERR_UNSUPPORTED_MEDIA_TYPE', {
        contentType: JSON.stringify(contentType),
        accepted: 'application/json',
      });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new FirebreakError('FB_ERR_MALFORMED_JSON', { reason: 'the body is empty' });
    default:
      break;
  }
  if (error.statusCode === 400 && (error.name === 'SyntaxError' || error.code?.startsWith('FST_ERR_CTP'))) {
    return new FirebreakError('FB_ERR_MALFORMED_JSON', { reason: error.message });
  }
  return new FirebreakError('FB_ERR_INTERNAL', { reference: randomUUID() }, { cause: error });
}

function describe(part: string, e: AjvLikeError): ErrorDetail {
  const base = [part, ...e.instancePath.split('/').slice(1)].join('.');
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: `${base}.${String(e.params.additionalProperty)}`, message: 'is not a known field' };
    case 'required':
      return { path: `${base}.${String(e.params.missingProperty)}`, message: 'is required' };
    case 'enum':
      return { path: base, message: `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}` };
    case 'type':
      return { path: base, message: `must be of type ${String(e.params.type)}` };
    default:
      return { path: base, message: e.message ?? 'is invalid' };
  }
}

export function installErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((raw: FastifyError, request, reply) => {
    const error = toFirebreakError(raw, bodyLimit, request.headers['content-type'] ?? 'none');
    if (error.kind === 'internal' || error.kind === 'integrity') {
      request.log.error({ err: raw, reference: error.params.reference }, 'request failed');
    }
    return reply.status(HTTP_STATUS[error.kind]).send(errorBody(error));
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new FirebreakError('FB_ERR_ROUTE_NOT_FOUND', {
      method: request.method,
      url: request.url.split('?')[0] ?? '',
    });
    return reply.status(404).send(errorBody(error));
  });
}
