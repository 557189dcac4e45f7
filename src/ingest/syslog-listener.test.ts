import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshStore, type TestStore } from '../../test/helpers/stores.js';
import { VirtualClock } from '../kernel/index.js';
import { EventLog, type LoggedEvent } from './event-log.js';
import { encodeSyslogFrames } from './syslog-framing.js';
import {
  type SyslogEventSink,
  SyslogListener,
  type SyslogListenerOptions,
  type SyslogListenerStats,
} from './syslog-listener.js';

const NOW = '2026-03-02T10:00:00.000Z';
const HOST = '127.0.0.1';

const RFC5424 =
  '<165>1 2026-03-02T09:59:58.123Z web1 shop 4321 ID47 [origin ip="192.0.2.1"] \uFEFFpayment failed';
const SSHD_FAILED =
  '<38>Mar  2 09:59:59 bastion sshd[811]: Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2';
const NGINX =
  '<190>Mar  2 09:59:59 web1 nginx: 198.51.100.7 - - [02/Mar/2026:10:59:57 +0100] "POST /login HTTP/1.1" 401 12 "-" "curl/8.5"';

function line(n: number): string {
  return `<14>1 2026-03-02T09:00:00.000Z app1 shop - - - message number ${n}`;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function sendUdp(port: number, messages: readonly (string | Buffer)[]): Promise<void> {
  const socket = createSocket('udp4');
  try {
    for (const message of messages) {
      await new Promise<void>((resolve, reject) =>
        socket.send(message, port, HOST, (error) => (error ? reject(error) : resolve())),
      );
    }
  } finally {
    socket.close();
  }
}

async function tcpConnect(port: number): Promise<Socket> {
  const socket = connect({ port, host: HOST, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

function write(socket: Socket, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (error) => (error ? reject(error) : resolve())));
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.closed) resolve();
    else socket.once('close', () => resolve());
  });
}

/** Sends the pieces one write each, a little apart, so they tend to arrive as separate reads. */
async function sendTcp(port: number, pieces: readonly (string | Uint8Array)[], gapMs = 0): Promise<void> {
  const socket = await tcpConnect(port);
  socket.on('error', () => {});
  for (const piece of pieces) {
    await write(socket, piece);
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  socket.end();
  await closed(socket);
}

/** Pieces of `data` cut at seeded pseudo-random points (mulberry32). */
function cut(data: Buffer, seed: number, maxPiece: number): Buffer[] {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const n = 1 + Math.floor(random() * maxPiece);
    pieces.push(data.subarray(i, i + n));
    i += n;
  }
  return pieces;
}

const messageOf = (e: LoggedEvent) => e.event.message;
/** received = accepted + rejected + tooLong + overflowDropped, always. */
function balanced(stats: SyslogListenerStats): boolean {
  return stats.received === stats.accepted + stats.rejected + stats.tooLong + stats.overflowDropped;
}

