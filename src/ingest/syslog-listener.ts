/**
 * The syslog source: listens on UDP (one message per datagram) and TCP (RFC 6587, octet
 * counting or newline framing, see syslog-framing.ts), reads RFC 5424 and RFC 3164 messages,
 * sends sshd and nginx messages through their own parsers, and appends the events to the
 * durable event log in batches.
 *
 * What a crash can lose: syslog has no acknowledgement, so a sender forgets a message as soon as
 * it is written to the socket. Events received but not yet appended are only in this process's
 * memory: normally at most one batch window (`batchMaxDelayMs`, or `batchMaxEvents` events) plus
 * the batch being appended. While appends fail and are retried, more waits here: TCP readers are
 * paused once `batchMaxEvents × 4` events wait (the senders then queue in their own buffers),
 * and UDP messages beyond `batchMaxEvents × 16` waiting events are dropped and counted, as the
 * kernel would drop them anyway. A sender that needs more than this should send over TCP to a
 * relay with a disk queue (rsyslog's `queue.type="LinkedList"` with `queue.saveOnShutdown`), or
 * post to the HTTP ingest API, which answers only once events are durable.
 *
 * Backpressure from detection: while `mayAppend` says no (the server's lag limit, the same that
 * makes HTTP ingest answer 503), nothing is appended; events wait here under the same bounds, so
 * TCP senders are paused and UDP beyond the bound is dropped and counted. stop() appends what
 * waits regardless.
 *
 * Bad input never stops the listener: a message that is not syslog is rejected and counted (with
 * the first few kept as samples naming the peer and the reason), an over-long one is skipped and
 * counted, and only a TCP stream whose framing is lost is closed.
 */
import { randomUUID } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { type EcsEvent, type ParsedEvent, parseCombinedLogLine, parseSyslogLine } from '../events/index.js';
import type { Clock } from '../kernel/index.js';
import type { AppendOptions, AppendResult } from './event-log.js';
import { type FrameEvent, SyslogFrameDecoder } from './syslog-framing.js';

/** RFC 5425 suggests senders support 8 KiB and receivers may take more; rsyslog's own maximum is 64 KiB. */
export const SYSLOG_DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;
export const SYSLOG_DEFAULT_BATCH_MAX_EVENTS = 1000;
export const SYSLOG_DEFAULT_BATCH_MAX_DELAY_MS = 50;
/** Waits before the 2nd, 3rd and 4th attempt of a failed append; then the batch is dropped. */
export const SYSLOG_DEFAULT_RETRY_DELAYS_MS: readonly number[] = [100, 1000, 5000];
/** Rejection samples kept: enough to find a misconfigured sender, not a log of its own. */
export const SYSLOG_REJECTION_SAMPLES = 10;

/** The part of the event log the listener needs (EventLog is one). */
export interface SyslogEventSink {
  append(
    events: readonly { readonly event: EcsEvent; readonly epochMs: number }[],
    options: AppendOptions,
  ): Promise<AppendResult>;
}

export interface SyslogListenerOptions {
  readonly log: SyslogEventSink;
  /** receivedAt of appended events, and "now" for the year of RFC 3164 times. */
  readonly clock: Clock;
  /** Address both sockets bind to: `127.0.0.1`, `0.0.0.0`, `::` ... */
  readonly host: string;
  /** Listen on UDP at this port (0: any free port); absent: no UDP. */
  readonly udpPort?: number;
  /** Listen on TCP at this port (0: any free port); absent: no TCP. */
  readonly tcpPort?: number;
  /** Longer messages are skipped and counted as tooLong. Default 64 KiB. */
  readonly maxMessageBytes?: number;
  /** A batch is appended once it has this many events ... Default 1000. */
  readonly batchMaxEvents?: number;
  /** ... or this long after its first event arrived. Default 50 ms. */
  readonly batchMaxDelayMs?: number;
  /** Fixed UTC offset of RFC 3164 senders, whose times carry no zone; default 0. */
  readonly utcOffsetMinutes?: number;
  /** Waits between attempts of a failed append. Default 100 ms, 1 s, 5 s. */
  readonly retryDelaysMs?: readonly number[];
  /** Open TCP connections at most; a connection beyond it is closed at once. Default 256. */
  readonly maxConnections?: number;
  /** How long stop() lets a TCP peer finish sending after being asked to close. Default 2 s. */
  readonly closeGraceMs?: number;
  /** Append failures and drops, for the server log. */
  readonly warn?: (message: string) => void;
  /**
   * Asked before each append: false holds appends (detection is too far behind) and asks again
   * every `holdRecheckMs`. Absent: always append. An error counts as yes.
   */
  readonly mayAppend?: () => Promise<boolean>;
  /** Default 250 ms. */
  readonly holdRecheckMs?: number;
}

