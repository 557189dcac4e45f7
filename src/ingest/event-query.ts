/**
 * The text form of an event search's field filter, as the `q` of `GET /v1/events` carries it:
 * `field:value` terms separated by spaces, all of which must hold. A value with spaces or
 * quotes is written as a JSON string: `user.name:"Dana Smith"`.
 */

const TERM = /([^\s:"]+):("(?:[^"\\]|\\.)*"|[^\s"]+)(?=\s|$)/y;

/**
 * `event.action:login source.ip:203.0.113.7` → `{ 'event.action': 'login', 'source.ip': '203.0.113.7' }`,
 * or the problem in words. An empty or blank text is no filter.
 */
export function parseEventQuery(text: string): Record<string, string> | string {
  // A Map, so that no field name (not even __proto__) can reach an object's prototype.
  const where = new Map<string, string>();
  let pos = 0;
  for (;;) {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
    if (pos === text.length) return Object.fromEntries(where);
    TERM.lastIndex = pos;
    const match = TERM.exec(text);
    if (!match) {
      const rest = text.slice(pos).split(/\s/, 1)[0]!;
      return `"${rest}" is not field:value (quote a value with spaces: field:"a b")`;
    }
    const [whole, field, raw] = match as unknown as [string, string, string];
    if (field.split('.').some((part) => part === '')) return `"${field}" is not a field name`;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        return `${raw} is not a valid quoted value`;
      }
    }
    if (where.has(field)) return `field ${field} is given twice`;
    where.set(field, value);
    pos += whole.length;
  }
}

/** The inverse of parseEventQuery: values are quoted when they need to be. */
export function formatEventQuery(where: Readonly<Record<string, string>>): string {
  return Object.entries(where)
    .map(([field, value]) => `${field}:${/^[^\s"]+$/.test(value) ? value : JSON.stringify(value)}`)
    .join(' ');
}
