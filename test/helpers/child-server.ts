/**
 * `firebreak serve` as a child process of its own (`node dist/main.js serve`), for tests that
 * have to kill the server the hard way. Settings come from an explicit environment only (the
 * developer's FIREBREAK_* and DATABASE_URL never leak in): port 0, a data directory or a
 * DATABASE_URL, the default policy, no request log. The address and, on the first start, the
 * admin key are read from what the server prints on stdout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export interface ChildServerOptions {
  /** The working directory (and HOME) of the server. */
  readonly workDir: string;
  /** Embedded storage: the data directory. */
  readonly dataDir: string;
  /** PostgreSQL instead, when set. */
  readonly databaseUrl?: string | undefined;
  /** More arguments after `serve`. */
  readonly args?: readonly string[];
  /** How long to wait for the start-up lines. Default 20 s. */
  readonly startTimeoutMs?: number;
  /** More environment (FIREBREAK_LOG_LEVEL=trace, FIREBREAK_SECRET_KEY ...), over the defaults. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface ChildServer {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly url: string;
  /** The admin key printed on the very first start; undefined on a restart. */
  readonly firstAdminKey: string | undefined;
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Sends SIGKILL and waits for the process to be gone. */
  kill(): Promise<void>;
  /** Sends SIGTERM (a graceful stop) and resolves with the exit code. */
  stop(): Promise<number | null>;
}

const LISTENING = /^Firebreak \S+ listening on (http:\/\/\S+)$/m;
const DETECTION_LINE = /^detection: /m;
const FIRST_KEY = /^ {2}(fbk_[0-9a-f]{12}_\S+)$/m;
const FIRST_START = 'First start: an admin API key was created';

/** Starts `firebreak serve` and resolves once it listens (and, on a first start, has printed its key). */
export async function spawnServer(options: ChildServerOptions): Promise<ChildServer> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: options.workDir,
    NO_COLOR: '1',
    FIREBREAK_HOST: '127.0.0.1',
    FIREBREAK_PORT: '0',
    FIREBREAK_DATA_DIR: options.dataDir,
    FIREBREAK_POLICY: join(ROOT, 'policies', 'kct-menswear.yaml'),
    FIREBREAK_LOG_LEVEL: 'silent',
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...options.env,
  };
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'main.js'), 'serve', ...(options.args ?? [])], {
    cwd: options.workDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  const ready = () => {
    if (!LISTENING.test(stdout) || !DETECTION_LINE.test(stdout)) return false;
    return !stdout.includes(FIRST_START) || FIRST_KEY.test(stdout);
  };
  while (!ready()) {
    if (gone || Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(
        `firebreak serve did not start (${gone ? 'it exited' : 'timed out'})\nstdout:\n${stdout}\nstderr:\n${stderr}`,
      );
    }
    await new Promise((done) => setTimeout(done, 20));
  }

  return {
    process: child,
    pid: child.pid!,
    url: LISTENING.exec(stdout)![1]!,
    firstAdminKey: FIRST_KEY.exec(stdout)?.[1],
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    async kill() {
      if (!gone) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!gone) child.kill('SIGTERM');
      return (await exited).code;
    },
  };
}
