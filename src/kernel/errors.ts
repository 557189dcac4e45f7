/**
 * The error catalogue (DESIGN.md style rule 3). Every error a user can see has a stable code,
 * a message template and a kind. The kind is turned into an HTTP status in one place
 * (api/http-errors.ts) and into a CLI exit code in one place (cli/exit-codes.ts); the README's
 * error table is checked against this catalogue by a test.
 */
export type ErrorKind =
  | 'invalid'
  | 'too_large'
  | 'unsupported'
  | 'not_found'
  | 'conflict'
  /** Existed, and is no longer usable (an expired one-click acknowledgement link). */
  | 'gone'
  | 'unauthorized'
  | 'forbidden'
  | 'too_many_requests'
  | 'integrity'
  | 'unavailable'
  | 'internal';

interface CatalogueEntry {
  readonly kind: ErrorKind;
  /** `{name}` placeholders are filled from the error's params. */
  readonly message: string;
}

export const ERROR_CATALOGUE = {
  FB_ERR_VALIDATION: { kind: 'invalid', message: 'invalid input: {summary}' },
  FB_ERR_MALFORMED_JSON: { kind: 'invalid', message: 'the request body is not valid JSON: {reason}' },
  FB_ERR_BODY_TOO_LARGE: { kind: 'too_large', message: 'the request body is larger than {limit} bytes' },
  FB_ERR_BODY_DECOMPRESSED_TOO_LARGE: {
    kind: 'too_large',
    message: 'the request body decompresses to more than {limit} bytes; send smaller batches',
  },
  FB_ERR_TOO_MANY_EVENTS: {
    kind: 'too_large',
    message: 'the batch holds more than {limit} events; send at most {limit} per request',
  },
  FB_ERR_MALFORMED_GZIP: { kind: 'invalid', message: 'the request body is not valid gzip: {reason}' },
  FB_ERR_UNSUPPORTED_MEDIA_TYPE: {
    kind: 'unsupported',
    message: 'content type {contentType} is not accepted; send {accepted}',
  },
  FB_ERR_UNSUPPORTED_ENCODING: {
    kind: 'unsupported',
    message: 'content encoding {encoding} is not accepted; send gzip or no Content-Encoding',
  },
  FB_ERR_ROUTE_NOT_FOUND: { kind: 'not_found', message: 'no route {method} {url}; see /openapi.json' },
  FB_ERR_AUTH_MISSING: {
    kind: 'unauthorized',
    message: 'an API key is required: send "Authorization: Bearer <key>"',
  },
  FB_ERR_AUTH_INVALID: { kind: 'unauthorized', message: 'the API key is unknown or revoked' },
  FB_ERR_SCOPE: { kind: 'forbidden', message: 'this action needs scope {needed}; the key has {has}' },
  FB_ERR_INCIDENT_NOT_FOUND: { kind: 'not_found', message: 'incident {id} does not exist' },
  FB_ERR_KEY_NOT_FOUND: { kind: 'not_found', message: 'API key {id} does not exist' },
  FB_ERR_DECISION_NOT_FOUND: { kind: 'not_found', message: 'decision {id} does not exist' },
  FB_ERR_LAST_ADMIN_KEY: {
    kind: 'conflict',
    message: 'key {id} is the last active admin key; create another admin key before revoking it',
  },
  FB_ERR_ILLEGAL_TRANSITION: {
    kind: 'conflict',
    message: 'incident {id} cannot move from {from} to {to}; allowed next: {allowed}',
  },
  FB_ERR_CONCURRENT_UPDATE: {
    kind: 'conflict',
    message: 'incident {id} was changed by someone else meanwhile; reload it and try again',
  },
  FB_ERR_ACK_LINK_UNKNOWN: {
    kind: 'not_found',
    message:
      'this acknowledgement link is not one Firebreak issued (mistyped or cut short?); acknowledge with `firebreak incident ack` or the API',
  },
  FB_ERR_ACK_LINK_EXPIRED: {
    kind: 'gone',
    message:
      'this acknowledgement link for {incident} expired at {expiredAt}; acknowledge with `firebreak incident ack {incident}` or the API',
  },
  FB_ERR_ACK_LINK_USED: {
    kind: 'conflict',
    message: 'this acknowledgement link for {incident} was already used at {usedAt}; each link works once',
  },
  FB_ERR_REASON_REQUIRED: { kind: 'invalid', message: '{action} needs a reason: {why}' },
  FB_ERR_POLICY_INVALID: { kind: 'invalid', message: '{file}:{line}: {problem}' },
  FB_ERR_POLICY_UNREADABLE: { kind: 'invalid', message: 'cannot read policy file {file}: {reason}' },
  FB_ERR_CONFIG_INVALID: { kind: 'invalid', message: '{source}: {problem}' },
  FB_ERR_RULE_INVALID: { kind: 'invalid', message: '{where}: {problem}' },
  FB_ERR_PLAYBOOK_INVALID: { kind: 'invalid', message: '{where}: {problem}' },
  FB_ERR_PLAYBOOK_NOT_FOUND: { kind: 'not_found', message: 'no playbook has the id {id} (known: {known})' },
  FB_ERR_RUN_NOT_FOUND: { kind: 'not_found', message: 'playbook run {id} does not exist' },
  FB_ERR_RUN_STATE: { kind: 'conflict', message: 'run {id} is {status}: {problem}' },
  FB_ERR_RUN_PARAMS: {
    kind: 'invalid',
    message: 'step {step} of playbook {playbook} cannot run for {incident}: {problem}',
  },
  FB_ERR_APPROVAL_FORBIDDEN: { kind: 'forbidden', message: '{who} cannot approve {what}: {reason}' },
  FB_ERR_CONNECTOR_UNAVAILABLE: {
    kind: 'unavailable',
    message: 'connector {connector} is not set up on this server: {hint}',
  },
  FB_ERR_CONNECTOR_CONFIG: { kind: 'invalid', message: '{source}: {problem}' },
  FB_ERR_SECRET_NOT_FOUND: {
    kind: 'not_found',
    message: 'no secret is named {name}; store it with `firebreak secrets set {name}`',
  },
  FB_ERR_SECRET_KEY: { kind: 'integrity', message: 'secret {name} cannot be opened: {reason}' },
  FB_ERR_LISTEN_FAILED: {
    kind: 'unavailable',
    message: 'cannot start {what} on {address}: {reason}; pick another port or stop what holds it',
  },
  FB_ERR_INPUT_UNREADABLE: { kind: 'invalid', message: 'cannot read {file}: {reason}' },
  FB_ERR_INPUT_FORMAT_UNKNOWN: {
    kind: 'invalid',
    message: 'cannot tell the format of {file}; pass --format ecs, nginx, sshd or syslog',
  },
  FB_ERR_EVENT_SEARCH_INVALID: {
    kind: 'invalid',
    message: 'event search: {problem}; search at most 31 days and 10000 events at a time',
  },
  FB_ERR_DATA_DIR_LOCKED: {
    kind: 'unavailable',
    message:
      'data directory {dir} is in use by another Firebreak process{holder}; stop it first, or set FIREBREAK_DATA_DIR to another directory',
  },
  FB_ERR_BACKPRESSURE: {
    kind: 'unavailable',
    message: 'detection is {lag} events behind the event log (limit {limit}); send again in {retryAfter} s',
  },
  FB_ERR_INGEST_BUSY: {
    kind: 'too_many_requests',
    message: '{limit} ingest requests are already in progress; send again in {retryAfter} s',
  },
  FB_ERR_DATABASE_UNAVAILABLE: {
    kind: 'unavailable',
    message: 'cannot reach the database ({target}): {reason}',
  },
  FB_ERR_AUDIT_CHAIN_BROKEN: {
    kind: 'integrity',
    message: 'audit log entry {seq} {problem}; the log was edited, deleted or reordered from there on',
  },
  FB_ERR_SERVER_UNREACHABLE: {
    kind: 'unavailable',
    message: 'cannot reach the Firebreak server at {url} ({reason}); is `firebreak serve` running?',
  },
  FB_ERR_INTERNAL: {
    kind: 'internal',
    message: 'internal error ({reference}); the server log has the details',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** One precise problem inside an invalid input: where it is and what was expected. */
export interface ErrorDetail {
  /** Where: `body.severity`, `query.limit`, `severities.P1.response_time` ... */
  readonly path: string;
  readonly message: string;
  /** Line in a file, when the input was a file. */
  readonly line?: number;
}

/** A user-facing failure. Anything else that escapes is an internal error. */
export class FirebreakError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly params: Readonly<Record<string, string | number>>;
  readonly details: readonly ErrorDetail[];

  constructor(
    code: ErrorCode,
    params: Record<string, string | number> = {},
    options: { details?: readonly ErrorDetail[]; cause?: unknown } = {},
  ) {
    super(renderMessage(code, params), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FirebreakError';
    this.code = code;
    this.kind = ERROR_CATALOGUE[code].kind;
    this.params = params;
    this.details = options.details ?? [];
  }
}

export function renderMessage(code: ErrorCode, params: Record<string, string | number>): string {
  return ERROR_CATALOGUE[code].message.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

export function isFirebreakError(value: unknown): value is FirebreakError {
  return value instanceof FirebreakError;
}
