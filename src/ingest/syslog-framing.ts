/**
 * Syslog over TCP, RFC 6587: cuts one connection's byte stream into messages. Pure (no sockets,
 * no time), so every chunking of a stream can be tested without a network.
 *
 * The first byte of a connection picks its framing, and it holds for the whole connection:
 *  - a digit: octet counting, `LEN SP MSG` (`LEN` has no leading zero). Stray LF, CR and NUL
 *    between frames are skipped, because some senders end every counted frame with a newline;
 *  - anything else: non-transparent framing, each message ended by LF or NUL (a CR just before
 *    the LF is dropped too, so CRLF works).
 *
 * Memory: at most `maxMessageBytes` (+1 for a CR) is held per connection. A longer message is
 * reported as `tooLong` as soon as that is known and its bytes are skipped as they arrive (a
 * counted frame by its count, an LF frame up to its terminator), never buffered whole; the
 * connection then goes on with the next message. A count that cannot be right (not digits then
 * a space, a leading zero, or more than four times `maxMessageBytes`) leaves no way to find the
 * next frame: the decoder reports `malformed` and takes no more input, and the caller should
 * close the connection.
 */

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const SP = 0x20;
const ZERO = 0x30;
const NINE = 0x39;

/** How a connection frames its messages (RFC 6587 §3.4.1 and §3.4.2). */
export type TcpFraming = 'octet-counting' | 'non-transparent';

/** What a chunk of input gave, in stream order. */
export type FrameEvent =
  /** One message, without its count or terminator. */
  | { readonly type: 'frame'; readonly message: Buffer }
  /**
   * A message longer than maxMessageBytes, skipped. `bytes` is its declared length under octet
   * counting, and the bytes seen when it was given up on (more than the maximum) otherwise.
   */
  | { readonly type: 'tooLong'; readonly bytes: number }
  /** The stream cannot be framed any further; the decoder takes no more input. */
  | { readonly type: 'malformed'; readonly reason: string };

export interface SyslogFrameDecoderOptions {
  /** The longest message kept, in bytes (the count or terminator not included). */
  readonly maxMessageBytes: number;
}

type OctetPhase = 'start' | 'count' | 'body';

/**
 * One connection's framing state. Feed it chunks as they arrive, then call `end()` when the peer
 * closes.
 *
 * @example
 * const decoder = new SyslogFrameDecoder({ maxMessageBytes: 65_536 });
 * socket.on('data', (chunk) => {
 *   for (const out of decoder.push(chunk)) if (out.type === 'frame') handle(out.message);
 *   if (decoder.failed !== undefined) socket.destroy();
 * });
 */
export class SyslogFrameDecoder {
  private readonly max: number;
  private readonly maxCount: number;
  private mode: TcpFraming | undefined;
  private failure: string | undefined;
  /** Bytes of the message being assembled (both framings). */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  // Octet counting.
  private phase: OctetPhase = 'start';
  private count = 0;
  private remaining = 0;
  // Both: true while the bytes of an over-long message are being skipped.
  private skipping = false;

  constructor(options: SyslogFrameDecoderOptions) {
    if (!Number.isSafeInteger(options.maxMessageBytes) || options.maxMessageBytes < 1) {
      throw new RangeError(`SyslogFrameDecoder: maxMessageBytes ${options.maxMessageBytes}`);
    }
    this.max = options.maxMessageBytes;
    this.maxCount = options.maxMessageBytes * 4;
  }

  /** The framing the connection chose, once its first byte has arrived. */
  get framing(): TcpFraming | undefined {
    return this.mode;
  }

  /** Why the stream could not be framed, once it could not. */
  get failed(): string | undefined {
    return this.failure;
  }

  /** Bytes held for the message being assembled (for tests of the memory bound). */
  get bufferedBytes(): number {
    return this.partsBytes;
  }

