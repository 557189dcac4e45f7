/**
 * A shop's traffic with an attack in it, shared by the benchmarks so they measure the same
 * events: mostly web requests, logins (some failing, some admins), payments, data access, file
 * transfers and order access, a little out of order as real collectors deliver.
 */

export interface ShopTrafficOptions {
  /** Event time of the first event, epoch ms. */
  readonly startMs: number;
  /** Event time between consecutive events. */
  readonly spacingMs: number;
  /** Up to this many ms earlier than its place, at random. */
  readonly jitterMs: number;
  /** Distinct client addresses, in /24 networks of 250 hosts. */
  readonly addresses: number;
  /** Distinct customer accounts. */
  readonly customers: number;
  readonly seed?: number;
}

/** A deterministic pseudo-random sequence, so every run measures the same events. */
export function random(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4_294_967_296;
  };
}

/** `count` events, one JSON text each (no newline). */
export function buildShopTraffic(count: number, options: ShopTrafficOptions): string[] {
  const rnd = random(options.seed ?? 42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const services = ['storefront', 'checkout', 'admin-api'];
  const countries = ['US', 'CA', 'GB', 'DE', 'FR', 'IT'];
  const home = (user: string) => countries[user.length % 3]!;
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = options.startMs + Math.floor(i * options.spacingMs) - Math.floor(rnd() * options.jitterMs);
    // Two draws, /24 network then host, as the detect benchmark always made them.
    const net = Math.floor(rnd() * Math.ceil(options.addresses / 250));
    const ip = `198.${51 + (net >>> 8)}.${net & 255}.${Math.floor(rnd() * 250)}`;
    const user = `customer${Math.floor(rnd() * options.customers)}`;
    const r = rnd();
    let event: Record<string, unknown>;
    if (r < 0.7) {
      const status = rnd() < 0.02 ? 503 : rnd() < 0.1 ? 404 : 200;
      event = {
        event: {
          action: 'request',
          category: ['web'],
          outcome: status >= 400 ? 'failure' : 'success',
          duration: Math.floor(2e7 + rnd() * 8e7),
        },
        http: { request: { method: pick(['GET', 'GET', 'POST']) }, response: { status_code: status } },
        url: { path: pick(['/', '/products/blazer', '/cart', '/checkout', '/api/orders']) },
        source: { ip },
        service: { name: pick(services) },
      };
    } else if (r < 0.85) {
      const admin = rnd() < 0.05;
      event = {
        event: {
          action: 'login',
          category: ['authentication'],
          outcome: rnd() < 0.2 ? 'failure' : 'success',
        },
        user: admin ? { name: `admin${Math.floor(rnd() * 5)}`, roles: ['admin'] } : { name: user },
        // Customers log in from their home country, and now and then from abroad.
        source: { ip, geo: { country_iso_code: rnd() < 0.02 ? pick(countries) : home(user) } },
      };
    } else if (r < 0.92) {
      event = {
        event: { action: 'payment', category: ['process'], outcome: rnd() < 0.05 ? 'failure' : 'success' },
        user: { name: user },
        source: { ip },
      };
    } else if (r < 0.96) {
      event = {
        event: { action: 'data-access', category: ['database'] },
        user: { name: pick(['reporting', 'support1', 'support2']) },
        firebreak: { records: Math.floor(rnd() * 40) },
      };
    } else if (r < 0.98) {
      event = {
        event: { action: pick(['file-upload', 'file-download']), category: ['file'] },
        user: { name: user },
      };
    } else {
      event = {
        event: { action: 'order-access', category: ['web'], outcome: rnd() < 0.1 ? 'failure' : 'success' },
        user: { name: user },
      };
    }
    lines.push(JSON.stringify({ '@timestamp': new Date(at).toISOString(), ...event }));
  }
  return lines;
}

/**
 * The floor of any JSON pipeline on these events (the detect benchmark's (c)): JSON.parse plus
 * one Map increment per event, best of `rounds`, in events/s.
 */
export function jsonFloor(lines: readonly string[], rounds = 3): number {
  let top = 0;
  for (let round = 0; round < rounds; round++) {
    const counts = new Map<string, number>();
    const started = performance.now();
    for (const line of lines) {
      const value = JSON.parse(line) as { source?: { ip?: string } };
      const key = value.source?.ip ?? '';
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const rate = lines.length / ((performance.now() - started) / 1000);
    if (rate > top) top = rate;
  }
  return top;
}
