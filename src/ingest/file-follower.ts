/**
 * Reads a log file chunk by chunk at the pace of its caller, and keeps reading it as it grows,
 * the way `tail -F` does: across truncation (`> file`, logrotate's copytruncate) and rotation
 * (the file renamed away and a new one created under its name).
 *
 * The decisions are a pure function of what stat and a small read of the file's first bytes
 * say (`decideFollowStep`); `LineCutter` turns bytes into complete lines; `FileFollower` does
 * the reads. While following, only complete lines come out: a line still being written waits
 * for its newline. The last line of a file that has no newline comes out when the file is
 * finished: at the end of the input when not following (`takeRest`), or when it is rotated away.
 *
 * Unlike `scanEventFile`, which pushes a whole input through its handlers as fast as it can,
 * this pulls: nothing more is read until the caller asks, so a caller that sends events over
 * the network holds one chunk and one batch, whatever the file's size.
 */
import { type FileHandle, open, stat } from 'node:fs/promises';
import { FirebreakError } from '../kernel/index.js';

/** A file's identity: its device and inode. A rotated-in file has another one. */
export interface FileId {
  readonly dev: number;
  readonly ino: number;
}

/** What the follower knows at one poll. */
export interface FollowState {
  /** Bytes of the open file consumed so far (cut into lines, or held as the partial last line). */
  readonly offset: number;
  /** The open file's size now. */
  readonly size: number;
  /** Whether the open file still begins with the bytes it began with when they were read. */
  readonly sameHead: boolean;
  readonly open: FileId;
  /**
   * What the path names now; undefined while nothing does (between a rename and a create).
   * Looked at before `size`, so that lines written to the old file before the new one appeared
   * are counted in `size` and read before the switch.
   */
  readonly atPath: FileId | undefined;
}

/**
 * - `read`: the open file has bytes beyond the offset;
 * - `truncated`: the open file shrank below the offset, or was rewritten from its start: read it
 *   again from 0;
 * - `rotated`: the path names another file and the open one is read to its end: finish the open
 *   one (its unterminated last line is a line now), then open the new one from 0;
 * - `wait`: nothing new.
 */
export type FollowStep = 'read' | 'truncated' | 'rotated' | 'wait';

/**
 * What to do next at one poll. A rotated-away file is read to its end before the switch (the
 * writer may have written more before it reopened its log); a rewritten open file is dropped in
 * favour of the new one when the path has moved on, and read again from 0 when it has not.
 *
 * @example decideFollowStep({ offset: 100, size: 40, sameHead: true, open: a, atPath: a }) // 'truncated'
 */
export function decideFollowStep(state: FollowState): FollowStep {
  const moved =
    state.atPath !== undefined &&
    (state.atPath.ino !== state.open.ino || state.atPath.dev !== state.open.dev);
  if (state.size < state.offset || !state.sameHead) return moved ? 'rotated' : 'truncated';
  if (state.size > state.offset) return 'read';
  return moved ? 'rotated' : 'wait';
}

/** Longest line kept, in bytes; a longer one comes out as null (its bytes are skipped). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Cuts bytes into lines at `\n` (a `\r` before it is left for the parsers, which trim it).
 * Splitting on the byte is safe for UTF-8: 0x0A never occurs inside a multi-byte character.
 * A line longer than `maxLineBytes` comes out as null: its bytes are dropped as they arrive, so
 * a file without newlines (a binary file given by mistake) does not fill the memory.
 */
export class LineCutter {
  private parts: Buffer[] = [];
  private held = 0;
  private overlong = false;

  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {}

  /** The complete lines `chunk` ends (with what was held before), without their `\n`. */
  push(chunk: Uint8Array): (string | null)[] {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lines: (string | null)[] = [];
    let start = 0;
    for (;;) {
      const nl = bytes.indexOf(0x0a, start);
      if (nl === -1) break;
      lines.push(this.line(bytes.subarray(start, nl)));
      start = nl + 1;
    }
    if (start < bytes.length) this.hold(bytes.subarray(start));
    return lines;
  }

  /** Bytes of an unterminated last line held so far. */
  get pendingBytes(): number {
    return this.held;
  }

