/**
 * /v1/ack/{token}: the one-click acknowledgement link a page carries (README "One-click
 * acknowledgement"). No API key: the token is the credential and names the one incident it
 * acknowledges. GET only shows what the link would do, because mail scanners and chat unfurls
 * fetch links nobody clicked; the button on that page POSTs, and only POST acknowledges.
 * Answers are HTML for people, JSON when the request's Accept prefers application/json.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Incident, IncidentService } from '../../incidents/index.js';
import { FirebreakError, isFirebreakError } from '../../kernel/index.js';
import type { AckLink, AckLinks } from '../../notify/index.js';
import { errorBody, HTTP_STATUS } from '../http-errors.js';
import { ErrorSchema, IncidentSchema } from '../schemas.js';

export interface AckRoutesOptions {
  readonly ackLinks: AckLinks;
  readonly incidents: Pick<IncidentService, 'get' | 'transitionIn'>;
}

const tags = ['acknowledgement'];
const TokenParams = Type.Object({
  token: Type.String({ description: 'the token from the link (43 characters, base64url)' }),
});
const refusals = { 404: ErrorSchema, 409: ErrorSchema, 410: ErrorSchema };

export const ackRoutes: FastifyPluginAsyncTypebox<AckRoutesOptions> = async (
  app,
  { ackLinks, incidents },
) => {
  // The page's button posts an (empty) form. Registered here, so only these routes take forms.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_request, _body, done) => done(null, undefined),
  );

  app.get(
    '/v1/ack/:token',
    {
      schema: {
        tags,
        summary: 'What a one-click acknowledgement link would do (changes nothing)',
        description: 'HTML by default; JSON with `Accept: application/json`. No API key: the token is one.',
        security: [],
        params: TokenParams,
        response: {
          200: Type.Object({
            incident: Type.Object({
              id: Type.String(),
              title: Type.String(),
              severity: Type.String(),
              status: Type.String(),
            }),
            recipient: Type.String(),
            expires_at: Type.String(),
          }),
          ...refusals,
        },
      },
    },
    async (request, reply) => {
      try {
        const link = await ackLinks.inspect(request.params.token);
        if (!link) throw new FirebreakError('FB_ERR_ACK_LINK_UNKNOWN');
        const refused = ackLinks.refusal(link);
        if (refused) throw refused;
        const incident = await incidents.get(link.incidentId);
        if (wantsJson(request)) {
          return reply.send({
            incident: {
              id: incident.id,
              title: incident.title,
              severity: incident.severity,
              status: incident.status,
            },
            recipient: link.recipient,
            expires_at: link.expiresAt,
          });
        }
        return html(reply, 200, confirmPage(incident, link));
      } catch (error) {
        return refuse(request, reply, error);
      }
    },
  );

  app.post(
    '/v1/ack/:token',
    {
      schema: {
        tags,
        summary: 'Acknowledge the incident of a one-click link (once, before it expires)',
        description:
          'The body is ignored (an empty form post, or none). HTML by default; JSON with `Accept: application/json`.',
        security: [],
        params: TokenParams,
        response: {
          200: Type.Object({
            incident: IncidentSchema,
            acknowledged_by: Type.String(),
            at: Type.String(),
            already_acknowledged: Type.Boolean(),
          }),
          ...refusals,
        },
      },
    },
    async (request, reply) => {
      try {
        const used = await ackLinks.use(request.params.token, incidents);
        const incident = await incidents.get(used.incidentId);
        if (wantsJson(request)) {
          return reply.send({
            incident,
            acknowledged_by: used.acknowledgedBy,
            at: used.at,
            already_acknowledged: !used.acknowledged,
          });
        }
        const heading = used.acknowledged
          ? `Acknowledged ${incident.id} at ${used.at} by ${used.acknowledgedBy}`
          : `${incident.id} was already acknowledged by ${used.acknowledgedBy} at ${used.at}`;
        return html(
          reply,
          200,
          page(
            heading,
            `<h1>${escapeHtml(heading)}</h1>
${incidentFacts(incident)}
<p>${
              used.acknowledged
                ? 'Escalation for this incident has stopped. This link has now been used and will not work again.'
                : 'Nothing more was needed: escalation had already stopped. This link has now been used.'
            }</p>`,
          ),
        );
      } catch (error) {
        return refuse(request, reply, error);
      }
    },
  );
};

/** A link's refusal (unknown, used, expired) as a page or an error body; anything else rethrown. */
function refuse(request: FastifyRequest, reply: FastifyReply, error: unknown) {
  if (!isFirebreakError(error)) throw error;
  const status = HTTP_STATUS[error.kind];
  if (wantsJson(request) || status >= 500) return reply.status(status).send(errorBody(error));
  const heading =
    error.code === 'FB_ERR_ACK_LINK_USED'
      ? 'This link was already used'
      : error.code === 'FB_ERR_ACK_LINK_EXPIRED'
        ? 'This link has expired'
        : error.code === 'FB_ERR_ACK_LINK_UNKNOWN'
          ? 'This link is not valid'
          : 'This link cannot be used';
  return html(
    reply,
    status,
    page(heading, `<h1>${escapeHtml(heading)}</h1>\n<p>${escapeHtml(error.message)}</p>`),
  );
}

/** True when the request's Accept ranks application/json above text/html. */
export function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  if (!accept) return false;
  return quality(accept, 'application', 'json') > quality(accept, 'text', 'html');
}

/** The q of the most specific Accept range matching type/subtype (0 when none does). */
function quality(accept: string, type: string, subtype: string): number {
  let best = -1;
  let q = 0;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.trim().toLowerCase().split(';');
    const [t, s] = range.trim().split('/');
    const specificity = t === type && s === subtype ? 2 : t === type && s === '*' ? 1 : t === '*' ? 0 : -1;
    if (specificity < 0 || specificity < best) continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qParam === undefined ? 1 : Number(qParam.slice(2));
    best = specificity;
    q = Number.isFinite(value) ? value : 0;
  }
  return q;
}

function html(reply: FastifyReply, status: number, body: string) {
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-robots-tag', 'noindex')
    .header(
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    )
    .send(body);
}

function confirmPage(incident: Incident, link: AckLink): string {
  const pending = incident.status === 'detected';
  return page(
    `Acknowledge ${incident.id}?`,
    `<h1>${escapeHtml(pending ? `Acknowledge ${incident.id}?` : `${incident.id} is already ${incident.status}`)}</h1>
${incidentFacts(incident)}
<dl>
<dt>Link for</dt><dd>${escapeHtml(link.recipient)}</dd>
<dt>Link expires</dt><dd>${escapeHtml(link.expiresAt)}</dd>
</dl>
${
  pending
    ? `<form method="post"><button type="submit">${escapeHtml(`Acknowledge ${incident.id}`)}</button></form>
<p>Opening this page changed nothing; the button acknowledges, as ${escapeHtml(`link:${link.recipient}`)}. The link works once.</p>`
    : '<p>Nothing to do: someone has acknowledged it already.</p>'
}`,
  );
}

function incidentFacts(incident: Incident): string {
  return `<dl>
<dt>Incident</dt><dd>${escapeHtml(incident.id)}</dd>
<dt>Title</dt><dd>${escapeHtml(incident.title)}</dd>
<dt>Severity</dt><dd>${escapeHtml(incident.severity)}</dd>
<dt>Status</dt><dd>${escapeHtml(incident.status)}</dd>
</dl>`;
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · Firebreak</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}dt{font-weight:600}button{font-size:1.1rem;padding:.6rem 1.2rem}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** Text into HTML text or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"'`]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' })[c] ?? c,
  );
}
