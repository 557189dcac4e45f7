/**
 * `firebreak ingest FILE... [--follow]`: reads log files (or stdin) in any format `firebreak
 * detect` reads and sends the events to a running server's `POST /v1/events`, in batches of up to
 * 1,000 events. Each batch carries an Idempotency-Key derived from the input, so a retry after a
 * timeout, or a second run over the same file, stores nothing twice. With --follow it keeps
 * reading the files as they grow, like `tail -F`, until Ctrl-C or SIGTERM.
 *
 * Files are pulled a chunk at a time (FileFollower) and the next chunk is read only once the
 * batch before it is stored, so memory stays flat whatever the file's size and a slow server
 * slows the reading instead of filling the memory.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type FSWatcher, statSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  createLineParser,
  describeRejection,
  detectFormat,
  type EcsEvent,
  type LineParser,
  type LogFormat,
  parseText,
  type Rejection,
} from '../events/index.js';
import { FileFollower, type IngestAnswer, LineCutter, MAX_LINE_BYTES, STDIN } from '../ingest/index.js';
import { FirebreakError, isFirebreakError } from '../kernel/index.js';
import type { ApiClient } from './api-client.js';
import type { CliContext } from './context.js';
import type { Output } from './output.js';

const gzip = promisify(gzipCallback);

/** Events per request at most (the server takes up to 10,000). */
export const BATCH_MAX_EVENTS = 1000;
/** NDJSON bytes per request at most, well within the server's 32 MiB decoded. */
export const BATCH_MAX_BYTES = 4 * 1024 * 1024;
/** Bodies larger than this are sent gzip-compressed. */
export const GZIP_ABOVE_BYTES = 64 * 1024;
/** How often a followed file is looked at; fs.watch only wakes the poll early. */
const POLL_MS = 250;
/** Lines the format is recognised from, as `scanEventFile` does. */
const SAMPLE_LINES = 20;
const REJECTION_SAMPLES = 5;
const DEFAULT_RETRIES = 4;
const RETRY_BASE_MS = 500;
const RETRY_MAX_BACKOFF_MS = 30_000;
/** A Retry-After longer than this is shortened to it. */
const RETRY_AFTER_MAX_MS = 60_000;

interface IngestOptions {
  format: LogFormat | 'auto';
  follow?: boolean;
  retries: number;
}

function parseRetries(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 100) throw new InvalidArgumentError('expected a number 0-100');
  return n;
}

/** Statuses after which the same batch is sent again: the server may do better in a moment. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * How long to wait before attempt `attempt + 1` (`attempt` ≥ 1 failed so far): the server's
 * `Retry-After` (seconds or an HTTP date) when it sent one, at most 60 s; otherwise exponential
 * backoff from 500 ms with jitter (half fixed, half random), at most 30 s.
 *
 * @example retryDelayMs(1, '3', Date.now(), Math.random) // 3000
 */
export function retryDelayMs(
  attempt: number,
  retryAfter: string | undefined,
  nowMs: number,
  random: () => number,
): number {
  const header = retryAfter?.trim() ?? '';
  if (header !== '') {
    const ms = /^\d+$/.test(header) ? Number(header) * 1000 : Date.parse(header) - nowMs;
    if (Number.isFinite(ms)) return Math.min(Math.max(ms, 0), RETRY_AFTER_MAX_MS);
  }
  const backoff = Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), RETRY_MAX_BACKOFF_MS);
  return Math.round(backoff / 2 + random() * (backoff / 2));
}

/**
 * The Idempotency-Key of a batch read from a file: the file's absolute path, the batch's first
 * and last line, and a digest of those lines' text. The same lines of the same file give the
 * same key in every run; the same line numbers with other text (the file was rewritten) do not.
 */
export function fileBatchKey(
  absolutePath: string,
  firstLine: number,
  lastLine: number,
  digest: string,
): string {
  const hash = createHash('sha256')
    .update(JSON.stringify(['firebreak-ingest/1', absolutePath, firstLine, lastLine, digest]))
    .digest('hex');
  return `firebreak-ingest-${hash}`;
}

