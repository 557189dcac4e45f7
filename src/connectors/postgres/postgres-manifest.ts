/**
 * How the `postgres` connector registers (DESIGN.md style rule 7): its operations, which
 * operation undoes each, and the schema of its `connectors.postgres` block in firebreak.yaml.
 * The block names a stored secret holding the connection URL (`firebreak secrets set shop_db`);
 * the URL with its password is never written in firebreak.yaml. The secret is read when an
 * operation runs, not when the connector is built or a plan is shown, so a dry run never needs
 * the password and a secret replaced meanwhile takes effect on the next run.
 *
 * @example firebreak.yaml
 * connectors:
 *   postgres:
 *     connection_secret: shop_db          # printf %s "$SHOP_DB_URL" | firebreak secrets set shop_db
 *     schema: public
 *     tables: { admin_sessions: admin_sessions, admin_users: staff, settings: settings }
 *     columns: { password_reset: must_reset_password, session_terminated_reason: null }
 *     checkout_key: checkout_enabled
 *     connect_timeout_ms: 5000
 */
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { FirebreakError, isFirebreakError } from '../../kernel/index.js';
import type { Connector, ConnectorDeps, ConnectorManifest } from '../../respond/index.js';
import { SECRET_NAME_PATTERN } from '../../store/index.js';
import { createPostgresConnector, type PostgresConnectorConfig } from './postgres-connector.js';

const closed = { additionalProperties: false } as const;
/** Plain SQL names, as the connector accepts them. */
const Identifier = Type.String({
  pattern: '^[A-Za-z_][A-Za-z0-9_$]{0,62}$',
  description: 'a plain SQL name: letters, digits, _ and $',
});
const NullableIdentifier = Type.Union([Identifier, Type.Null()]);

/** The `connectors.postgres` block of firebreak.yaml. */
export const PostgresSettingsSchema = Type.Object(
  {
    connection_secret: Type.String({
      pattern: SECRET_NAME_PATTERN,
      description: 'the NAME of a stored secret holding the postgres:// URL (firebreak secrets set NAME)',
    }),
    schema: Type.Optional(Identifier),
    tables: Type.Optional(
      Type.Object(
        {
          admin_sessions: Type.Optional(Identifier),
          admin_users: Type.Optional(Identifier),
          settings: Type.Optional(Identifier),
        },
        closed,
      ),
    ),
    columns: Type.Optional(
      Type.Object(
        {
          id: Type.Optional(Identifier),
          session_active: Type.Optional(Identifier),
          session_terminated_reason: Type.Optional(NullableIdentifier),
          password_reset: Type.Optional(Identifier),
          user_active: Type.Optional(NullableIdentifier),
          setting_key: Type.Optional(Identifier),
          setting_value: Type.Optional(Identifier),
        },
        closed,
      ),
    ),
    checkout_key: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    connect_timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
  },
  closed,
);

export type PostgresSettings = Type.Static<typeof PostgresSettingsSchema>;

const checkSettings = Compile(PostgresSettingsSchema);

/**
 * The operation that puts each one back. The restore operations are themselves undos: they
 * record nothing to undo, hence null, like ending sessions (which would let an intruder back in).
 */
const UNDONE_BY: Readonly<Record<string, string | null>> = Object.freeze({
  end_admin_sessions: null,
  force_admin_password_reset: 'restore_admin_password_reset',
  restore_admin_password_reset: null,
  read_only_mode: 'restore_read_only_mode',
  restore_read_only_mode: null,
  revoke_writes: 'grant_writes',
  grant_writes: null,
  force_row_level_security: 'restore_row_level_security',
  restore_row_level_security: null,
  checkout_off: 'restore_checkout',
  restore_checkout: null,
});

/**
 * A stored secret a connector could not read: the catalogue error as is (code, kind,
 * message), plus whether the runner may retry. Only an unreachable database may pass; a
 * missing secret or one sealed with another key fails the same way every time.
 */
export class ConnectorSecretError extends FirebreakError {
  readonly retryable: boolean;
  constructor(cause: FirebreakError) {
    super(cause.code, { ...cause.params }, { details: cause.details, cause });
    this.name = 'ConnectorSecretError';
    this.retryable = cause.kind === 'unavailable';
  }
}

/** The postgres connector's settings as `createPostgresConnector` takes them. */
export function postgresConnectorConfig(
  settings: PostgresSettings,
  deps: ConnectorDeps,
): PostgresConnectorConfig {
  const name = settings.connection_secret;
  const t = settings.tables ?? {};
  const c = settings.columns ?? {};
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return {
    connectionString: async () => {
      try {
        return await deps.secret(name);
      } catch (error) {
        throw isFirebreakError(error) ? new ConnectorSecretError(error) : error;
      }
    },
    connectionLabel: `connection secret ${name}`,
    ...defined({
      schema: settings.schema,
      checkoutKey: settings.checkout_key,
      connectionTimeoutMs: settings.connect_timeout_ms,
    }),
    tables: defined({ adminSessions: t.admin_sessions, adminUsers: t.admin_users, settings: t.settings }),
    columns: defined({
      id: c.id,
      sessionActive: c.session_active,
      sessionTerminatedReason: c.session_terminated_reason,
      passwordReset: c.password_reset,
      userActive: c.user_active,
      settingKey: c.setting_key,
      settingValue: c.setting_value,
    }),
  };
}

export const postgresConnectorManifest: ConnectorManifest = Object.freeze({
  id: 'postgres',
  description:
    "the shop's own PostgreSQL: end admin sessions, force password resets, read-only mode, revoke writes, row level security, checkout off",
  configSchema: PostgresSettingsSchema,
  operations: Object.freeze(Object.keys(UNDONE_BY)),
  undoneBy: UNDONE_BY,
  /** Settings are checked again here, so a caller that skipped the schema still gets a clear error. */
  create(settings: unknown, deps: ConnectorDeps): Connector {
    if (!checkSettings.Check(settings)) {
      const first = [...checkSettings.Errors(settings)][0] as
        | { instancePath?: string; message?: string }
        | undefined;
      const path = (first?.instancePath ?? '').split('/').filter(Boolean).join('.');
      throw new FirebreakError('FB_ERR_CONNECTOR_CONFIG', {
        source: `connectors.postgres${path ? `.${path}` : ''}`,
        problem: first?.message ?? 'does not match the postgres connector settings',
      });
    }
    return createPostgresConnector(postgresConnectorConfig(settings, deps));
  },
});
