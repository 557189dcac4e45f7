import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { refusal } from '../../test/helpers/refusal.js';
import type { FirebreakError } from '../kernel/index.js';
import { parseEventBatch, readEventBody } from './http-source.js';

const event = (n: number) => ({ '@timestamp': `2026-03-02T10:00:0${n}Z`, event: { action: 'login' } });
const iso = (n: number) => `2026-03-02T10:00:0${n}.000Z`;

/** A request body as a stream of chunks, counting how much of it was read. */
function body(
  chunks: readonly Uint8Array[],
): Readable & { consumed: () => number; destroyedEarly: () => boolean } {
  let read = 0;
  const stream = Readable.from(
    (function* () {
      for (const chunk of chunks) {
        read += chunk.length;
        yield Buffer.from(chunk);
      }
    })(),
    { objectMode: false },
  );
  return Object.assign(stream, {
    consumed: () => read,
    destroyedEarly: () => stream.destroyed && !stream.readableEnded,
  });
}

const limits = { maxBytes: 1000, maxDecodedBytes: 4000 };

describe('readEventBody', () => {
  it('reads a plain body, in several chunks', async () => {
    const text = JSON.stringify([event(1), event(2)]);
    const got = await readEventBody(body([Buffer.from(text.slice(0, 10)), Buffer.from(text.slice(10))]));
    expect(got.toString()).toBe(text);
  });

  it('decodes gzip as it streams, also a body of several gzip members', async () => {
    const a = gzipSync('{"a":1}\n');
    const b = gzipSync('{"b":2}\n');
    const whole = Buffer.concat([a, b]);
    const got = await readEventBody(body([whole.subarray(0, 7), whole.subarray(7)]), {
      contentEncoding: 'gzip',
    });
    expect(got.toString()).toBe('{"a":1}\n{"b":2}\n');
    expect((await readEventBody(body([a]), { contentEncoding: ' X-GZIP ' })).toString()).toBe('{"a":1}\n');
    expect((await readEventBody(body([Buffer.from('x')]), { contentEncoding: 'identity' })).toString()).toBe(
      'x',
    );
  });

  it('refuses a declared length over the limit without reading', async () => {
    const stream = body([Buffer.alloc(10)]);
    const error = await refusal(readEventBody(stream, { contentLength: '1001', limits }));
    expect(error.code).toBe('FB_ERR_BODY_TOO_LARGE');
    expect(error.message).toContain('1000');
    expect(stream.consumed()).toBe(0);
  });

  it('refuses a body that turns out longer than the limit, plain or gzip', async () => {
    const plain = await refusal(readEventBody(body([Buffer.alloc(600), Buffer.alloc(600)]), { limits }));
    expect(plain.code).toBe('FB_ERR_BODY_TOO_LARGE');
    const random = randomBytes(3000);
    const zipped = gzipSync(random);
    expect(zipped.length).toBeGreaterThan(1000);
    const gz = await refusal(readEventBody(body([zipped]), { contentEncoding: 'gzip', limits }));
    expect(gz.code).toBe('FB_ERR_BODY_TOO_LARGE');
  });

  it('stops inflating past the decoded limit, reads the rest of the body, and never destroys it', async () => {
    const bomb = gzipSync(Buffer.alloc(500_000), { level: 9 });
    expect(bomb.length).toBeLessThan(limits.maxBytes);
    const stream = body([bomb.subarray(0, 100), bomb.subarray(100, 400), bomb.subarray(400)]);
    const error = await refusal(readEventBody(stream, { contentEncoding: 'gzip', limits }));
    expect(error.code).toBe('FB_ERR_BODY_DECOMPRESSED_TOO_LARGE');
    expect(error.message).toContain('4000');
    expect(stream.consumed()).toBe(bomb.length);
    expect(stream.destroyedEarly()).toBe(false);
  });

  it('reports corrupt and truncated gzip as FB_ERR_MALFORMED_GZIP', async () => {
    for (const bad of [
      Buffer.from('not gzip at all'),
      gzipSync('{"a":1}').subarray(0, 12),
      Buffer.alloc(0),
    ]) {
      const error = await refusal(readEventBody(body([bad]), { contentEncoding: 'gzip' }));
      expect(error.code).toBe('FB_ERR_MALFORMED_GZIP');
    }
  });

  it('refuses other encodings before reading', async () => {
    const stream = body([Buffer.from('{}')]);
    const error = await refusal(readEventBody(stream, { contentEncoding: 'br' }));
    expect(error.code).toBe('FB_ERR_UNSUPPORTED_ENCODING');
    expect(error.message).toContain('"br"');
    expect(stream.consumed()).toBe(0);
  });
});

