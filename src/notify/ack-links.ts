/**
 * One-click acknowledgement links (README "One-click acknowledgement"): a page carries a link
 * for its recipient that acknowledges that one incident, once, until it expires. The token in
 * the link is the credential, so only its SHA-256 is stored: the database alone cannot make a
 * working link. The token is the scope too: a link names no incident, it is looked up by it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Incident, IncidentStatus } from '../incidents/index.js';
import { type Clock, FirebreakError } from '../kernel/index.js';
import type { AckLinkTable, Database, Store, Transaction } from '../store/index.js';

/** A link's lifetime unless told otherwise: a day, long enough for a page sent at night. */
export const ACK_LINK_TTL_MS = 24 * 60 * 60 * 1000;

/** The path under the public URL; the token follows it. */
export const ACK_LINK_PATH = '/v1/ack/';

/** 32 random bytes in base64url, no padding. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** The actor an acknowledgement through a link is recorded under: `link:<recipient>`. */
export function ackLinkActor(recipient: string): string {
  return `link:${recipient}`;
}

export interface AckLinksDeps {
  readonly store: Store;
  readonly clock: Clock;
  /** Where people reach this server, e.g. `https://firebreak.example.com` (paging.public_url). */
  readonly publicUrl: string;
  /** How long a link works; ACK_LINK_TTL_MS (24 h) by default. */
  readonly ttlMs?: number;
}

/** What a link is for; the token itself is never kept. */
export interface AckLink {
  readonly incidentId: string;
  /** A roster person id or stakeholder id: who the link was sent to. */
  readonly recipient: string;
  /** ISO 8601: from this instant on the link is refused. */
  readonly expiresAt: string;
  /** ISO 8601, or null while unused. */
  readonly usedAt: string | null;
}

/** The part of the incident service a link needs (IncidentService is one). */
export interface IncidentAcknowledger {
  transitionIn(trx: Transaction<Database>, actor: string, id: string, to: IncidentStatus): Promise<Incident>;
}

export interface AckLinkUse {
  readonly incidentId: string;
  readonly recipient: string;
  /** false: the incident had been acknowledged (or moved further) before the link was used. */
  readonly acknowledged: boolean;
  /** Who acknowledged: `link:<recipient>` when this link did, else whoever did first. */
  readonly acknowledgedBy: string;
  /** ISO 8601: when the incident was acknowledged. */
  readonly at: string;
  /** The incident's status after the use. */
  readonly status: IncidentStatus;
}

export class AckLinks {
  private readonly publicUrl: string;

  private readonly ttlMs: number;

  constructor(private readonly deps: AckLinksDeps) {
    this.publicUrl = deps.publicUrl.replace(/\/+$/, '');
    this.ttlMs = deps.ttlMs ?? ACK_LINK_TTL_MS;
    if (!(this.ttlMs > 0)) throw new RangeError(`AckLinks: ttlMs must be positive, got ${this.ttlMs}`);
  }

