/**
 * Message templates: how the plan's internal alert (InternalAlert) reads on each channel.
 *
 * The templates are Mustache files a user can edit (README "Message templates"). The packaged
 * ones live in `templates/`; a user folder overrides them file by file (a file present there
 * wins). Every template is parsed and checked when loaded, so a typo fails at start-up naming
 * the file, not at 3 a.m. when the first page goes out:
 *  - a Mustache syntax error, a partial (`{{> x}}`: not supported) or a variable that is not in
 *    TEMPLATE_VARIABLES is an error;
 *  - `slack.json.mustache` is rendered with a sample alert, with and without an ack link, and
 *    must give a JSON object with a `blocks` array.
 *
 * Escaping follows the file's inner extension, so `{{x}}` is always safe where it lands:
 * `.txt` as is, `.html` HTML-escaped, `.json` escaped as the inside of a JSON string (and, for
 * Slack, `&`, `<`, `>` escaped as Slack asks, so an attacker-controlled summary cannot write
 * `<!channel>`).
 *
 * The generic webhook body is not a template: it is a stable, documented JSON shape
 * (WebhookBody) that receivers parse; its `text` is the rendered `alert.txt.mustache`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Mustache from 'mustache';
import { FirebreakError } from '../kernel/index.js';
import {
  type InternalAlert,
  internalAlertFields,
  type Notification,
  type NotificationKind,
} from './notification.js';

/** The packaged templates (`templates/` at the package root). */
export const PACKAGED_TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

/** The template files, by role. `html` is optional: without it emails are plain text only. */
export const TEMPLATE_FILES = {
  emailSubject: 'email-subject.txt.mustache',
  text: 'alert.txt.mustache',
  html: 'alert.html.mustache',
  slack: 'slack.json.mustache',
  pagerdutySummary: 'pagerduty-summary.txt.mustache',
} as const;
type TemplateRole = keyof typeof TEMPLATE_FILES;

/** Every variable a template may use. `team` is a list (`{{#team}}{{.}}{{/team}}`). */
export const TEMPLATE_VARIABLES = [
  'kind',
  'kindLabel',
  'kindHeading',
  'incidentId',
  'title',
  'severity',
  'status',
  'summary',
  'impact',
  'currentActions',
  'nextUpdate',
  'commander',
  'team',
  'teamList',
  'ackBy',
  'ackUrl',
  'incidentUrl',
] as const;
const KNOWN = new Set<string>(TEMPLATE_VARIABLES);

const KIND_LABELS: Record<NotificationKind, string> = {
  page: 'Security incident alert',
  escalation: 'Escalated security incident',
  reminder: 'Status update due',
  acknowledged: 'Incident acknowledged',
  resolved: 'Incident resolved',
  delivery_failed: 'Page not delivered',
  message: 'Message from a playbook',
};

/** Slack's limits on text objects; longer texts are cut with an ellipsis rather than refused. */
const SLACK_LIMITS = { header: 150, section: 3000, field: 2000 } as const;
/** PagerDuty refuses a summary longer than this. */
export const PAGERDUTY_SUMMARY_MAX = 1024;

export interface RenderedEmail {
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
}

/** A Slack incoming-webhook message: Block Kit blocks plus the notification fallback text. */
export interface SlackMessage {
  readonly text: string;
  readonly blocks: readonly Record<string, unknown>[];
  readonly [key: string]: unknown;
}

/**
 * The generic webhook's JSON body (version 1). Stable: fields are only ever added.
 * `event` is `incident.<kind>`; `ack_url` and `incident_url` are null when absent.
 */
export interface WebhookBody {
  readonly version: 1;
  readonly event: `incident.${NotificationKind}`;
  readonly kind: NotificationKind;
  readonly idempotency_key: string;
  readonly notification_id: string;
  readonly recipient: string;
  readonly incident_id: string;
  readonly title: string;
  readonly severity: string;
  readonly status: string;
  readonly summary: string;
  readonly impact: string;
  readonly current_actions: string;
  readonly next_update: string;
  readonly commander: string;
  readonly team: readonly string[];
  readonly ack_by: string;
  readonly ack_url: string | null;
  readonly incident_url: string | null;
  /** The internal alert as text (`alert.txt.mustache`). */
  readonly text: string;
}