describe('SyslogListener', () => {
  let ts: TestStore;
  let clock: VirtualClock;
  let log: EventLog;
  const listeners: SyslogListener[] = [];

  beforeEach(async () => {
    ts = await freshStore('sqlite');
    clock = new VirtualClock(NOW);
    log = new EventLog({ store: ts.store, clock });
  });
  afterEach(async () => {
    for (const listener of listeners.splice(0)) await listener.stop();
    await ts.cleanup();
  });

  async function listen(options: Partial<SyslogListenerOptions> = {}) {
    const listener = new SyslogListener({
      log,
      clock,
      host: HOST,
      udpPort: 0,
      tcpPort: 0,
      batchMaxDelayMs: 5,
      ...options,
    });
    listeners.push(listener);
    const ports = await listener.start();
    return { listener, udpPort: ports.udpPort!, tcpPort: ports.tcpPort! };
  }

  /** An event log whose appends wait until `open()` is called: an append held in flight. */
  function gatedLog(): { sink: SyslogEventSink; open: () => void } {
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    return {
      sink: {
        append: async (events, options) => {
          await gate;
          return log.append(events, options);
        },
      },
      open,
    };
  }

  /** `total` octet-counted messages of ~1 KB: more than the kernel buffers hold between two sockets. */
  function flood(total: number): Buffer {
    const pad = 'p'.repeat(950);
    return encodeSyslogFrames(
      Array.from({ length: total }, (_, i) => `${line(i)} ${pad}`),
      'octet-counting',
    );
  }

  /** Waits until `n` events are in the log and returns them in seq order. */
  async function logged(listener: SyslogListener, n: number): Promise<LoggedEvent[]> {
    await waitFor(`${n} appended events`, () => listener.stats().appendedEvents >= n);
    return log.read(0, 10_000);
  }

  describe('start and stop', () => {
    it('binds ephemeral ports and gives the real ones', async () => {
      const { udpPort, tcpPort } = await listen();
      expect(udpPort).toBeGreaterThan(0);
      expect(tcpPort).toBeGreaterThan(0);
    });

    it('listens only on what it is given', async () => {
      const listener = new SyslogListener({ log, clock, host: HOST, udpPort: 0 });
      listeners.push(listener);
      expect(Object.keys(await listener.start())).toEqual(['udpPort']);
    });

    it('needs a port, and sane sizes', () => {
      expect(() => new SyslogListener({ log, clock, host: HOST })).toThrow('give udpPort, tcpPort or both');
      expect(() => new SyslogListener({ log, clock, host: HOST, udpPort: 70_000 })).toThrow('udpPort 70000');
      expect(() => new SyslogListener({ log, clock, host: HOST, udpPort: 0, batchMaxEvents: 0 })).toThrow(
        'batchMaxEvents 0',
      );
    });

    it('names the transport and address when a port is taken, and leaves nothing bound', async () => {
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, HOST, resolve));
      const taken = (blocker.address() as { port: number }).port;
      try {
        const listener = new SyslogListener({ log, clock, host: HOST, udpPort: 0, tcpPort: taken });
        await expect(listener.start()).rejects.toThrow(`syslog: cannot listen on tcp 127.0.0.1:${taken}: `);
        await expect(listener.start()).rejects.toThrow('start() may be called once');
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });

    it('stop() appends what is pending and ends open TCP connections gracefully', async () => {
      const { listener, udpPort, tcpPort } = await listen({ batchMaxDelayMs: 60_000 });
      await sendUdp(udpPort, [line(1), line(2)]);
      const client = await tcpConnect(tcpPort);
      const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
      await write(client, `${line(3)}\n`);
      await waitFor('3 accepted', () => listener.stats().accepted === 3);
      expect(listener.stats().appendedEvents).toBe(0);
      // The peer keeps its side open: stop() sends FIN, the client closes on 'end'.
      client.on('end', () => client.end());
      await listener.stop();
      await ended;
      expect(listener.stats()).toMatchObject({ appendedEvents: 3, pending: 0, openConnections: 0 });
      expect((await log.read(0, 10)).map(messageOf).sort()).toEqual(
        ['message number 1', 'message number 2', 'message number 3'].sort(),
      );
      await listener.stop(); // a second stop is a no-op
    });

    it('stop() closes a peer that does not close after the grace period', async () => {
      const { listener, tcpPort } = await listen({ closeGraceMs: 50 });
      const client = await tcpConnect(tcpPort);
      client.on('error', () => {});
      client.allowHalfOpen = true;
      await write(client, `${line(1)}\n`);
      await waitFor('1 accepted', () => listener.stats().accepted === 1);
      const started = Date.now();
      await listener.stop();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(listener.stats()).toMatchObject({ appendedEvents: 1, openConnections: 0 });
      client.destroy();
    });
  });

  describe('UDP', () => {
    it('reads an RFC 5424 datagram into an ECS event with the clock as receivedAt', async () => {
      const { listener, udpPort } = await listen();
      await sendUdp(udpPort, [`${RFC5424}\n`]);
      const [row] = await logged(listener, 1);
      expect(row).toMatchObject({
        source: 'syslog',
        receivedAt: NOW,
        epochMs: Date.parse('2026-03-02T09:59:58.123Z'),
      });
      expect(row!.event).toEqual({
        '@timestamp': '2026-03-02T09:59:58.123Z',
        log: {
          syslog: {
            priority: 165,
            facility: { code: 20, name: 'local4' },
            severity: { code: 5, name: 'notice' },
            version: '1',
            appname: 'shop',
            procid: '4321',
            msgid: 'ID47',
            structured_data: { origin: { ip: '192.0.2.1' } },
          },
        },
        host: { hostname: 'web1' },
        process: { name: 'shop', pid: 4321 },
        message: 'payment failed',
      });
      expect(listener.stats()).toMatchObject({ received: 1, accepted: 1, rejected: 0, appendedBatches: 1 });
    });

    it('gives RFC 3164 times the year from the clock: Dec 31 read on Jan 1 is last year', async () => {
      clock.set('2026-01-01T00:05:00Z');
      const { listener, udpPort } = await listen();
      await sendUdp(udpPort, [
        "<34>Dec 31 23:59:00 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
      ]);
      await logged(listener, 1);
      await sendUdp(udpPort, ['<13>Jan  1 00:04:00 mymachine cron[7]: tick\0']);
      const rows = await logged(listener, 2);
      expect(rows.map((r) => r.event['@timestamp'])).toEqual([
        '2025-12-31T23:59:00.000Z',
        '2026-01-01T00:04:00.000Z',
      ]);
      expect(rows[0]!.event).toMatchObject({ host: { hostname: 'mymachine' }, process: { name: 'su' } });
      expect(rows[1]!.event.message).toBe('tick');
    });

    it('reads RFC 3164 times in the configured sender offset', async () => {
      const { listener, udpPort } = await listen({ utcOffsetMinutes: 60 });
      await sendUdp(udpPort, ['<13>Mar  2 10:30:00 h app: local time']);
      const [row] = await logged(listener, 1);
      expect(row!.event['@timestamp']).toBe('2026-03-02T09:30:00.000Z');
    });

    it('rejects garbage datagrams, keeps samples with the peer, and keeps working', async () => {
      const { listener, udpPort } = await listen();
      const noise = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 197 + 13) % 256));
      await sendUdp(udpPort, [
        noise,
        Buffer.alloc(0),
        '     ',
        '\n',
        'hello world',
        '<13>no time here',
        '<999>1 2026-03-02T10:00:00Z h a - - - bad priority',
      ]);
      await waitFor('7 rejected', () => listener.stats().rejected === 7);
      await sendUdp(udpPort, [line(1)]);
      await logged(listener, 1);
      const stats = listener.stats();
      expect(stats).toMatchObject({ received: 8, accepted: 1, rejected: 7, tooLong: 0 });
      expect(balanced(stats)).toBe(true);
      expect(stats.samples).toHaveLength(7);
      for (const sample of stats.samples) {
        expect(sample).toMatchObject({ kind: 'rejected', transport: 'udp' });
        expect(sample.peer).toMatch(/^127\.0\.0\.1:\d+$/);
      }
      expect(stats.samples.map((s) => s.reason)).toEqual([
        'not a syslog line (RFC 5424, RFC 3164 or RFC 3339-stamped)',
        'empty message',
        'empty message',
        'empty message',
        'not a syslog line (RFC 5424, RFC 3164 or RFC 3339-stamped)',
        'not a syslog line (RFC 5424, RFC 3164 or RFC 3339-stamped)',
        'syslog priority <999> is out of range (0-191)',
      ]);
      expect(stats.samples[4]!.excerpt).toBe('"hello world"');
    });

    it('counts a datagram longer than maxMessageBytes as tooLong', async () => {
      const { listener, udpPort } = await listen({ maxMessageBytes: 100 });
      await sendUdp(udpPort, [`<13>1 2026-03-02T10:00:00Z h a - - - ${'x'.repeat(200)}`, line(1)]);
      await logged(listener, 1);
      expect(listener.stats()).toMatchObject({ received: 2, accepted: 1, tooLong: 1 });
      expect(listener.stats().samples[0]).toMatchObject({ kind: 'tooLong', transport: 'udp' });
    });
  });

  describe('TCP', () => {
    it('reads octet-counted frames cut at arbitrary points', async () => {
      const { listener, tcpPort } = await listen();
      const messages = Array.from({ length: 40 }, (_, i) => line(i));
      const stream = encodeSyslogFrames(messages, 'octet-counting');
      await sendTcp(tcpPort, cut(stream, 42, 97), 1);
      const rows = await logged(listener, 40);
      // One connection: the log has them in the order they were sent.
      expect(rows.map(messageOf)).toEqual(messages.map((_, i) => `message number ${i}`));
      expect(listener.stats()).toMatchObject({ received: 40, accepted: 40, rejected: 0 });
    });

    it('reads octet-counted frames written byte by byte', async () => {
      const { listener, tcpPort } = await listen();
      const stream = encodeSyslogFrames([RFC5424, SSHD_FAILED], 'octet-counting');
      await sendTcp(
        tcpPort,
        [...stream].map((b) => Uint8Array.of(b)),
      );
      const rows = await logged(listener, 2);
      expect(rows.map(messageOf)).toEqual([
        'payment failed',
        'Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2',
      ]);
    });

    it('reads LF-framed messages with CRLF, and a last one without a newline', async () => {
      const { listener, tcpPort } = await listen();
      await sendTcp(tcpPort, [`${line(1)}\r\n${line(2)}\r`, `\n${line(3)}\n${line(4)}`]);
      const rows = await logged(listener, 4);
      expect(rows.map(messageOf)).toEqual([1, 2, 3, 4].map((n) => `message number ${n}`));
    });

    it('rejects garbage lines (binary noise, empty, only spaces) and keeps the connection', async () => {
      const { listener, tcpPort } = await listen();
      // Noise without LF or NUL (those would end it), not starting with a digit (octet counting).
      const noise = Buffer.from(Array.from({ length: 200 }, (_, i) => 0x80 + ((i * 31) % 128)));
      await sendTcp(tcpPort, [
        `${line(1)}\n`,
        noise,
        '\n',
        '\n',
        '    \n',
        '\t \r\n',
        'garbage\n',
        `${line(2)}\n`,
      ]);
      const rows = await logged(listener, 2);
      expect(rows.map(messageOf)).toEqual(['message number 1', 'message number 2']);
      const stats = listener.stats();
      expect(stats).toMatchObject({ received: 7, accepted: 2, rejected: 5 });
      expect(stats.samples.map((s) => s.reason)).toEqual([
        'not a syslog line (RFC 5424, RFC 3164 or RFC 3339-stamped)',
        'empty message',
        'empty message',
        'empty message',
        'not a syslog line (RFC 5424, RFC 3164 or RFC 3339-stamped)',
      ]);
      expect(stats.samples[0]).toMatchObject({
        transport: 'tcp',
        peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      });
    });

    it('skips an over-long LF line and reads the next message on the same connection', async () => {
      const { listener, tcpPort } = await listen({ maxMessageBytes: 256 });
      const long = `<13>1 2026-03-02T10:00:00Z h a - - - ${'y'.repeat(100_000)}`;
      await sendTcp(
        tcpPort,
        [`${line(1)}\n`, long.slice(0, 50_000), `${long.slice(50_000)}\n`, `${line(2)}\n`],
        1,
      );
      const rows = await logged(listener, 2);
      expect(rows.map(messageOf)).toEqual(['message number 1', 'message number 2']);
      expect(listener.stats()).toMatchObject({ received: 3, accepted: 2, tooLong: 1, rejected: 0 });
      expect(listener.stats().samples[0]).toMatchObject({ kind: 'tooLong', transport: 'tcp' });
    });

    it('skips an over-long octet-counted frame and reads the next frame on the same connection', async () => {
      const { listener, tcpPort } = await listen({ maxMessageBytes: 256 });
      const long = `<13>1 2026-03-02T10:00:00Z h a - - - ${'z'.repeat(900)}`;
      const stream = encodeSyslogFrames([line(1), long, line(2)], 'octet-counting');
      await sendTcp(tcpPort, cut(stream, 7, 300), 1);
      const rows = await logged(listener, 2);
      expect(rows.map(messageOf)).toEqual(['message number 1', 'message number 2']);
      expect(listener.stats()).toMatchObject({ received: 3, accepted: 2, tooLong: 1 });
      expect(listener.stats().samples[0]!.reason).toBe(
        `a message of ${Buffer.byteLength(long)} bytes or more is longer than the maximum 256`,
      );
    });

    it('closes a connection whose octet count is malformed, after counting it, and goes on listening', async () => {
      const { listener, tcpPort } = await listen();
      const client = await tcpConnect(tcpPort);
      client.on('error', () => {});
      await write(client, `${encodeSyslogFrames([line(1)], 'octet-counting')}12x ${line(2)}`);
      await closed(client);
      const stats = listener.stats();
      expect(stats).toMatchObject({ received: 2, accepted: 1, rejected: 1 });
      expect(stats.samples[0]).toMatchObject({
        kind: 'rejected',
        transport: 'tcp',
        reason: 'octet count "12" is followed by "x", not a space; the connection was closed',
        excerpt: '',
      });
      await sendTcp(tcpPort, [encodeSyslogFrames([line(3)], 'octet-counting')]);
      expect((await logged(listener, 2)).map(messageOf)).toEqual(['message number 1', 'message number 3']);
    });

    it('rejects a counted frame cut short by the peer', async () => {
      const { listener, tcpPort } = await listen();
      await sendTcp(tcpPort, [`${encodeSyslogFrames([line(1)], 'octet-counting')}500 <13>1 partial`]);
      await logged(listener, 1);
      await waitFor('1 rejected', () => listener.stats().rejected === 1);
      expect(listener.stats().samples[0]!.reason).toBe(
        'the connection closed 487 bytes before the end of a 500-byte frame',
      );
    });

    it('closes connections beyond maxConnections', async () => {
      const { listener, tcpPort } = await listen({ maxConnections: 1 });
      const first = await tcpConnect(tcpPort);
      await waitFor('1 connection', () => listener.stats().openConnections === 1);
      const second = connect({ port: tcpPort, host: HOST });
      second.on('error', () => {});
      await closed(second);
      await write(first, `${line(1)}\n`);
      first.end();
      await logged(listener, 1);
      expect(listener.stats().totalConnections).toBe(1);
    });
  });

  describe('sshd and nginx', () => {
    it('turns an sshd "Failed password" line into an authentication failure with user and source.ip', async () => {
      const { listener, udpPort } = await listen();
      await sendUdp(udpPort, [SSHD_FAILED]);
      const [row] = await logged(listener, 1);
      expect(row!.event).toMatchObject({
        '@timestamp': '2026-03-02T09:59:59.000Z',
        event: { kind: 'event', category: ['authentication'], action: 'login', outcome: 'failure' },
        user: { name: 'admin' },
        source: { ip: '203.0.113.5', port: 4242 },
        host: { hostname: 'bastion' },
        process: { name: 'sshd', pid: 811 },
        firebreak: { auth: { method: 'password', invalid_user: true } },
      });
    });

    it('turns an nginx access line into a request event at the time of the request', async () => {
      const { listener, tcpPort } = await listen();
      await sendTcp(tcpPort, [`${NGINX}\n`]);
      const [row] = await logged(listener, 1);
      expect(row!.epochMs).toBe(Date.parse('2026-03-02T09:59:57Z'));
      expect(row!.event).toMatchObject({
        '@timestamp': '2026-03-02T09:59:57.000Z',
        event: { category: ['web'], action: 'request', outcome: 'failure' },
        source: { ip: '198.51.100.7' },
        http: { request: { method: 'POST' }, response: { status_code: 401 } },
        url: { original: '/login' },
        log: { syslog: { appname: 'nginx' } },
        host: { hostname: 'web1' },
      });
    });

    it('reads a combined log line sent under another tag as a request event too', async () => {
      const { listener, udpPort } = await listen();
      await sendUdp(udpPort, [
        NGINX.replace(' nginx: ', ' shop_web: '),
        '<14>Mar  2 09:59:59 web1 app: a "quoted] "thing',
      ]);
      const rows = await logged(listener, 2);
      expect(rows[0]!.event).toMatchObject({
        '@timestamp': '2026-03-02T09:59:57.000Z',
        event: { action: 'request' },
        log: { syslog: { appname: 'shop_web', priority: 190 } },
        process: { name: 'shop_web' },
        message: NGINX.slice(NGINX.indexOf('198.51')),
      });
      expect(rows[1]!.event.event).toBeUndefined();
    });
  });

  describe('batching and the event log', () => {
    it('appends in batches of at most batchMaxEvents, in order', async () => {
      const sizes: number[] = [];
      const recording: SyslogEventSink = {
        append: (events, options) => {
          sizes.push(events.length);
          return log.append(events, options);
        },
      };
      const { listener, tcpPort } = await listen({
        log: recording,
        batchMaxEvents: 10,
        batchMaxDelayMs: 1000,
      });
      await sendTcp(tcpPort, [
        encodeSyslogFrames(
          Array.from({ length: 25 }, (_, i) => line(i)),
          'octet-counting',
        ),
      ]);
      // 20 go at once (two full batches); the last 5 wait for the delay, or are taken along.
      const rows = await logged(listener, 25);
      expect(rows.map(messageOf)).toEqual(Array.from({ length: 25 }, (_, i) => `message number ${i}`));
      expect(Math.max(...sizes)).toBe(10);
      expect(sizes.reduce((sum, n) => sum + n, 0)).toBe(25);
      expect(listener.stats().appendedBatches).toBe(sizes.length);
    });

    it('retries a failed append and counts the failures', async () => {
      let failuresLeft = 2;
      const warnings: string[] = [];
      const flaky: SyslogEventSink = {
        append: (events, options) =>
          failuresLeft-- > 0 ? Promise.reject(new Error('database is locked')) : log.append(events, options),
      };
      const { listener, udpPort } = await listen({
        log: flaky,
        retryDelaysMs: [5, 5, 5],
        warn: (m) => warnings.push(m),
      });
      await sendUdp(udpPort, [line(1)]);
      await logged(listener, 1);
      expect(listener.stats()).toMatchObject({
        appendFailures: 2,
        appendedBatches: 1,
        appendDropped: 0,
        lastAppendError: 'database is locked',
      });
      expect(warnings).toEqual([
        'syslog: appending 1 events failed (database is locked); retrying in 5 ms',
        'syslog: appending 1 events failed (database is locked); retrying in 5 ms',
      ]);
      expect(await log.count()).toBe(1);
    });

    it('appends a retried batch once even if the failed attempt had committed', async () => {
      let first = true;
      const lostAnswer: SyslogEventSink = {
        async append(events, options) {
          const result = await log.append(events, options);
          if (first) {
            first = false;
            throw new Error('connection lost before the answer');
          }
          return result;
        },
      };
      const { listener, udpPort } = await listen({ log: lostAnswer, retryDelaysMs: [5] });
      await sendUdp(udpPort, [line(1)]);
      await waitFor('the retry', () => listener.stats().appendedBatches === 1);
      expect(await log.count()).toBe(1);
    });

    it('drops a batch after the last retry, counts it and says so', async () => {
      const warnings: string[] = [];
      const broken: SyslogEventSink = { append: () => Promise.reject(new Error('disk full')) };
      const { listener, udpPort } = await listen({
        log: broken,
        retryDelaysMs: [1, 1],
        warn: (m) => warnings.push(m),
      });
      await sendUdp(udpPort, [line(1), line(2)]);
      await waitFor('2 dropped', () => listener.stats().appendDropped === 2);
      expect(listener.stats()).toMatchObject({
        accepted: 2,
        appendedEvents: 0,
        lastAppendError: 'disk full',
      });
      expect(warnings.at(-1)).toMatch(
        /^syslog: dropped \d events after 3 failed appends to the event log: disk full$/,
      );
      // And it keeps listening.
      expect(listener.stats().pending).toBe(0);
    });

    it('pauses a TCP flood while an append is in flight, so memory stays bounded, and resumes after', async () => {
      const { sink: gated, open } = gatedLog();
      const { listener, tcpPort } = await listen({ log: gated, batchMaxEvents: 200 });
      const total = 20_000;
      const stream = flood(total);
      const client = await tcpConnect(tcpPort);
      const sent = new Promise<void>((resolve) => client.end(stream, resolve));
      try {
        await waitFor('the reader to pause', () => listener.stats().pausedConnections === 1);
        await new Promise((resolve) => setTimeout(resolve, 100));
        const held = listener.stats();
        // Pending stops at 4 × 200 plus what one read held; nothing like the 20,000 sent.
        expect(held.pausedConnections).toBe(1);
        expect(held.pending).toBeLessThan(2000);
        expect(held.accepted).toBeLessThan(2200);
      } finally {
        open();
      }
      await sent;
      await logged(listener, total);
      expect(listener.stats()).toMatchObject({ accepted: total, pausedConnections: 0, pending: 0 });
    });

    it('holds appends while mayAppend says no (detection behind): TCP pauses, nothing is appended, then all of it lands', async () => {
      let allowed = false;
      const warnings: string[] = [];
      const { listener, tcpPort, udpPort } = await listen({
        batchMaxEvents: 200,
        mayAppend: async () => allowed,
        holdRecheckMs: 10,
        warn: (m) => warnings.push(m),
      });
      const total = 20_000;
      const stream = flood(total);
      const client = await tcpConnect(tcpPort);
      const sent = new Promise<void>((resolve) => client.end(stream, resolve));
      try {
        await waitFor('the reader to pause', () => listener.stats().pausedConnections === 1);
        // UDP below the drop bound (16 × 200) waits with the rest (the paused TCP reader adds none).
        const before = listener.stats().received;
        await sendUdp(
          udpPort,
          Array.from({ length: 50 }, (_, i) => line(total + i)),
        );
        await waitFor('the 50 datagrams', () => listener.stats().received >= before + 50);
        const held = listener.stats();
        expect(held).toMatchObject({ held: true, holds: 1, appendedEvents: 0, pausedConnections: 1 });
        expect(held.pending).toBeLessThan(2000);
        expect(await log.count()).toBe(0);
        expect(warnings).toEqual([
          'syslog: detection is too far behind; holding appends (TCP senders wait, UDP overflow is dropped)',
        ]);
      } finally {
        allowed = true;
      }
      await sent;
      await logged(listener, total + 50);
      expect(listener.stats()).toMatchObject({
        accepted: total + 50,
        appendedEvents: total + 50,
        held: false,
        pausedConnections: 0,
        pending: 0,
      });
      const numbers = (await log.read(0, total + 100)).map((e) =>
        Number(/message number (\d+)/.exec(String(e.event.message))![1]),
      );
      expect(numbers.sort((a, b) => a - b)).toEqual(Array.from({ length: total + 50 }, (_, i) => i));
      expect(warnings.at(-1)).toBe('syslog: detection caught up; appending again');
    });

    it('drops UDP beyond the bound while appends are held, and counts it', async () => {
      let allowed = false;
      // batchMaxEvents 2: UDP drops at 32 waiting events.
      const { listener, udpPort } = await listen({
        batchMaxEvents: 2,
        mayAppend: async () => allowed,
        holdRecheckMs: 10,
      });
      await sendUdp(
        udpPort,
        Array.from({ length: 100 }, (_, i) => line(i)),
      );
      let stats: SyslogListenerStats;
      try {
        await waitFor('100 received', () => listener.stats().received === 100);
        stats = listener.stats();
        expect(stats.held).toBe(true);
        expect(stats.overflowDropped).toBeGreaterThan(0);
        expect(stats.pending).toBeLessThanOrEqual(32);
        expect(balanced(stats)).toBe(true);
      } finally {
        allowed = true;
      }
      await logged(listener, stats.accepted);
      expect(await log.count()).toBe(stats.accepted);
    });

    it('drops UDP messages once too many wait for the log, and counts them', async () => {
      const { sink: gated, open } = gatedLog();
      // batchMaxEvents 2: UDP drops at 32 pending events.
      const { listener, udpPort } = await listen({ log: gated, batchMaxEvents: 2 });
      await sendUdp(
        udpPort,
        Array.from({ length: 100 }, (_, i) => line(i)),
      );
      let stats: SyslogListenerStats;
      try {
        await waitFor('100 received', () => listener.stats().received === 100);
        stats = listener.stats();
        expect(stats.overflowDropped).toBeGreaterThan(0);
        expect(stats.pending).toBeLessThanOrEqual(32);
        expect(balanced(stats)).toBe(true);
      } finally {
        open();
      }
      await logged(listener, stats.accepted);
      expect(await log.count()).toBe(stats.accepted);
    });
  });
});