/** Events on their way to one request, and the input lines they came from. */
class Batch {
  readonly events: string[] = [];
  /** The input line (or position in a JSON array) of each event, for the server's rejections. */
  readonly lines: number[] = [];
  bytes = 0;
  firstLine = 0;
  lastLine = 0;
  private readonly digest = createHash('sha256');

  /** Every input line the batch covers goes through here, events or not. */
  cover(line: number, text: string | null): void {
    if (this.firstLine === 0) this.firstLine = line;
    this.lastLine = line;
    this.digest.update(text === null ? '\u0000overlong' : text).update('\n');
  }

  add(event: EcsEvent, line: number): void {
    const json = JSON.stringify(event);
    this.events.push(json);
    this.lines.push(line);
    this.bytes += json.length + 1;
  }

  get full(): boolean {
    return this.events.length >= BATCH_MAX_EVENTS || this.bytes >= BATCH_MAX_BYTES;
  }

  digestHex(): string {
    return this.digest.digest('hex');
  }
}

/** One input: a file or stdin, with its format once known and the batch being filled. */
interface Input {
  readonly name: string;
  readonly stdin: boolean;
  readonly absolutePath: string;
  readonly follower: FileFollower | undefined;
  format: LogFormat | undefined;
  /** A JSON array: its text is gathered and parsed whole at the end, as `detect` does. */
  array: string[] | undefined;
  /** Lines held until the format is recognised. */
  sample: { line: number; text: string | null }[];
  parser: LineParser | undefined;
  /** The reference time the parser was made with (syslog and sshd only). */
  parserReferenceMs: number;
  batch: Batch;
  batchNumber: number;
  /** No more reading (a JSON array while following). */
  done: boolean;
}

interface Stats {
  eventsRead: number;
  eventsSent: number;
  accepted: number;
  rejectedLocally: number;
  rejectedByServer: number;
  batches: number;
  replayedBatches: number;
  retries: number;
  localSamples: string[];
  serverSamples: string[];
}

export function registerIngestCommand(program: Command, ctx: CliContext): void {
  program
    .command('ingest [file...]')
    .description('send the events of log files (or - for stdin) to the server (scope ingest)')
    .addOption(
      new Option('--format <format>', 'input format; auto recognises each file from its first lines')
        .choices(['auto', 'ecs', 'nginx', 'sshd', 'syslog'])
        .default('auto'),
    )
    .option('-f, --follow', 'keep reading the files as they grow, like tail -F, until Ctrl-C or SIGTERM')
    .addOption(
      new Option('--retries <n>', 'times a batch is sent again after no answer, 429 or 5xx (0-100)')
        .argParser(parseRetries)
        .default(DEFAULT_RETRIES),
    )
    .addHelpText(
      'after',
      [
        '',
        'Sends to FIREBREAK_URL with FIREBREAK_API_KEY (or --url, --key): a key with scope ingest.',
        'Each batch has an Idempotency-Key made from the file, its lines and their text, so running',
        'the same command again (after a failure or Ctrl-C) stores nothing twice.',
        'A summary goes to stderr (to stdout as JSON with --json); a progress bar while it reads when',
        'stderr is a terminal.',
        'Exit status: 0 when everything read was sent (rejected lines are reported, not fatal), and',
        'with --follow after Ctrl-C or SIGTERM; 2 bad input; 5 the key; 7 the server is unreachable.',
        '',
        'Examples:',
        '  $ firebreak ingest events.ndjson /var/log/nginx/access.log',
        '  $ firebreak ingest --follow /var/log/auth.log /var/log/nginx/access.log',
        '  $ zcat access.log.2.gz | firebreak ingest --format nginx -',
      ].join('\n'),
    )
    .action(async (files: string[], opts: IngestOptions) => {
      await runIngest(files.length > 0 ? files : [STDIN], opts, ctx);
    });
}

