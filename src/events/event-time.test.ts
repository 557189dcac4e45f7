import { describe, expect, it } from 'vitest';
import { parseIsoTime, parseTimestampValue, utcEpochMs } from './event-time.js';

describe('parseIsoTime', () => {
  it('reads UTC, offsets and fractions (RFC 5424 examples)', () => {
    expect(parseIsoTime('2003-10-11T22:14:15.003Z')).toBe(Date.parse('2003-10-11T22:14:15.003Z'));
    // RFC 5424 §6.5 example 2: microseconds, -07:00
    expect(parseIsoTime('2003-08-24T05:14:15.000003-07:00')).toBe(Date.parse('2003-08-24T12:14:15.000Z'));
    expect(parseIsoTime('2024-05-01T10:00:00.123456+05:30')).toBe(Date.parse('2024-05-01T04:30:00.123Z'));
    expect(parseIsoTime('2024-05-01T10:00:00+0200')).toBe(Date.parse('2024-05-01T08:00:00Z'));
  });

  it('treats a zone-less time as UTC', () => {
    expect(parseIsoTime('2024-01-31T23:59:59.999')).toBe(Date.parse('2024-01-31T23:59:59.999Z'));
    expect(parseIsoTime('2024-01-31 23:59')).toBe(Date.parse('2024-01-31T23:59:00Z'));
  });

  it('refuses impossible dates instead of rolling them over', () => {
    expect(parseIsoTime('2023-02-29T00:00:00Z')).toBeUndefined();
    expect(parseIsoTime('2024-02-29T00:00:00Z')).toBe(Date.parse('2024-02-29T00:00:00Z'));
    expect(parseIsoTime('2024-13-01T00:00:00Z')).toBeUndefined();
    expect(parseIsoTime('2024-01-01T24:00:00Z')).toBeUndefined();
    expect(parseIsoTime('2024-01-01T00:00:00+24:00')).toBeUndefined();
    expect(parseIsoTime('2024-01-01')).toBeUndefined();
    expect(parseIsoTime('yesterday')).toBeUndefined();
  });

  it('keeps years below 100 as written', () => {
    expect(new Date(utcEpochMs(50, 1, 1, 0, 0, 0, 0)!).getUTCFullYear()).toBe(50);
  });
});

describe('parseTimestampValue', () => {
  it('takes epoch milliseconds, including 0 and negatives, dropping sub-ms fractions', () => {
    expect(parseTimestampValue(0)).toBe(0);
    expect(parseTimestampValue(-1)).toBe(-1);
    expect(parseTimestampValue(1700000000123.9)).toBe(1700000000123);
  });

  it('explains what is wrong', () => {
    expect(parseTimestampValue(undefined)).toBe('@timestamp is missing');
    expect(parseTimestampValue('yesterday')).toBe(
      '@timestamp "yesterday" is not ISO 8601 or epoch milliseconds',
    );
    expect(parseTimestampValue('1700000000000')).toBe(
      '@timestamp "1700000000000" is not ISO 8601 or epoch milliseconds',
    );
    expect(parseTimestampValue(true)).toBe('@timestamp true is not ISO 8601 or epoch milliseconds');
    expect(parseTimestampValue(1e300)).toBe('@timestamp 1e+300 is not ISO 8601 or epoch milliseconds');
    expect(parseTimestampValue('x'.repeat(200))).toMatch(/^@timestamp "x{60}\.\.\. is not/);
  });
});
