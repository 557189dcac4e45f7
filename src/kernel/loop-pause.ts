/**
 * The pause of a background loop (the outbox worker, the playbook runner): it sleeps for its
 * poll interval between rounds unless something wakes it, and a wake-up that comes while a
 * round is running is kept, so the loop goes again at once instead of waiting out a poll for
 * work that is already there. Real time, not the injected clock: it only paces I/O.
 */
export class LoopPause {
  private woken = false;
  private endPause: (() => void) | undefined;

  /** Ends the pause in progress, or the next one before it starts. */
  wake(): void {
    this.woken = true;
    this.endPause?.();
  }

  /** Forgets wake-ups so far: call it as a round starts, since that round will see their work. */
  clear(): void {
    this.woken = false;
  }

  /**
   * Waits `ms`, or until `wake()`; at once when woken since the last `clear()` or pause.
   *
   * @example while (!stopping) { pause.clear(); await round(); if (!stopping) await pause.sleep(1000); }
   */
  sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.endPause = undefined;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.endPause = done;
    });
  }
}
