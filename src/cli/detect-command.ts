/**
 * `firebreak detect FILE...`: runs the detection rules over log files offline and prints the
 * alerts in event-time order. The same engine the server runs, fed from files.
 */
import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { BUILTIN_RULES_DIR } from '../config/index.js';
import {
  type Alert,
  alertToJson,
  calendarFromPolicy,
  DEFAULT_CALENDAR,
  DetectionEngine,
  type DetectionStats,
} from '../detect/index.js';
import { describeRejection, type LogFormat } from '../events/index.js';
import { inputSize, STDIN, scanEventFile } from '../ingest/index.js';
import { formatDuration, parseDuration } from '../kernel/index.js';
import { loadPolicyFile } from '../policy/index.js';
import type { CliContext } from './context.js';
import type { Output } from './output.js';
import { loadRuleFolders } from './rules-commands.js';

interface DetectOptions {
  format: LogFormat | 'auto';
  rules: string[];
  builtin: boolean;
  policy?: string;
  lateness: number;
}

const REJECTION_SAMPLES = 5;

function parseLateness(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration such as 60s, 5m or 0s');
  return ms;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerDetectCommand(program: Command, ctx: CliContext): void {
  program
    .command('detect [file...]')
    .description('run the detection rules over log files (or - for stdin) and print the alerts')
    .addOption(
      new Option('--format <format>', 'input format; auto recognises each file from its first lines')
        .choices(['auto', 'ecs', 'nginx', 'sshd', 'syslog'])
        .default('auto'),
    )
    .addOption(
      new Option('--rules <dir>', 'a folder of rules to add (repeatable)')
        .argParser(collect)
        .default([], 'none'),
    )
    .option('--no-builtin', 'leave out the built-in rule pack')
    .option('--policy <file>', 'take business hours and maintenance windows from this response policy')
    .addOption(
      new Option('--lateness <duration>', 'how far out of order an event may arrive and still count')
        .argParser(parseLateness)
        .default(60_000, '60s'),
    )
    .addHelpText(
      'after',
      [
        '',
        'Alerts go to stdout (one JSON object per line with --json), a summary to stderr.',
        'Exit status: 0 when it ran (rejected lines are reported, not fatal); 2 when a rule or file is unusable.',
        '',
        'Examples:',
        '  $ firebreak detect --json events.ndjson',
        '  $ firebreak detect /var/log/nginx/access.log /var/log/auth.log',
        '  $ zcat app.ndjson.gz | firebreak detect - --rules ./my-rules --policy policies/creatorflow.yaml',
      ].join('\n'),
    )
    .action(async (files: string[], opts: DetectOptions) => {
      await runDetect(files.length > 0 ? files : [STDIN], opts, ctx.output);
    });
}

async function runDetect(files: string[], opts: DetectOptions, output: Output): Promise<void> {
  const folders = [...(opts.builtin ? [BUILTIN_RULES_DIR] : []), ...opts.rules];
  if (folders.length === 0)
    throw new InvalidArgumentError('no rules: give --rules DIR or leave out --no-builtin');
  if (files.includes(STDIN) && process.stdin.isTTY) {
    throw new InvalidArgumentError('reading events from a terminal: give a FILE, or pipe events into "-"');
  }
  const nodes = loadRuleFolders(folders, output);
  const calendar = opts.policy ? calendarFromPolicy(loadPolicyFile(opts.policy)) : DEFAULT_CALENDAR;
  // Every file is checked before any is read: a typo in the last name should not cost a long run.
  const sizes = files.map(inputSize);
  const totalBytes = sizes.every((s) => s !== undefined) ? sizes.reduce((a, b) => a! + b!, 0)! : undefined;

  const engine = new DetectionEngine(nodes, { latenessMs: opts.lateness, calendar });
  const printer = new AlertPrinter(output, opts.lateness);
  const rejections: string[] = [];
  let rejected = 0;
  const started = performance.now();
  const bar = progressBar(totalBytes);
  let doneBytes = 0;

  for (const file of files) {
    const name = file === STDIN ? 'stdin' : file;
    const summary = await scanEventFile(
      file,
      {
        format: opts.format,
        ...(file === STDIN ? { referenceTime: Date.now() } : {}),
        ...(bar === undefined ? {} : { onProgress: (bytes: number) => bar.update(doneBytes + bytes) }),
      },
      {
        event: (event, epochMs, line) => {
          const alerts = engine.process(event, epochMs, `${name}:${line}`);
          printer.newest(epochMs);
          if (alerts.length > 0) printer.add(alerts);
        },
        rejected: (rejection) => {
          rejected += 1;
          if (rejections.length < REJECTION_SAMPLES)
            rejections.push(`${name}: ${describeRejection(rejection)}`);
        },
      },
    );
    doneBytes += summary.bytes;
  }
  bar?.stop();
  printer.flush();
  printSummary(output, engine.stats(), {
    files: files.length,
    rejected,
    rejections,
    seconds: (performance.now() - started) / 1000,
    latenessMs: opts.lateness,
  });
}

/**
 * Prints alerts in event-time order. An alert can only be preceded by a later-arriving one
 * whose event was at most the allowed lateness older, so alerts older than the newest event
 * minus the lateness are final and can go out.
 */
class AlertPrinter {
  private pending: Alert[] = [];
  private newestMs = Number.NEGATIVE_INFINITY;
  constructor(
    private readonly output: Output,
    private readonly latenessMs: number,
  ) {}

  newest(epochMs: number): void {
    if (epochMs > this.newestMs) this.newestMs = epochMs;
  }

  add(alerts: readonly Alert[]): void {
    this.pending.push(...alerts);
    if (this.pending.length > 0 && this.pending.length % 64 === 0)
      this.release(this.newestMs - this.latenessMs);
  }

  flush(): void {
    this.release(Number.POSITIVE_INFINITY);
  }

  private release(before: number): void {
    // A stable sort keeps alerts of the same moment in the order they were raised.
    this.pending.sort((a, b) => a.end - b.end);
    let i = 0;
    while (i < this.pending.length && this.pending[i]!.end < before) this.print(this.pending[i++]!);
    this.pending = this.pending.slice(i);
  }

  private print(alert: Alert): void {
    if (this.output.json) {
      this.output.out(JSON.stringify(alertToJson(alert)));
      return;
    }
    const group = Object.entries(alert.group)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const value = Number.isInteger(alert.value) ? String(alert.value) : alert.value.toFixed(2);
    this.output.out(
      `${new Date(alert.end).toISOString()}  ${alert.severity}  ${alert.rule}  ${group || '(all)'}  value=${value}  events=${alert.events}  since ${new Date(alert.start).toISOString()}`,
    );
  }
}

function progressBar(totalBytes: number | undefined): SingleBar | undefined {
  if (totalBytes === undefined || totalBytes === 0 || !process.stderr.isTTY) return undefined;
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'detect [{bar}] {percentage}% | {value}/{total} bytes | eta {eta}s',
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(totalBytes, 0);
  return bar;
}

function printSummary(
  output: Output,
  stats: DetectionStats,
  run: { files: number; rejected: number; rejections: string[]; seconds: number; latenessMs: number },
): void {
  const rate = run.seconds > 0 ? Math.round(stats.events / run.seconds) : stats.events;
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `firebreak detect: ${n(stats.events)} events from ${run.files} input(s) in ${run.seconds.toFixed(2)} s (${n(rate)} events/s)`,
    `  rejected: ${n(run.rejected)}${run.rejections.length > 0 ? `, first: ${run.rejections.join('; ')}` : ''}`,
    `  late (beyond the ${formatDuration(run.latenessMs)} allowed; not counted in windows): ${n(stats.late)}${
      stats.lateSamples.length > 0 ? `, first: ${stats.lateSamples.join(', ')}` : ''
    }`,
    `  shed (a rule at its limit of groups): ${n(stats.shed)}`,
    `  not counted by a rule because its group-by field was absent (e.g. no service.name): ${n(stats.ungrouped)}`,
  ];
  const perRule = Object.entries(stats.alerts).sort(([a], [b]) => a.localeCompare(b));
  const total = perRule.reduce((sum, [, c]) => sum + c, 0);
  lines.push(`  alerts: ${n(total)}`);
  for (const [rule, count] of perRule) lines.push(`    ${rule}: ${n(count)}`);
  for (const line of lines) output.err(line);
}