async function runIngest(files: string[], opts: IngestOptions, ctx: CliContext): Promise<void> {
  const output = ctx.output;
  if (files.filter((f) => f === STDIN).length > 1) throw new InvalidArgumentError('- (stdin) is given twice');
  if (files.includes(STDIN) && process.stdin.isTTY) {
    throw new InvalidArgumentError('reading events from a terminal: give a FILE, or pipe events into "-"');
  }
  const client = ctx.client();
  client.requireKey();
  const run = new IngestRun(client, opts, output);
  try {
    await run.open(files);
    await run.ingest();
  } catch (error) {
    await run.close();
    if (run.stats.batches > 0) run.printSummary(false);
    throw error;
  }
  await run.close();
  run.printSummary(output.json);
}

class IngestRun {
  readonly stats: Stats = {
    eventsRead: 0,
    eventsSent: 0,
    accepted: 0,
    rejectedLocally: 0,
    rejectedByServer: 0,
    batches: 0,
    replayedBatches: 0,
    retries: 0,
    localSamples: [],
    serverSamples: [],
  };
  private inputs: Input[] = [];
  private readonly runId = randomUUID();
  private readonly started = performance.now();
  private stopped: string | undefined;
  private readonly alarm = new Alarm();
  private watchers: FSWatcher[] = [];
  private bar: SingleBar | undefined;
  private doneBytes = 0;
  private readonly onSignal = (signal: NodeJS.Signals) => this.stop(signal);

  constructor(
    private readonly client: ApiClient,
    private readonly opts: IngestOptions,
    private readonly output: Output,
  ) {}

  /** Opens every file before any is read: a typo in the last name should not cost a long run. */
  async open(files: readonly string[]): Promise<void> {
    for (const file of files) {
      const stdin = file === STDIN;
      const follower = stdin ? undefined : await FileFollower.open(file);
      this.inputs.push({
        name: stdin ? 'stdin' : file,
        stdin,
        absolutePath: stdin ? '' : resolve(file),
        follower,
        format: undefined,
        array: undefined,
        sample: [],
        parser: undefined,
        parserReferenceMs: 0,
        batch: new Batch(),
        batchNumber: 0,
        done: false,
      });
    }
  }

  async ingest(): Promise<void> {
    if (this.opts.follow) {
      process.on('SIGINT', this.onSignal);
      process.on('SIGTERM', this.onSignal);
    }
    this.bar = this.progressBar();
    for (const input of this.inputs) {
      if (this.stopped) break;
      if (input.stdin) await this.readStdin(input);
      else await this.drain(input, !this.opts.follow);
    }
    this.bar?.stop();
    this.bar = undefined;
    const followed = this.inputs.filter((i) => i.follower !== undefined && !i.done);
    if (this.opts.follow && !this.stopped && followed.length > 0) {
      this.output.err(
        `firebreak ingest: caught up; following ${followed.map((i) => i.name).join(', ')} (Ctrl-C to stop)`,
      );
      this.watch(followed);
      while (!this.stopped) {
        await this.alarm.sleep(POLL_MS);
        for (const input of followed) {
          if (this.stopped) break;
          await this.drain(input, false);
        }
      }
    }
    // Ctrl-C or SIGTERM while following: what was read goes out before the summary.
    for (const input of this.inputs) await this.send(input);
  }

  async close(): Promise<void> {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    this.bar?.stop();
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    for (const input of this.inputs) await input.follower?.close();
  }

