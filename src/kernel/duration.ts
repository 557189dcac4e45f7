/**
 * Durations as people write them in policies and flags: "90s", "15m", "2h", "3d", "1h30m".
 * One parser so every file and flag accepts the same spelling and rejects the same mistakes.
 */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const PART = /(\d+)(ms|s|m|h|d|w)/g;
const WHOLE = /^(?:\d+(?:ms|s|m|h|d|w))+$/;

/** Returns milliseconds, or undefined when the text is not a duration. `parseDuration('1h30m') === 5_400_000`. */
export function parseDuration(text: string): number | undefined {
  const compact = text.trim();
  if (!WHOLE.test(compact)) return undefined;
  let total = 0;
  for (const [, amount, unit] of compact.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return total;
}

/** The inverse, for messages: 5_400_000 → "1h30m", 0 → "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit];
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
