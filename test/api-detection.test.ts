/**
 * From events to incidents through a real server: events POSTed to /v1/events are detected by
 * the running detection service and show up as incidents in GET /v1/incidents, with their
 * alerts on the timeline; a restart resumes from the checkpoint with the engine's windows intact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Incident, IncidentPage, TimelineRecord } from '../src/incidents/index.js';
import { VirtualClock } from '../src/kernel/index.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';
import { until } from './helpers/until.js';

const NOW = '2026-03-02T12:00:00.000Z';
/** A Monday 10:00 UTC: inside the policy's business hours. */
const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const MIN = 60_000;

const failedAdminLogin = (name: string, atMs: number) => ({
  '@timestamp': new Date(T0 + atMs).toISOString(),
  event: { action: 'login', category: ['authentication'], outcome: 'failure' },
  user: { name, roles: ['admin'] },
  source: { ip: '203.0.113.7' },
});

for (const d of DIALECTS) {
  describe.skipIf(d.skip)(`detection in the server on ${d.name}`, () => {
    let s: TestServer | undefined;
    afterEach(async () => {
      await s?.cleanup();
      s = undefined;
    });

    it('opens an incident for events POSTed to /v1/events, and resumes after a restart', async () => {
      s = await startTestServer(d.name, { clock: new VirtualClock(NOW) });
      const server = s;
      expect(server.announced).toContain('detection: 17 rules (the built-in pack)');
      const key = server.adminKey;
      const post = async (events: unknown[]) => {
        const answer = await call<{ accepted: number }>(server.url, 'POST', '/v1/events', {
          key,
          json: events,
        });
        expect(answer).toMatchObject({ status: 200, body: { accepted: events.length } });
      };
      const incidents = () => call<IncidentPage>(server.url, 'GET', '/v1/incidents', { key });
      const timeline = async (id: string) =>
        (
          await call<Incident & { timeline: TimelineRecord[] }>(server.url, 'GET', `/v1/incidents/${id}`, {
            key,
          })
        ).body.timeline;

      await post([0, 1, 2, 3].map((i) => failedAdminLogin('dana', i * MIN)));
      const page = await until('the incident', incidents, (r) => r.body.items.length > 0);
      expect(page.body.items).toHaveLength(1);
      expect(page.body.items[0]).toMatchObject({
        id: 'INC-2026-001',
        severity: 'P0',
        status: 'detected',
        title: 'Repeated failed logins to an admin account (user.name dana)',
        detected_at: new Date(T0 + 3 * MIN).toISOString(),
        created_by: 'detection',
      });
      expect(
        (await timeline('INC-2026-001')).map((t) => [
          t.kind,
          (t.data as { rule?: string; playbook?: string }).rule ?? (t.data as { playbook?: string }).playbook,
        ]),
      ).toEqual([
        ['created', undefined],
        ['alert_joined', 'admin-login-failures'],
        // The alert proposes the built-in playbooks its rule and the P0 severity trigger.
        ['playbook', 'admin-compromise'],
        ['playbook', 'evidence-preservation'],
      ]);
      const health = await call<{ security_status: { open_incidents: Record<string, number> } }>(
        server.url,
        'GET',
        '/health',
      );
      expect(health.body.security_status.open_incidents).toMatchObject({ P0: 1 });

      // After a restart the engine resumes from its checkpoint, windows and all: two more
      // failures make six within 15 minutes (account-login-failures, P2), which joins the
      // P0 incident through user.name and leaves it P0.
      await server.restart();
      await post([4, 5].map((i) => failedAdminLogin('dana', i * MIN)));
      const joined = await until(
        'the entity alert to join',
        async () => (await timeline('INC-2026-001')).filter((t) => t.kind !== 'playbook'),
        (t) => t.length === 3,
      );
      expect(joined[2]).toMatchObject({
        kind: 'alert_joined',
        actor: 'detection',
        data: { rule: 'account-login-failures', severity: 'P2', via: 'entity' },
      });
      const after = (await incidents()).body.items;
      expect(after.map((i) => [i.id, i.severity])).toEqual([['INC-2026-001', 'P0']]);
    });
  });
}
