import { describe, expect, it } from 'vitest';
import { LoopPause } from './loop-pause.js';

const elapsed = async (work: () => Promise<void>) => {
  const start = performance.now();
  await work();
  return performance.now() - start;
};

describe('LoopPause', () => {
  it('sleeps the interval when nothing wakes it', async () => {
    expect(await elapsed(() => new LoopPause().sleep(60))).toBeGreaterThanOrEqual(55);
  });

  it('a wake-up ends the pause in progress', async () => {
    const pause = new LoopPause();
    setTimeout(() => pause.wake(), 10);
    expect(await elapsed(() => pause.sleep(5_000))).toBeLessThan(1_000);
  });

  it('a wake-up during a round is kept: the next pause ends at once, and only that one', async () => {
    const pause = new LoopPause();
    pause.wake();
    expect(await elapsed(() => pause.sleep(5_000))).toBeLessThan(1_000);
    expect(await elapsed(() => pause.sleep(60))).toBeGreaterThanOrEqual(55);
  });

  it('clear() forgets wake-ups from before the round', async () => {
    const pause = new LoopPause();
    pause.wake();
    pause.clear();
    expect(await elapsed(() => pause.sleep(60))).toBeGreaterThanOrEqual(55);
  });
});