  /** The events one chunk completes; empty after a failure. */
  push(chunk: Uint8Array): FrameEvent[] {
    const out: FrameEvent[] = [];
    if (this.failure !== undefined || chunk.length === 0) return out;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.mode === undefined) {
      const first = buf[0]!;
      this.mode = first >= ZERO && first <= NINE ? 'octet-counting' : 'non-transparent';
    }
    if (this.mode === 'octet-counting') this.pushCounted(buf, out);
    else this.pushDelimited(buf, out);
    return out;
  }

  /**
   * The peer has closed. A last LF-framed message without its terminator still counts (many
   * senders omit the final newline); a counted frame cut short is malformed.
   */
  end(): FrameEvent[] {
    if (this.failure !== undefined) return [];
    if (this.mode === 'non-transparent') {
      if (this.skipping || this.partsBytes === 0) return [];
      const out: FrameEvent[] = [];
      this.emitDelimited(out);
      return out;
    }
    // A frame being skipped was counted as too long already; its missing tail changes nothing.
    if (this.mode === 'octet-counting' && this.phase !== 'start' && !this.skipping) {
      const reason =
        this.phase === 'count'
          ? `the connection closed inside the octet count "${this.count}"`
          : `the connection closed ${this.remaining} bytes before the end of a ${this.count}-byte frame`;
      return [this.fail(reason)];
    }
    return [];
  }

  private fail(reason: string): FrameEvent {
    this.failure = reason;
    this.parts = [];
    this.partsBytes = 0;
    return { type: 'malformed', reason };
  }

  private take(): Buffer {
    const message =
      this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts as Uint8Array[], this.partsBytes);
    this.parts = [];
    this.partsBytes = 0;
    return message;
  }

  private pushCounted(buf: Buffer, out: FrameEvent[]): void {
    let i = 0;
    while (i < buf.length) {
      if (this.phase === 'body') {
        const n = Math.min(this.remaining, buf.length - i);
        if (!this.skipping) {
          this.parts.push(buf.subarray(i, i + n));
          this.partsBytes += n;
        }
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) {
          if (this.skipping) this.skipping = false;
          else out.push({ type: 'frame', message: this.take() });
          this.phase = 'start';
        }
        continue;
      }
      const b = buf[i]!;
      i++;
      if (this.phase === 'start') {
        if (b === LF || b === CR || b === NUL) continue;
        if (b > ZERO && b <= NINE) {
          this.count = b - ZERO;
          this.phase = 'count';
          continue;
        }
        out.push(
          this.fail(
            b === ZERO
              ? 'an octet count starts with 0'
              : `expected an octet count (digits, then a space) but got ${describeByte(b)}`,
          ),
        );
        return;
      }
      // phase === 'count'
      if (b >= ZERO && b <= NINE) {
        this.count = this.count * 10 + (b - ZERO);
        if (this.count > this.maxCount) {
          out.push(this.fail(`octet count ${this.count}... is over ${this.maxCount} (4 × maxMessageBytes)`));
          return;
        }
        continue;
      }
      if (b !== SP) {
        out.push(this.fail(`octet count "${this.count}" is followed by ${describeByte(b)}, not a space`));
        return;
      }
      this.phase = 'body';
      this.remaining = this.count;
      if (this.count > this.max) {
        this.skipping = true;
        out.push({ type: 'tooLong', bytes: this.count });
      }
    }
  }

  private pushDelimited(buf: Buffer, out: FrameEvent[]): void {
    let i = 0;
    // Where the next LF and NUL are (-1: none left); searched natively, each at most once per
    // position, so a chunk of many short lines stays linear.
    let nextLf = buf.indexOf(LF, i);
    let nextNul = buf.indexOf(NUL, i);
    while (i < buf.length) {
      if (nextLf !== -1 && nextLf < i) nextLf = buf.indexOf(LF, i);
      if (nextNul !== -1 && nextNul < i) nextNul = buf.indexOf(NUL, i);
      const end = nextLf === -1 ? nextNul : nextNul === -1 ? nextLf : Math.min(nextLf, nextNul);
      if (end === -1) {
        // No terminator in the rest of the chunk: keep it, unless the message is already too long.
        if (!this.skipping) {
          const seen = this.partsBytes + (buf.length - i);
          // +1: a CR here may be the first half of a CRLF, and is dropped with it.
          if (seen > this.max + 1) {
            this.parts = [];
            this.partsBytes = 0;
            this.skipping = true;
            out.push({ type: 'tooLong', bytes: seen });
          } else {
            this.parts.push(buf.subarray(i));
            this.partsBytes += buf.length - i;
          }
        }
        return;
      }
      if (this.skipping) {
        this.skipping = false;
      } else {
        const length = this.partsBytes + (end - i);
        if (length > this.max + 1) {
          // Too long even without a CR: say so without copying it together first.
          this.parts = [];
          this.partsBytes = 0;
          out.push({ type: 'tooLong', bytes: length });
        } else {
          if (end > i) {
            this.parts.push(buf.subarray(i, end));
            this.partsBytes += end - i;
          }
          this.emitDelimited(out);
        }
      }
      i = end + 1;
    }
  }

  private emitDelimited(out: FrameEvent[]): void {
    let message = this.take();
    if (message.length > 0 && message[message.length - 1] === CR) message = message.subarray(0, -1);
    if (message.length > this.max) out.push({ type: 'tooLong', bytes: message.length });
    else out.push({ type: 'frame', message });
  }
}

function describeByte(b: number): string {
  return b > SP && b < 0x7f ? `"${String.fromCharCode(b)}"` : `byte 0x${b.toString(16).padStart(2, '0')}`;
}

/**
 * A stream of messages framed for sending: the inverse of the decoder, for tests and drills.
 *
 * @example
 * encodeSyslogFrames(['<13>1 - - - - - - hi'], 'octet-counting'); // "21 <13>1 - - - - - - hi"
 */
export function encodeSyslogFrames(
  messages: readonly (string | Uint8Array)[],
  framing: TcpFraming,
  terminator: '\n' | '\r\n' | '\0' = '\n',
): Buffer {
  const parts: Buffer[] = [];
  for (const message of messages) {
    const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : Buffer.from(message);
    if (framing === 'octet-counting') parts.push(Buffer.from(`${bytes.length} `, 'latin1'), bytes);
    else parts.push(bytes, Buffer.from(terminator, 'latin1'));
  }
  return Buffer.concat(parts as Uint8Array[]);
}