/** Renders an InternalAlert for each channel. Create with `loadTemplates`. */
export interface MessageTemplates {
  email(alert: InternalAlert): RenderedEmail;
  text(alert: InternalAlert): string;
  slack(alert: InternalAlert): SlackMessage;
  webhookBody(notification: Notification): WebhookBody;
  /** One line, at most 1024 characters. */
  pagerdutySummary(alert: InternalAlert): string;
  /** Where each template was read from (for `--help`-style diagnostics and tests). */
  readonly files: Readonly<Partial<Record<TemplateRole, string>>>;
}

export interface LoadTemplatesOptions {
  /** A user folder; a template file present there replaces the packaged one. */
  readonly dir?: string;
  /** The packaged folder (tests). Default PACKAGED_TEMPLATES_DIR. */
  readonly packagedDir?: string;
}

type Escape = (value: unknown) => string;
type Format = 'text' | 'html' | 'json' | 'slack';

interface LoadedTemplate {
  readonly file: string;
  readonly source: string;
  readonly format: Format;
}

/**
 * Loads and checks the templates; throws FB_ERR_CONFIG_INVALID naming the file on any problem.
 *
 * @example
 * const templates = loadTemplates({ dir: '/etc/firebreak/templates' });
 * const { subject, text } = templates.email(alert);
 */
export function loadTemplates(options: LoadTemplatesOptions = {}): MessageTemplates {
  const packagedDir = options.packagedDir ?? PACKAGED_TEMPLATES_DIR;
  const loaded: Partial<Record<TemplateRole, LoadedTemplate>> = {};
  for (const role of Object.keys(TEMPLATE_FILES) as TemplateRole[]) {
    const name = TEMPLATE_FILES[role];
    const candidates = [options.dir, packagedDir].filter((d): d is string => d !== undefined);
    const file = candidates.map((d) => join(d, name)).find((f) => existsSync(f));
    if (file === undefined) {
      if (role === 'html') continue;
      throw invalid(join(options.dir ?? packagedDir, name), 'the template file is missing');
    }
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch (error) {
      throw invalid(file, `cannot read it: ${(error as Error).message}`);
    }
    const format: Format = role === 'slack' ? 'slack' : role === 'html' ? 'html' : 'text';
    checkTemplate(file, source);
    loaded[role] = { file, source, format };
  }
  const t = (role: TemplateRole): LoadedTemplate => loaded[role]!;

  const templates: MessageTemplates = {
    files: Object.fromEntries(Object.entries(loaded).map(([role, l]) => [role, l.file])),
    text: (alert) => render(t('text'), alert),
    email(alert) {
      const subject = oneLine(render(t('emailSubject'), alert));
      const text = render(t('text'), alert);
      const html = loaded.html === undefined ? undefined : render(loaded.html, alert);
      return html === undefined ? { subject, text } : { subject, text, html };
    },
    slack: (alert) => renderSlack(t('slack'), alert),
    pagerdutySummary: (alert) => clip(oneLine(render(t('pagerdutySummary'), alert)), PAGERDUTY_SUMMARY_MAX),
    webhookBody(n) {
      const a = n.message;
      return {
        version: 1,
        event: `incident.${n.kind}`,
        kind: n.kind,
        idempotency_key: n.idempotencyKey,
        notification_id: n.id,
        recipient: n.recipient,
        ...internalAlertFields(a),
        ack_url: a.ackUrl ?? null,
        incident_url: a.incidentUrl ?? null,
        text: render(t('text'), a),
      };
    },
  };
  // Slack's template can only be checked as JSON once rendered: try both shapes now.
  const slack = t('slack');
  renderSlack(slack, SAMPLE_ALERT);
  renderSlack(slack, { ...SAMPLE_ALERT, ackUrl: undefined, incidentUrl: undefined });
  return templates;
}

/** The values a template sees, escaped for its format by Mustache's `escape` hook. */
function viewOf(alert: InternalAlert, format: Format): Record<string, unknown> {
  const mrkdwn = format === 'slack' ? slackEscape : (s: string) => s;
  const label = KIND_LABELS[alert.kind] ?? alert.kind;
  return {
    kind: alert.kind,
    kindLabel: label,
    kindHeading: label.toUpperCase(),
    incidentId: mrkdwn(alert.incidentId),
    title: mrkdwn(alert.title),
    severity: alert.severity,
    status: mrkdwn(alert.status),
    summary: mrkdwn(alert.summary),
    impact: mrkdwn(alert.impact),
    currentActions: mrkdwn(alert.currentActions),
    nextUpdate: mrkdwn(alert.nextUpdate),
    commander: mrkdwn(alert.commander),
    team: alert.team.map(mrkdwn),
    teamList: alert.team.length === 0 ? 'none named' : alert.team.map(mrkdwn).join(', '),
    ackBy: mrkdwn(alert.ackBy),
    // URLs go into `url` fields and `<url|text>` links as they are.
    ackUrl: alert.ackUrl,
    incidentUrl: alert.incidentUrl,
  };
}

