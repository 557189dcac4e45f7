import { describe, expect, it } from 'vitest';
import {
  encodeSyslogFrames,
  type FrameEvent,
  SyslogFrameDecoder,
  type TcpFraming,
} from './syslog-framing.js';

/** Feeds the chunks and `end()`, and gives what came out, frames as strings. */
function decode(
  chunks: readonly (string | Uint8Array)[],
  maxMessageBytes = 1024,
  end = true,
): (string | { tooLong: number } | { malformed: string })[] {
  const decoder = new SyslogFrameDecoder({ maxMessageBytes });
  const events: FrameEvent[] = [];
  for (const chunk of chunks)
    events.push(...decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
  if (end) events.push(...decoder.end());
  return events.map((e) =>
    e.type === 'frame'
      ? e.message.toString('utf8')
      : e.type === 'tooLong'
        ? { tooLong: e.bytes }
        : { malformed: e.reason },
  );
}

/** mulberry32: a small seeded PRNG, so a failing split can be reproduced from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function splitAt(stream: Buffer, random: () => number, maxPiece: number): Buffer[] {
  const pieces: Buffer[] = [];
  let i = 0;
  while (i < stream.length) {
    const n = 1 + Math.floor(random() * maxPiece);
    pieces.push(stream.subarray(i, i + n));
    i += n;
  }
  return pieces;
}

describe('SyslogFrameDecoder, octet counting', () => {
  it('reads LEN SP MSG frames, and picks octet counting from a leading digit', () => {
    const decoder = new SyslogFrameDecoder({ maxMessageBytes: 100 });
    expect(decoder.framing).toBeUndefined();
    const out = decoder.push(Buffer.from('5 hello3 abc'));
    expect(decoder.framing).toBe('octet-counting');
    expect(out.map((e) => (e.type === 'frame' ? e.message.toString() : e.type))).toEqual(['hello', 'abc']);
  });

  it('keeps LF, NUL and spaces inside a counted message', () => {
    expect(decode(['11 a\nb\0c d e \n4 wxyz'])).toEqual(['a\nb\0c d e \n', 'wxyz']);
  });

  it('skips LF, CR and NUL between frames (senders that end every frame with a newline)', () => {
    expect(decode(['3 abc\n', '\r\n3 def\0', '2 gh'])).toEqual(['abc', 'def', 'gh']);
  });

  it('counts bytes, not characters', () => {
    const message = 'café ✓';
    expect(decode([encodeSyslogFrames([message, 'x'], 'octet-counting')])).toEqual([message, 'x']);
  });

  it('reads frames split byte by byte', () => {
    const stream = encodeSyslogFrames(['first message', 'second', '3rd'], 'octet-counting');
    const bytes = [...stream].map((b) => Uint8Array.of(b));
    expect(decode(bytes)).toEqual(['first message', 'second', '3rd']);
  });

  it('skips a frame longer than the maximum by its count, without holding it, and goes on', () => {
    const decoder = new SyslogFrameDecoder({ maxMessageBytes: 10 });
    const stream = Buffer.from(`25 ${'x'.repeat(25)}2 ok`);
    expect(decoder.push(stream.subarray(0, 10))).toEqual([{ type: 'tooLong', bytes: 25 }]);
    expect(decoder.bufferedBytes).toBe(0);
    const rest = decoder.push(stream.subarray(10));
    expect(rest.map((e) => e.type === 'frame' && e.message.toString())).toEqual(['ok']);
    expect(decoder.failed).toBeUndefined();
  });

  it('takes a frame of exactly the maximum', () => {
    expect(decode([`10 ${'y'.repeat(10)}`], 10)).toEqual(['y'.repeat(10)]);
    expect(decode([`11 ${'y'.repeat(11)}1 z`], 10)).toEqual([{ tooLong: 11 }, 'z']);
  });

  it.each([
    ['12x <13>hi', 'octet count "12" is followed by "x", not a space'],
    ['0 ', 'an octet count starts with 0'],
    ['3 abc<13>1 x', 'expected an octet count (digits, then a space) but got "<"'],
    ['3 abc 3 def', 'expected an octet count (digits, then a space) but got byte 0x20'],
    ['7\n', 'octet count "7" is followed by byte 0x0a, not a space'],
    ['41 ', 'octet count 41... is over 40 (4 × maxMessageBytes)'],
    ['99999999999999999999 ', 'octet count 99... is over 40 (4 × maxMessageBytes)'],
  ])('refuses %j as malformed and takes no more input', (stream, reason) => {
    const decoder = new SyslogFrameDecoder({ maxMessageBytes: 10 });
    const out = decoder.push(Buffer.from(stream));
    expect(out.at(-1)).toEqual({ type: 'malformed', reason });
    expect(decoder.failed).toBe(reason);
    expect(decoder.push(Buffer.from('3 abc'))).toEqual([]);
    expect(decoder.end()).toEqual([]);
  });

  it('fails at the count limit without waiting for the space', () => {
    const decoder = new SyslogFrameDecoder({ maxMessageBytes: 10 });
    expect(decoder.push(Buffer.from('4'))).toEqual([]);
    expect(decoder.push(Buffer.from('1'))[0]?.type).toBe('malformed');
  });

  it('calls a frame cut short by the end of the connection malformed', () => {
    expect(decode(['10 abc'])).toEqual([
      { malformed: 'the connection closed 7 bytes before the end of a 10-byte frame' },
    ]);
    expect(decode(['3 abc12'])).toEqual([
      'abc',
      { malformed: 'the connection closed inside the octet count "12"' },
    ]);
    expect(decode(['3 abc\n'])).toEqual(['abc']);
  });

  it('says nothing more about an over-long frame cut short: it was counted already', () => {
    expect(decode(['30 abc'], 10)).toEqual([{ tooLong: 30 }]);
  });
});

describe('SyslogFrameDecoder, non-transparent (LF) framing', () => {
  it('splits on LF, picks this framing from a non-digit first byte, and drops the CR of CRLF', () => {
    const decoder = new SyslogFrameDecoder({ maxMessageBytes: 100 });
    const out = decoder.push(Buffer.from('<13>one\r\n<13>two\n<13>th\rree\r\n'));
    expect(decoder.framing).toBe('non-transparent');
    expect(out.map((e) => e.type === 'frame' && e.message.toString())).toEqual([
      '<13>one',
      '<13>two',
      '<13>th\rree',
    ]);
  });

  it('also ends a message at NUL', () => {
    expect(decode(['a\0b\n\0c'])).toEqual(['a', 'b', '', 'c']);
  });

  it('gives empty and blank lines as frames: the reader decides they are not messages', () => {
    expect(decode(['\n  \n\r\nx\n'])).toEqual(['', '  ', '', 'x']);
  });

  it('keeps a last message without its newline when the peer closes', () => {
    expect(decode(['a\nb'])).toEqual(['a', 'b']);
    expect(decode(['a\nb'], 1024, false)).toEqual(['a']);
    expect(decode(['a\n'])).toEqual(['a']);
  });

  it('reads lines split byte by byte, CRLF split between chunks included', () => {
    const stream = Buffer.from('<34>Oct 11 22:14:15 host su: one\r\nsecond line\r\n');
    expect(decode([...stream].map((b) => Uint8Array.of(b)))).toEqual([
      '<34>Oct 11 22:14:15 host su: one',
      'second line',
    ]);
  });

  it('gives up on an over-long line as soon as it is known, holds none of it, and reads the next line', () => {
    const decoder = new SyslogFrameDecoder({ maxMessageBytes: 10 });
    expect(decoder.push(Buffer.from('abcdefgh'))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(8);
    expect(decoder.push(Buffer.from('ijklmnop'))).toEqual([{ type: 'tooLong', bytes: 16 }]);
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.push(Buffer.from('x'.repeat(10_000)))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(0);
    const out = decoder.push(Buffer.from('still skipped\nnext\n'));
    expect(out.map((e) => e.type === 'frame' && e.message.toString())).toEqual(['next']);
  });

  it('finds an over-long line inside one chunk too', () => {
    expect(decode([`${'z'.repeat(30)}\nok\n`], 10)).toEqual([{ tooLong: 30 }, 'ok']);
  });

  it('takes a line of exactly the maximum, with or without CR, and no more', () => {
    const ten = 'q'.repeat(10);
    expect(decode([`${ten}\n${ten}\r\n`], 10)).toEqual([ten, ten]);
    expect(decode([`${ten}q\n`], 10)).toEqual([{ tooLong: 11 }]);
    expect(decode([`${ten}q\r\nok\n`], 10)).toEqual([{ tooLong: 12 }, 'ok']);
    expect(decode([ten, 'q\n'], 10)).toEqual([{ tooLong: 11 }]);
  });

  it('does not count an over-long line that the peer closes in the middle of twice', () => {
    expect(decode(['x'.repeat(50)], 10)).toEqual([{ tooLong: 50 }]);
  });
});

describe('SyslogFrameDecoder, randomized chunking', () => {
  const words = ['<13>1 2026-03-02T10:00:00Z h app - - - ', 'é', '✓', ' ', 'x', '[a b="c"]', '\t', '12 '];
  // A counted message may hold anything, terminators included.
  const anyBytes = [...words, '\n', '\0', '\r'];

  function messages(random: () => number, count: number, lf: boolean, max: number): string[] {
    const pool = lf ? words : anyBytes;
    return Array.from({ length: count }, () => {
      // Now and then one longer than the maximum, to be skipped.
      const long = random() < 0.1;
      // A count of 0 is not allowed (RFC 6587 MSG-LEN starts with a non-zero digit).
      const target = long
        ? max + 1 + Math.floor(random() * max * 2)
        : (lf ? 0 : 1) + Math.floor(random() * max * 0.8);
      let text = '';
      while (Buffer.byteLength(text) < target) text += pool[Math.floor(random() * pool.length)];
      if (!long) while (Buffer.byteLength(text) > max) text = text.slice(0, -1);
      return text;
    });
  }

  function expected(list: readonly string[], max: number): (string | { tooLong: number })[] {
    return list.map((m) => (Buffer.byteLength(m) > max ? { tooLong: Buffer.byteLength(m) } : m));
  }

  for (const framing of ['octet-counting', 'non-transparent'] as TcpFraming[]) {
    it(`gives the same frames however a ${framing} stream is cut (200 seeds)`, () => {
      const max = 64;
      for (let seed = 1; seed <= 200; seed++) {
        const random = prng(seed);
        const lf = framing === 'non-transparent';
        const list = messages(random, 1 + Math.floor(random() * 30), lf, max);
        // An octet-counted stream must start with a digit; an LF one must not.
        if (lf && /^\d/.test(list[0]!)) list[0] = `<${list[0]}`;
        const stream = encodeSyslogFrames(
          list,
          framing,
          lf ? (['\n', '\r\n', '\0'] as const)[seed % 3] : '\n',
        );
        const pieces = splitAt(stream, random, 1 + Math.floor(random() * 40));
        const got = decode(pieces, max);
        const want = expected(list, max);
        if (lf) {
          // An over-long LF line is reported when it passes max + 1 bytes, with the bytes seen by then.
          expect(
            got.map((g) => (typeof g === 'string' ? g : 'tooLong')),
            `seed ${seed}`,
          ).toEqual(want.map((w) => (typeof w === 'string' ? w : 'tooLong')));
        } else {
          expect(got, `seed ${seed}`).toEqual(want);
        }
      }
    });
  }
});

describe('encodeSyslogFrames', () => {
  it('writes octet-counted and terminated streams', () => {
    expect(encodeSyslogFrames(['ab', 'é'], 'octet-counting').toString()).toBe('2 ab2 é');
    expect(encodeSyslogFrames(['ab', 'c'], 'non-transparent', '\r\n').toString()).toBe('ab\r\nc\r\n');
  });
});
