import {
  appendFileSync,
  mkdtempSync,
  renameSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFirebreakError } from '../kernel/index.js';
import {
  decideFollowStep,
  FileFollower,
  type FileId,
  type FollowerRead,
  type FollowState,
  LineCutter,
} from './file-follower.js';

const A: FileId = { dev: 1, ino: 10 };
const B: FileId = { dev: 1, ino: 11 };

describe('decideFollowStep', () => {
  const state = (over: Partial<FollowState>): FollowState => ({
    offset: 100,
    size: 100,
    sameHead: true,
    open: A,
    atPath: A,
    ...over,
  });

  it.each([
    ['nothing new', {}, 'wait'],
    ['grown', { size: 150 }, 'read'],
    ['shrunk below the offset', { size: 40 }, 'truncated'],
    ['emptied', { size: 0 }, 'truncated'],
    ['rewritten from its start, now longer', { size: 300, sameHead: false }, 'truncated'],
    ['the path names another file, the open one read to its end', { atPath: B }, 'rotated'],
    ['the path names another file, the open one still has bytes', { atPath: B, size: 120 }, 'read'],
    ['the path names another file, the open one was emptied', { atPath: B, size: 0 }, 'rotated'],
    ['renamed away, nothing created yet', { atPath: undefined }, 'wait'],
    ['renamed away, and the writer still appends to it', { atPath: undefined, size: 130 }, 'read'],
    ['another device, same inode number', { atPath: { dev: 2, ino: 10 } }, 'rotated'],
  ] as const)('%s → %s', (_name, over, step) => {
    expect(decideFollowStep(state(over))).toBe(step);
  });
});

describe('LineCutter', () => {
  const bytes = (text: string) => Buffer.from(text, 'utf8');

  it('gives complete lines only and holds the rest until its newline', () => {
    const cutter = new LineCutter();
    expect(cutter.push(bytes('one\ntw'))).toEqual(['one']);
    expect(cutter.pendingBytes).toBe(2);
    expect(cutter.push(bytes('o\n\nthree\r\nfo'))).toEqual(['two', '', 'three\r']);
    expect(cutter.end()).toBe('fo');
    expect(cutter.end()).toBeUndefined();
  });

  it('puts a UTF-8 character split across chunks back together', () => {
    const cutter = new LineCutter();
    const text = bytes('héllo – ☃\n');
    const lines: (string | null)[] = [];
    for (let i = 0; i < text.length; i++) lines.push(...cutter.push(text.subarray(i, i + 1)));
    expect(lines).toEqual(['héllo – ☃']);
  });

  it('copies what it holds: the caller may reuse its read buffer', () => {
    const cutter = new LineCutter();
    const buffer = bytes('abc');
    cutter.push(buffer);
    buffer.write('xyz');
    expect(cutter.push(bytes('\n'))).toEqual(['abc']);
  });

  it('gives null for a line over the limit without keeping its bytes, and goes on', () => {
    const cutter = new LineCutter(8);
    expect(cutter.push(bytes('12345'))).toEqual([]);
    expect(cutter.push(bytes('67890'))).toEqual([]);
    expect(cutter.push(bytes('abc\nshort\n0123456789\nend'))).toEqual([null, 'short', null]);
    expect(cutter.end()).toBe('end');
    cutter.push(bytes('0123456789'));
    expect(cutter.end()).toBeNull();
  });

  it('forgets the held line on reset', () => {
    const cutter = new LineCutter();
    cutter.push(bytes('half'));
    cutter.reset();
    expect(cutter.pendingBytes).toBe(0);
    expect(cutter.push(bytes('new\n'))).toEqual(['new']);
  });
});

