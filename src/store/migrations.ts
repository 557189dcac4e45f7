/**
 * Versioned schema migrations for both dialects, applied at start. A migration is never edited
 * once released: a change to the schema is a new entry at the end of the list.
 */
import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** The "previous hash" of the first audit entry. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

function migrationsFor(dialect: Dialect): Record<string, Migration> {
  // The only difference the first schema needs: how an auto-numbered key is spelled.
  const autoId = (db: Kysely<unknown>, table: string) =>
    dialect === 'sqlite'
      ? db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      : db.schema.createTable(table).addColumn('id', 'serial', (c) => c.primaryKey());

  return {
    '0001_incident_core': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('incident_counters')
          .addColumn('year', 'integer', (c) => c.primaryKey())
          .addColumn('last_number', 'integer', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('incidents')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('year', 'integer', (c) => c.notNull())
          .addColumn('number', 'integer', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('summary', 'text', (c) => c.notNull())
          .addColumn('severity', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('detected_at', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('acknowledged_at', 'text')
          .addColumn('contained_at', 'text')
          .addColumn('eradicated_at', 'text')
          .addColumn('recovered_at', 'text')
          .addColumn('resolved_at', 'text')
          .addColumn('closed_at', 'text')
          .addColumn('clock_started_at', 'text', (c) => c.notNull())
          .addColumn('ack_by', 'text', (c) => c.notNull())
          .addColumn('respond_by', 'text', (c) => c.notNull())
          .addColumn('classification', 'text')
          .addColumn('roles', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addUniqueConstraint('incidents_year_number', ['year', 'number'])
          .execute();
        await db.schema
          .createIndex('incidents_status')
          .on('incidents')
          .columns(['status', 'severity'])
          .execute();

        await autoId(db, 'incident_timeline')
          .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id'))
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('incident_timeline_incident')
          .on('incident_timeline')
          .columns(['incident_id', 'id'])
          .execute();

        await db.schema
          .createTable('audit_log')
          .addColumn('seq', 'integer', (c) => c.primaryKey())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('details', 'text', (c) => c.notNull())
          .addColumn('prev_hash', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('audit_head')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        // The head exists from the start, so concurrent first appends lock one row instead of racing to insert it.
        await db
          .insertInto('audit_head' as never)
          .values({ id: 1, seq: 0, hash: AUDIT_GENESIS_HASH } as never)
          .execute();

        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('scopes', 'text', (c) => c.notNull())
          .addColumn('secret_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .execute();
      },
    },

    '0002_event_log': {
      async up(db: Kysely<unknown>) {
        // Epoch milliseconds and sequence numbers outgrow 32 bits: bigint on PostgreSQL (read back
        // as text by pg, turned into numbers by the event log). On SQLite every integer is 64-bit,
        // and `integer primary key` makes seq the rowid itself.
        const int64 = dialect === 'sqlite' ? 'integer' : 'bigint';
        const bytes = dialect === 'sqlite' ? 'blob' : 'bytea';

        // seq is assigned by the appender under the head row's lock (see event_log_head), not by an
        // auto-increment: that keeps it gapless and in commit order on both dialects.
        await db.schema
          .createTable('event_log')
          .addColumn('seq', int64, (c) => c.primaryKey())
          .addColumn('received_at', 'text', (c) => c.notNull())
          .addColumn('event_time', int64, (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          // Exactly one of the two holds the event: JSON text, or that text deflated (raw deflate).
          .addColumn('event', 'text')
          .addColumn('event_deflated', bytes)
          .addCheckConstraint('event_log_one_body', sql`(event is null) <> (event_deflated is null)`)
          .execute();
        await db.schema
          .createIndex('event_log_event_time')
          .on('event_log')
          .columns(['event_time', 'seq'])
          .execute();
        await db.schema.createIndex('event_log_received_at').on('event_log').column('received_at').execute();

        // One row (id = 1): the highest seq ever appended. Appends lock it, so they take turns and
        // commit in seq order; it survives retention deleting every event.
        await db.schema
          .createTable('event_log_head')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('seq', int64, (c) => c.notNull())
          .execute();
        await db
          .insertInto('event_log_head' as never)
          .values({ id: 1, seq: 0 } as never)
          .execute();

        // An Idempotency-Key is the client's, so it is unique per API key, not across keys.
        await db.schema
          .createTable('ingest_batches')
          .addColumn('key_id', 'text', (c) => c.notNull())
          .addColumn('idempotency_key', 'text', (c) => c.notNull())
          .addColumn('first_seq', int64, (c) => c.notNull())
          .addColumn('last_seq', int64, (c) => c.notNull())
          .addColumn('answer', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('ingest_batches_pk', ['key_id', 'idempotency_key'])
          .execute();
        await db.schema
          .createIndex('ingest_batches_created_at')
          .on('ingest_batches')
          .column('created_at')
          .execute();

        await db.schema
          .createTable('consumer_checkpoints')
          .addColumn('consumer', 'text', (c) => c.primaryKey())
          .addColumn('seq', int64, (c) => c.notNull())
          .addColumn('state', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
      },
    },

    '0003_alerts': {
      async up(db: Kysely<unknown>) {
        const int64 = dialect === 'sqlite' ? 'integer' : 'bigint';
        const real = dialect === 'sqlite' ? 'real' : 'double precision';

        // One row per alert the detection service stored; the fingerprint (rule, group, window
        // end) is the key, so an alert replayed after a crash is recognised and skipped.
        await db.schema
          .createTable('alerts')
          .addColumn('fingerprint', 'text', (c) => c.primaryKey())
          .addColumn('rule', 'text', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('severity', 'text', (c) => c.notNull())
          .addColumn('group_json', 'text', (c) => c.notNull())
          // The group in one canonical text (sorted `field=value` pairs), for equality lookups.
          .addColumn('group_key', 'text', (c) => c.notNull())
          // Null when not a finite number (a baseline over a zero measure is infinite).
          .addColumn('value', real)
          .addColumn('window_start', 'text', (c) => c.notNull())
          .addColumn('window_end', 'text', (c) => c.notNull())
          .addColumn('events', 'integer', (c) => c.notNull())
          .addColumn('trigger', 'text')
          .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('alerts_rule_group')
          .on('alerts')
          .columns(['rule', 'group_key'])
          .execute();
        await db.schema
          .createIndex('alerts_incident')
          .on('alerts')
          .columns(['incident_id', 'window_end'])
          .execute();

        // The alert's group values, one row per field, so alerts sharing an entity (a source.ip,
        // a user.name) are found by an index instead of a scan of group_json.
        await db.schema
          .createTable('alert_entities')
          .addColumn('fingerprint', 'text', (c) => c.notNull().references('alerts.fingerprint'))
          .addColumn('field', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('alert_entities_pk', ['fingerprint', 'field'])
          .execute();
        await db.schema
          .createIndex('alert_entities_field_value')
          .on('alert_entities')
          .columns(['field', 'value'])
          .execute();

        // One row (id = 1) that every intake locks first: intakes take turns, also with several
        // servers on one PostgreSQL database, so two of them never both open an incident for
        // the same rule and group.
        await db.schema
          .createTable('alert_intake_lock')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('intakes', int64, (c) => c.notNull())
          .execute();
        await db
          .insertInto('alert_intake_lock' as never)
          .values({ id: 1, intakes: 0 } as never)
          .execute();
      },
    },

    '0004_outside_alerts': {
      async up(db: Kysely<unknown>) {
        // One row per alert another tool (Alertmanager, a PagerDuty Events API v2 sender) opened:
        // its source, its dedup key and which occurrence of that key it is. A trigger after a
        // resolve is the key's next occurrence, a new row. At most one row of a key is not
        // resolved: the one acknowledge and resolve apply to.
        await db.schema
          .createTable('outside_alerts')
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('dedup_key', 'text', (c) => c.notNull())
          .addColumn('occurrence', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('fingerprint', 'text', (c) => c.notNull().references('alerts.fingerprint'))
          .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id'))
          .addColumn('triggers', 'integer', (c) => c.notNull())
          .addColumn('opened_at', 'text', (c) => c.notNull())
          .addColumn('last_triggered_at', 'text', (c) => c.notNull())
          .addColumn('acknowledged_at', 'text')
          .addColumn('resolved_at', 'text')
          .addPrimaryKeyConstraint('outside_alerts_pk', ['source', 'dedup_key', 'occurrence'])
          .execute();
        await db.schema
          .createIndex('outside_alerts_incident')
          .on('outside_alerts')
          .columns(['incident_id'])
          .execute();
      },
    },
    '0005_alerts_by_time': {
      async up(db: Kysely<unknown>) {
        // GET /v1/alerts lists newest first by window end (fingerprint breaks ties): without
        // this index every page would sort the whole table.
        await db.schema
          .createIndex('alerts_window_end')
          .on('alerts')
          .columns(['window_end', 'fingerprint'])
          .execute();
      },
    },
    '0006_paging': {
      async up(db: Kysely<unknown>) {
        // The outbox: one row per message to one recipient on one channel, written in the same
        // transaction as the change that causes it, delivered (at least once, with its key) by
        // the outbox worker. Never deleted by delivery: it is the record of who was told what.
        await db.schema
          .createTable('notifications')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id'))
          // page, escalation, reminder, resolved, delivery_failed ...
          .addColumn('kind', 'text', (c) => c.notNull())
          // email, slack, webhook, pagerduty
          .addColumn('channel', 'text', (c) => c.notNull())
          // Who it is for: a person id of the roster, a stakeholder, or a channel name.
          .addColumn('recipient', 'text', (c) => c.notNull())
          // Where it goes: an email address, or a URL as the roster or settings give it (a
          // person's Slack incoming webhook). Signing secrets and routing keys are never stored.
          .addColumn('target', 'text', (c) => c.notNull())
          // Sent with every attempt, so a receiver can drop repeats. Unique: enqueueing twice is a no-op.
          .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
          // The message as rendered when it was enqueued (JSON).
          .addColumn('payload', 'text', (c) => c.notNull())
          // pending, sending, delivered, dead
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_at', 'text', (c) => c.notNull())
          // A claim on a row being sent; a worker that died mid-send loses it at this time.
          .addColumn('lease_until', 'text')
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('delivered_at', 'text')
          .execute();
        await db.schema
          .createIndex('notifications_due')
          .on('notifications')
          .columns(['status', 'next_attempt_at'])
          .execute();
        await db.schema
          .createIndex('notifications_incident')
          .on('notifications')
          .columns(['incident_id', 'created_at'])
          .execute();

        // Escalation clocks: one row per future step (page the backup at ack_by, remind the
        // leadership hourly ...). Run on the injected clock by the escalation scheduler; a row is
        // done or cancelled in the transaction that acts on it, so a restart neither loses nor
        // repeats one.
        await db.schema
          .createTable('escalation_timers')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id'))
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('due_at', 'text', (c) => c.notNull())
          // What to do when it fires (JSON): the level to page, the reminder's audience ...
          .addColumn('data', 'text', (c) => c.notNull())
          // pending, done, cancelled
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('fired_at', 'text')
          .execute();
        await db.schema
          .createIndex('escalation_timers_due')
          .on('escalation_timers')
          .columns(['status', 'due_at'])
          .execute();

        // One-click acknowledgement links: single use. The token itself is never stored, only
        // its SHA-256; used_at is set by the click that acknowledges.
        await db.schema
          .createTable('ack_links')
          .addColumn('token_hash', 'text', (c) => c.primaryKey())
          .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id'))
          .addColumn('recipient', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('used_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0007_decisions': {
      async up(db: Kysely<unknown>) {
        const int64 = dialect === 'sqlite' ? 'integer' : 'bigint';
        // Firebreak's own blocklist, read by the shop's middleware (README "Containment").
        // A row is never deleted: deletion (the undo) and expiry end it, and the stream needs
        // the ended rows to tell a bouncer what to drop.
        await db.schema
          .createTable('decisions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          // The change number of its creation (see decision_head).
          .addColumn('seq', int64, (c) => c.notNull().unique())
          // ban, captcha, throttle
          .addColumn('type', 'text', (c) => c.notNull())
          // ip, cidr
          .addColumn('scope', 'text', (c) => c.notNull())
          // Canonical text: 203.0.113.7, 2001:db8::1, 10.0.0.0/24, 2001:db8::/32.
          .addColumn('value', 'text', (c) => c.notNull())
          // rule:<id>, person:<name>, playbook:<run id>
          .addColumn('origin', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('incident_id', 'text')
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          // Always set: every decision is duration-bound, and expiry is its default undo.
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('deleted_at', 'text')
          .addColumn('deleted_by', 'text')
          // The change number of its deletion; null while not deleted.
          .addColumn('deleted_seq', int64)
          .execute();
        // lookup(ip): the exact address among the live ones; the CIDRs are loaded by scope.
        await db.schema
          .createIndex('decisions_live')
          .on('decisions')
          .columns(['scope', 'value', 'expires_at'])
          .where(sql.ref('deleted_seq'), 'is', null)
          .execute();
        // The stream: what expired, and what was deleted, since a cursor.
        await db.schema.createIndex('decisions_expiry').on('decisions').column('expires_at').execute();
        await db.schema.createIndex('decisions_deleted').on('decisions').column('deleted_seq').execute();

        // One row (id = 1): the last change number given out. Every addition and deletion takes
        // the next under this row's lock, so changes commit in seq order: a reader that sees seq
        // N has seen every change up to N (what makes the stream's cursor safe).
        await db.schema
          .createTable('decision_head')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('seq', int64, (c) => c.notNull())
          .execute();
        await db
          .insertInto('decision_head' as never)
          .values({ id: 1, seq: 0 } as never)
          .execute();

        // Kill switches read by the shop (checkout_enabled ...). A switch without a row has its
        // documented default (on).
        await db.schema
          .createTable('switches')
          .addColumn('name', 'text', (c) => c.primaryKey())
          // 1 on, 0 off (an integer in both dialects).
          .addColumn('enabled', 'integer', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('updated_by', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0008_playbook_runs': {
      async up(db: Kysely<unknown>) {
        // A playbook run (README "Containment"): the playbook and the values its templates
        // read are copied in when it starts, so a resumed run does what its approvers saw even
        // if the file or the incident changed since.
        await db.schema
          .createTable('playbook_runs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('incident_id', 'text', (c) => c.notNull())
          .addColumn('playbook_id', 'text', (c) => c.notNull())
          // proposed, running, waiting_approval, succeeded, failed, refused, cancelled,
          // undoing, undo_waiting_approval, undone, undo_failed
          .addColumn('status', 'text', (c) => c.notNull())
          // manual, proposed (offered by a trigger), automatic
          .addColumn('origin', 'text', (c) => c.notNull())
          .addColumn('playbook_json', 'text', (c) => c.notNull())
          .addColumn('context_json', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          // Which server works the run and until when: a run whose lease ran out (its
          // server crashed) is taken over and resumed.
          .addColumn('lease_owner', 'text')
          .addColumn('lease_until', 'text')
          .execute();
        await db.schema
          .createIndex('playbook_runs_incident')
          .on('playbook_runs')
          .column('incident_id')
          .execute();
        await db.schema.createIndex('playbook_runs_status').on('playbook_runs').column('status').execute();

        // One row per step and direction (forward, undo), in the order they run.
        await db.schema
          .createTable('playbook_run_steps')
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('direction', 'text', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('step_id', 'text', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('phase', 'text', (c) => c.notNull())
          .addColumn('recovery_phase', 'text')
          // pending, waiting_approval, running, succeeded, failed, refused, skipped
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('approval_role', 'text')
          .addColumn('approved_by', 'text')
          .addColumn('approved_at', 'text')
          .addColumn('refusal', 'text')
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('max_attempts', 'integer', (c) => c.notNull())
          .addColumn('timeout_ms', 'integer', (c) => c.notNull())
          // The rendered action {connector, operation, params}; null: nothing to run (no undo).
          .addColumn('action_json', 'text')
          // The dry run's plan, secrets masked.
          .addColumn('plan_json', 'text')
          .addColumn('outcome_json', 'text')
          .addColumn('error', 'text')
          .addColumn('next_attempt_at', 'text')
          .addColumn('started_at', 'text')
          .addColumn('finished_at', 'text')
          .addPrimaryKeyConstraint('playbook_run_steps_pk', ['run_id', 'direction', 'seq'])
          .execute();

        // Connector credentials, encrypted with the server's secret key (AES-256-GCM); the
        // plain text is never stored or shown.
        await db.schema
          .createTable('secrets')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('ciphertext', 'text', (c) => c.notNull())
          // A fingerprint of the key that sealed it: a wrong key is named, not a garbled value.
          .addColumn('key_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('updated_by', 'text', (c) => c.notNull())
          .execute();

        // The person (roster id) a key belongs to: approvals check that this person holds the
        // step's role. Null for keys of machines and for keys made before this migration.
        await db.schema.alterTable('api_keys').addColumn('person', 'text').execute();
      },
    },
  };
}

export class CodeMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return migrationsFor(this.dialect);
  }
}
