/** Polling for what a server does in the background (detection, the outbox, the playbook runner). */

/**
 * Reads until `done` holds of the answer and returns it; after `timeoutMs`, fails naming `what`
 * and the last answer seen.
 *
 * @example const run = await until('the run to finish', () => getRun(id), (r) => r.status === 'succeeded')
 */
export async function until<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last seen ${JSON.stringify(value)?.slice(0, 6000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
