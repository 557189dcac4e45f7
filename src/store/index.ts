/** Persistence: Kysely over embedded SQLite or PostgreSQL, with the schema both share. */

export type { Kysely, Transaction } from 'kysely';
export type {
  AckLinkTable,
  AlertEntityTable,
  AlertIntakeLockTable,
  AlertTable,
  ApiKeyTable,
  AuditLogTable,
  ConsumerCheckpointTable,
  Database,
  DecisionHeadTable,
  DecisionTable,
  EscalationTimerTable,
  EventLogHeadTable,
  EventLogTable,
  IncidentTable,
  IncidentTimelineTable,
  IngestBatchTable,
  Int64,
  NotificationTable,
  OutsideAlertTable,
  PlaybookRunStepTable,
  PlaybookRunTable,
  SecretTable,
  SwitchTable,
} from './database.js';
export { AUDIT_GENESIS_HASH, type Dialect } from './migrations.js';
export { openStore, POSTGRES_SCHEMA_LOCK, SQLITE_FILE, type Store, type StoreOptions } from './open-store.js';
export {
  loadSecretKey,
  SECRET_KEY_FILE,
  SECRET_NAME_PATTERN,
  SECRET_VALUE_MAX_BYTES,
  type SecretAuditPort,
  type SecretInfo,
  SecretStore,
  type SecretStoreDeps,
  secretKeyId,
} from './secret-store.js';
