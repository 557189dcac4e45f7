/**
 * The `postgres` connector (issue 6): the KCT plan's database containment commands, run as
 * parameterised SQL against the shop's own database. Every operation runs in one transaction,
 * records what it found before changing it, and names the operation that puts it back, so an
 * undo restores exactly the previous state (not "everything on"). Identifiers (tables, roles,
 * columns, the database) are checked by `validate()` and always double-quoted; values are
 * always bind parameters.
 *
 * The connection string is given as is, or as a function that reads it when a run needs it
 * (the manifest reads a stored secret, encrypted at rest, so that a plan never needs the
 * password). It never appears in a plan, an outcome or an error: plans show it with the
 * password replaced by `***`, or the `connectionLabel` while it has not been read yet.
 *
 * Every session this connector opens first turns off `default_transaction_read_only`, so that
 * the connector keeps working (and can undo read-only mode) after `read_only_mode` has run.
 */
import pg from 'pg';
import type { ActionOutcome, Connector, ConnectorOperation, PlannedAction } from '../../respond/index.js';

/** Table and column names the operations use; defaults follow the KCT plan's SQL. */
export interface PostgresConnectorConfig {
  /**
   * `postgres://user:password@host:5432/shop` (decrypted; never logged), or a function that
   * reads it when an operation runs (each run reads it afresh).
   */
  readonly connectionString: string | (() => Promise<string>);
  /** Shown in plans while the connection string has not been read: `connection secret shop_db`. */
  readonly connectionLabel?: string;
  /** Schema holding the shop's tables and the one `revoke_writes` acts on. Default `public`. */
  readonly schema?: string;
  readonly tables?: {
    /** Default `admin_sessions`. */
    readonly adminSessions?: string;
    /** Default `admin_users`. */
    readonly adminUsers?: string;
    /** Default `settings`. */
    readonly settings?: string;
  };
  readonly columns?: {
    /** Key column of admin_sessions and admin_users. Default `id`. */
    readonly id?: string;
    /** admin_sessions: boolean "still valid" flag. Default `is_active`. */
    readonly sessionActive?: string;
    /** admin_sessions: text column for why it ended; `null`: the table has none. Default `terminated_reason`. */
    readonly sessionTerminatedReason?: string | null;
    /** admin_users: boolean "must choose a new password" flag. Default `force_password_reset`. */
    readonly passwordReset?: string;
    /** admin_users: only users with this flag true are forced; `null`: all users. Default `is_active`. */
    readonly userActive?: string | null;
    /** settings: key column. Default `key`. */
    readonly settingKey?: string;
    /** settings: value column (text). Default `value`. */
    readonly settingValue?: string;
  };
  /** The settings row that switches checkout. Default `checkout_enabled`. */
  readonly checkoutKey?: string;
  /** Connection timeout. Default 10 000 ms. */
  readonly connectionTimeoutMs?: number;
}

/**
 * A connector call that failed. `retryable`: the server could not be reached or the
 * transaction lost a race (a retry may succeed); otherwise the request itself was refused
 * (missing table, no privilege) and a retry would fail the same way.
 */
export class PostgresConnectorError extends Error {
  override readonly name = 'PostgresConnectorError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly sqlState?: string,
  ) {
    super(message);
  }
}

type Params = Readonly<Record<string, unknown>>;

/** Names accepted as identifiers: plain SQL names, so a typo or an injection attempt is refused. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const WRITE_PRIVILEGES = ['INSERT', 'UPDATE', 'DELETE'] as const;
type WritePrivilege = (typeof WRITE_PRIVILEGES)[number];

/** Double-quotes an identifier, doubling any quote inside it: `a"b` → `"a""b"`. */
export function quoteIdentifier(name: string): string {
  if (name.includes('\0')) throw new PostgresConnectorError('an identifier may not contain NUL', false);
  return `"${name.replace(/"/g, '""')}"`;
}

/** The connection string with its password replaced by `***` (unparseable: fully masked). */
export function maskConnectionString(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '***';
  }
}

