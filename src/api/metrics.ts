/**
 * GET /metrics, without a key (like /health): Prometheus text exposition format 0.0.4. Written
 * by hand rather than with prom-client: a handful of counters the services already keep, read
 * at scrape time, need a formatter of a few lines, not a registry. Counters start at 0 when the
 * server starts, as Prometheus expects of a restarted process.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { IngestGate } from './ingest-gate.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricSample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly samples: readonly MetricSample[];
}

/** What the detection service reports, read once per scrape. */
export interface DetectionMetrics {
  readonly position: number;
  readonly lag: number;
  readonly alerts: number;
  readonly incidentsCreated: number;
}

/** Events the syslog listener accepted into the log and messages it rejected, since start. */
export interface SyslogMetrics {
  readonly accepted: number;
  readonly rejected: number;
}

export interface MetricsRoutesOptions {
  readonly gate: IngestGate;
  readonly detection: () => Promise<DetectionMetrics>;
  readonly syslog?: () => SyslogMetrics;
}

/** The exposition text: `# HELP`, `# TYPE`, then one line per sample. */
export function formatMetrics(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {});
      const labelText =
        labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
      lines.push(`${family.name}${labelText} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

function escapeLabel(text: string): string {
  return escapeHelp(text).replaceAll('"', '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

export async function collectMetrics(options: MetricsRoutesOptions): Promise<MetricFamily[]> {
  const { gate } = options;
  const [detection, ingest] = await Promise.all([options.detection(), gate.state()]);
  const syslog = options.syslog?.();
  const bySource = (http: number, fromSyslog: number | undefined): MetricSample[] => [
    { labels: { source: 'http' }, value: http },
    ...(fromSyslog === undefined ? [] : [{ labels: { source: 'syslog' }, value: fromSyslog }]),
  ];
  return [
    {
      name: 'firebreak_events_accepted_total',
      help: 'Events accepted into the event log since the server started.',
      type: 'counter',
      samples: bySource(gate.counts.accepted, syslog?.accepted),
    },
    {
      name: 'firebreak_events_rejected_total',
      help: 'Events (HTTP) and messages (syslog) rejected as invalid since the server started.',
      type: 'counter',
      samples: bySource(gate.counts.rejected, syslog?.rejected),
    },
    {
      name: 'firebreak_ingest_backpressure_total',
      help: 'Ingest requests refused (503) because detection was too far behind the log.',
      type: 'counter',
      samples: [{ value: gate.counts.backpressure }],
    },
    {
      name: 'firebreak_ingest_busy_total',
      help: 'Ingest requests refused (429) because too many were in progress.',
      type: 'counter',
      samples: [{ value: gate.counts.busy }],
    },
    {
      name: 'firebreak_ingest_in_flight',
      help: 'Ingest requests being served.',
      type: 'gauge',
      samples: [{ value: ingest.in_flight }],
    },
    {
      name: 'firebreak_detection_lag_events',
      help: 'Events in the log not yet processed by detection.',
      type: 'gauge',
      samples: [{ value: detection.lag }],
    },
    {
      name: 'firebreak_detection_lag_limit_events',
      help: 'The lag above which ingest is refused.',
      type: 'gauge',
      samples: [{ value: gate.lagLimit }],
    },
    {
      name: 'firebreak_detection_position',
      help: 'The last event log seq processed by detection.',
      type: 'gauge',
      samples: [{ value: detection.position }],
    },
    {
      name: 'firebreak_alerts_total',
      help: 'Alerts made by detection since the server started.',
      type: 'counter',
      samples: [{ value: detection.alerts }],
    },
    {
      name: 'firebreak_incidents_opened_total',
      help: 'Incidents opened by detection since the server started.',
      type: 'counter',
      samples: [{ value: detection.incidentsCreated }],
    },
  ];
}

export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, options) => {
  app.get(
    '/metrics',
    { schema: { tags: ['health'], summary: 'Prometheus metrics (text exposition format 0.0.4)' } },
    async (_request, reply) => {
      const text = formatMetrics(await collectMetrics(options));
      return reply.header('content-type', METRICS_CONTENT_TYPE).send(text);
    },
  );
};
