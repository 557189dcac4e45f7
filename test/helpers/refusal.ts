/** The FirebreakError a call was refused with; fails the test when the call succeeded or threw something else. */
import { expect } from 'vitest';
import { FirebreakError } from '../../src/kernel/index.js';

/** @example expect((await refusal(service.get('INC-2026-999'))).code).toBe('FB_ERR_INCIDENT_NOT_FOUND') */
export async function refusal(call: Promise<unknown> | (() => unknown)): Promise<FirebreakError> {
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (error) {
    expect(error).toBeInstanceOf(FirebreakError);
    return error as FirebreakError;
  }
  throw new Error('expected the call to be refused');
}
