/**
 * The HTTP source, without the HTTP framework: reads a request body (gzip decoded as it streams,
 * within byte caps), turns it into a batch of events (a JSON object, a JSON array, or NDJSON),
 * and appends the good ones to the event log in one transaction. The API route only hands over
 * the stream and the headers, and sends back what `appendEventBatch` answers.
 *
 * Bulk semantics: a batch is not all-or-nothing. Each item is accepted or rejected on its own,
 * rejections are reported by their 0-based position, and the accepted ones are durable before
 * the answer is given. Only a body that is not JSON at all is refused as a whole.
 */
import type { Duplex, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ecsEventFromJson, type ParsedEvent } from '../events/index.js';
import { FirebreakError } from '../kernel/index.js';
import type { EventLog } from './event-log.js';

/** Largest body on the wire (compressed bytes, when gzip): 8 MiB. */
export const INGEST_MAX_BODY_BYTES = 8 * 1024 * 1024;
/**
 * Largest body once decompressed: 32 MiB. Decoding stops as soon as the output passes it, so a
 * gzip bomb (1 GiB of zeros is about 1 MiB of gzip) costs at most this much memory and the time
 * to inflate it, a few tens of milliseconds.
 */
export const INGEST_MAX_DECODED_BYTES = 32 * 1024 * 1024;
/** Most events (JSON array elements or NDJSON lines) in one request. */
export const INGEST_MAX_EVENTS = 10_000;
/** What `appendEventBatch` records as the events' source. */
export const HTTP_SOURCE = 'http';

export type BatchFormat = 'json' | 'ndjson';

/** The media types the ingest route reads, and how. */
export const INGEST_MEDIA_TYPES: Readonly<Record<string, BatchFormat>> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
};

export interface BodyLimits {
  readonly maxBytes: number;
  readonly maxDecodedBytes: number;
}

const DEFAULT_LIMITS: BodyLimits = {
  maxBytes: INGEST_MAX_BODY_BYTES,
  maxDecodedBytes: INGEST_MAX_DECODED_BYTES,
};

export interface ReadBodyOptions {
  /** The Content-Encoding header as sent, if any. */
  readonly contentEncoding?: string | undefined;
  /** The Content-Length header as sent, if any: a body declared too large is refused unread. */
  readonly contentLength?: string | undefined;
  readonly limits?: BodyLimits;
}

/**
 * The whole body, decoded. Throws FB_ERR_UNSUPPORTED_ENCODING (not identity or gzip),
 * FB_ERR_BODY_TOO_LARGE (over `maxBytes` on the wire), FB_ERR_BODY_DECOMPRESSED_TOO_LARGE
 * (over `maxDecodedBytes` decoded) or FB_ERR_MALFORMED_GZIP.
 *
 * When decoding fails part way, the rest of the body is still read (and dropped), up to
 * `maxBytes` in all: a client that is still sending then gets the answer instead of a reset
 * connection. Never destroys `body`.
 */
export async function readEventBody(body: Readable, options: ReadBodyOptions = {}): Promise<Buffer> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const gzip = isGzip(options.contentEncoding);
  const declared = options.contentLength === undefined ? Number.NaN : Number(options.contentLength);
  if (declared > limits.maxBytes)
    throw new FirebreakError('FB_ERR_BODY_TOO_LARGE', { limit: limits.maxBytes });

  if (!gzip) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limits.maxBytes)
        throw new FirebreakError('FB_ERR_BODY_TOO_LARGE', { limit: limits.maxBytes });
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size);
  }

  const gunzip = createGunzip();
  let firstFailure: unknown;
  const inflated = collectInflated(gunzip, limits.maxDecodedBytes).catch((error: unknown) => {
    firstFailure ??= error;
    gunzip.destroy();
    return undefined;
  });
  try {
    await feed(body, gunzip, limits.maxBytes);
  } catch (error) {
    firstFailure ??= error;
    gunzip.destroy();
  }
  const result = await inflated;
  if (firstFailure !== undefined || result === undefined) throw firstFailure;
  return result;
}

function isGzip(header: string | undefined): boolean {
  const encoding = (header ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return false;
  if (encoding === 'gzip' || encoding === 'x-gzip') return true;
  throw new FirebreakError('FB_ERR_UNSUPPORTED_ENCODING', { encoding: JSON.stringify(header) });
}

/** Reads the request into the decoder; once the decoder is gone, reads on without keeping anything. */
async function feed(body: Readable, gunzip: Duplex, maxBytes: number): Promise<void> {
  let raw = 0;
  for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    raw += chunk.length;
    if (raw > maxBytes) throw new FirebreakError('FB_ERR_BODY_TOO_LARGE', { limit: maxBytes });
    if (gunzip.destroyed) continue;
    if (!gunzip.write(chunk)) await drainedOrClosed(gunzip);
  }
  if (!gunzip.destroyed) gunzip.end();
}

function drainedOrClosed(stream: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

async function collectInflated(gunzip: Readable, maxDecodedBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxDecodedBytes) {
        throw new FirebreakError('FB_ERR_BODY_DECOMPRESSED_TOO_LARGE', { limit: maxDecodedBytes });
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof FirebreakError) throw error;
    throw new FirebreakError('FB_ERR_MALFORMED_GZIP', { reason: (error as Error).message });
  }
  return Buffer.concat(chunks, size);
}

