import { describe, expect, it } from 'vitest';
import { ecsEventFromJson, parseEcsArray, parseEcsLine } from './ndjson-parser.js';

describe('parseEcsLine', () => {
  it('reads dotted and nested keys to the same nested event', () => {
    const dotted = parseEcsLine(
      '{"@timestamp":"2026-03-04T10:00:00Z","event.action":"login","user.name":"alice"}',
    );
    const nested = parseEcsLine(
      '{"@timestamp":"2026-03-04T10:00:00Z","event":{"action":"login"},"user":{"name":"alice"}}',
    );
    expect(dotted).toEqual(nested);
    expect(dotted).toEqual({
      event: {
        '@timestamp': '2026-03-04T10:00:00.000Z',
        event: { action: 'login' },
        user: { name: 'alice' },
      },
      epochMs: Date.parse('2026-03-04T10:00:00Z'),
    });
  });

  it('normalizes epoch 0, epoch ms and offsets to ISO UTC with milliseconds', () => {
    expect(parseEcsLine('{"@timestamp":0}')).toEqual({
      event: { '@timestamp': '1970-01-01T00:00:00.000Z' },
      epochMs: 0,
    });
    expect(parseEcsLine('{"@timestamp":1700000000123}')).toMatchObject({
      event: { '@timestamp': '2023-11-14T22:13:20.123Z' },
      epochMs: 1700000000123,
    });
    expect(parseEcsLine('{"@timestamp":"2026-03-04T10:00:00.5+01:00"}')).toMatchObject({
      event: { '@timestamp': '2026-03-04T09:00:00.500Z' },
    });
    // Zone-less is UTC.
    expect(parseEcsLine('{"@timestamp":"2026-03-04T10:00:00"}')).toMatchObject({
      epochMs: Date.parse('2026-03-04T10:00:00Z'),
    });
  });

  it('keeps firebreak.* and unknown fields as given', () => {
    const out = parseEcsLine(
      '{"@timestamp":0,"firebreak.records":5000,"custom":{"deep":[1,{"x":null}]},"event.kind":"event"}',
    );
    expect(out).toMatchObject({
      event: { firebreak: { records: 5000 }, custom: { deep: [1, { x: null }] }, event: { kind: 'event' } },
    });
  });

  it('says why a line is not an event', () => {
    expect(parseEcsLine('{"@timestamp":"yesterday"}')).toBe(
      '@timestamp "yesterday" is not ISO 8601 or epoch milliseconds',
    );
    expect(parseEcsLine('{"event.action":"login"}')).toBe('@timestamp is missing');
    expect(parseEcsLine('[1,2]')).toBe('expected a JSON object, got an array');
    expect(parseEcsLine('null')).toBe('expected a JSON object, got null');
    expect(parseEcsLine('"text"')).toBe('expected a JSON object, got string');
    expect(parseEcsLine('{"@timestamp":0,')).toMatch(/^not JSON: /);
    expect(parseEcsLine('{"@timestamp":0,"event":1,"event.action":"x"}')).toBe(
      'field "event" is both a value and an object',
    );
  });
});

describe('parseEcsArray', () => {
  it('reads each element and names bad ones by index', () => {
    const out = parseEcsArray([
      { '@timestamp': 0 },
      { '@timestamp': 'nope' },
      5,
      { '@timestamp': 1, 'a.b': 1 },
    ]);
    expect(out.events.map((e) => e.epochMs)).toEqual([0, 1]);
    expect(out.events[1]!.event).toEqual({ '@timestamp': '1970-01-01T00:00:00.001Z', a: { b: 1 } });
    expect(out.rejected).toEqual([
      { location: 'index', position: 1, reason: '@timestamp "nope" is not ISO 8601 or epoch milliseconds' },
      { location: 'index', position: 2, reason: 'expected a JSON object, got number' },
    ]);
  });

  it('ecsEventFromJson reuses an object that needs no rewrite', () => {
    const value = { '@timestamp': 0, event: { action: 'x' } };
    const out = ecsEventFromJson(value);
    expect(typeof out !== 'string' && out.event).toBe(value);
  });
});
