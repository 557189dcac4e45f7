/**
 * The detection service: runs the rules over the event log as events arrive and files the alerts
 * under incidents (README "From events to incidents").
 *
 * One batch at a time: read up to `batchSize` events after the last one processed, feed them to
 * the engine in seq order (each alert's trigger is the event's seq), hand the batch's alerts to
 * the grouper (one transaction), then save the engine's state with the batch's last seq as the
 * consumer's checkpoint. The order is what makes a crash harmless: the checkpoint is saved only
 * after the alerts are stored, so a crash in between replays events whose alerts are already
 * there; the engine is deterministic and restored to the checkpoint's state, so the replay makes
 * the same alerts with the same fingerprints, and the grouper skips them. No alert is lost (the
 * checkpoint never passes an event whose alerts are not stored) and none is doubled.
 *
 * A failed intake (the database away) keeps its alerts and is retried before anything else is
 * read: the engine has already taken those events, so they are not fed to it again.
 */
import {
  type Alert,
  DetectionEngine,
  type DetectionEngineOptions,
  type DetectionStats,
  type EngineCheckpoint,
  type RuleNode,
} from '../detect/index.js';
import type { EventLog } from '../ingest/index.js';
import type { AlertGrouper } from './alert-grouper.js';

/** What the service needs of the event log. */
export type DetectionLog = Pick<EventLog, 'read' | 'head' | 'getCheckpoint' | 'saveCheckpoint'>;
/** What the service needs of the grouper. */
export type AlertSink = Pick<AlertGrouper, 'intake'>;

export const DETECTION_CONSUMER = 'detect';
const DEFAULT_BATCH_SIZE = 1000;
const DEFAULT_POLL_MS = 100;
const DEFAULT_RETRY_MS = 1000;

export interface DetectionServiceOptions {
  readonly log: DetectionLog;
  readonly grouper: AlertSink;
  readonly nodes: readonly RuleNode[];
  readonly engineOptions?: DetectionEngineOptions;
  /** The name its checkpoint is kept under. Default `detect`. */
  readonly consumer?: string;
  /** Events read and processed per batch. Default 1000. */
  readonly batchSize?: number;
  /** How often to look for new events once caught up (`notify()` wakes it sooner). Default 100 ms. */
  readonly pollMs?: number;
  /**
   * Save the checkpoint after every this many batches (and on stop). Unset (the default): at
   * most every `checkpointIntervalMs`, because the engine's state under an attack holds up to a
   * million groups per rule and writing it per batch would cost more than the detection.
   */
  readonly checkpointEvery?: number;
  /**
   * Without checkpointEvery: save at most this often (a crash replays at most this much), or
   * 100 times as long as the last save took, whichever is longer. Default 5 s.
   */
  readonly checkpointIntervalMs?: number;
  /** Wait after a failed batch before trying it again. Default 1 s. */
  readonly retryMs?: number;
  /** Failures and dropped rule state, for the server log. */
  readonly warn?: (message: string) => void;
}

export interface DetectionServiceStats {
  readonly running: boolean;
  /** The last seq processed. */
  readonly position: number;
  /** The last seq saved as the checkpoint: where a restart would resume. */
  readonly checkpoint: number;
  /** The newest seq in the log. */
  readonly head: number;
  /** Events in the log not yet processed: head − position. */
  readonly lag: number;
  /** Counted since this service started. */
  readonly events: number;
  readonly alerts: number;
  /** Alerts already stored (a replay after a crash). */
  readonly duplicates: number;
  readonly incidentsCreated: number;
  /** Alerts that joined an open incident: same rule and group, or a shared entity. */
  readonly incidentsJoined: number;
  readonly correlated: number;
  readonly raised: number;
  readonly failures: number;
  readonly lastError: string | undefined;
  readonly engine: DetectionStats;
}

interface PendingBatch {
  readonly alerts: readonly Alert[];
  readonly lastSeq: number;
}

export class DetectionService {
  private readonly engine: DetectionEngine;
  private readonly consumer: string;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly checkpointEvery: number | undefined;
  private readonly checkpointIntervalMs: number;
  private lastSaveAt = performance.now();
  /** How long the last save took. */
  private lastSaveMs = 0;
  private readonly retryMs: number;
  private readonly warn: (message: string) => void;

  private initialized: Promise<void> | undefined;
  private position = 0;
  private saved = 0;
  private batchesSinceSave = 0;
  /** Reads in a row that found nothing new. */
  private emptyReads = 0;
  /** A batch the engine has taken whose alerts are not stored yet. */
  private pending: PendingBatch | undefined;
  /** Steps run one at a time, whether the loop or `drain()` asks. */
  private turn: Promise<unknown> = Promise.resolve();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private notified = false;
  private wake: (() => void) | undefined;
  private readonly counts = {
    events: 0,
    alerts: 0,
    duplicates: 0,
    incidentsCreated: 0,
    incidentsJoined: 0,
    correlated: 0,
    raised: 0,
    failures: 0,
  };
  private lastError: string | undefined;

  constructor(private readonly options: DetectionServiceOptions) {
    this.engine = new DetectionEngine(options.nodes, options.engineOptions);
    this.consumer = options.consumer ?? DETECTION_CONSUMER;
    this.batchSize = positive('batchSize', options.batchSize, DEFAULT_BATCH_SIZE);
    this.pollMs = positive('pollMs', options.pollMs, DEFAULT_POLL_MS);
    this.checkpointEvery =
      options.checkpointEvery === undefined
        ? undefined
        : positive('checkpointEvery', options.checkpointEvery, 1);
    this.checkpointIntervalMs = positive('checkpointIntervalMs', options.checkpointIntervalMs, 5_000);
    this.retryMs = positive('retryMs', options.retryMs, DEFAULT_RETRY_MS);
    this.warn = options.warn ?? (() => {});
  }

