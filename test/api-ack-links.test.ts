/**
 * One-click acknowledgement links over HTTP: GET shows and changes nothing (mail scanners and
 * chat unfurls fetch links), POST acknowledges once; refusals are plain pages (or the error
 * body with Accept: application/json). The server is built in-process with buildServer, since
 * startFirebreak gets the links with paging's wiring.
 */
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyService, buildServer, type ErrorBody } from '../src/api/index.js';
import { AuditLog } from '../src/audit/index.js';
import { AlertGrouper, type Incident, IncidentService, OutsideAlertService } from '../src/incidents/index.js';
import { EventLog } from '../src/ingest/index.js';
import { VirtualClock } from '../src/kernel/index.js';
import { AckLinks } from '../src/notify/index.js';
import { loadPolicyFile } from '../src/policy/index.js';
import { call } from './helpers/server.js';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.js';

const KCT = loadPolicyFile(fileURLToPath(new URL('../policies/kct-menswear.yaml', import.meta.url)));
const T0 = '2026-03-04T10:00:00.000Z';
const JSON_ACCEPT = { accept: 'application/json' };
const BROWSER_ACCEPT = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
};
const FORM = { raw: '', contentType: 'application/x-www-form-urlencoded', headers: BROWSER_ACCEPT };

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`one-click acknowledgement links over HTTP on ${d.name}`, () => {
    let ts: TestStore;
    let clock: VirtualClock;
    let incidents: IncidentService;
    let links: AckLinks;
    let app: FastifyInstance;
    let url: string;
    let adminKey: string;

    beforeAll(async () => {
      ts = await freshStore(d.name);
      const store = ts.store;
      clock = new VirtualClock(T0);
      const audit = new AuditLog(store.dialect);
      incidents = new IncidentService({ store, audit, policy: KCT, clock });
      const keys = new ApiKeyService({ store, audit, clock });
      const grouper = new AlertGrouper({ store, incidents, clock });
      links = new AckLinks({ store, clock, publicUrl: 'https://firebreak.example.com' });
      app = await buildServer({
        store,
        audit,
        incidents,
        keys,
        events: new EventLog({ store, clock }),
        outside: new OutsideAlertService({ store, grouper, incidents, clock }),
        policy: KCT,
        clock,
        version: 'test',
        bodyLimitBytes: 65_536,
        logger: false,
        ackLinks: links,
      });
      url = await app.listen({ host: '127.0.0.1', port: 0 });
      adminKey = (await keys.createFirstAdminKey())!;
    });
    afterAll(async () => {
      await app?.close();
      await ts?.cleanup();
    });

    /** A new incident and the path of a fresh link to it for dana. */
    async function incidentWithLink(
      title = 'Card testing on checkout',
    ): Promise<{ incident: Incident; path: string }> {
      const incident = await incidents.create('alice', { title, severity: 'P1' });
      const link = await ts.store.db
        .transaction()
        .execute((trx) => links.createIn(trx, { incidentId: incident.id, recipient: 'dana' }));
      return { incident, path: new URL(link).pathname };
    }

    it('GET shows the incident and a button, and changes nothing', async () => {
      const { incident, path } = await incidentWithLink();
      for (let i = 0; i < 3; i++) {
        const page = await call(url, 'GET', path, { headers: BROWSER_ACCEPT });
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(page.headers.get('cache-control')).toBe('no-store');
        expect(page.headers.get('referrer-policy')).toBe('no-referrer');
        expect(page.text).toContain(incident.id);
        expect(page.text).toContain('Card testing on checkout');
        expect(page.text).toContain('P1');
        expect(page.text).toContain('detected');
        expect(page.text).toContain('dana');
        expect(page.text).toContain('2026-03-05T10:00:00.000Z');
        expect(page.text).toMatch(
          /<form method="post"><button type="submit">Acknowledge INC-\d{4}-\d{3}<\/button>/,
        );
        // The token is in the address bar already; the page does not repeat it.
        expect(page.text).not.toContain(path.split('/').at(-1));
      }
      const head = await call(url, 'HEAD', path);
      expect(head.status).toBe(200);
      expect(await incidents.get(incident.id)).toMatchObject({ status: 'detected', version: 1 });
      expect((await links.inspect(path.split('/').at(-1)!))?.usedAt).toBeNull();
    });

    it('GET answers JSON when asked', async () => {
      const { incident, path } = await incidentWithLink();
      const shown = await call(url, 'GET', path, { headers: JSON_ACCEPT });
      expect(shown.status).toBe(200);
      expect(shown.body).toEqual({
        incident: { id: incident.id, title: incident.title, severity: 'P1', status: 'detected' },
        recipient: 'dana',
        expires_at: '2026-03-05T10:00:00.000Z',
      });
    });

    it('POST of the form acknowledges, once; the second click is 409', async () => {
      const { incident, path } = await incidentWithLink();
      const done = await call(url, 'POST', path, FORM);
      expect(done.status).toBe(200);
      expect(done.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(done.text).toContain(`Acknowledged ${incident.id} at ${T0} by link:dana`);
      const after = await call<Incident & { timeline: { actor: string; kind: string }[] }>(
        url,
        'GET',
        `/v1/incidents/${incident.id}`,
        { key: adminKey },
      );
      expect(after.body.status).toBe('acknowledged');
      expect(after.body.timeline.at(-1)).toMatchObject({ actor: 'link:dana', kind: 'transitioned' });

      const again = await call(url, 'POST', path, FORM);
      expect(again.status).toBe(409);
      expect(again.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(again.text).toContain('This link was already used');
      expect(again.text).not.toContain('at Object.');
      const shown = await call(url, 'GET', path, { headers: BROWSER_ACCEPT });
      expect(shown.status).toBe(409);
    });

    it('POST with no body and Accept: application/json answers JSON', async () => {
      const { incident, path } = await incidentWithLink();
      const done = await call<{ incident: Incident; acknowledged_by: string; at: string }>(
        url,
        'POST',
        path,
        {
          headers: JSON_ACCEPT,
        },
      );
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({
        incident: { id: incident.id, status: 'acknowledged' },
        acknowledged_by: 'link:dana',
        at: T0,
        already_acknowledged: false,
      });
      const again = await call<ErrorBody>(url, 'POST', path, { headers: JSON_ACCEPT });
      expect(again.status).toBe(409);
      expect(again.body.error).toMatchObject({ code: 'FB_ERR_ACK_LINK_USED', kind: 'conflict' });
    });

    it('after an acknowledgement through the API answers "already acknowledged" and is used', async () => {
      const { incident, path } = await incidentWithLink();
      const acked = await call(url, 'POST', `/v1/incidents/${incident.id}/transitions`, {
        key: adminKey,
        json: { to: 'acknowledged' },
      });
      expect(acked.status).toBe(200);
      const page = await call(url, 'GET', path, { headers: BROWSER_ACCEPT });
      expect(page.status).toBe(200);
      expect(page.text).toContain(`${incident.id} is already acknowledged`);
      expect(page.text).not.toContain('<form');
      const done = await call(url, 'POST', path, FORM);
      expect(done.status).toBe(200);
      expect(done.text).toMatch(new RegExp(`${incident.id} was already acknowledged by key:[0-9a-f]{12} `));
      expect((await call(url, 'POST', path, FORM)).status).toBe(409);
    });

    it('an expired link is 410, a forged one 404: plain pages without the token', async () => {
      const { incident, path } = await incidentWithLink();
      const token = path.split('/').at(-1)!;
      const forged = `/v1/ack/${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
      for (const method of ['GET', 'POST']) {
        const unknown = await call(
          url,
          method,
          forged,
          method === 'POST' ? FORM : { headers: BROWSER_ACCEPT },
        );
        expect(unknown.status).toBe(404);
        expect(unknown.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(unknown.text).toContain('This link is not valid');
        expect(unknown.text).not.toContain(token.slice(0, -1));
        const wrongShape = await call<ErrorBody>(url, method, '/v1/ack/short', { headers: JSON_ACCEPT });
        expect(wrongShape.status).toBe(404);
        expect(wrongShape.body.error.code).toBe('FB_ERR_ACK_LINK_UNKNOWN');
      }

      clock.advance(24 * 60 * 60 * 1000);
      try {
        const expired = await call(url, 'POST', path, FORM);
        expect(expired.status).toBe(410);
        expect(expired.text).toContain('This link has expired');
        expect(expired.text).toContain(incident.id);
        expect(expired.text).not.toContain(token);
        const json = await call<ErrorBody>(url, 'GET', path, { headers: JSON_ACCEPT });
        expect(json.status).toBe(410);
        expect(json.body.error).toMatchObject({ code: 'FB_ERR_ACK_LINK_EXPIRED', kind: 'gone' });
        expect((await incidents.get(incident.id)).status).toBe('detected');
      } finally {
        clock.set(T0);
      }
    });

    it('escapes the incident title and the recipient', async () => {
      const title = '<script>alert("x")</script> & <img src=x onerror=alert(1)>';
      const incident = await incidents.create('alice', { title, severity: 'P0' });
      const link = await ts.store.db
        .transaction()
        .execute((trx) => links.createIn(trx, { incidentId: incident.id, recipient: '<b>"eve"</b>' }));
      const path = new URL(link).pathname;
      for (const response of [
        await call(url, 'GET', path, { headers: BROWSER_ACCEPT }),
        await call(url, 'POST', path, FORM),
      ]) {
        expect(response.status).toBe(200);
        expect(response.text).not.toContain('<script>');
        expect(response.text).not.toContain('<img');
        expect(response.text).not.toContain('<b>');
        expect(response.text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img');
      }
      const page = await call(url, 'GET', path, { headers: BROWSER_ACCEPT });
      expect(page.status).toBe(409);
      const shown = await call(url, 'GET', `/v1/incidents/${incident.id}`, { key: adminKey });
      expect((shown.body as Incident).title).toBe(title);
    });

    it('the page is escaped where it interpolates', async () => {
      const { path } = await incidentWithLink('Tom & Jerry\'s "shop" <b>');
      const page = await call(url, 'GET', path, { headers: BROWSER_ACCEPT });
      expect(page.text).toContain('Tom &amp; Jerry&#39;s &quot;shop&quot; &lt;b&gt;');
    });

    it('needs no API key, and other routes still refuse a form body', async () => {
      const refused = await call(url, 'POST', '/v1/incidents', {
        key: adminKey,
        raw: 'title=x',
        contentType: 'application/x-www-form-urlencoded',
      });
      expect(refused.status).toBe(415);
      expect((refused.body as ErrorBody).error.code).toBe('FB_ERR_UNSUPPORTED_MEDIA_TYPE');
    });

    it('is documented in the OpenAPI document without a security requirement', async () => {
      const doc = (
        await call<{ paths: Record<string, Record<string, { security?: unknown[] }>> }>(
          url,
          'GET',
          '/openapi.json',
        )
      ).body;
      expect(doc.paths['/v1/ack/{token}']?.get?.security).toEqual([]);
      expect(doc.paths['/v1/ack/{token}']?.post?.security).toEqual([]);
    });
  });
}