/** An item of a batch that did not become an event. `line` (1-based) is given for NDJSON. */
export interface BatchRejection {
  /** 0-based position among the batch's items (array elements, or non-blank NDJSON lines). */
  readonly index: number;
  readonly line?: number;
  readonly reason: string;
}

export interface EventBatch {
  /** With `json` when the event is exactly its NDJSON line, so the log need not serialise it again. */
  readonly events: (ParsedEvent & { readonly json?: string })[];
  readonly rejected: BatchRejection[];
}

/**
 * A decoded body to events. `json`: an object is one event, an array is many (`[]` is an empty
 * batch). `ndjson`: one JSON object per line, blank lines skipped; a line that is not JSON is a
 * rejection, not a failure of the batch. Throws FB_ERR_MALFORMED_JSON when the body is empty
 * or not one item in it is JSON, and FB_ERR_TOO_MANY_EVENTS past `maxEvents` items.
 *
 * @example
 * parseEventBatch(Buffer.from('{"@timestamp":"2026-03-02T10:00:00Z"}\nnope\n'), 'ndjson')
 * // { events: [ ... one ... ], rejected: [{ index: 1, line: 2, reason: 'not JSON: ...' }] }
 */
export function parseEventBatch(
  body: Buffer | string,
  format: BatchFormat,
  maxEvents = INGEST_MAX_EVENTS,
): EventBatch {
  let text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (!/\S/.test(text)) throw new FirebreakError('FB_ERR_MALFORMED_JSON', { reason: 'the body is empty' });
  return format === 'json' ? parseJsonBatch(text, maxEvents) : parseNdjsonBatch(text, maxEvents);
}

function tooMany(maxEvents: number): FirebreakError {
  return new FirebreakError('FB_ERR_TOO_MANY_EVENTS', { limit: maxEvents });
}

function parseJsonBatch(text: string, maxEvents: number): EventBatch {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FirebreakError('FB_ERR_MALFORMED_JSON', { reason: (error as Error).message });
  }
  const items = Array.isArray(value) ? value : [value];
  if (items.length > maxEvents) throw tooMany(maxEvents);
  const batch: EventBatch = { events: [], rejected: [] };
  for (let index = 0; index < items.length; index++) {
    const result = ecsEventFromJson(items[index]);
    if (typeof result === 'string') batch.rejected.push({ index, reason: result });
    else batch.events.push(result);
  }
  return batch;
}

function parseNdjsonBatch(text: string, maxEvents: number): EventBatch {
  const batch: EventBatch = { events: [], rejected: [] };
  let index = 0;
  let anyJson = false;
  let firstProblem = '';
  let start = 0;
  for (let lineNo = 1; start <= text.length; lineNo++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    if (index === maxEvents) throw tooMany(maxEvents);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      const reason = `not JSON: ${(error as Error).message}`;
      firstProblem ||= `line ${lineNo}: ${reason}`;
      batch.rejected.push({ index: index++, line: lineNo, reason });
      continue;
    }
    anyJson = true;
    const stamp = (value as { '@timestamp'?: unknown } | null)?.['@timestamp'];
    const result = ecsEventFromJson(value);
    if (typeof result === 'string') batch.rejected.push({ index, line: lineNo, reason: result });
    else if (result.event === value && result.event['@timestamp'] === stamp) {
      // Taken as it was (no dotted keys, time already canonical): the line is the event's JSON.
      batch.events.push({ event: result.event, epochMs: result.epochMs, json: line });
    } else batch.events.push(result);
    index++;
  }
  if (!anyJson) {
    throw new FirebreakError('FB_ERR_MALFORMED_JSON', { reason: `no line is JSON (${firstProblem})` });
  }
  return batch;
}

/** The bulk answer: the same body on the first request and on every replay of its Idempotency-Key. */
export interface IngestAnswer {
  readonly accepted: number;
  readonly rejected: BatchRejection[];
  /** The seqs the accepted events got in the log; null when none was accepted. */
  readonly first_seq: number | null;
  readonly last_seq: number | null;
}

export interface AppendBatchOptions {
  readonly receivedAt: Date;
  /** A client's Idempotency-Key with the id of the API key that sent it. */
  readonly idempotency?: { readonly keyId: string; readonly key: string } | undefined;
  readonly source?: string;
}

/**
 * Appends the batch's good events in one transaction and resolves once they are durable, with
 * the answer to give. With an idempotency key seen before, appends nothing and resolves with
 * the first answer and `replayed: true`.
 */
export async function appendEventBatch(
  log: EventLog,
  batch: EventBatch,
  options: AppendBatchOptions,
): Promise<{ answer: IngestAnswer; replayed: boolean }> {
  const result = await log.append(batch.events, {
    source: options.source ?? HTTP_SOURCE,
    receivedAt: options.receivedAt,
    ...(options.idempotency ? { idempotency: options.idempotency } : {}),
    answer: (range): IngestAnswer => ({
      accepted: range.count,
      rejected: batch.rejected,
      first_seq: range.count > 0 ? range.first : null,
      last_seq: range.count > 0 ? range.last : null,
    }),
  });
  return { answer: result.answer as IngestAnswer, replayed: result.replayed };
}
