/**
 * The tables, as Kysely sees them. Both dialects store the same shapes: timestamps are ISO 8601
 * UTC text (they sort as text and read the same from SQLite and PostgreSQL), structured values
 * are JSON text.
 */
import type { ColumnType, Generated } from 'kysely';

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
  /** The roster person the key belongs to (approvals); null for machines. */
  person: string | null;
}

/**
 * A 64-bit integer column. SQLite gives a number; pg gives PostgreSQL's bigint as a string (it
 * cannot know the value fits a JS number), so readers pass it through `Number()`.
 */
export type Int64 = ColumnType<number | string, number, number>;

/** The durable event log: one row per accepted event, in the order they were accepted. */
export interface EventLogTable {
  /** Gapless, strictly increasing in commit order; assigned under the head row's lock. */
  seq: Int64;
  received_at: string;
  /** The event's own time (`@timestamp`), epoch milliseconds. */
  event_time: Int64;
  /** Where it came from: `http`, `syslog`, `file` ... */
  source: string;
  /** JSON text of the nested ECS event, or null when `event_deflated` holds it. */
  event: string | null;
  /** The same JSON text, raw-deflated: large events that compress well. */
  event_deflated: Uint8Array | null;
}

/** One row (id = 1): the highest seq ever appended. */
export interface EventLogHeadTable {
  id: number;
  seq: Int64;
}

/** Batches sent with an Idempotency-Key, and the answer they were given. */
export interface IngestBatchTable {
  /** The API key that sent it: idempotency keys are scoped to it. */
  key_id: string;
  idempotency_key: string;
  first_seq: Int64;
  /** first_seq - 1 for an empty batch. */
  last_seq: Int64;
  /** JSON: the response body given the first time. */
  answer: string;
  created_at: string;
}

/** How far a consumer of the event log (the detection service) has got. */
export interface ConsumerCheckpointTable {
  consumer: string;
  /** The last seq it processed. */
  seq: Int64;
  /** JSON, or null: whatever it needs to resume (a detection engine checkpoint). */
  state: string | null;
  updated_at: string;
}

/** An alert the detection service stored, and the incident it went to. */
export interface AlertTable {
  /** Of rule, group and window end: the same alert replayed has the same one. */
  fingerprint: string;
  rule: string;
  title: string;
  severity: string;
  /** JSON: group-by field → value, in the rule's order. */
  group_json: string;
  /** The group as sorted `field=value` pairs (URI-encoded, joined by `&`); '' for no group. */
  group_key: string;
  /** What the rule's threshold was tested on; null when it was not a finite number. */
  value: number | null;
  window_start: string;
  window_end: string;
  /** Events in the window that made the value. */
  events: number;
  /** The event that made the rule hold: its event log seq, as text. */
  trigger: string | null;
  incident_id: string;
  created_at: string;
}

/** One group value of an alert, for finding alerts that share an entity. */
export interface AlertEntityTable {
  fingerprint: string;
  field: string;
  value: string;
}

/** One row (id = 1): alert intakes lock it, so they take turns. */
export interface AlertIntakeLockTable {
  id: number;
  intakes: Int64;
}

/**
 * An alert another tool sent (`source`: alertmanager, pagerduty), by its dedup key and the
 * occurrence of that key: a trigger after a resolve opens occurrence n + 1.
 */
export interface OutsideAlertTable {
  source: string;
  dedup_key: string;
  occurrence: number;
  /** open, acknowledged or resolved. */
  status: string;
  /** The Firebreak alert it became (alerts.fingerprint). */
  fingerprint: string;
  incident_id: string;
  /** Trigger (firing) notifications received for this occurrence, the first included. */
  triggers: number;
  opened_at: string;
  last_triggered_at: string;
  acknowledged_at: string | null;
  resolved_at: string | null;
}

/** The outbox (migration 0006_paging). Times are ISO 8601. */
export interface NotificationTable {
  id: string;
  incident_id: string;
  kind: string;
  channel: string;
  recipient: string;
  target: string;
  idempotency_key: string;
  payload: string;
  /** pending, sending, delivered or dead. */
  status: string;
  attempts: number;
  next_attempt_at: string;
  lease_until: string | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface EscalationTimerTable {
  id: string;
  incident_id: string;
  kind: string;
  due_at: string;
  data: string;
  /** pending, done or cancelled. */
  status: string;
  created_at: string;
  fired_at: string | null;
}

export interface AckLinkTable {
  token_hash: string;
  incident_id: string;
  recipient: string;
  expires_at: string;
  used_at: string | null;
  created_at: string;
}

/** A containment decision (README "Containment: decisions and switches"). Never deleted. */
export interface DecisionTable {
  id: string;
  /** The change number of its creation. */
  seq: Int64;
  type: string;
  scope: string;
  /** Canonical address or network/prefix. */
  value: string;
  origin: string;
  reason: string;
  incident_id: string | null;
  created_by: string;
  created_at: string;
  expires_at: string;
  deleted_at: string | null;
  deleted_by: string | null;
  /** The change number of its deletion, or null. */
  deleted_seq: Int64 | null;
}

/** One row (id = 1): the last decision change number given out. */
export interface DecisionHeadTable {
  id: number;
  seq: Int64;
}

/** A kill switch that was set at least once; one without a row has its default. */
export interface SwitchTable {
  name: string;
  /** 1 on, 0 off. */
  enabled: number;
  reason: string;
  updated_at: string;
  updated_by: string;
}

export interface PlaybookRunTable {
  id: string;
  incident_id: string;
  playbook_id: string;
  status: string;
  origin: string;
  playbook_json: string;
  context_json: string;
  created_at: string;
  created_by: string;
  updated_at: string;
  lease_owner: string | null;
  lease_until: string | null;
}

export interface PlaybookRunStepTable {
  run_id: string;
  direction: string;
  seq: number;
  step_id: string;
  title: string;
  phase: string;
  recovery_phase: string | null;
  status: string;
  approval_role: string | null;
  approved_by: string | null;
  approved_at: string | null;
  refusal: string | null;
  attempts: number;
  max_attempts: number;
  timeout_ms: number;
  action_json: string | null;
  plan_json: string | null;
  outcome_json: string | null;
  error: string | null;
  next_attempt_at: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface SecretTable {
  name: string;
  ciphertext: string;
  key_id: string;
  created_at: string;
  updated_at: string;
  updated_by: string;
}

export interface Database {
  incidents: IncidentTable;
  incident_counters: IncidentCounterTable;
  incident_timeline: IncidentTimelineTable;
  audit_log: AuditLogTable;
  audit_head: AuditHeadTable;
  api_keys: ApiKeyTable;
  event_log: EventLogTable;
  event_log_head: EventLogHeadTable;
  ingest_batches: IngestBatchTable;
  consumer_checkpoints: ConsumerCheckpointTable;
  alerts: AlertTable;
  alert_entities: AlertEntityTable;
  alert_intake_lock: AlertIntakeLockTable;
  outside_alerts: OutsideAlertTable;
  notifications: NotificationTable;
  escalation_timers: EscalationTimerTable;
  ack_links: AckLinkTable;
  decisions: DecisionTable;
  decision_head: DecisionHeadTable;
  switches: SwitchTable;
  playbook_runs: PlaybookRunTable;
  playbook_run_steps: PlaybookRunStepTable;
  secrets: SecretTable;
}
