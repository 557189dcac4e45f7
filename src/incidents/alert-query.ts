/**
 * Reading the stored alerts (README "Reading alerts"): the alerts the grouper filed, listed newest
 * first by their window end (event time) with filters and cursor pages, or one incident's alerts
 * oldest first. Read-only, and it needs nothing but the store: the API reads alerts without
 * holding the grouper that writes them.
 */
import { parseIsoTime } from '../events/index.js';
import { FirebreakError } from '../kernel/index.js';
import type { Severity } from '../policy/index.js';
import type { AlertTable, Database, Kysely, Store } from '../store/index.js';

/** Page sizes of `list`. */
export const ALERT_LIST_DEFAULT_LIMIT = 50;
export const ALERT_LIST_MAX_LIMIT = 500;

/** An alert as stored, with the incident it went to. Times are ISO 8601. */
export interface StoredAlert {
  readonly fingerprint: string;
  readonly rule: string;
  readonly title: string;
  readonly severity: Severity;
  readonly group: Readonly<Record<string, string>>;
  /** Null when the rule's value was not a finite number (a baseline of 0). */
  readonly value: number | null;
  readonly start: string;
  readonly end: string;
  readonly events: number;
  readonly trigger: string | null;
  readonly incident_id: string;
  readonly created_at: string;
}

/**
 * Filters of `list`; every one given must hold. Times are the text the caller sent (ISO 8601, no
 * zone meaning UTC), checked here so that a bad one is refused naming its field.
 */
export interface ListAlertsQuery {
  /** Any of these rule ids, exactly. */
  readonly rule?: readonly string[];
  /** Filed under this incident. */
  readonly incident?: string;
  /** Any of these severities. */
  readonly severity?: readonly Severity[];
  /** The alert's window end (event time) at or after this. */
  readonly since?: string;
  /** The alert's window end before this. */
  readonly until?: string;
  /** 1 to ALERT_LIST_MAX_LIMIT; default ALERT_LIST_DEFAULT_LIMIT. */
  readonly limit?: number;
  /** `next_cursor` of the previous page. */
  readonly cursor?: string;
}

export interface AlertPage {
  /** Newest window end first; alerts with the same end by fingerprint, descending. */
  readonly items: StoredAlert[];
  /** Pass back as `cursor` (with the same filters) for the next page; null on the last page. */
  readonly next_cursor: string | null;
}

/** Where a page ended: the last alert's window end and fingerprint, the list's sort key. */
interface Position {
  readonly end: string;
  readonly fingerprint: string;
}

export class AlertQuery {
  private readonly db: Kysely<Database>;

  constructor(deps: { readonly store: Store }) {
    this.db = deps.store.db;
  }