/** Builds the connector. Example: `createPostgresConnector({ connectionString: env.SHOP_DB })`. */
export function createPostgresConnector(config: PostgresConnectorConfig): Connector {
  const names = resolveNames(config);
  const q = quoteIdentifier;
  // The connection string once read: plans show it masked from then on.
  let known = typeof config.connectionString === 'string' ? config.connectionString : undefined;
  const at = () =>
    `-- on ${known === undefined ? (config.connectionLabel ?? 'the configured connection') : maskConnectionString(known)}`;

  async function withTransaction<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    // Read before connecting: a failure to read it keeps its own error (and retryability).
    const connectionString =
      typeof config.connectionString === 'string' ? config.connectionString : await config.connectionString();
    known = connectionString;
    const client = new pg.Client({
      connectionString,
      connectionTimeoutMillis: config.connectionTimeoutMs ?? 10_000,
    });
    try {
      await client.connect();
      await client.query('SET default_transaction_read_only = off');
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw asConnectorError(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  function operation(
    known: readonly string[],
    check: (params: Params, problems: string[]) => void,
    plan: (params: Params) => PlannedAction,
    run: (params: Params) => Promise<ActionOutcome>,
  ): ConnectorOperation {
    const validate = (params: Params): string[] => {
      const problems = Object.keys(params)
        .filter((key) => !known.includes(key))
        .map((key) => `${key}: unknown parameter (expected ${known.join(', ') || 'none'})`);
      check(params, problems);
      return problems;
    };
    return {
      validate,
      plan: (params) => {
        assertValid(validate(params));
        const planned = plan(params);
        return { summary: planned.summary, detail: [at(), ...planned.detail] };
      },
      run: async (params) => {
        assertValid(validate(params));
        return run(params);
      },
    };
  }

  // ---- end_admin_sessions (KCT: UPDATE admin_sessions SET is_active = false, terminated_reason = ...)
  const sessions = `${q(names.schema)}.${q(names.adminSessions)}`;
  const sessionSql = () =>
    `UPDATE ${sessions} SET ${q(names.sessionActive)} = false` +
    (names.sessionTerminatedReason === null ? '' : `, ${q(names.sessionTerminatedReason)} = $1`) +
    ` WHERE ${q(names.sessionActive)} = true RETURNING ${q(names.id)}::text AS id`;
  const endAdminSessions = operation(
    ['reason'],
    (params, problems) => optionalText(params, 'reason', problems),
    (params) => ({
      summary: `end every active admin session in ${names.adminSessions} (cannot be undone)`,
      detail: [withValues(sessionSql(), names.sessionTerminatedReason === null ? [] : [reasonOf(params)])],
    }),
    async (params) => {
      const values = names.sessionTerminatedReason === null ? [] : [reasonOf(params)];
      const rows = await withTransaction(
        async (c) => (await c.query<{ id: string }>(sessionSql(), values)).rows,
      );
      const ids = rows.map((row) => row.id);
      return {
        summary: `ended ${ids.length} admin session(s); admins must sign in again`,
        changed: {
          table: names.adminSessions,
          count: ids.length,
          sessionIds: ids,
          // No undo on purpose: re-activating the sessions would let back in whoever held them.
          irreversible:
            'an ended session is not restored: it may belong to the intruder; admins sign in again',
        },
      };
    },
  );

  // ---- force_admin_password_reset (KCT: UPDATE admin_users SET force_password_reset = true WHERE is_active = true)
  const users = `${q(names.schema)}.${q(names.adminUsers)}`;
  const activeFilter = names.userActive === null ? '' : ` WHERE ${q(names.userActive)} = true`;
  const resetSelect = `SELECT ${q(names.id)}::text AS id, ${q(names.passwordReset)} AS previous FROM ${users}${activeFilter} FOR UPDATE`;
  const resetUpdate = `UPDATE ${users} SET ${q(names.passwordReset)} = true${activeFilter}`;
  const restoreUpdate = `UPDATE ${users} SET ${q(names.passwordReset)} = $1 WHERE ${q(names.id)}::text = ANY($2::text[])`;
  const forceAdminPasswordReset = operation(
    [],
    () => undefined,
    () => ({
      summary: `require every ${names.userActive === null ? '' : 'active '}admin in ${names.adminUsers} to choose a new password`,
      detail: [resetSelect, resetUpdate],
    }),
    async () => {
      const previous = await withTransaction(async (c) => {
        const rows = (await c.query<{ id: string; previous: boolean | null }>(resetSelect)).rows;
        await c.query(resetUpdate);
        return rows.map((row) => ({ id: row.id, value: row.previous }));
      });
      return {
        summary: `forced a password reset for ${previous.length} admin user(s)`,
        changed: { table: names.adminUsers, column: names.passwordReset, count: previous.length, previous },
        undo: { operation: 'restore_admin_password_reset', params: { previous } },
      };
    },
  );
  const restoreAdminPasswordReset = operation(
    ['previous'],
    (params, problems) => {
      const list = params.previous;
      if (
        !Array.isArray(list) ||
        !list.every(
          (item) =>
            isRecord(item) &&
            typeof item.id === 'string' &&
            (item.value === null || typeof item.value === 'boolean') &&
            Object.keys(item).every((k) => k === 'id' || k === 'value'),
        )
      ) {
        problems.push('previous: expected a list of { id: string, value: boolean | null }');
      }
    },
    (params) => ({
      summary: `put back the previous ${names.passwordReset} of ${(params.previous as unknown[]).length} admin user(s)`,
      detail: groupPrevious(params).map(([value, ids]) => withValues(restoreUpdate, [value, ids])),
    }),
    async (params) => {
      const groups = groupPrevious(params);
      const count = await withTransaction(async (c) => {
        let n = 0;
        for (const [value, ids] of groups) n += (await c.query(restoreUpdate, [value, ids])).rowCount ?? 0;
        return n;
      });
      return {
        summary: `restored ${names.passwordReset} for ${count} admin user(s)`,
        changed: { table: names.adminUsers, column: names.passwordReset, count },
      };
    },
  );

  // ---- read_only_mode. Terminating waits up to 5 s per session for it to end (PostgreSQL 14+).
  // The KCT plan uses ALTER SYSTEM (the whole server, and needs a reload);
  // ALTER DATABASE limits it to the shop's database and takes effect for every new session.
  const dbSettingSql =
    "SELECT split_part(cfg, '=', 2) AS value FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) cfg WHERE s.setrole = 0 AND d.datname = current_database() AND split_part(cfg, '=', 1) = 'default_transaction_read_only'";
  const terminateSql =
    'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = $1';
  // The database as plans name it; before the connection string is read, only described.
  const databaseLabel = () =>
    known === undefined
      ? `the database of ${config.connectionLabel ?? 'the configured connection'}`
      : `database ${databaseOf(known)}`;
  const databaseSql = () => (known === undefined ? '<that database>' : q(databaseOf(known)));
  const readOnlyMode = operation(
    ['terminate_sessions'],
    (params, problems) => optionalBoolean(params, 'terminate_sessions', problems),
    (params) => ({
      summary:
        `make new sessions of ${databaseLabel()} read-only` +
        (params.terminate_sessions === true
          ? ', ending the existing ones'
          : ' (existing sessions are unaffected)'),
      detail: [
        `ALTER DATABASE ${databaseSql()} SET default_transaction_read_only = on`,
        ...(params.terminate_sessions === true ? [withValues(terminateSql, ['client backend'])] : []),
      ],
    }),
    async (params) => {
      const result = await withTransaction(async (c) => {
        const database = await currentDatabase(c);
        const previous = (await c.query<{ value: string }>(dbSettingSql)).rows[0]?.value ?? null;
        await c.query(`ALTER DATABASE ${q(database)} SET default_transaction_read_only = on`);
        return { database, previous };
      });
      let terminated = 0;
      if (params.terminate_sessions === true) {
        terminated = await withTransaction(
          async (c) => (await c.query<{ n: number }>(terminateSql, ['client backend'])).rows[0]?.n ?? 0,
        );
      }
      return {
        summary:
          `database ${result.database} is read-only for new sessions` +
          (params.terminate_sessions === true ? `; ended ${terminated} existing session(s)` : ''),
        changed: { database: result.database, previous: result.previous, terminatedSessions: terminated },
        undo: { operation: 'restore_read_only_mode', params: { previous: result.previous } },
      };
    },
  );
  const restoreReadOnlyMode = operation(
    ['previous'],
    (params, problems) => {
      if (!('previous' in params) || !(params.previous === null || typeof params.previous === 'string')) {
        problems.push('previous: expected the earlier database setting (a string) or null (none)');
      } else if (
        typeof params.previous === 'string' &&
        !/^(on|off|true|false|yes|no|1|0)$/i.test(params.previous)
      ) {
        problems.push('previous: expected on, off or null');
      }
    },
    (params) => ({
      summary: `put back default_transaction_read_only of ${databaseLabel()}`,
      detail: [restoreReadOnlySql(databaseSql(), params.previous as string | null)],
    }),
    async (params) => {
      const database = await withTransaction(async (c) => {
        const name = await currentDatabase(c);
        await c.query(restoreReadOnlySql(q(name), params.previous as string | null));
        return name;
      });
      return {
        summary: `database ${database} accepts writes again in new sessions`,
        changed: { database, restored: params.previous ?? null },
      };
    },
  );

  // ---- revoke_writes (KCT: REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public FROM ...)
  // Previous grants are read from the ACLs themselves (aclexplode), which, unlike
  // information_schema.role_table_grants, shows them whoever the connecting user is.
  const grantsSql =
    "SELECT c.relname AS table, a.privilege_type AS privilege, a.is_grantable AS grantable FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2) AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE') ORDER BY 1, 2";
  const revokeSql = (role: string) =>
    `REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${q(names.schema)} FROM ${q(role)}`;
  const revokeWrites = operation(
    ['roles'],
    (params, problems) => identifierList(params, 'roles', problems),
    (params) => {
      const roles = params.roles as string[];
      return {
        summary: `revoke INSERT, UPDATE, DELETE on all tables in schema ${names.schema} from ${roles.join(', ')}`,
        detail: roles.map(revokeSql),
      };
    },
    async (params) => {
      const roles = params.roles as string[];
      const previous = await withTransaction(async (c) => {
        const grants: Grant[] = [];
        for (const role of roles) {
          const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
          if (exists.rowCount === 0)
            throw new PostgresConnectorError(`role ${role} does not exist`, false, '42704');
          const rows = (await c.query<Omit<Grant, 'role'>>(grantsSql, [names.schema, role])).rows;
          grants.push(...rows.map((row) => ({ role, ...row })));
          await c.query(revokeSql(role));
        }
        return grants;
      });
      return {
        summary: `revoked writes in schema ${names.schema} from ${roles.join(', ')} (${previous.length} grant(s) removed)`,
        changed: { schema: names.schema, roles, revoked: previous },
        undo: { operation: 'grant_writes', params: { grants: previous } },
      };
    },
  );
  const grantSql = (grant: Grant) =>
    `GRANT ${grant.privilege} ON TABLE ${q(names.schema)}.${q(grant.table)} TO ${q(grant.role)}${grant.grantable ? ' WITH GRANT OPTION' : ''}`;
  const grantWrites = operation(
    ['grants'],
    (params, problems) => {
      const list = params.grants;
      if (!Array.isArray(list) || !list.every(isGrant)) {
        problems.push(
          'grants: expected a list of { role, table, privilege: INSERT | UPDATE | DELETE, grantable: boolean }',
        );
      }
    },
    (params) => ({
      summary: `grant back ${(params.grants as unknown[]).length} write privilege(s) in schema ${names.schema}`,
      detail: (params.grants as Grant[]).map(grantSql),
    }),
    async (params) => {
      const grants = params.grants as Grant[];
      await withTransaction(async (c) => {
        for (const grant of grants) await c.query(grantSql(grant));
      });
      return {
        summary: `granted back ${grants.length} write privilege(s) in schema ${names.schema}`,
        changed: { schema: names.schema, granted: grants },
      };
    },
  );

  // ---- force_row_level_security
  const rlsSelect =
    'SELECT c.relname AS table, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2::text[])';
  const rlsSql = (table: string) => [
    `ALTER TABLE ${q(names.schema)}.${q(table)} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${q(names.schema)}.${q(table)} FORCE ROW LEVEL SECURITY`,
  ];
  const forceRowLevelSecurity = operation(
    ['tables'],
    (params, problems) => identifierList(params, 'tables', problems),
    (params) => ({
      summary: `enable and force row level security on ${(params.tables as string[]).join(', ')}`,
      detail: (params.tables as string[]).flatMap(rlsSql),
    }),
    async (params) => {
      const tables = params.tables as string[];
      const previous = await withTransaction(async (c) => {
        const rows = (await c.query<RlsState>(rlsSelect, [names.schema, tables])).rows;
        const missing = tables.filter((t) => !rows.some((row) => row.table === t));
        if (missing.length > 0) {
          throw new PostgresConnectorError(
            `no table ${missing.join(', ')} in schema ${names.schema}`,
            false,
            '42P01',
          );
        }
        for (const table of tables) for (const sql of rlsSql(table)) await c.query(sql);
        return tables.map((t) => rows.find((row) => row.table === t) as RlsState);
      });
      return {
        summary: `row level security is enabled and forced on ${tables.join(', ')}`,
        changed: { schema: names.schema, previous },
        undo: { operation: 'restore_row_level_security', params: { tables: previous } },
      };
    },
  );
  const restoreRlsSql = (state: RlsState) => [
    `ALTER TABLE ${q(names.schema)}.${q(state.table)} ${state.enabled ? 'ENABLE' : 'DISABLE'} ROW LEVEL SECURITY`,
    `ALTER TABLE ${q(names.schema)}.${q(state.table)} ${state.forced ? 'FORCE' : 'NO FORCE'} ROW LEVEL SECURITY`,
  ];
  const restoreRowLevelSecurity = operation(
    ['tables'],
    (params, problems) => {
      const list = params.tables;
      if (!Array.isArray(list) || !list.every(isRlsState)) {
        problems.push('tables: expected a list of { table, enabled: boolean, forced: boolean }');
      }
    },
    (params) => ({
      summary: `put back row level security settings of ${(params.tables as RlsState[]).map((t) => t.table).join(', ')}`,
      detail: (params.tables as RlsState[]).flatMap(restoreRlsSql),
    }),
    async (params) => {
      const states = params.tables as RlsState[];
      await withTransaction(async (c) => {
        for (const state of states) for (const sql of restoreRlsSql(state)) await c.query(sql);
      });
      return {
        summary: `restored row level security settings of ${states.map((t) => t.table).join(', ')}`,
        changed: { schema: names.schema, restored: states },
      };
    },
  );

  // ---- checkout_off (KCT: settings { checkout_enabled: false }); a missing row is inserted.
  const settings = `${q(names.schema)}.${q(names.settings)}`;
  const [key, value] = [q(names.settingKey), q(names.settingValue)];
  const checkoutSelect = `SELECT ${value} AS value FROM ${settings} WHERE ${key} = $1 FOR UPDATE`;
  const checkoutUpdate = `UPDATE ${settings} SET ${value} = $2 WHERE ${key} = $1`;
  const checkoutInsert = `INSERT INTO ${settings} (${key}, ${value}) VALUES ($1, $2)`;
  const checkoutDelete = `DELETE FROM ${settings} WHERE ${key} = $1`;
  const checkoutOff = operation(
    [],
    () => undefined,
    () => ({
      summary: `turn checkout off (${names.settings}.${names.checkoutKey} = 'false')`,
      detail: [
        withValues(checkoutSelect, [names.checkoutKey]),
        `${withValues(checkoutUpdate, [names.checkoutKey, 'false'])} -- or, when there is no such row:`,
        withValues(checkoutInsert, [names.checkoutKey, 'false']),
      ],
    }),
    async () => {
      const previous = await withTransaction(async (c) => {
        const row = (await c.query<{ value: string | null }>(checkoutSelect, [names.checkoutKey])).rows[0];
        await c.query(row ? checkoutUpdate : checkoutInsert, [names.checkoutKey, 'false']);
        return row ? { existed: true, value: row.value } : { existed: false, value: null };
      });
      return {
        summary: `checkout is off (${names.checkoutKey} was ${previous.existed ? JSON.stringify(previous.value) : 'not set'})`,
        changed: { table: names.settings, key: names.checkoutKey, previous },
        undo: { operation: 'restore_checkout', params: previous },
      };
    },
  );
  const restoreCheckout = operation(
    ['existed', 'value'],
    (params, problems) => {
      if (typeof params.existed !== 'boolean') problems.push('existed: expected true or false');
      if (!(params.value === null || typeof params.value === 'string')) {
        problems.push('value: expected the previous value (a string) or null');
      }
    },
    (params) => ({
      summary: `put back ${names.settings}.${names.checkoutKey}`,
      detail: [
        params.existed === true
          ? withValues(checkoutUpdate, [names.checkoutKey, params.value])
          : withValues(checkoutDelete, [names.checkoutKey]),
      ],
    }),
    async (params) => {
      await withTransaction(async (c) => {
        if (params.existed === true) await c.query(checkoutUpdate, [names.checkoutKey, params.value]);
        else await c.query(checkoutDelete, [names.checkoutKey]);
      });
      return {
        summary: `restored ${names.checkoutKey} (${params.existed === true ? JSON.stringify(params.value) : 'not set'})`,
        changed: { table: names.settings, key: names.checkoutKey, restored: params },
      };
    },
  );

  return {
    name: 'postgres',
    operations: Object.freeze({
      end_admin_sessions: endAdminSessions,
      force_admin_password_reset: forceAdminPasswordReset,
      restore_admin_password_reset: restoreAdminPasswordReset,
      read_only_mode: readOnlyMode,
      restore_read_only_mode: restoreReadOnlyMode,
      revoke_writes: revokeWrites,
      grant_writes: grantWrites,
      force_row_level_security: forceRowLevelSecurity,
      restore_row_level_security: restoreRowLevelSecurity,
      checkout_off: checkoutOff,
      restore_checkout: restoreCheckout,
    }),
  };
}

interface Grant {
  readonly role: string;
  readonly table: string;
  readonly privilege: WritePrivilege;
  readonly grantable: boolean;
}

interface RlsState {
  readonly table: string;
  readonly enabled: boolean;
  readonly forced: boolean;
}

function resolveNames(config: PostgresConnectorConfig) {
  const c = config.columns ?? {};
  const names = {
    schema: config.schema ?? 'public',
    adminSessions: config.tables?.adminSessions ?? 'admin_sessions',
    adminUsers: config.tables?.adminUsers ?? 'admin_users',
    settings: config.tables?.settings ?? 'settings',
    id: c.id ?? 'id',
    sessionActive: c.sessionActive ?? 'is_active',
    sessionTerminatedReason:
      c.sessionTerminatedReason === undefined ? 'terminated_reason' : c.sessionTerminatedReason,
    passwordReset: c.passwordReset ?? 'force_password_reset',
    userActive: c.userActive === undefined ? 'is_active' : c.userActive,
    settingKey: c.settingKey ?? 'key',
    settingValue: c.settingValue ?? 'value',
    checkoutKey: config.checkoutKey ?? 'checkout_enabled',
  };
  for (const [field, name] of Object.entries(names)) {
    if (field === 'checkoutKey' || name === null) continue;
    if (!IDENTIFIER.test(name)) {
      throw new PostgresConnectorError(
        `postgres connector config: ${field} ${JSON.stringify(name)} is not a plain SQL name`,
        false,
      );
    }
  }
  return names;
}

function assertValid(problems: string[]): void {
  if (problems.length > 0)
    throw new PostgresConnectorError(`invalid parameters: ${problems.join('; ')}`, false);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isGrant(value: unknown): value is Grant {
  return (
    isRecord(value) &&
    Object.keys(value).length === 4 &&
    typeof value.role === 'string' &&
    IDENTIFIER.test(value.role) &&
    typeof value.table === 'string' &&
    IDENTIFIER.test(value.table) &&
    WRITE_PRIVILEGES.includes(value.privilege as WritePrivilege) &&
    typeof value.grantable === 'boolean'
  );
}

function isRlsState(value: unknown): value is RlsState {
  return (
    isRecord(value) &&
    Object.keys(value).length === 3 &&
    typeof value.table === 'string' &&
    IDENTIFIER.test(value.table) &&
    typeof value.enabled === 'boolean' &&
    typeof value.forced === 'boolean'
  );
}

function identifierList(params: Params, key: string, problems: string[]): void {
  const list = params[key];
  if (!Array.isArray(list) || list.length === 0) {
    problems.push(`${key}: expected a non-empty list of names`);
    return;
  }
  list.forEach((name, i) => {
    if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
      problems.push(
        `${key}[${i}]: ${JSON.stringify(name)} is not a plain SQL name (letters, digits, _ and $)`,
      );
    }
  });
}

function optionalText(params: Params, key: string, problems: string[]): void {
  const value = params[key];
  if (value !== undefined && (typeof value !== 'string' || value.length === 0 || value.length > 200)) {
    problems.push(`${key}: expected text of 1 to 200 characters`);
  }
}

function optionalBoolean(params: Params, key: string, problems: string[]): void {
  if (params[key] !== undefined && typeof params[key] !== 'boolean')
    problems.push(`${key}: expected true or false`);
}

function reasonOf(params: Params): string {
  return typeof params.reason === 'string' ? params.reason : 'security_incident';
}

function groupPrevious(params: Params): Array<[boolean | null, string[]]> {
  const groups = new Map<boolean | null, string[]>();
  for (const { id, value } of params.previous as Array<{ id: string; value: boolean | null }>) {
    groups.set(value, [...(groups.get(value) ?? []), id]);
  }
  return [...groups];
}

function restoreReadOnlySql(database: string, previous: string | null): string {
  return previous === null
    ? `ALTER DATABASE ${database} RESET default_transaction_read_only`
    : `ALTER DATABASE ${database} SET default_transaction_read_only = ${/^(on|true|yes|1)$/i.test(previous) ? 'on' : 'off'}`;
}

async function currentDatabase(client: pg.Client): Promise<string> {
  return (await client.query<{ name: string }>('SELECT current_database() AS name')).rows[0]?.name ?? '';
}

/** The database named in the connection string, for plans (the run uses current_database()). */
function databaseOf(connectionString: string): string {
  try {
    return decodeURIComponent(new URL(connectionString).pathname.slice(1)) || 'postgres';
  } catch {
    return 'current database';
  }
}

/** A statement and its bind values, as shown in a plan: `... -- $1 = 'x'`. */
function withValues(sql: string, values: readonly unknown[]): string {
  if (values.length === 0) return sql;
  return `${sql} -- ${values.map((v, i) => `$${i + 1} = ${JSON.stringify(v)}`).join(', ')}`;
}

const RETRYABLE_STATES = /^(08|40001|40P01|53|57P0[1-3])/;
const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

function asConnectorError(error: unknown): PostgresConnectorError {
  if (error instanceof PostgresConnectorError) return error;
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const isState = code !== undefined && /^[0-9A-Z]{5}$/.test(code);
  const retryable =
    code === undefined
      ? /timeout|terminated|Connection/i.test(message)
      : isState
        ? RETRYABLE_STATES.test(code)
        : RETRYABLE_CODES.has(code);
  return new PostgresConnectorError(`postgres: ${message}`, retryable, isState ? code : undefined);
}
