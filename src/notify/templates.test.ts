import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { InternalAlert, Notification } from './notification.js';
import { loadTemplates, PAGERDUTY_SUMMARY_MAX, TEMPLATE_FILES } from './templates.js';

const ALERT: InternalAlert = {
  kind: 'page',
  incidentId: 'INC-2026-007',
  title: 'Admin logins from a new country',
  severity: 'P1',
  status: 'detected',
  summary: '14 failed then 1 successful admin login from 203.0.113.9',
  impact: 'Admin panel; customer data at risk',
  currentActions: 'Security lead reviewing the session',
  nextUpdate: '2026-01-05T11:00:00.000Z',
  commander: 'Dana Reyes',
  team: ['Eli Cohen', 'Fay Okafor'],
  ackBy: '2026-01-05T10:15:00.000Z',
  ackUrl: 'https://firebreak.example/v1/ack/tok123?n=1&x=2',
  incidentUrl: 'https://firebreak.example/incidents/INC-2026-007',
};

const dirs: string[] = [];
function userDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fb-templates-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('packaged templates', () => {
  const templates = loadTemplates();

  it('email text says everything the plan internal alert says', () => {
    const { subject, text, html } = templates.email(ALERT);
    expect(subject).toBe(
      '[P1] Security incident alert: INC-2026-007 Admin logins from a new country (detected)',
    );
    expect(html).toBeUndefined();
    for (const line of [
      'SECURITY INCIDENT ALERT',
      'Incident ID: INC-2026-007',
      'Severity: P1',
      'Status: detected',
      'SUMMARY:\n14 failed then 1 successful admin login from 203.0.113.9',
      'IMPACT:\nAdmin panel; customer data at risk',
      'CURRENT ACTIONS:\nSecurity lead reviewing the session',
      'NEXT UPDATE: 2026-01-05T11:00:00.000Z',
      'Incident Commander: Dana Reyes',
      'Response Team: Eli Cohen, Fay Okafor',
      'Acknowledge (one click): https://firebreak.example/v1/ack/tok123?n=1&x=2',
    ]) {
      expect(text).toContain(line);
    }
  });

  it('leaves the ack line out without an ack URL', () => {
    const text = templates.text({ ...ALERT, ackUrl: undefined });
    expect(text).not.toContain('Acknowledge');
  });

  it('renders Slack Block Kit with an Acknowledge button, escaping mrkdwn controls', () => {
    const msg = templates.slack({ ...ALERT, summary: 'ping <!channel> & "quote"' });
    expect(msg.blocks[0]).toMatchObject({ type: 'header' });
    const actions = msg.blocks.find((b) => b.type === 'actions') as {
      elements: { url: string; text: { text: string } }[];
    };
    expect(actions.elements[0]).toMatchObject({ url: ALERT.ackUrl, text: { text: 'Acknowledge' } });
    expect(JSON.stringify(msg)).toContain('ping &lt;!channel&gt; &amp; \\"quote\\"');
    const none = templates.slack({ ...ALERT, ackUrl: undefined });
    expect(none.blocks.some((b) => b.type === 'actions')).toBe(false);
  });

  it('clips Slack texts and the PagerDuty summary to the vendor limits', () => {
    const long = { ...ALERT, summary: 'x'.repeat(5000) };
    const summary = templates.slack(long).blocks.find((b) => JSON.stringify(b).includes('*Summary*')) as {
      text: { text: string };
    };
    expect(summary.text.text.length).toBe(3000);
    expect(templates.pagerdutySummary(long).length).toBe(PAGERDUTY_SUMMARY_MAX);
    expect(templates.pagerdutySummary(ALERT)).toBe(
      '[P1] INC-2026-007: Admin logins from a new country (detected) - 14 failed then 1 successful admin login from 203.0.113.9',
    );
  });

  it('gives the webhook body its documented shape', () => {
    const n: Notification = {
      id: 'n-1',
      incidentId: ALERT.incidentId,
      kind: 'page',
      channel: 'webhook',
      recipient: 'ops',
      target: 'https://hooks.example/x',
      idempotencyKey: 'key-1',
      message: { ...ALERT, incidentUrl: undefined },
    };
    const body = templates.webhookBody(n);
    expect(Object.keys(body).sort()).toEqual(
      [
        'version',
        'event',
        'kind',
        'idempotency_key',
        'notification_id',
        'recipient',
        'incident_id',
        'title',
        'severity',
        'status',
        'summary',
        'impact',
        'current_actions',
        'next_update',
        'commander',
        'team',
        'ack_by',
        'ack_url',
        'incident_url',
        'text',
      ].sort(),
    );
    expect(body).toMatchObject({
      version: 1,
      event: 'incident.page',
      idempotency_key: 'key-1',
      incident_url: null,
    });
  });
});

describe('user templates', () => {
  it('a file in the user folder wins over the packaged one; the others stay packaged', () => {
    const dir = userDir({
      [TEMPLATE_FILES.emailSubject]: 'SEC {{incidentId}} {{severity}}',
      [TEMPLATE_FILES.html]: '<p>{{title}}</p><p>{{summary}}</p>',
    });
    const templates = loadTemplates({ dir });
    const { subject, text, html } = templates.email({ ...ALERT, summary: 'a <b> & c' });
    expect(subject).toBe('SEC INC-2026-007 P1');
    expect(text).toContain('Incident ID: INC-2026-007');
    expect(html).toBe('<p>Admin logins from a new country</p><p>a &lt;b&gt; &amp; c</p>');
    expect(templates.files.emailSubject).toBe(join(dir, TEMPLATE_FILES.emailSubject));
  });

  it('an unknown variable is refused naming the file and line', () => {
    const dir = userDir({ [TEMPLATE_FILES.text]: 'Incident {{incidentId}}\nOwner: {{owner}}\n' });
    expect(() => loadTemplates({ dir })).toThrow(
      `${join(dir, TEMPLATE_FILES.text)}:2: unknown variable "owner"`,
    );
  });

  it('a Mustache syntax error is refused naming the file', () => {
    const dir = userDir({ [TEMPLATE_FILES.pagerdutySummary]: '{{#ackUrl}}open' });
    expect(() => loadTemplates({ dir })).toThrow(
      new RegExp(
        `${join(dir, TEMPLATE_FILES.pagerdutySummary)}.*Mustache syntax error: Unclosed section "ackUrl"`,
      ),
    );
  });

  it('a Slack template that is not valid JSON once rendered is refused naming the file', () => {
    const dir = userDir({
      [TEMPLATE_FILES.slack]: '{ "blocks": [ {{#ackUrl}}{"url": "{{ackUrl}}"}{{/ackUrl}} {} ] }',
    });
    expect(() => loadTemplates({ dir })).toThrow(
      `${join(dir, TEMPLATE_FILES.slack)}: does not render to valid JSON`,
    );
    const noBlocks = userDir({ [TEMPLATE_FILES.slack]: '{ "text": "{{title}}" }' });
    expect(() => loadTemplates({ dir: noBlocks })).toThrow(
      'must render to a JSON object with a "blocks" array',
    );
  });

  it('partials are refused', () => {
    const dir = userDir({ [TEMPLATE_FILES.text]: '{{> header}}' });
    expect(() => loadTemplates({ dir })).toThrow('partials');
  });
});
