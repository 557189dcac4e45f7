/**
 * `firebreak serve` with the syslog listener on: messages sent over UDP and TCP land in the
 * event log and can be searched through the API; a port in use is a clear start-up error.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { FirebreakError } from '../src/kernel/index.js';
import { type Firebreak, startFirebreak } from '../src/main.js';
import { call, DEFAULT_POLICY } from './helpers/server.js';

let dataDir: string;
let server: Firebreak;

function config(dir: string, ports: { udp?: number; tcp?: number }) {
  return loadConfig(
    {
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      policyFile: DEFAULT_POLICY,
      ...(ports.udp === undefined ? {} : { syslogUdpPort: ports.udp }),
      ...(ports.tcp === undefined ? {} : { syslogTcpPort: ports.tcp }),
    },
    {},
    dir,
  );
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'firebreak-syslog-'));
  server = await startFirebreak(config(dataDir, { udp: 0, tcp: 0 }), {
    announce: () => {},
    requestLog: false,
  });
});

afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function search(q: string): Promise<{ event: Record<string, unknown> }[]> {
  const res = await call<{ events: { event: Record<string, unknown> }[] }>(
    server.url,
    'GET',
    `/v1/events?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z&q=${encodeURIComponent(q)}`,
    { key: server.firstAdminKey! },
  );
  expect(res.status).toBe(200);
  return res.body.events;
}

async function eventually<T>(read: () => Promise<T[]>, count: number): Promise<T[]> {
  for (let i = 0; i < 100; i++) {
    const found = await read();
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  return read();
}

describe('firebreak serve with syslog', () => {
  it('takes sshd lines over UDP and TCP into the event log', async () => {
    const { udpPort, tcpPort } = server.syslogPorts!;
    const line = (user: string) =>
      `<38>1 2026-03-02T12:00:00Z web1 sshd 4242 - - Failed password for ${user} from 203.0.113.7 port 50022 ssh2`;

    const udp = createSocket('udp4');
    await new Promise<void>((done) => udp.send(line('udp-user'), udpPort!, '127.0.0.1', () => done()));
    udp.close();

    const frame = line('tcp-user');
    await new Promise<void>((done, fail) => {
      const socket = connect(tcpPort!, '127.0.0.1', () => {
        socket.end(`${Buffer.byteLength(frame)} ${frame}`);
      });
      socket.on('close', () => done());
      socket.on('error', fail);
    });

    const events = await eventually(() => search('event.outcome:failure source.ip:203.0.113.7'), 2);
    const users = events.map((e) => (e.event.user as { name: string }).name).sort();
    expect(users).toEqual(['tcp-user', 'udp-user']);
    expect(events[0]!.event.event).toMatchObject({ category: ['authentication'], outcome: 'failure' });
  });

  it('refuses to start when a syslog port is taken, and leaves the data directory usable', async () => {
    const holder: Server = createServer();
    await new Promise<void>((done) => holder.listen(0, '127.0.0.1', () => done()));
    const taken = (holder.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'firebreak-syslog-taken-'));
    try {
      const error = await startFirebreak(config(dir, { tcp: taken }), { announce: () => {} }).catch((e) => e);
      expect(error).toBeInstanceOf(FirebreakError);
      expect((error as FirebreakError).code).toBe('FB_ERR_LISTEN_FAILED');
      // Nothing was left holding the lock: a start without syslog works.
      const again = await startFirebreak(config(dir, {}), { announce: () => {}, requestLog: false });
      expect(again.syslogPorts).toBeUndefined();
      await again.close();
    } finally {
      await new Promise<void>((done) => holder.close(() => done()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
