/**
 * Reads events from a log file (or stdin) as it streams, in the format given or recognised
 * from its first lines. Memory stays flat whatever the file's size, except for a JSON array,
 * which can only be read whole. `firebreak detect` reads through it; `firebreak ingest`, which
 * must wait for the server and resume after an offset, pulls chunks through file-follower.ts.
 */
import { createReadStream, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import {
  createLineParser,
  detectFormat,
  type EcsEvent,
  type LineParser,
  type LogFormat,
  parseText,
  type Rejection,
} from '../events/index.js';
import { FirebreakError } from '../kernel/index.js';

/** `-` is standard input. */
export const STDIN = '-';

export interface FileScanOptions {
  readonly format: LogFormat | 'auto';
  /**
   * "Now" for RFC 3164 syslog lines, whose times carry no year. Default: the file's last
   * modification time (a log is written as it goes), required for stdin.
   */
  readonly referenceTime?: number;
  /** Called after each chunk with the bytes read so far. */
  readonly onProgress?: (bytesRead: number) => void;
}

export interface FileScanHandlers {
  /** One event; `line` is its line number (or array index + 1 for a JSON array). */
  event(event: EcsEvent, epochMs: number, line: number): void;
  rejected(rejection: Rejection): void;
}

export interface FileScanSummary {
  readonly format: LogFormat;
  readonly bytes: number;
}

const SAMPLE_LINES = 20;

/** Size in bytes, for a progress bar; undefined for stdin. Throws FB_ERR_INPUT_UNREADABLE. */
export function inputSize(path: string): number | undefined {
  if (path === STDIN) return undefined;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new Error('not a regular file');
    return stat.size;
  } catch (error) {
    throw unreadable(path, error);
  }
}

/**
 * Streams `path` through the parser of its format and hands each event or rejection to the
 * handlers, synchronously per chunk (no promise per line: this runs at a million lines a
 * second).
 */
export async function scanEventFile(
  path: string,
  options: FileScanOptions,
  handlers: FileScanHandlers,
): Promise<FileScanSummary> {
  const isStdin = path === STDIN;
  let referenceTime = options.referenceTime;
  if (referenceTime === undefined && !isStdin) {
    try {
      referenceTime = statSync(path).mtimeMs;
    } catch (error) {
      throw unreadable(path, error);
    }
  }
  const stream = isStdin ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 });
  const decoder = new StringDecoder('utf8');
  let format: LogFormat | undefined = options.format === 'auto' ? undefined : options.format;
  let parse: LineParser | undefined;
  let pending = '';
  let lineNumber = 0;
  let bytes = 0;
  /** Whole text kept only for a JSON array, which cannot be read line by line. */
  let whole: string[] | undefined;

  const parserOptions = referenceTime === undefined ? {} : { referenceTime };
  const decide = (sample: string): void => {
    if (format === undefined) {
      format = detectFormat(sample.split('\n').slice(0, SAMPLE_LINES));
      if (format === undefined) throw new FirebreakError('FB_ERR_INPUT_FORMAT_UNKNOWN', { file: path });
    }
    if (format === 'ecs' && sample.trimStart().startsWith('[')) whole = [];
    else parse = createLineParser(format, parserOptions);
  };
  const emitLines = (text: string, final: boolean): void => {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      handleLine(text.slice(start, nl));
      start = nl + 1;
    }
    pending = text.slice(start);
    if (final && pending !== '') {
      handleLine(pending);
      pending = '';
    }
  };
  const handleLine = (line: string): void => {
    lineNumber += 1;
    const outcome = parse!(line, lineNumber);
    if (outcome === undefined) return;
    if (outcome.ok) handlers.event(outcome.event, outcome.epochMs, lineNumber);
    else handlers.rejected(outcome.rejection);
  };

  try {
    for await (const chunk of stream) {
      const buffer = chunk as Buffer;
      bytes += buffer.length;
      const text = pending + decoder.write(buffer);
      if (whole !== undefined) {
        whole.push(text);
        pending = '';
      } else if (parse === undefined) {
        // Decide the format once enough lines (or the whole input) are here.
        if (text.split('\n', SAMPLE_LINES + 1).length <= SAMPLE_LINES) {
          pending = text;
        } else {
          decide(text);
          if (whole !== undefined) (whole as string[]).push(text);
          else emitLines(text, false);
        }
      } else {
        emitLines(text, false);
      }
      options.onProgress?.(bytes);
    }
  } catch (error) {
    if (error instanceof FirebreakError) throw error;
    throw unreadable(path, error);
  }
  const rest = pending + decoder.end();
  if (parse === undefined && whole === undefined) {
    if (rest.trim() === '') return { format: format ?? 'ecs', bytes };
    decide(rest);
    if (whole === undefined) {
      emitLines(rest, true);
      return { format: format!, bytes };
    }
    (whole as string[]).push(rest);
  } else if (whole === undefined) {
    emitLines(rest, true);
    return { format: format!, bytes };
  } else {
    whole.push(rest);
  }
  const result = parseText(whole!.join(''), 'ecs', parserOptions);
  // Rejections of an array name their index; events are numbered by position in the array.
  let index = 0;
  for (const parsed of result.events) handlers.event(parsed.event, parsed.epochMs, ++index);
  for (const rejection of result.rejected) handlers.rejected(rejection);
  return { format: 'ecs', bytes };
}

function unreadable(path: string, error: unknown): FirebreakError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a directory'
          : (error as Error).message;
  return new FirebreakError('FB_ERR_INPUT_UNREADABLE', { file: path, reason }, { cause: error });
}