export type SyslogTransport = 'udp' | 'tcp';

/** One message that did not become an event. */
export interface SyslogRejectionSample {
  readonly kind: 'rejected' | 'tooLong';
  readonly transport: SyslogTransport;
  /** `203.0.113.5:51514`, `[2001:db8::1]:51514` */
  readonly peer: string;
  readonly reason: string;
  /** Its first 80 characters as a JSON string (control bytes escaped); empty for framing errors. */
  readonly excerpt: string;
}

/**
 * Counters since start. Every received message ends in exactly one of accepted, rejected,
 * tooLong and overflowDropped; accepted events then end up appended or appendDropped (or are
 * still pending).
 */
export interface SyslogListenerStats {
  /** Datagrams and TCP frames (a lost TCP framing counts as one). */
  readonly received: number;
  readonly accepted: number;
  /** Not syslog, empty, or a TCP framing error. */
  readonly rejected: number;
  /** Longer than maxMessageBytes: skipped unread. */
  readonly tooLong: number;
  /** UDP messages dropped because too many events were waiting for the log. */
  readonly overflowDropped: number;
  /** Accepted events given up on after every append attempt failed. */
  readonly appendDropped: number;
  readonly appendedBatches: number;
  readonly appendedEvents: number;
  /** Failed append attempts (each retry counts). */
  readonly appendFailures: number;
  readonly lastAppendError: string | undefined;
  /** Accepted events not yet appended. */
  readonly pending: number;
  readonly openConnections: number;
  readonly totalConnections: number;
  /** TCP connections not being read until the log catches up. */
  readonly pausedConnections: number;
  /** True while appends are held because detection is too far behind (`mayAppend` said no). */
  readonly held: boolean;
  /** Times appends were held. */
  readonly holds: number;
  /** The first few rejected and over-long messages. */
  readonly samples: readonly SyslogRejectionSample[];
}

interface PendingEvent {
  readonly event: EcsEvent;
  readonly epochMs: number;
  readonly receivedMs: number;
}

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;

/**
 * Listens for syslog on UDP and/or TCP and appends what it reads to the event log.
 *
 * @example
 * const syslog = new SyslogListener({ log, clock, host: '0.0.0.0', udpPort: 514, tcpPort: 514 });
 * const { udpPort, tcpPort } = await syslog.start();
 * // ... on shutdown: stop listening, then append what is still pending
 * await syslog.stop();
 */
export class SyslogListener {
  private readonly log: SyslogEventSink;
  private readonly clock: Clock;
  private readonly host: string;
  private readonly udpPort: number | undefined;
  private readonly tcpPort: number | undefined;
  private readonly maxMessageBytes: number;
  private readonly batchMaxEvents: number;
  private readonly batchMaxDelayMs: number;
  private readonly utcOffsetMinutes: number;
  private readonly retryDelaysMs: readonly number[];
  private readonly maxConnections: number;
  private readonly closeGraceMs: number;
  private readonly warn: (message: string) => void;
  private readonly mayAppend: (() => Promise<boolean>) | undefined;
  private readonly holdRecheckMs: number;
  /** TCP readers pause above this many pending events while an append is in flight. */
  private readonly pauseAbove: number;
  /** UDP messages are dropped at this many pending events. */
  private readonly udpDropAt: number;

  private state: 'new' | 'running' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  private udp: UdpSocket | undefined;
  private server: Server | undefined;
  private readonly connections = new Set<Socket>();
  private readonly paused = new Set<Socket>();

  private pending: PendingEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;

  private readonly counts = {
    received: 0,
    accepted: 0,
    rejected: 0,
    tooLong: 0,
    overflowDropped: 0,
    appendDropped: 0,
    appendedBatches: 0,
    appendedEvents: 0,
    appendFailures: 0,
    totalConnections: 0,
    holds: 0,
  };
  private held = false;
  private lastAppendError: string | undefined;
  private readonly samples: SyslogRejectionSample[] = [];