  /**
   * Stored alerts matching the filters, newest window end first, a page at a time. The order is
   * total (window end, then fingerprint) and a cursor is a position in it, not an offset: paging
   * never repeats an alert nor skips one stored before it began, whatever is stored meanwhile.
   *
   * @example
   * const filters = { rule: ['admin-login-failures'], since: '2026-03-02T00:00:00Z' };
   * let page = await alerts.list(filters);
   * while (page.next_cursor) page = await alerts.list({ ...filters, cursor: page.next_cursor });
   */
  async list(query: ListAlertsQuery): Promise<AlertPage> {
    const limit = query.limit ?? ALERT_LIST_DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > ALERT_LIST_MAX_LIMIT) {
      throw invalid('query.limit', `must be an integer from 1 to ${ALERT_LIST_MAX_LIMIT}`);
    }
    const since = query.since === undefined ? undefined : timeBound('query.since', query.since);
    const until = query.until === undefined ? undefined : timeBound('query.until', query.until);
    if (since !== undefined && until !== undefined && until <= since) {
      throw invalid('query.until', `must be after query.since (${since})`);
    }
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);

    let q = this.db.selectFrom('alerts').selectAll();
    if (query.rule?.length) q = q.where('rule', 'in', [...query.rule]);
    if (query.incident !== undefined) q = q.where('incident_id', '=', query.incident);
    if (query.severity?.length) q = q.where('severity', 'in', [...query.severity]);
    // Window ends are stored as Date#toISOString text, which sorts as the instants do.
    if (since !== undefined) q = q.where('window_end', '>=', since);
    if (until !== undefined) q = q.where('window_end', '<', until);
    if (after !== undefined) {
      q = q.where((eb) =>
        eb.or([
          eb('window_end', '<', after.end),
          eb.and([eb('window_end', '=', after.end), eb('fingerprint', '<', after.fingerprint)]),
        ]),
      );
    }
    const rows = await q
      .orderBy('window_end', 'desc')
      .orderBy('fingerprint', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(toStoredAlert),
      next_cursor:
        rows.length > limit && last
          ? encodeCursor({ end: last.window_end, fingerprint: last.fingerprint })
          : null,
    };
  }

  /**
   * The alerts filed under an incident, oldest window end first; FB_ERR_INCIDENT_NOT_FOUND when
   * there is no such incident (an incident opened by hand has none: an empty list).
   */
  async ofIncident(incidentId: string): Promise<StoredAlert[]> {
    const incident = await this.db
      .selectFrom('incidents')
      .select('id')
      .where('id', '=', incidentId)
      .executeTakeFirst();
    if (!incident) throw new FirebreakError('FB_ERR_INCIDENT_NOT_FOUND', { id: incidentId });
    return this.alertsOf(incidentId);
  }

  /** The alerts filed under an incident, oldest window end first; none for an unknown one. */
  async alertsOf(incidentId: string): Promise<StoredAlert[]> {
    const rows = await this.db
      .selectFrom('alerts')
      .selectAll()
      .where('incident_id', '=', incidentId)
      .orderBy('window_end', 'asc')
      .orderBy('fingerprint', 'asc')
      .execute();
    return rows.map(toStoredAlert);
  }
}

/**
 * A time filter as the stored text it is compared with. Only years 0000-9999 compare as text
 * (toISOString writes others as `+010000-...`), so a bound outside them, which only a zone
 * offset at either end of that range can give, is refused.
 */
function timeBound(path: string, text: string): string {
  const ms = parseIsoTime(text);
  const iso = ms === undefined ? undefined : new Date(ms).toISOString();
  if (iso === undefined || !/^\d{4}-/.test(iso)) {
    throw invalid(path, 'must be an ISO 8601 time such as 2026-03-02T10:00:00Z');
  }
  return iso;
}

function encodeCursor(position: Position): string {
  return Buffer.from(`${position.end}|${position.fingerprint}`).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  const text = Buffer.from(cursor, 'base64url').toString();
  const at = text.indexOf('|');
  const end = text.slice(0, at);
  const fingerprint = text.slice(at + 1);
  // Exactly what encodeCursor writes: a window end as toISOString gives it, and a fingerprint.
  const ms = Date.parse(end);
  if (
    at < 0 ||
    !Number.isFinite(ms) ||
    new Date(ms).toISOString() !== end ||
    !/^[0-9a-f]{1,64}$/.test(fingerprint)
  ) {
    throw invalid('query.cursor', 'must be a next_cursor value returned by a previous page');
  }
  return { end, fingerprint };
}

function invalid(path: string, message: string): FirebreakError {
  return new FirebreakError(
    'FB_ERR_VALIDATION',
    { summary: `${path} ${message}` },
    { details: [{ path, message }] },
  );
}

/** A row of `alerts` as the API and CLI show it. */
function toStoredAlert(row: AlertTable): StoredAlert {
  return {
    fingerprint: row.fingerprint,
    rule: row.rule,
    title: row.title,
    severity: row.severity as Severity,
    group: JSON.parse(row.group_json) as Record<string, string>,
    value: row.value === null ? null : Number(row.value),
    start: row.window_start,
    end: row.window_end,
    events: Number(row.events),
    trigger: row.trigger,
    incident_id: row.incident_id,
    created_at: row.created_at,
  };
}