const ESCAPES: Record<Format, Escape> = {
  text: (v) => String(v),
  html: (v) =>
    String(v).replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
    ),
  json: (v) => JSON.stringify(String(v)).slice(1, -1),
  slack: (v) => JSON.stringify(String(v)).slice(1, -1),
};

function render(template: LoadedTemplate, alert: InternalAlert): string {
  return Mustache.render(template.source, viewOf(alert, template.format), undefined, {
    escape: ESCAPES[template.format],
  });
}

function renderSlack(template: LoadedTemplate, alert: InternalAlert): SlackMessage {
  const rendered = render(template, alert);
  let parsed: unknown;
  try {
    parsed = JSON.parse(rendered);
  } catch (error) {
    throw invalid(template.file, `does not render to valid JSON (${(error as Error).message})`);
  }
  const message = parsed as { text?: unknown; blocks?: unknown };
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(message.blocks)) {
    throw invalid(template.file, 'must render to a JSON object with a "blocks" array (Slack Block Kit)');
  }
  return {
    ...(parsed as Record<string, unknown>),
    text: typeof message.text === 'string' ? message.text : '',
    blocks: message.blocks.map(clipBlock),
  };
}

/** Cuts texts to Slack's limits so that a long summary does not get the whole page refused. */
function clipBlock(block: unknown): Record<string, unknown> {
  const b = block as Record<string, unknown> & { text?: { text?: unknown }; fields?: { text?: unknown }[] };
  const limit = b.type === 'header' ? SLACK_LIMITS.header : SLACK_LIMITS.section;
  const out: Record<string, unknown> = { ...b };
  if (b.text && typeof b.text.text === 'string') out.text = { ...b.text, text: clip(b.text.text, limit) };
  if (Array.isArray(b.fields)) {
    out.fields = b.fields.map((f) =>
      typeof f?.text === 'string' ? { ...f, text: clip(f.text, SLACK_LIMITS.field) } : f,
    );
  }
  return out;
}

/** Parses the template and refuses partials and variables that do not exist. */
function checkTemplate(file: string, source: string): void {
  let tokens: unknown[];
  try {
    tokens = Mustache.parse(source) as unknown[];
  } catch (error) {
    throw invalid(file, `Mustache syntax error: ${(error as Error).message}`);
  }
  const walk = (list: unknown[]): void => {
    for (const token of list as [string, string, number, number, unknown[]?][]) {
      const [type, name, start] = token;
      if (type === '>')
        throw invalid(file, `partials ({{> ${name}}}) are not supported`, lineAt(source, start));
      if (type === 'name' || type === '&' || type === '#' || type === '^') {
        const root = name.split('.')[0]!;
        if (name !== '.' && !KNOWN.has(root)) {
          throw invalid(
            file,
            `unknown variable "${name}"; known: ${TEMPLATE_VARIABLES.join(', ')}`,
            lineAt(source, start),
          );
        }
      }
      if (Array.isArray(token[4])) walk(token[4]);
    }
  };
  walk(tokens);
}

function lineAt(source: string, offset: number): number {
  return source.slice(0, offset).split('\n').length;
}

function invalid(file: string, problem: string, line?: number): FirebreakError {
  return new FirebreakError('FB_ERR_CONFIG_INVALID', {
    source: line === undefined ? file : `${file}:${line}`,
    problem,
  });
}

function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

const SAMPLE_ALERT: InternalAlert = {
  kind: 'page',
  incidentId: 'INC-2026-001',
  title: 'Sample "title" with <markup> & a \\ backslash',
  severity: 'P1',
  status: 'detected',
  summary: 'Sample summary\non two lines',
  impact: 'Sample impact',
  currentActions: 'none yet',
  nextUpdate: '2026-01-05T10:30:00.000Z',
  commander: 'Dana Reyes',
  team: ['Eli Cohen', 'Fay Okafor'],
  ackBy: '2026-01-05T10:15:00.000Z',
  ackUrl: 'https://firebreak.example/ack/abc?x=1&y=2',
  incidentUrl: 'https://firebreak.example/incidents/INC-2026-001',
};
