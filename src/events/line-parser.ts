/**
 * The streaming entry point: one parser per input, fed one line at a time, so a caller can
 * read millions of lines without holding them. `parseText` wraps it for small inputs and tests.
 */
import type { ParsedEvent, Rejection } from './ecs-event.js';
import type { LogFormat } from './format-detection.js';
import { parseEcsArray, parseEcsLine } from './ndjson-parser.js';
import { parseCombinedLogLine } from './nginx-parser.js';
import { parseSyslogLine, type SyslogContext } from './syslog-parser.js';

export interface LineParserOptions {
  /**
   * "Now" for inputs that need it: RFC 3164 syslog times carry no year (see SyslogContext).
   * Required for `syslog` and `sshd`; pass the ingest clock's time, never `Date.now()` here.
   */
  readonly referenceTime?: Date | number;
  /** Fixed UTC offset of RFC 3164 senders, in minutes; default 0. */
  readonly utcOffsetMinutes?: number;
}

/** What one line became. */
export type LineOutcome =
  | ({ readonly ok: true } & ParsedEvent)
  | { readonly ok: false; readonly rejection: Rejection };

/**
 * Reads one line (without its newline) numbered `lineNumber` (1-based). Blank lines give
 * undefined: they are neither events nor mistakes.
 */
export type LineParser = (line: string, lineNumber: number) => LineOutcome | undefined;

/**
 * A parser for lines of one format. For `ecs` each line is one JSON object (NDJSON); a JSON
 * array has to be read whole, with `parseText`.
 *
 * @example
 * const parse = createLineParser('sshd', { referenceTime: clock.now() });
 * let n = 0;
 * for await (const line of lines) {
 *   const out = parse(line, ++n);
 *   if (out?.ok) log.append(out.event); else if (out) rejected.push(out.rejection);
 * }
 */
export function createLineParser(format: LogFormat, options: LineParserOptions = {}): LineParser {
  const read = lineReader(format, options);
  return (line, lineNumber) => {
    // A trailing \r (CRLF files) and surrounding blanks are not part of any format's record.
    const text = line.trim();
    if (text === '') return undefined;
    const result = read(text);
    if (typeof result === 'string') {
      return { ok: false, rejection: { location: 'line', position: lineNumber, reason: result } };
    }
    return { ok: true, event: result.event, epochMs: result.epochMs };
  };
}

function lineReader(format: LogFormat, options: LineParserOptions): (line: string) => ParsedEvent | string {
  switch (format) {
    case 'ecs':
      return parseEcsLine;
    case 'nginx':
      return parseCombinedLogLine;
    case 'syslog':
    case 'sshd': {
      if (options.referenceTime === undefined) {
        throw new TypeError(`createLineParser('${format}') needs options.referenceTime for RFC 3164 years`);
      }
      const referenceMs =
        typeof options.referenceTime === 'number' ? options.referenceTime : options.referenceTime.getTime();
      if (!Number.isFinite(referenceMs))
        throw new RangeError('createLineParser: referenceTime is not a valid time');
      const context: SyslogContext = { referenceMs, utcOffsetMinutes: options.utcOffsetMinutes ?? 0 };
      return (line) => parseSyslogLine(line, context);
    }
  }
}

/** Everything read from one input. */
export interface ParseResult {
  readonly events: ParsedEvent[];
  readonly rejected: Rejection[];
}

/**
 * Parses a whole text. For `ecs`, a text starting with `[` is read as one JSON array
 * (rejections name the array index); if it is not valid JSON as a whole it is read as NDJSON,
 * so each bad line is named by its own line number.
 */
export function parseText(text: string, format: LogFormat, options: LineParserOptions = {}): ParseResult {
  if (format === 'ecs' && text.trimStart().startsWith('[')) {
    let whole: unknown;
    try {
      whole = JSON.parse(text);
    } catch {
      whole = undefined;
    }
    if (Array.isArray(whole)) return parseEcsArray(whole);
  }
  const parse = createLineParser(format, options);
  const events: ParsedEvent[] = [];
  const rejected: Rejection[] = [];
  let lineNumber = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const out = parse(text.slice(start, end), ++lineNumber);
    if (out !== undefined) {
      if (out.ok) events.push({ event: out.event, epochMs: out.epochMs });
      else rejected.push(out.rejection);
    }
    start = end + 1;
  }
  return { events, rejected };
}