  /** Restores from the checkpoint and keeps processing in the background until `stop()`. */
  async start(): Promise<void> {
    if (this.loop !== undefined) return;
    await this.init();
    this.stopping = false;
    this.loop = this.run();
  }

  /** Wakes a caught-up service at once: the ingest path calls it after an append. */
  notify(): void {
    this.notified = true;
    this.wake?.();
  }

  /**
   * Processes until caught up with the log's head (as it is while draining), whether or not
   * the service was started, and saves the checkpoint. Rejects when a batch fails; its alerts
   * are kept for the next try.
   */
  async drain(): Promise<void> {
    await this.init();
    while (await this.exclusive(() => this.step())) {
      // next batch
    }
    // Caught up on request: the checkpoint follows, as it would after an idle poll.
    await this.exclusive(async () => {
      if (this.checkpointEvery === undefined && this.pending === undefined && this.position !== this.saved) {
        await this.save();
      }
    });
  }

  /** Finishes the batch in hand, stops, and saves the checkpoint. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    if (this.initialized === undefined) return;
    await this.exclusive(async () => {
      // Not while a batch's alerts are unstored: the checkpoint would pass them.
      if (this.pending === undefined && this.position > this.saved) await this.save();
    });
  }

  async stats(): Promise<DetectionServiceStats> {
    // The position is the checkpoint's until the first batch, even before start().
    await this.init();
    const head = await this.options.log.head();
    return {
      running: this.loop !== undefined,
      position: this.position,
      checkpoint: this.saved,
      head,
      lag: Math.max(0, head - this.position),
      ...this.counts,
      lastError: this.lastError,
      engine: this.engine.stats(),
    };
  }

  private init(): Promise<void> {
    this.initialized ??= this.restore();
    return this.initialized;
  }

  private async restore(): Promise<void> {
    const checkpoint = await this.options.log.getCheckpoint(this.consumer);
    if (checkpoint === undefined) return;
    this.position = checkpoint.seq;
    this.saved = checkpoint.seq;
    if (checkpoint.state === null) return;
    try {
      const dropped = this.engine.restore(checkpoint.state as EngineCheckpoint);
      if (dropped.length > 0) {
        this.warn(`detection: rules changed since the checkpoint start afresh: ${dropped.join(', ')}`);
      }
    } catch (error) {
      // An unreadable state costs the windows in progress, not the service.
      this.warn(`detection: the checkpoint's engine state is unusable (${reason(error)}); starting afresh`);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      this.notified = false;
      let progressed: boolean;
      try {
        progressed = await this.exclusive(() => this.step());
      } catch (error) {
        this.counts.failures += 1;
        this.lastError = reason(error);
        this.warn(`detection: a batch failed (${this.lastError}); retrying in ${this.retryMs} ms`);
        await this.sleep(this.retryMs, false);
        continue;
      }
      if (!progressed && !this.notified && !this.stopping) await this.sleep(this.pollMs, true);
    }
  }

  /** One batch; false when there was nothing to do. */
  private async step(): Promise<boolean> {
    if (this.pending === undefined) {
      const events = await this.options.log.read(this.position, this.batchSize);
      if (events.length === 0) {
        // Idle for a whole poll (the read before this one found nothing either, and nothing
        // arrived in between): save now, so a quiet shop's checkpoint is never an interval
        // behind. Not on every catch-up: under steady traffic the service catches up after
        // each request, and the engine's state (megabytes under an attack) would be written
        // dozens of times a second.
        this.emptyReads += 1;
        if (this.checkpointEvery === undefined && this.emptyReads >= 2 && this.position !== this.saved) {
          await this.save();
        }
        return false;
      }
      this.emptyReads = 0;
      const alerts: Alert[] = [];
      for (const logged of events) {
        for (const alert of this.engine.process(logged.event, logged.epochMs, logged.seq)) alerts.push(alert);
      }
      this.pending = { alerts, lastSeq: events.at(-1)!.seq };
      this.position = this.pending.lastSeq;
      this.counts.events += events.length;
    }

    const batch = this.pending;
    const result = await this.options.grouper.intake(batch.alerts);
    this.pending = undefined;
    this.counts.alerts += batch.alerts.length;
    this.counts.duplicates += result.duplicates;
    this.counts.incidentsCreated += result.created;
    this.counts.incidentsJoined += result.joined + result.correlated;
    this.counts.correlated += result.correlated;
    this.counts.raised += result.raised;

    this.batchesSinceSave += 1;
    // A save holds the thread while the state is serialised and written (half a second with
    // half a million groups), stalling ingest answers: spend at most 1% of the time saving. A
    // crash then replays more of the log, at the engine's speed (~300k events/s).
    const interval = Math.max(this.checkpointIntervalMs, 100 * this.lastSaveMs);
    const due =
      this.checkpointEvery === undefined
        ? performance.now() - this.lastSaveAt >= interval
        : this.batchesSinceSave >= this.checkpointEvery;
    if (due) await this.save();
    return true;
  }

  private async save(): Promise<void> {
    const seq = this.position;
    const started = performance.now();
    await this.options.log.saveCheckpoint(this.consumer, seq, this.engine.checkpoint());
    this.saved = seq;
    this.batchesSinceSave = 0;
    this.lastSaveAt = performance.now();
    this.lastSaveMs = this.lastSaveAt - started;
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.turn.then(task);
    this.turn = run.catch(() => {});
    return run;
  }

  private sleep(ms: number, wakeOnNotify: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = wakeOnNotify
        ? done
        : () => {
            if (this.stopping) done();
          };
    });
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`DetectionService: ${name} ${value}`);
  return value;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
