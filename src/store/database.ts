/**
 * The tables, as Kysely sees them. Both dialects store the same shapes: timestamps are ISO 8601
 * UTC text (they sort as text and read the same from SQLite and PostgreSQL), structured values
 * are JSON text.
 */
import type { Generated } from 'kysely';

export interface IncidentTable {
  id: string;
  year: number;
  number: number;
  title: string;
  summary: string;
  severity: string;
  status: string;
  detected_at: string;
  created_at: string;
  updated_at: string;
  created_by: string;
  acknowledged_at: string | null;
  contained_at: string | null;
  eradicated_at: string | null;
  recovered_at: string | null;
  resolved_at: string | null;
  closed_at: string | null;
  /** When the severity's clock started: creation, or the last change of severity. */
  clock_started_at: string;
  ack_by: string;
  respond_by: string;
  /** JSON: the classification answers, impact and the reasoning, or null. */
  classification: string | null;
  /** JSON: role name → person. */
  roles: string;
  /** Bumped on every change; guards against lost updates. */
  version: number;
}

export interface IncidentCounterTable {
  year: number;
  last_number: number;
}

export interface IncidentTimelineTable {
  id: Generated<number>;
  incident_id: string;
  at: string;
  actor: string;
  kind: string;
  /** JSON: the typed record's fields. */
  data: string;
}

export interface AuditLogTable {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  /** JSON */
  details: string;
  prev_hash: string;
  hash: string;
}

/** One row (id = 1): the newest entry, so that a deleted tail is noticed too. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface ApiKeyTable {
  id: string;
  name: string;
  /** JSON array of scopes. */
  scopes: string;
  /** SHA-256 of the secret part; the secret itself is never stored. */
  secret_hash: string;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
}

export interface Database {
  incidents: IncidentTable;
  incident_counters: IncidentCounterTable;
  incident_timeline: IncidentTimelineTable;
  audit_log: AuditLogTable;
  audit_head: AuditHeadTable;
  api_keys: ApiKeyTable;
}