  /**
   * Issues a link for one recipient of a page, inside the caller's transaction (the one that
   * writes the page), and returns its full URL.
   *
   * @example
   * const url = await links.createIn(trx, { incidentId: 'INC-2026-001', recipient: 'dana' });
   * // https://firebreak.example.com/v1/ack/3q2-…(43 characters)
   */
  async createIn(
    trx: Transaction<Database>,
    input: { readonly incidentId: string; readonly recipient: string },
  ): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = this.deps.clock.now();
    await trx
      .insertInto('ack_links')
      .values({
        token_hash: hashToken(token),
        incident_id: input.incidentId,
        recipient: input.recipient,
        expires_at: new Date(now.getTime() + this.ttlMs).toISOString(),
        used_at: null,
        created_at: now.toISOString(),
      })
      .execute();
    return `${this.publicUrl}${ACK_LINK_PATH}${token}`;
  }

  /** What a token is a link for, or undefined when Firebreak never issued it. Changes nothing. */
  async inspect(token: string): Promise<AckLink | undefined> {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    const row = await this.deps.store.db
      .selectFrom('ack_links')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .executeTakeFirst();
    return row ? toAckLink(row) : undefined;
  }

  /**
   * Why a link can no longer be used (already used: conflict; expired: gone), or undefined
   * while it can. It expires at `expiresAt` exactly.
   */
  refusal(link: AckLink): FirebreakError | undefined {
    if (link.usedAt !== null) {
      return new FirebreakError('FB_ERR_ACK_LINK_USED', { incident: link.incidentId, usedAt: link.usedAt });
    }
    if (this.deps.clock.now().getTime() >= Date.parse(link.expiresAt)) {
      return new FirebreakError('FB_ERR_ACK_LINK_EXPIRED', {
        incident: link.incidentId,
        expiredAt: link.expiresAt,
      });
    }
    return undefined;
  }

  /**
   * Uses a link: in one transaction, marks it used and acknowledges its incident as
   * `link:<recipient>`. An incident someone else acknowledged meanwhile is not an error for
   * the person clicking (they wanted it acknowledged, and it is): the link is marked used and
   * the answer says who did. Throws FB_ERR_ACK_LINK_UNKNOWN, _EXPIRED or _USED.
   */
  async use(token: string, incidents: IncidentAcknowledger): Promise<AckLinkUse> {
    if (!TOKEN_SHAPE.test(token)) throw new FirebreakError('FB_ERR_ACK_LINK_UNKNOWN');
    const hash = hashToken(token);
    return this.deps.store.db.transaction().execute(async (trx) => {
      // Locked until commit: of two clicks at once, the second waits and then finds it used.
      const query = trx.selectFrom('ack_links').selectAll().where('token_hash', '=', hash);
      const row = await (this.deps.store.dialect === 'postgres'
        ? query.forUpdate()
        : query
      ).executeTakeFirst();
      if (!row) throw new FirebreakError('FB_ERR_ACK_LINK_UNKNOWN');
      const link = toAckLink(row);
      const refused = this.refusal(link);
      if (refused) throw refused;

      const now = this.deps.clock.now().toISOString();
      const marked = await trx
        .updateTable('ack_links')
        .set({ used_at: now })
        .where('token_hash', '=', hash)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) !== 1) {
        throw new FirebreakError('FB_ERR_ACK_LINK_USED', { incident: link.incidentId, usedAt: now });
      }

      const incidentQuery = trx
        .selectFrom('incidents')
        .select(['status', 'acknowledged_at'])
        .where('id', '=', link.incidentId);
      const incident = await (this.deps.store.dialect === 'postgres'
        ? incidentQuery.forUpdate()
        : incidentQuery
      ).executeTakeFirstOrThrow();
      const base = { incidentId: link.incidentId, recipient: link.recipient };
      if (incident.status === 'detected') {
        const actor = ackLinkActor(link.recipient);
        const after = await incidents.transitionIn(trx, actor, link.incidentId, 'acknowledged');
        return {
          ...base,
          acknowledged: true,
          acknowledgedBy: actor,
          at: after.reached.acknowledged ?? now,
          status: after.status,
        };
      }
      const first = await this.acknowledgementOf(trx, link.incidentId);
      return {
        ...base,
        acknowledged: false,
        acknowledgedBy: first?.actor ?? 'unknown',
        at: first?.at ?? incident.acknowledged_at ?? now,
        status: incident.status as IncidentStatus,
      };
    });
  }

  /** The timeline's record of the move to acknowledged: who and when. */
  private async acknowledgementOf(
    trx: Transaction<Database>,
    incidentId: string,
  ): Promise<{ actor: string; at: string } | undefined> {
    const moves = await trx
      .selectFrom('incident_timeline')
      .select(['actor', 'at', 'data'])
      .where('incident_id', '=', incidentId)
      .where('kind', '=', 'transitioned')
      .orderBy('id', 'asc')
      .execute();
    const ack = moves.find((m) => (JSON.parse(m.data) as { to?: string }).to === 'acknowledged');
    return ack ? { actor: ack.actor, at: ack.at } : undefined;
  }
}

/** Hex SHA-256 of the token as sent: the primary key a token is looked up by. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function toAckLink(row: AckLinkTable): AckLink {
  return {
    incidentId: row.incident_id,
    recipient: row.recipient,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
  };
}
