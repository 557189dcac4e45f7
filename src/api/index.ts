/** The HTTP API: thin routes over the modules' public functions. */
export { type ApiKeyInfo, ApiKeyService, hasScope, type Principal, SCOPES, type Scope } from './api-keys.js';
export { type ErrorBody, errorBody, HTTP_STATUS } from './http-errors.js';
export { IngestGate } from './ingest-gate.js';
export { buildServer, type ServerDeps } from './server.js';
