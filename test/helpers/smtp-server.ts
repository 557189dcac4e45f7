/**
 * A real SMTP server on loopback for tests (the smtp-server package): it keeps every message
 * it is given, and can refuse one mailbox for good (550) as a real server would.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Mail {
  readonly to: string[];
  readonly raw: string;
}

export function startSmtp(
  options: { port?: number; refuse?: string } = {},
): Promise<{ port: number; mails: Mail[]; server: SMTPServer }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    onRcptTo(address, _session, callback) {
      // A mailbox that does not exist: a permanent refusal, as a real server answers.
      if (address.address === options.refuse) {
        callback(Object.assign(new Error('5.1.1 No such user'), { responseCode: 550 }));
      } else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  return new Promise((resolve) =>
    server.listen(options.port ?? 0, '127.0.0.1', () =>
      resolve({ port: (server.server.address() as AddressInfo).port, mails, server }),
    ),
  );
}

export const closeSmtp = (server: SMTPServer) =>
  new Promise<void>((resolve) => server.close(() => resolve()));
