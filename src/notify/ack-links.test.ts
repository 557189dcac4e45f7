import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refusal } from '../../test/helpers/refusal.js';
import { DIALECTS, freshStore, type TestStore } from '../../test/helpers/stores.js';
import { AuditLog } from '../audit/index.js';
import { IncidentService } from '../incidents/index.js';
import { FirebreakError, VirtualClock } from '../kernel/index.js';
import { loadPolicyFile } from '../policy/index.js';
import { ACK_LINK_TTL_MS, AckLinks, hashToken } from './ack-links.js';

const KCT = loadPolicyFile(fileURLToPath(new URL('../../policies/kct-menswear.yaml', import.meta.url)));
const T0 = '2026-03-04T10:00:00.000Z';
const PUBLIC_URL = 'https://firebreak.example.com/';

const tokenOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`AckLinks on ${d.name}`, () => {
    let ts: TestStore;
    let clock: VirtualClock;
    let incidents: IncidentService;
    let links: AckLinks;

    beforeEach(async () => {
      ts = await freshStore(d.name);
      clock = new VirtualClock(T0);
      incidents = new IncidentService({
        store: ts.store,
        audit: new AuditLog(ts.store.dialect),
        policy: KCT,
        clock,
      });
      links = new AckLinks({ store: ts.store, clock, publicUrl: PUBLIC_URL });
    });
    afterEach(() => ts.cleanup());

    async function linkFor(incidentId: string, recipient = 'dana'): Promise<string> {
      return ts.store.db.transaction().execute((trx) => links.createIn(trx, { incidentId, recipient }));
    }

    it('issues a URL under the public URL and stores only the hash of its token', async () => {
      const incident = await incidents.create('alice', { title: 'Card testing', severity: 'P1' });
      const url = await linkFor(incident.id);
      expect(url).toMatch(/^https:\/\/firebreak\.example\.com\/v1\/ack\/[A-Za-z0-9_-]{43}$/);
      const token = tokenOf(url);
      const rows = await ts.store.db.selectFrom('ack_links').selectAll().execute();
      expect(rows).toEqual([
        {
          token_hash: hashToken(token),
          incident_id: incident.id,
          recipient: 'dana',
          expires_at: new Date(Date.parse(T0) + ACK_LINK_TTL_MS).toISOString(),
          used_at: null,
          created_at: T0,
        },
      ]);
      expect(JSON.stringify(rows)).not.toContain(token);
      expect(await links.inspect(token)).toEqual({
        incidentId: incident.id,
        recipient: 'dana',
        expiresAt: '2026-03-05T10:00:00.000Z',
        usedAt: null,
      });
      // Two links are two tokens.
      expect(tokenOf(await linkFor(incident.id))).not.toBe(token);
    });

    it('acknowledges the incident as link:<recipient>, once; the second use is a conflict', async () => {
      const incident = await incidents.create('alice', { title: 'Card testing', severity: 'P1' });
      const token = tokenOf(await linkFor(incident.id));
      clock.advance(60_000);
      const used = await links.use(token, incidents);
      expect(used).toEqual({
        incidentId: incident.id,
        recipient: 'dana',
        acknowledged: true,
        acknowledgedBy: 'link:dana',
        at: '2026-03-04T10:01:00.000Z',
        status: 'acknowledged',
      });
      expect((await incidents.get(incident.id)).status).toBe('acknowledged');
      const timeline = await incidents.timeline(incident.id);
      expect(timeline.at(-1)).toMatchObject({
        actor: 'link:dana',
        kind: 'transitioned',
        data: { from: 'detected', to: 'acknowledged' },
      });
      expect((await links.inspect(token))?.usedAt).toBe('2026-03-04T10:01:00.000Z');

      clock.advance(1_000);
      const again = await refusal(links.use(token, incidents));
      expect(again.code).toBe('FB_ERR_ACK_LINK_USED');
      expect(again.kind).toBe('conflict');
      expect(again.message).toContain('2026-03-04T10:01:00.000Z');
      expect(await incidents.timeline(incident.id)).toHaveLength(timeline.length);
    });

    it('expires at expires_at exactly: accepted 1 ms before, refused (gone) at the instant', async () => {
      const a = await incidents.create('alice', { title: 'A', severity: 'P1' });
      const b = await incidents.create('alice', { title: 'B', severity: 'P1' });
      const early = tokenOf(await linkFor(a.id));
      const late = tokenOf(await linkFor(b.id));

      clock.advance(ACK_LINK_TTL_MS - 1);
      expect((await links.use(early, incidents)).acknowledged).toBe(true);

      clock.advance(1);
      const expired = await refusal(links.use(late, incidents));
      expect(expired.code).toBe('FB_ERR_ACK_LINK_EXPIRED');
      expect(expired.kind).toBe('gone');
      expect(expired.message).toContain(b.id);
      expect((await incidents.get(b.id)).status).toBe('detected');
      expect((await links.inspect(late))?.usedAt).toBeNull();
    });

    it('refuses forged tokens as unknown: random, the wrong shape, one character changed', async () => {
      const incident = await incidents.create('alice', { title: 'Card testing', severity: 'P1' });
      const token = tokenOf(await linkFor(incident.id));
      const last = token.at(-1) === 'A' ? 'B' : 'A';
      const first = token[0] === 'x' ? 'y' : 'x';
      const forged = [
        randomBytes(32).toString('base64url'),
        `${token.slice(0, -1)}${last}`,
        `${first}${token.slice(1)}`,
        token.slice(0, -1),
        `${token}A`,
        `${token.slice(0, -1)}=`,
        '',
        '../../etc/passwd',
        hashToken(token),
      ];
      for (const f of forged) {
        expect(await links.inspect(f), f).toBeUndefined();
        const refused = await refusal(links.use(f, incidents));
        expect(refused.code, f).toBe('FB_ERR_ACK_LINK_UNKNOWN');
        expect(refused.kind).toBe('not_found');
      }
      expect((await incidents.get(incident.id)).status).toBe('detected');
      expect((await links.inspect(token))?.usedAt).toBeNull();
    });

    it("is scoped by its token: A's link acknowledges A and leaves B untouched", async () => {
      const a = await incidents.create('alice', { title: 'A', severity: 'P1' });
      const b = await incidents.create('alice', { title: 'B', severity: 'P1' });
      const linkA = tokenOf(await linkFor(a.id));
      const before = await incidents.timeline(b.id);
      expect((await links.use(linkA, incidents)).incidentId).toBe(a.id);
      expect((await incidents.get(a.id)).status).toBe('acknowledged');
      expect(await incidents.get(b.id)).toMatchObject({ status: 'detected', version: 1 });
      expect(await incidents.timeline(b.id)).toEqual(before);
    });

    it('after an acknowledgement elsewhere answers who acknowledged, and is then used', async () => {
      const incident = await incidents.create('alice', { title: 'Card testing', severity: 'P1' });
      const token = tokenOf(await linkFor(incident.id));
      clock.advance(30_000);
      await incidents.transition('api:bob', incident.id, 'acknowledged');
      clock.advance(30_000);
      const used = await links.use(token, incidents);
      expect(used).toEqual({
        incidentId: incident.id,
        recipient: 'dana',
        acknowledged: false,
        acknowledgedBy: 'api:bob',
        at: '2026-03-04T10:00:30.000Z',
        status: 'acknowledged',
      });
      const timeline = await incidents.timeline(incident.id);
      expect(timeline.filter((r) => r.kind === 'transitioned')).toHaveLength(1);
      expect((await links.inspect(token))?.usedAt).toBe('2026-03-04T10:01:00.000Z');
      expect((await refusal(links.use(token, incidents))).code).toBe('FB_ERR_ACK_LINK_USED');
    });

    it('rolls the link back with the acknowledgement when that fails', async () => {
      const incident = await incidents.create('alice', { title: 'Card testing', severity: 'P1' });
      const token = tokenOf(await linkFor(incident.id));
      const failing = {
        transitionIn: async () => {
          throw new FirebreakError('FB_ERR_CONCURRENT_UPDATE', { id: incident.id });
        },
      };
      expect((await refusal(links.use(token, failing))).code).toBe('FB_ERR_CONCURRENT_UPDATE');
      expect((await links.inspect(token))?.usedAt).toBeNull();
      expect((await links.use(token, incidents)).acknowledged).toBe(true);
    });

    // Two connections racing exist only on PostgreSQL (SQLite has one writer): declared there only.
    if (d.name === 'postgres')
      it('of two clicks at once, exactly one acknowledges', async () => {
        const incident = await incidents.create('alice', { title: 'Card testing', severity: 'P1' });
        for (let round = 0; round < 5; round++) {
          const token = tokenOf(await linkFor(incident.id, `p${round}`));
          const results = await Promise.allSettled([
            links.use(token, incidents),
            links.use(token, incidents),
          ]);
          const ok = results.filter((r) => r.status === 'fulfilled');
          const refused = results.filter((r) => r.status === 'rejected');
          expect(ok).toHaveLength(1);
          expect(refused).toHaveLength(1);
          expect(((refused[0] as PromiseRejectedResult).reason as FirebreakError).code).toBe(
            'FB_ERR_ACK_LINK_USED',
          );
        }
        const moves = (await incidents.timeline(incident.id)).filter((r) => r.kind === 'transitioned');
        expect(moves).toHaveLength(1);
        expect(moves[0]?.actor).toBe('link:p0');
      });
  });
}

describe('AckLinks settings', () => {
  it('refuses a non-positive lifetime', async () => {
    const ts = await freshStore('sqlite');
    try {
      expect(
        () => new AckLinks({ store: ts.store, clock: new VirtualClock(T0), publicUrl: 'x', ttlMs: 0 }),
      ).toThrow(RangeError);
    } finally {
      await ts.cleanup();
    }
  });
});