describe('parseEventBatch', () => {
  it('json: an object is one event, an array many, [] none', () => {
    expect(
      parseEventBatch(JSON.stringify(event(1)), 'json').events.map((e) => e.event['@timestamp']),
    ).toEqual([iso(1)]);
    const many = parseEventBatch(JSON.stringify([event(1), 'x', event(2)]), 'json');
    expect(many.events.map((e) => e.event['@timestamp'])).toEqual([iso(1), iso(2)]);
    expect(many.rejected).toEqual([{ index: 1, reason: 'expected a JSON object, got string' }]);
    expect(parseEventBatch('[]', 'json')).toEqual({ events: [], rejected: [] });
    expect(parseEventBatch(`\uFEFF${JSON.stringify(event(3))}`, 'json').events).toHaveLength(1);
  });

  it('json: a body that is not JSON, or empty, is refused whole', () => {
    for (const text of ['{"a":', 'nope', '', '  \n']) {
      expect(() => parseEventBatch(text, 'json')).toThrowError(
        expect.objectContaining({ code: 'FB_ERR_MALFORMED_JSON' }),
      );
    }
  });

  it('ndjson: blank lines are skipped; index counts items, line counts lines', () => {
    const text = [
      JSON.stringify(event(1)),
      '',
      'oops',
      '  ',
      '{"@timestamp":"never"}',
      JSON.stringify(event(2)),
    ].join('\r\n');
    const batch = parseEventBatch(Buffer.from(text), 'ndjson');
    expect(batch.events.map((e) => e.event['@timestamp'])).toEqual([iso(1), iso(2)]);
    expect(batch.rejected).toEqual([
      { index: 1, line: 3, reason: expect.stringMatching(/^not JSON: /) },
      { index: 2, line: 5, reason: expect.stringContaining('never') },
    ]);
  });

  it('ndjson: keeps a line as the event JSON only when the event is exactly that line', () => {
    const plain = '{"@timestamp":"2026-03-02T10:00:00.000Z","event":{"action":"login"}}';
    const dotted = '{"@timestamp":"2026-03-02T10:00:00.000Z","event.action":"login"}';
    const shortTime = '{"@timestamp":"2026-03-02T10:00:00Z","event":{"action":"login"}}';
    const batch = parseEventBatch(`${plain}\n${dotted}\n${shortTime}\n`, 'ndjson');
    expect(batch.events.map((e) => e.json)).toEqual([plain, undefined, undefined]);
    // Whatever is kept parses back to the event as it will be stored.
    expect(JSON.parse(batch.events[0]!.json!)).toEqual(batch.events[0]!.event);
    expect(batch.events[1]!.event).toEqual(batch.events[0]!.event);
    expect(batch.events[2]!.event).toEqual(batch.events[0]!.event);
  });

  it('ndjson: refused whole when no line is JSON, naming the first bad line', () => {
    expect(() => parseEventBatch('\n\nfirst bad\nsecond bad\n', 'ndjson')).toThrowError(/line 3: not JSON/);
    expect(() => parseEventBatch('\n \n', 'ndjson')).toThrowError(/the body is empty/);
  });

  it('refuses more than the maximum number of items, counting the rejected ones too', () => {
    const error = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as FirebreakError).code;
      }
      return 'none';
    };
    expect(error(() => parseEventBatch('1\n2\n3\n', 'ndjson', 2))).toBe('FB_ERR_TOO_MANY_EVENTS');
    expect(error(() => parseEventBatch('[1,2,3]', 'json', 2))).toBe('FB_ERR_TOO_MANY_EVENTS');
    expect(parseEventBatch('1\n\n2\n\n', 'ndjson', 2).rejected).toHaveLength(2);
    expect(parseEventBatch('[1,2]', 'json', 2).rejected).toHaveLength(2);
  });
});