  constructor(options: SyslogListenerOptions) {
    if (options.udpPort === undefined && options.tcpPort === undefined) {
      throw new TypeError('SyslogListener: give udpPort, tcpPort or both');
    }
    for (const [name, port] of [
      ['udpPort', options.udpPort],
      ['tcpPort', options.tcpPort],
    ] as const) {
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
        throw new RangeError(`SyslogListener: ${name} ${port} is not a port number 0-65535`);
      }
    }
    this.log = options.log;
    this.clock = options.clock;
    this.host = options.host;
    this.maxMessageBytes = positive(
      'maxMessageBytes',
      options.maxMessageBytes,
      SYSLOG_DEFAULT_MAX_MESSAGE_BYTES,
    );
    this.batchMaxEvents = positive('batchMaxEvents', options.batchMaxEvents, SYSLOG_DEFAULT_BATCH_MAX_EVENTS);
    this.batchMaxDelayMs = nonNegative(
      'batchMaxDelayMs',
      options.batchMaxDelayMs,
      SYSLOG_DEFAULT_BATCH_MAX_DELAY_MS,
    );
    this.utcOffsetMinutes = options.utcOffsetMinutes ?? 0;
    this.retryDelaysMs = options.retryDelaysMs ?? SYSLOG_DEFAULT_RETRY_DELAYS_MS;
    this.maxConnections = positive('maxConnections', options.maxConnections, 256);
    this.closeGraceMs = nonNegative('closeGraceMs', options.closeGraceMs, 2000);
    this.warn = options.warn ?? (() => {});
    this.mayAppend = options.mayAppend;
    this.holdRecheckMs = positive('holdRecheckMs', options.holdRecheckMs, 250);
    this.pauseAbove = this.batchMaxEvents * 4;
    this.udpDropAt = this.batchMaxEvents * 16;
    this.udpPort = options.udpPort;
    this.tcpPort = options.tcpPort;
  }

  /** Binds the sockets; resolves with the ports bound (the real ones when 0 was asked for). */
  async start(): Promise<{ udpPort?: number; tcpPort?: number }> {
    if (this.state !== 'new') throw new Error('SyslogListener: start() may be called once');
    this.state = 'running';
    const bound: { udpPort?: number; tcpPort?: number } = {};
    try {
      if (this.udpPort !== undefined) bound.udpPort = await this.bindUdp(this.udpPort);
      if (this.tcpPort !== undefined) bound.tcpPort = await this.listenTcp(this.tcpPort);
    } catch (error) {
      await this.stop();
      throw error;
    }
    return bound;
  }

  /**
   * Stops listening, lets TCP peers finish (each is sent a FIN and given `closeGraceMs` to
   * close; what they send meanwhile is still read), then appends everything still pending.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  stats(): SyslogListenerStats {
    return {
      ...this.counts,
      lastAppendError: this.lastAppendError,
      pending: this.pending.length,
      held: this.held,
      openConnections: this.connections.size,
      pausedConnections: this.paused.size,
      samples: [...this.samples],
    };
  }

  private async shutdown(): Promise<void> {
    const closing: Promise<void>[] = [];
    const udp = this.udp;
    if (udp !== undefined) closing.push(new Promise((resolve) => udp.close(() => resolve())));
    const server = this.server;
    if (server?.listening) {
      closing.push(new Promise((resolve) => server.close(() => resolve())));
      for (const socket of this.connections) {
        closing.push(new Promise((resolve) => socket.once('close', () => resolve())));
        this.endGracefully(socket);
      }
    }
    await Promise.all(closing);
    this.state = 'stopped';
    while (this.pending.length > 0 || this.draining !== undefined) {
      if (this.draining === undefined) this.kick();
      await this.draining;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private endGracefully(socket: Socket): void {
    socket.end();
    const force = setTimeout(() => socket.destroy(), this.closeGraceMs);
    socket.once('close', () => clearTimeout(force));
  }

  private bindUdp(port: number): Promise<number> {
    const socket = createSocket({ type: isIPv6(this.host) ? 'udp6' : 'udp4' });
    this.udp = socket;
    socket.on('message', (message, peer) => this.onDatagram(message, peer));
    return new Promise((resolve, reject) => {
      socket.once('error', (error) => {
        this.udp = undefined;
        try {
          socket.close();
        } catch {
          // never bound: nothing to close
        }
        reject(listenError('udp', this.host, port, error));
      });
      socket.bind({ port, address: this.host }, () => {
        socket.removeAllListeners('error');
        socket.on('error', (error) => this.warn(`syslog udp: ${error.message}`));
        resolve(socket.address().port);
      });
    });
  }

  private listenTcp(port: number): Promise<number> {
    const server = createServer((socket) => this.onConnection(socket));
    server.maxConnections = this.maxConnections;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (error) => reject(listenError('tcp', this.host, port, error)));
      server.listen({ port, host: this.host }, () => {
        server.removeAllListeners('error');
        server.on('error', (error) => this.warn(`syslog tcp: ${error.message}`));
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  private onDatagram(message: Buffer, peer: RemoteInfo): void {
    if (this.state !== 'running') return;
    const from = formatPeer(peer.address, peer.port);
    if (this.pending.length >= this.udpDropAt) {
      this.counts.received++;
      this.counts.overflowDropped++;
      return;
    }
    if (message.length > this.maxMessageBytes) {
      this.counts.received++;
      this.tooLong('udp', from, message.length);
      return;
    }
    this.handle(message, 'udp', from);
  }

  private onConnection(socket: Socket): void {
    this.connections.add(socket);
    this.counts.totalConnections++;
    const peer = formatPeer(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    const decoder = new SyslogFrameDecoder({ maxMessageBytes: this.maxMessageBytes });
    socket.setKeepAlive(true, 60_000);
    const deliver = (events: readonly FrameEvent[], atEnd: boolean): void => {
      for (const out of events) {
        if (out.type === 'frame') {
          this.handle(out.message, 'tcp', peer);
        } else if (out.type === 'tooLong') {
          this.counts.received++;
          this.tooLong('tcp', peer, out.bytes);
        } else {
          this.counts.received++;
          // Without the framing, the next frame cannot be found: close, and let the sender reconnect.
          this.reject(
            'tcp',
            peer,
            atEnd ? out.reason : `${out.reason}; the connection was closed`,
            undefined,
          );
          socket.destroy();
        }
      }
    };
    socket.on('data', (chunk: Buffer) => {
      deliver(decoder.push(chunk), false);
      // Backpressure: the kernel's receive window fills and the sender blocks until we resume.
      if (!socket.destroyed && this.draining !== undefined && this.pending.length > this.pauseAbove) {
        socket.pause();
        this.paused.add(socket);
      }
    });
    // The peer is done sending (our side then ends too: allowHalfOpen is off).
    socket.on('end', () => deliver(decoder.end(), true));
    // A reset connection is simply gone; what was framed before it stays accepted.
    socket.on('error', () => {});
    socket.on('close', () => {
      this.connections.delete(socket);
      this.paused.delete(socket);
    });
    if (this.stopping !== undefined) this.endGracefully(socket);
  }

  /** One message's bytes (a datagram or a TCP frame, at most maxMessageBytes). */
  private handle(bytes: Buffer, transport: SyslogTransport, peer: string): void {
    this.counts.received++;
    let end = bytes.length;
    // A trailing LF, CR or NUL is a terminator some senders add, never part of the message.
    while (end > 0) {
      const last = bytes[end - 1];
      if (last !== LF && last !== CR && last !== NUL) break;
      end--;
    }
    const text = bytes.toString('utf8', 0, end).trim();
    if (text === '') {
      this.reject(transport, peer, 'empty message', text);
      return;
    }
    const nowMs = this.clock.now().getTime();
    const parsed = this.parse(text, nowMs);
    if (typeof parsed === 'string') {
      this.reject(transport, peer, parsed, text);
      return;
    }
    this.counts.accepted++;
    this.pending.push({ event: parsed.event, epochMs: parsed.epochMs, receivedMs: nowMs });
    this.schedule();
  }

  /**
   * The syslog parser reads sshd messages with the sshd parser and `nginx` messages with the
   * combined-log parser. nginx may log under another tag (`access_log syslog:server=...,tag=shop`),
   * so a plain message that reads as a combined line becomes a web event all the same, with the
   * request's own time.
   */
  private parse(text: string, nowMs: number): ParsedEvent | string {
    const parsed = parseSyslogLine(text, { referenceMs: nowMs, utcOffsetMinutes: this.utcOffsetMinutes });
    if (typeof parsed === 'string') return parsed;
    const plain = parsed.event;
    const message = plain.message;
    // `event` is only set by the sshd and nginx readers; `] "` is the cheap sign of `[time] "request"`.
    if (plain.event !== undefined || typeof message !== 'string' || message.indexOf('] "') === -1) {
      return parsed;
    }
    const web = parseCombinedLogLine(message);
    if (typeof web === 'string') return parsed;
    const event = web.event;
    event.log = plain.log;
    if (plain.host !== undefined) event.host = plain.host;
    if (plain.process !== undefined) event.process = plain.process;
    event.message = message;
    return { event, epochMs: web.epochMs };
  }

  private reject(transport: SyslogTransport, peer: string, reason: string, text: string | undefined): void {
    this.counts.rejected++;
    this.sample('rejected', transport, peer, reason, text);
  }

  private tooLong(transport: SyslogTransport, peer: string, bytes: number): void {
    this.counts.tooLong++;
    this.sample(
      'tooLong',
      transport,
      peer,
      `a message of ${bytes} bytes or more is longer than the maximum ${this.maxMessageBytes}`,
      undefined,
    );
  }

  private sample(
    kind: SyslogRejectionSample['kind'],
    transport: SyslogTransport,
    peer: string,
    reason: string,
    text: string | undefined,
  ): void {
    if (this.samples.length >= SYSLOG_REJECTION_SAMPLES) return;
    const excerpt = text === undefined ? '' : JSON.stringify(text.slice(0, 80));
    this.samples.push({ kind, transport, peer, reason, excerpt });
  }

  // --- batching ---------------------------------------------------------------------------

  /** Appends at once when a batch is full, else when the oldest pending event has waited long enough. */
  private schedule(): void {
    if (this.draining !== undefined) return; // the running drain takes everything pending
    if (this.pending.length >= this.batchMaxEvents || this.state === 'stopped') this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.batchMaxDelayMs);
  }

  private kick(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.draining !== undefined || this.pending.length === 0) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      this.resumeReaders();
      if (this.pending.length > 0) this.schedule();
    });
  }

  /**
   * One append at a time, so events reach the log in the order they were read. Whatever arrived
   * during an append goes in the next batch straight away (group commit): under load batches
   * fill up instead of waiting out the delay.
   */
  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch =
        this.pending.length <= this.batchMaxEvents
          ? this.pending
          : this.pending.slice(0, this.batchMaxEvents);
      this.pending = batch === this.pending ? [] : this.pending.slice(this.batchMaxEvents);
      await this.waitWhileHeld();
      await this.appendWithRetry(batch);
      this.resumeReaders();
    }
  }

  /**
   * While `mayAppend` says no and the listener runs, waits. The drain is in progress meanwhile,
   * so TCP readers pause and UDP drops beyond the bounds exactly as behind a slow append.
   */
  private async waitWhileHeld(): Promise<void> {
    if (this.mayAppend === undefined) return;
    while (this.state === 'running' && !(await this.mayAppend().catch(() => true))) {
      if (!this.held) {
        this.held = true;
        this.counts.holds++;
        this.warn(
          'syslog: detection is too far behind; holding appends (TCP senders wait, UDP overflow is dropped)',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, this.holdRecheckMs));
    }
    if (this.held) {
      this.held = false;
      this.warn('syslog: detection caught up; appending again');
    }
  }

  private resumeReaders(): void {
    if (this.pending.length > this.pauseAbove && this.draining !== undefined) return;
    for (const socket of this.paused) socket.resume();
    this.paused.clear();
  }

  /**
   * Appends one batch, retrying with the configured waits. The batch carries an idempotency key,
   * so a retry after an append whose commit succeeded but whose answer was lost (a dropped
   * database connection) does not append it twice. Never throws.
   */
  private async appendWithRetry(batch: readonly PendingEvent[]): Promise<void> {
    const options: AppendOptions = {
      source: 'syslog',
      receivedAt: new Date(batch[0]!.receivedMs),
      idempotency: { keyId: 'syslog-listener', key: randomUUID() },
      answer: () => null,
    };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.log.append(batch, options);
        this.counts.appendedBatches++;
        this.counts.appendedEvents += batch.length;
        return;
      } catch (error) {
        this.counts.appendFailures++;
        const reason = error instanceof Error ? error.message : String(error);
        this.lastAppendError = reason;
        const wait = this.retryDelaysMs[attempt];
        if (wait === undefined) {
          this.counts.appendDropped += batch.length;
          this.warn(
            `syslog: dropped ${batch.length} events after ${attempt + 1} failed appends to the event log: ${reason}`,
          );
          return;
        }
        this.warn(`syslog: appending ${batch.length} events failed (${reason}); retrying in ${wait} ms`);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`SyslogListener: ${name} ${value}`);
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`SyslogListener: ${name} ${value}`);
  return value;
}

function formatPeer(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function listenError(transport: SyslogTransport, host: string, port: number, error: Error): Error {
  return new Error(`syslog: cannot listen on ${transport} ${formatPeer(host, port)}: ${error.message}`, {
    cause: error,
  });
}