describe('FileFollower', () => {
  let dir: string;
  let file: string;
  const opened: FileFollower[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-follow-'));
    file = join(dir, 'app.log');
  });
  afterEach(async () => {
    for (const f of opened.splice(0)) await f.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  async function follow(path = file, chunkBytes?: number): Promise<FileFollower> {
    const f = await FileFollower.open(path, chunkBytes === undefined ? {} : { chunkBytes });
    opened.push(f);
    return f;
  }

  /** Reads until idle; every line with its number, and the restarts on the way. */
  async function untilIdle(f: FileFollower): Promise<(string | null)[]> {
    const out: (string | null)[] = [];
    for (;;) {
      const read: FollowerRead = await f.next();
      if (read.kind === 'idle') return out;
      if (read.kind === 'restarted') out.push(`<${read.reason}>`);
      else {
        for (const [i, line] of read.lines.entries()) out.push(`${read.firstLine + i}:${line}`);
      }
    }
  }

  it('reads a file chunk by chunk, then what is appended; a partial line waits for its newline', async () => {
    writeFileSync(file, 'a1\na2\na3\npart');
    const f = await follow(file, 4);
    expect(await untilIdle(f)).toEqual(['1:a1', '2:a2', '3:a3']);
    expect(f.pendingBytes).toBe(4);
    appendFileSync(file, 'ial\na5\n');
    expect(await untilIdle(f)).toEqual(['4:partial', '5:a5']);
    expect(await untilIdle(f)).toEqual([]);
  });

  it('gives the last line without a newline at the end of the input', async () => {
    writeFileSync(file, 'a1\nlast');
    const f = await follow();
    expect(await untilIdle(f)).toEqual(['1:a1']);
    expect(f.takeRest()).toEqual({ line: 'last', lineNumber: 2 });
    expect(f.takeRest()).toBeUndefined();
  });

  it('reads a truncated file again from the start, numbering from 1', async () => {
    writeFileSync(file, 'a1\na2\na3\n');
    const f = await follow();
    await untilIdle(f);
    truncateSync(file, 0);
    appendFileSync(file, 'b1\n');
    expect(await untilIdle(f)).toEqual(['<truncated>', '1:b1']);
  });

  it('notices a file rewritten from its start even when it is now longer', async () => {
    writeFileSync(file, 'a1\na2\n');
    const f = await follow();
    await untilIdle(f);
    writeFileSync(file, 'b1 is much longer than what was there\nb2\n');
    expect(await untilIdle(f)).toEqual(['<truncated>', '1:b1 is much longer than what was there', '2:b2']);
  });

  it('finishes a rotated file (its last line too) before reading the new one', async () => {
    writeFileSync(file, 'a1\n');
    const f = await follow();
    expect(await untilIdle(f)).toEqual(['1:a1']);
    renameSync(file, `${file}.1`);
    // Renamed away and nothing in its place yet: the writer may still append to the old one.
    appendFileSync(`${file}.1`, 'a2\n');
    expect(await untilIdle(f)).toEqual(['2:a2']);
    appendFileSync(`${file}.1`, 'a3 without newline');
    writeFileSync(file, 'b1\nb2\n');
    expect(await untilIdle(f)).toEqual(['3:a3 without newline', '<rotated>', '1:b1', '2:b2']);
    appendFileSync(file, 'b3\n');
    expect(await untilIdle(f)).toEqual(['3:b3']);
  });

  it('waits while the path names nothing, and picks up the file created there', async () => {
    writeFileSync(file, 'a1\n');
    const f = await follow();
    await untilIdle(f);
    unlinkSync(file);
    expect(await untilIdle(f)).toEqual([]);
    writeFileSync(file, 'b1\n');
    expect(await untilIdle(f)).toEqual(['<rotated>', '1:b1']);
  });

  it('refuses a missing file and a directory with FB_ERR_INPUT_UNREADABLE', async () => {
    for (const [path, reason] of [
      [join(dir, 'missing.log'), 'no such file'],
      [dir, 'a directory'],
    ] as const) {
      const error = await FileFollower.open(path).catch((e: unknown) => e);
      expect(isFirebreakError(error) && error.code).toBe('FB_ERR_INPUT_UNREADABLE');
      expect((error as Error).message).toContain(reason);
    }
  });
});
