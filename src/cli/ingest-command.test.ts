import { describe, expect, it } from 'vitest';
import { fileBatchKey, isRetryableStatus, retryDelayMs } from './ingest-command.js';

describe('retryDelayMs', () => {
  const now = Date.parse('2026-03-02T10:00:00Z');

  it('backs off exponentially from 500 ms, half of it random, at most 30 s', () => {
    const low = (attempt: number) => retryDelayMs(attempt, undefined, now, () => 0);
    const high = (attempt: number) => retryDelayMs(attempt, undefined, now, () => 1);
    expect([1, 2, 3, 4].map(low)).toEqual([250, 500, 1000, 2000]);
    expect([1, 2, 3, 4].map(high)).toEqual([500, 1000, 2000, 4000]);
    expect(high(20)).toBe(30_000);
    expect(low(20)).toBe(15_000);
  });

  it('honours Retry-After in seconds or as an HTTP date, at most 60 s', () => {
    expect(retryDelayMs(1, '3', now, () => 1)).toBe(3000);
    expect(retryDelayMs(5, '0', now, () => 1)).toBe(0);
    expect(retryDelayMs(1, new Date(now + 7_000).toUTCString(), now, () => 1)).toBe(7000);
    expect(retryDelayMs(1, new Date(now - 7_000).toUTCString(), now, () => 1)).toBe(0);
    expect(retryDelayMs(1, '3600', now, () => 1)).toBe(60_000);
  });

  it('falls back to the backoff when Retry-After is not a number or a date', () => {
    expect(retryDelayMs(1, 'soon', now, () => 1)).toBe(500);
    expect(retryDelayMs(1, ' ', now, () => 1)).toBe(500);
  });
});

describe('isRetryableStatus', () => {
  it.each([
    [408, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [400, false],
    [401, false],
    [403, false],
    [413, false],
    [415, false],
  ])('%i → %s', (status, retry) => expect(isRetryableStatus(status)).toBe(retry));
});

describe('fileBatchKey', () => {
  it('is the same for the same lines of the same file, and differs when anything differs', () => {
    const key = fileBatchKey('/var/log/app.log', 1, 1000, 'abc');
    expect(key).toMatch(/^firebreak-ingest-[0-9a-f]{64}$/);
    expect(key.length).toBeLessThanOrEqual(255);
    expect(fileBatchKey('/var/log/app.log', 1, 1000, 'abc')).toBe(key);
    const others = [
      fileBatchKey('/var/log/app.log.1', 1, 1000, 'abc'),
      fileBatchKey('/var/log/app.log', 2, 1000, 'abc'),
      fileBatchKey('/var/log/app.log', 1, 999, 'abc'),
      fileBatchKey('/var/log/app.log', 1, 1000, 'abd'),
    ];
    expect(new Set([key, ...others]).size).toBe(5);
  });
});
