/**
 * nginx / Apache "combined" access log lines to ECS events:
 *   $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
 *   "$http_referer" "$http_user_agent" [$request_time]
 * Field mapping follows Elastic's own nginx integration, so rules written against it carry over.
 */
import { isIP } from 'node:net';
import type { EcsEvent, ParsedEvent } from './ecs-event.js';
import { utcEpochMs } from './event-time.js';

// Quoted fields: nginx escapes `"` as \x22, Apache as \" — both are covered by (?:[^"\\]|\\.)*.
// Anything after the user agent other than an optional $request_time is ignored (custom
// formats often append fields; we take the combined part and the request time only).
const COMBINED =
  /^(\S+) \S+ (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"(?: +(\d+(?:\.\d+)?|-))?(?:\s.*)?$/;
const TIME_LOCAL = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;
const REQUEST_LINE = /^([A-Za-z]+) (\S+)(?: HTTP\/(\d+(?:\.\d+)?))?$/;
const ESCAPE = /\\(x[0-9A-Fa-f]{2}|.)/g;
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

export const MONTHS: Readonly<Record<string, number>> = {
  Jan: 1,
  Feb: 2,
  Mar: 3,
  Apr: 4,
  May: 5,
  Jun: 6,
  Jul: 7,
  Aug: 8,
  Sep: 9,
  Oct: 10,
  Nov: 11,
  Dec: 12,
};

/** Cheap shape test for format detection. */
export function looksLikeCombinedLog(line: string): boolean {
  return COMBINED.test(line);
}

/** `10/Oct/2000:13:55:36 -0700` → epoch ms, or undefined. */
export function parseTimeLocal(text: string): number | undefined {
  const m = TIME_LOCAL.exec(text);
  if (m === null) return undefined;
  const month = MONTHS[m[2]!];
  if (month === undefined) return undefined;
  const local = utcEpochMs(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]), 0);
  if (local === undefined) return undefined;
  const offset = (Number(m[8]) * 60 + Number(m[9])) * 60_000;
  return m[7] === '-' ? local + offset : local - offset;
}

const utf8 = new TextDecoder('utf-8');

/** Undoes nginx's `\xHH` and Apache's `\"` / `\\` escapes; fast path when there is no backslash. */
export function unescapeLogString(text: string): string {
  if (text.indexOf('\\') === -1) return text;
  if (text.indexOf('\\x') === -1) return text.replace(ESCAPE, (_, c: string) => c);
  // \xHH are bytes (nginx escapes each byte of a UTF-8 sequence), so decode them as UTF-8.
  const bytes: number[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (ch === 0x5c && i + 1 < text.length) {
      const next = text[i + 1]!;
      if (next === 'x' && HEX_PAIR.test(text.slice(i + 2, i + 4))) {
        bytes.push(Number.parseInt(text.slice(i + 2, i + 4), 16));
        i += 4;
        continue;
      }
      pushUtf8(bytes, next);
      i += 2;
      continue;
    }
    const cp = text.codePointAt(i)!;
    pushUtf8(bytes, String.fromCodePoint(cp));
    i += cp > 0xffff ? 2 : 1;
  }
  return utf8.decode(new Uint8Array(bytes));
}

const utf8Encoder = new TextEncoder();
function pushUtf8(bytes: number[], text: string): void {
  for (const b of utf8Encoder.encode(text)) bytes.push(b);
}

/**
 * One combined-format line to an event, or a reason.
 *
 * Decisions: `event.outcome` is `failure` for status >= 400 and `success` otherwise (as
 * Elastic's nginx integration does); a `-` body size is 0 (Apache's `%b` writes `-` for zero
 * bytes); `-` user, referrer and user agent are left out; a request line that is not
 * `METHOD target [HTTP/x]` (scanners send junk) is kept in `firebreak.http.request_line`
 * instead of being rejected, because junk requests are themselves worth detecting.
 */
export function parseCombinedLogLine(line: string): ParsedEvent | string {
  const m = COMBINED.exec(line);
  if (m === null) return 'not an nginx/Apache combined log line';
  const epochMs = parseTimeLocal(m[3]!);
  if (epochMs === undefined) return `time "${m[3]}" is not like 10/Oct/2000:13:55:36 -0700`;
  const status = Number(m[5]);
  const address = m[1]!;
  const event: EcsEvent = {
    '@timestamp': new Date(epochMs).toISOString(),
    event: {
      kind: 'event',
      category: ['web'],
      type: ['access'],
      action: 'request',
      outcome: status >= 400 ? 'failure' : 'success',
    },
    source: isIP(address) === 0 ? { address } : { address, ip: address },
  };
  const http: Record<string, unknown> = {
    response: { status_code: status, body: { bytes: m[6] === '-' ? 0 : Number(m[6]) } },
  };
  event.http = http;
  if (m[2] !== '-') event.user = { name: unescapeLogString(m[2]!) };
  const request = unescapeLogString(m[4]!);
  const req = REQUEST_LINE.exec(request);
  const httpRequest: Record<string, unknown> = {};
  if (req !== null) {
    httpRequest.method = req[1];
    event.url = { original: req[2] };
    if (req[3] !== undefined) http.version = req[3];
  } else if (request !== '-' && request !== '') {
    event.firebreak = { http: { request_line: request } };
  }
  if (m[7] !== '-') httpRequest.referrer = unescapeLogString(m[7]!);
  if (httpRequest.method !== undefined || httpRequest.referrer !== undefined) http.request = httpRequest;
  if (m[8] !== '-') event.user_agent = { original: unescapeLogString(m[8]!) };
  const requestTime = m[9];
  if (requestTime !== undefined && requestTime !== '-') {
    // ECS event.duration is in nanoseconds; $request_time is seconds with millisecond resolution.
    (event.event as Record<string, unknown>).duration = Math.round(Number(requestTime) * 1e9);
  }
  return { event, epochMs };
}