  private stop(signal: string): void {
    if (this.stopped) {
      this.output.err(
        `firebreak ingest: ${signal} again: stopping at once; the batch in flight may not be stored`,
      );
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    this.stopped = signal;
    this.alarm.stop();
  }

  /**
   * Reads a file until nothing new is there; then recognises its format from what it has when
   * fewer lines than the sample arrived, and sends what waits. At the end of the input (not
   * following) its last line counts even without a newline.
   */
  private async drain(input: Input, endOfInput: boolean): Promise<void> {
    const follower = input.follower!;
    while (!this.stopped && !input.done) {
      const read = await follower.next();
      if (read.kind === 'idle') break;
      if (read.kind === 'restarted') {
        await this.send(input);
        this.output.err(
          read.reason === 'truncated'
            ? `firebreak ingest: ${input.name} was truncated; reading it again from the start`
            : `firebreak ingest: ${input.name} was rotated; reading the new file from the start`,
        );
        continue;
      }
      await this.lines(input, read.lines, read.firstLine, read.mtimeMs);
      this.doneBytes += read.bytes;
      this.bar?.update(this.doneBytes);
    }
    if (endOfInput && !this.stopped) {
      const rest = follower.takeRest();
      if (rest !== undefined) await this.lines(input, [rest.line], rest.lineNumber, Date.now());
    }
    await this.caughtUp(input, endOfInput || this.stopped !== undefined);
  }

  /**
   * Stdin as it streams. Reading waits while a batch is sent, so a fast producer is held back by
   * the pipe; what waits is sent after a quarter second without input, so a slow one (`tail -f`)
   * is not held back by the batch size.
   */
  private async readStdin(input: Input): Promise<void> {
    const cutter = new LineCutter();
    let lineNumber = 0;
    const chunks = process.stdin[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const stopped = new Promise<'stopped'>((done) => this.alarm.onStop(() => done('stopped')));
    try {
      let next = chunks.next();
      while (!this.stopped) {
        const waiting = input.batch.events.length > 0 || input.sample.length > 0;
        const result = await Promise.race([
          next,
          stopped,
          ...(waiting ? [this.alarm.sleep(POLL_MS).then(() => 'idle' as const)] : []),
        ]);
        if (result === 'stopped') break;
        if (result === 'idle') {
          await this.caughtUp(input, false);
          continue;
        }
        if (result.done) {
          const rest = cutter.end();
          if (rest !== undefined) await this.lines(input, [rest], lineNumber + 1, Date.now());
          break;
        }
        const lines = cutter.push(result.value);
        await this.lines(input, lines, lineNumber + 1, Date.now());
        lineNumber += lines.length;
        next = chunks.next();
      }
    } finally {
      await chunks.return?.();
    }
    await this.caughtUp(input, true);
  }

  /** Nothing more for now (or ever, at `end`): decide the format on what there is, and send. */
  private async caughtUp(input: Input, end: boolean): Promise<void> {
    if (input.format === undefined && input.sample.length > 0) {
      await this.decideFormat(input, Date.now());
    }
    // A followed file that is a JSON array is read whole once caught up, and not followed.
    if (input.array !== undefined && (end || (this.opts.follow && !input.stdin))) {
      await this.sendArray(input);
      if (!end && !input.done) {
        this.output.err(`firebreak ingest: ${input.name} is a JSON array: read whole, not followed`);
      }
      input.done = true;
    }
    await this.send(input);
  }

  private async lines(
    input: Input,
    lines: readonly (string | null)[],
    firstLine: number,
    referenceMs: number,
  ): Promise<void> {
    let number = firstLine;
    for (const text of lines) {
      const line = number++;
      if (input.array !== undefined) {
        input.array.push(text ?? '');
        continue;
      }
      if (input.format === undefined) {
        // Blank lines say nothing about the format (and a file of them should not pile up here).
        if (text !== null && text.trim() === '') continue;
        input.sample.push({ line, text });
        // A format given with --format still needs the first line: an ecs file may be a JSON array.
        if (input.sample.length >= (this.opts.format === 'auto' ? SAMPLE_LINES : 1)) {
          await this.decideFormat(input, referenceMs);
        }
        continue;
      }
      const yearless = input.format === 'syslog' || input.format === 'sshd';
      if (input.parser === undefined || (yearless && input.parserReferenceMs !== referenceMs)) {
        // RFC 3164 times have no year: "now" is the file's modification time at this read.
        input.parser = createLineParser(input.format, { referenceTime: referenceMs });
        input.parserReferenceMs = referenceMs;
      }
      await this.line(input, line, text);
    }
  }

  private async line(input: Input, line: number, text: string | null): Promise<void> {
    input.batch.cover(line, text);
    if (text === null) {
      this.rejectLocally(input, {
        location: 'line',
        position: line,
        reason: `longer than ${MAX_LINE_BYTES} bytes`,
      });
      return;
    }
    const outcome = input.parser!(text, line);
    if (outcome === undefined) return;
    if (!outcome.ok) {
      this.rejectLocally(input, outcome.rejection);
      return;
    }
    this.stats.eventsRead += 1;
    input.batch.add(outcome.event, line);
    if (input.batch.full) await this.send(input);
  }

  private async decideFormat(input: Input, referenceMs: number): Promise<void> {
    const sample = input.sample;
    input.sample = [];
    const format =
      this.opts.format === 'auto'
        ? detectFormat(
            sample.map((s) => s.text ?? ''),
            SAMPLE_LINES,
          )
        : this.opts.format;
    if (format === undefined) throw new FirebreakError('FB_ERR_INPUT_FORMAT_UNKNOWN', { file: input.name });
    input.format = format;
    if (format === 'ecs' && sample[0]?.text?.trimStart().startsWith('[')) input.array = [];
    for (const { line, text } of sample) await this.lines(input, [text], line, referenceMs);
  }

  /** A JSON array, parsed whole; its events are numbered by their position, as `detect` does. */
  private async sendArray(input: Input): Promise<void> {
    const result = parseText(input.array!.join('\n'), 'ecs');
    input.array = undefined;
    for (const rejection of result.rejected) this.rejectLocally(input, rejection);
    let position = 0;
    for (const { event } of result.events) {
      position += 1;
      input.batch.cover(position, JSON.stringify(event));
      this.stats.eventsRead += 1;
      input.batch.add(event, position);
      if (input.batch.full) await this.send(input);
    }
  }

  private rejectLocally(input: Input, rejection: Rejection): void {
    this.stats.rejectedLocally += 1;
    if (this.stats.localSamples.length < REJECTION_SAMPLES) {
      this.stats.localSamples.push(`${input.name}: ${describeRejection(rejection)}`);
    }
  }

  /** Sends the input's batch (if it has events) and starts the next one. */
  private async send(input: Input): Promise<void> {
    const batch = input.batch;
    input.batch = new Batch();
    if (batch.events.length === 0) return;
    input.batchNumber += 1;
    const key = input.stdin
      ? `firebreak-ingest-stdin-${this.runId}-${input.batchNumber}`
      : fileBatchKey(input.absolutePath, batch.firstLine, batch.lastLine, batch.digestHex());
    const ndjson = Buffer.from(`${batch.events.join('\n')}\n`);
    const compress = ndjson.length > GZIP_ABOVE_BYTES;
    const body = compress ? await gzip(ndjson) : ndjson;
    const { answer, replayed } = await this.post(body, compress, key, input.name);
    this.stats.batches += 1;
    this.stats.eventsSent += batch.events.length;
    this.stats.accepted += answer.accepted;
    if (replayed) this.stats.replayedBatches += 1;
    for (const rejected of answer.rejected) {
      this.stats.rejectedByServer += 1;
      if (this.stats.serverSamples.length < REJECTION_SAMPLES) {
        const line = batch.lines[rejected.index];
        this.stats.serverSamples.push(`${input.name}: line ${line ?? '?'}: ${rejected.reason}`);
      }
    }
  }

  /** One batch, sent again after no answer, 429 or 5xx; any other refusal stops the run. */
  private async post(
    body: Uint8Array,
    compress: boolean,
    key: string,
    name: string,
  ): Promise<{ answer: IngestAnswer; replayed: boolean }> {
    for (let attempt = 1; ; attempt++) {
      let failure: FirebreakError;
      let retryAfter: string | undefined;
      try {
        const result = await this.client.postEvents(body, { idempotencyKey: key, gzip: compress });
        if (result.ok) return result;
        if (!isRetryableStatus(result.status)) throw result.error;
        failure = result.error;
        retryAfter = result.retryAfter;
      } catch (error) {
        if (!isFirebreakError(error) || error.code !== 'FB_ERR_SERVER_UNREACHABLE') throw error;
        failure = error;
      }
      if (attempt > this.opts.retries) throw failure;
      const delay = retryDelayMs(attempt, retryAfter, Date.now(), Math.random);
      this.stats.retries += 1;
      this.output.err(
        `firebreak ingest: sending a batch of ${name} failed (${failure.message}); sending it again in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${this.opts.retries + 1})`,
      );
      await new Promise((done) => setTimeout(done, delay));
    }
  }

  /** fs.watch on the files' folders wakes the poll early; the poll alone decides what changed. */
  private watch(inputs: readonly Input[]): void {
    const byDir = new Map<string, Set<string>>();
    for (const input of inputs) {
      const dir = dirname(input.absolutePath);
      const names = byDir.get(dir) ?? new Set<string>();
      names.add(basename(input.absolutePath));
      byDir.set(dir, names);
    }
    for (const [dir, names] of byDir) {
      try {
        const watcher = watch(dir, (_event, file) => {
          if (file === null || names.has(String(file))) this.alarm.ring();
        });
        watcher.on('error', () => watcher.close());
        this.watchers.push(watcher);
      } catch {
        // Not every file system can be watched; polling alone works.
      }
    }
  }

  private progressBar(): SingleBar | undefined {
    if (!process.stderr.isTTY || this.inputs.some((i) => i.stdin)) return undefined;
    let total = 0;
    try {
      for (const input of this.inputs) total += statSync(input.absolutePath).size;
    } catch {
      return undefined;
    }
    if (total === 0) return undefined;
    const bar = new SingleBar({
      stream: process.stderr,
      format: 'ingest [{bar}] {percentage}% | {value}/{total} bytes | eta {eta}s',
      hideCursor: true,
      clearOnComplete: true,
    });
    bar.start(total, 0);
    return bar;
  }

  printSummary(json: boolean): void {
    const s = this.stats;
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? Math.round(s.eventsSent / seconds) : s.eventsSent;
    const heldBack = this.inputs
      .filter((i) => (i.follower?.pendingBytes ?? 0) > 0)
      .map((i) => ({ input: i.name, bytes: i.follower!.pendingBytes }));
    if (json) {
      this.output.out(
        JSON.stringify(
          {
            inputs: this.inputs.map((i) => i.name),
            events_read: s.eventsRead,
            events_sent: s.eventsSent,
            accepted: s.accepted,
            rejected_locally: s.rejectedLocally,
            rejected_by_server: s.rejectedByServer,
            batches: s.batches,
            replayed_batches: s.replayedBatches,
            retries: s.retries,
            seconds: Number(seconds.toFixed(3)),
            events_per_second: rate,
            samples: { rejected_locally: s.localSamples, rejected_by_server: s.serverSamples },
            held_back: heldBack,
            stopped_by: this.stopped ?? null,
          },
          null,
          2,
        ),
      );
      return;
    }
    const n = (x: number) => x.toLocaleString('en-US');
    const first = (samples: string[]) => (samples.length > 0 ? `, first: ${samples.join('; ')}` : '');
    const lines = [
      `firebreak ingest: ${n(s.eventsRead)} events from ${this.inputs.length} input(s) in ${seconds.toFixed(2)} s (${n(rate)} events/s sent)`,
      `  sent: ${n(s.eventsSent)} in ${n(s.batches)} batch(es); accepted by the server: ${n(s.accepted)}; retries: ${n(s.retries)}`,
    ];
    if (s.replayedBatches > 0) {
      lines.push(
        `  already stored by an earlier run or attempt (same Idempotency-Key, not stored again): ${n(s.replayedBatches)} batch(es)`,
      );
    }
    lines.push(`  rejected here, not sent: ${n(s.rejectedLocally)}${first(s.localSamples)}`);
    lines.push(`  rejected by the server: ${n(s.rejectedByServer)}${first(s.serverSamples)}`);
    for (const { input, bytes } of heldBack) {
      lines.push(`  not sent: the unterminated last line of ${input} (${n(bytes)} bytes so far)`);
    }
    if (this.stopped) lines.push(`  stopped by ${this.stopped}`);
    for (const line of lines) this.output.err(line);
  }
}

/** Sleeps that end early when a followed file changes or the run is stopped. */
class Alarm {
  private readonly sleepers = new Set<() => void>();
  private readonly stopListeners: (() => void)[] = [];

  sleep(ms: number): Promise<void> {
    return new Promise((done) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        done();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  /** Ends the sleeps now. */
  ring(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  /** Ends the sleeps now and tells whoever waits for the stop. */
  stop(): void {
    this.ring();
    for (const listener of this.stopListeners.splice(0)) listener();
  }

  onStop(listener: () => void): void {
    this.stopListeners.push(listener);
  }
}