  /** The unterminated last line, as a line (undefined when there is none); forgets it. */
  end(): string | null | undefined {
    if (this.held === 0 && !this.overlong) return undefined;
    return this.line(Buffer.alloc(0));
  }

  /** Forgets the unterminated last line. */
  reset(): void {
    this.parts = [];
    this.held = 0;
    this.overlong = false;
  }

  private hold(bytes: Buffer): void {
    this.held += bytes.length;
    if (this.overlong) return;
    if (this.held > this.maxLineBytes) {
      this.overlong = true;
      this.parts = [];
      return;
    }
    // A copy: the caller may reuse its read buffer.
    this.parts.push(Buffer.from(bytes));
  }

  private line(tail: Buffer): string | null {
    const total = this.held + tail.length;
    const overlong = this.overlong || total > this.maxLineBytes;
    const text = overlong
      ? null
      : this.held === 0
        ? tail.toString('utf8')
        : Buffer.concat([...this.parts, tail], total).toString('utf8');
    this.reset();
    return text;
  }
}

/** What one `next()` found. */
export type FollowerRead =
  | {
      readonly kind: 'lines';
      /** Complete lines numbered from `firstLine` (1-based); null for one over the length limit. */
      readonly lines: readonly (string | null)[];
      readonly firstLine: number;
      /** Bytes of the file consumed by this read (for a progress bar). */
      readonly bytes: number;
      /** The file's modification time at this read: "now" for RFC 3164 syslog lines. */
      readonly mtimeMs: number;
    }
  /** The lines that follow are from the start of a new file (or of the rewritten one). */
  | { readonly kind: 'restarted'; readonly reason: 'truncated' | 'rotated' }
  /** Nothing new for now. */
  | { readonly kind: 'idle' };

export interface FileFollowerOptions {
  /** Bytes read at most per `next()`. Default 1 MiB. */
  readonly chunkBytes?: number;
  readonly maxLineBytes?: number;
}

/** First bytes of the file kept to notice a rewrite that did not leave it shorter. */
const HEAD_BYTES = 64;

/**
 * One log file, read as it grows. `next()` reads at most one chunk, or notices a truncation or
 * rotation, or says idle; while following, call it again after a pause (250 ms, say). Without
 * following, call it until idle, then `takeRest()` for a last line without a newline.
 *
 * @example
 * const file = await FileFollower.open('/var/log/nginx/access.log');
 * for (;;) {
 *   const read = await file.next();
 *   if (read.kind === 'idle') await sleep(250);
 *   else if (read.kind === 'lines') for (const line of read.lines) send(line);
 * }
 */
export class FileFollower {
  private readonly cutter: LineCutter;
  private readonly buffer: Buffer;
  private offset = 0;
  private lineNumber = 0;
  private head = Buffer.alloc(0);
  private seen = { size: -1, mtimeMs: -1 };
  private queued: FollowerRead[] = [];

  private constructor(
    readonly path: string,
    private handle: FileHandle,
    private id: FileId,
    options: FileFollowerOptions,
  ) {
    this.cutter = new LineCutter(options.maxLineBytes);
    this.buffer = Buffer.allocUnsafe(options.chunkBytes ?? 1 << 20);
  }

  /** Opens a regular file. Throws FB_ERR_INPUT_UNREADABLE (missing, a directory, no permission). */
  static async open(path: string, options: FileFollowerOptions = {}): Promise<FileFollower> {
    const opened = await openRegularFile(path);
    if (opened === undefined)
      throw new FirebreakError('FB_ERR_INPUT_UNREADABLE', { file: path, reason: 'no such file' });
    return new FileFollower(path, opened.handle, opened.id, options);
  }

  /** Bytes of an unterminated last line held back. */
  get pendingBytes(): number {
    return this.cutter.pendingBytes;
  }

  async next(): Promise<FollowerRead> {
    const queued = this.queued.shift();
    if (queued !== undefined) return queued;
    // The path first, the open file second: whatever was written to the open file before a new
    // one took its name is then seen, and read before the switch.
    const atPath = await fileIdAt(this.path);
    const now = await this.handle.stat();
    const changed = now.size !== this.seen.size || now.mtimeMs !== this.seen.mtimeMs;
    this.seen = { size: now.size, mtimeMs: now.mtimeMs };
    const sameHead = !changed || (await this.headUnchanged());
    const step = decideFollowStep({
      offset: this.offset,
      size: now.size,
      sameHead,
      open: this.id,
      atPath,
    });
    switch (step) {
      case 'read':
        return this.read(now.size, now.mtimeMs);
      case 'truncated':
        this.restart();
        return { kind: 'restarted', reason: 'truncated' };
      case 'rotated':
        return this.rotate(now.mtimeMs);
      case 'wait':
        return { kind: 'idle' };
    }
  }

  /** The last line when it has no newline (end of input), with its number; forgets it. */
  takeRest(): { line: string | null; lineNumber: number } | undefined {
    const line = this.cutter.end();
    if (line === undefined) return undefined;
    this.lineNumber += 1;
    return { line, lineNumber: this.lineNumber };
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  private async read(size: number, mtimeMs: number): Promise<FollowerRead> {
    const want = Math.min(this.buffer.length, size - this.offset);
    const { bytesRead } = await this.handle.read(this.buffer, 0, want, this.offset);
    if (this.offset < HEAD_BYTES && this.head.length < HEAD_BYTES) {
      const keep = Math.min(HEAD_BYTES - this.offset, bytesRead);
      this.head = Buffer.concat([this.head, this.buffer.subarray(0, keep)]);
    }
    this.offset += bytesRead;
    const lines = this.cutter.push(this.buffer.subarray(0, bytesRead));
    const firstLine = this.lineNumber + 1;
    this.lineNumber += lines.length;
    return { kind: 'lines', lines, firstLine, bytes: bytesRead, mtimeMs };
  }

  private async rotate(mtimeMs: number): Promise<FollowerRead> {
    const opened = await openRegularFile(this.path).catch(() => undefined);
    // Gone again between the stat and the open: try at the next poll.
    if (opened === undefined) return { kind: 'idle' };
    const rest = this.takeRest();
    await this.handle.close();
    this.handle = opened.handle;
    this.id = opened.id;
    this.restart();
    const restarted: FollowerRead = { kind: 'restarted', reason: 'rotated' };
    if (rest === undefined) return restarted;
    this.queued.push(restarted);
    return { kind: 'lines', lines: [rest.line], firstLine: rest.lineNumber, bytes: 0, mtimeMs };
  }

  private restart(): void {
    this.cutter.reset();
    this.offset = 0;
    this.lineNumber = 0;
    this.head = Buffer.alloc(0);
    this.seen = { size: -1, mtimeMs: -1 };
  }

  private async headUnchanged(): Promise<boolean> {
    if (this.head.length === 0) return true;
    const now = Buffer.alloc(this.head.length);
    const { bytesRead } = await this.handle.read(now, 0, now.length, 0);
    return bytesRead === now.length && now.equals(this.head);
  }
}

async function fileIdAt(path: string): Promise<FileId | undefined> {
  try {
    const s = await stat(path);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return undefined;
  }
}

/** The open file and its identity; undefined when the path names nothing. */
async function openRegularFile(path: string): Promise<{ handle: FileHandle; id: FileId } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadable(path, error);
  }
  let problem: string | undefined;
  try {
    const s = await handle.stat();
    if (s.isFile()) return { handle, id: { dev: s.dev, ino: s.ino } };
    problem = s.isDirectory() ? 'it is a directory' : 'not a regular file';
  } catch (error) {
    problem = (error as Error).message;
  }
  await handle.close();
  throw new FirebreakError('FB_ERR_INPUT_UNREADABLE', { file: path, reason: problem });
}

function unreadable(path: string, error: unknown): FirebreakError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'EACCES'
      ? 'permission denied'
      : code === 'EISDIR'
        ? 'it is a directory'
        : (error as Error).message;
  return new FirebreakError('FB_ERR_INPUT_UNREADABLE', { file: path, reason }, { cause: error });
}
