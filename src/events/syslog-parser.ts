/**
 * Syslog lines to ECS events: RFC 5424, RFC 3164 (with or without the `<PRI>`, as in
 * /var/log/auth.log) and the RFC 3339-stamped variant modern rsyslog writes to files.
 * Messages from sshd are read by the sshd parser and those from nginx by the combined-log
 * parser, so one syslog feed carries login and web events alike.
 */
import type { EcsEvent, ParsedEvent } from './ecs-event.js';
import { parseIsoTime, utcEpochMs } from './event-time.js';
import { MONTHS, parseCombinedLogLine } from './nginx-parser.js';
import { isSshdProgram, parseSshdMessage } from './sshd-parser.js';

/** What a syslog line needs besides itself. */
export interface SyslogContext {
  /**
   * Epoch ms "now" for RFC 3164 lines, which carry no year: the year chosen is the one that puts
   * the time at most a day after this (clock skew), so `Dec 31` read on `Jan 1` is last year.
   */
  readonly referenceMs: number;
  /**
   * Fixed offset of the sender's zone for RFC 3164 times, which carry no zone; default 0 (UTC).
   * Zones with daylight saving are not modelled: give the sender UTC logs or an RFC 5424 feed.
   */
  readonly utcOffsetMinutes?: number;
}

/** The parts of a syslog line; absent parts were nil (`-`) or not in the format. */
export interface SyslogEnvelope {
  readonly epochMs: number;
  readonly priority?: number;
  readonly version?: number;
  readonly hostname?: string;
  readonly appName?: string;
  readonly procId?: string;
  readonly msgId?: string;
  readonly structuredData?: Record<string, Record<string, string>>;
  readonly message: string;
}

// RFC 5424 header up to MSGID; structured data is read by hand (values may hold spaces and `]`).
const RFC5424_HEADER = /^<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) /;
// RFC 3164: "<34>Oct 11 22:14:15 mymachine su: ...", PRI optional, day space-padded ("Oct  1").
const RFC3164 =
  /^(?:<(\d{1,3})>)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? (\S+)(?: (.*))?$/;
// rsyslog's RSYSLOG_FileFormat: "2024-05-01T10:00:00.123456+00:00 host sshd[1]: ...".
const RFC3339_FILE = /^(?:<(\d{1,3})>)?(\d{4}-\d{2}-\d{2}T\S+) (\S+)(?: (.*))?$/;
// The 3164 TAG: "sshd[123]: ", "su: ", "/usr/sbin/cron[42]: ".
const TAG = /^([^\s[\]:]+)(?:\[([^\]\s]*)\])?:(?: |$)/;
const DIGITS = /^\d+$/;

const FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'security',
  'console',
  'solaris-cron',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
];
const SEVERITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'];

const DAY_MS = 86_400_000;

/** Cheap shape test for format detection: the envelope's program name, or undefined if not syslog. */
export function syslogAppName(line: string): string | undefined | null {
  const m5 = RFC5424_HEADER.exec(line);
  if (m5 !== null) return m5[5] === '-' ? undefined : m5[5];
  const m = RFC3164.exec(line) ?? RFC3339_FILE.exec(line);
  if (m === null) return null;
  const rest = m[m.length - 1];
  return rest === undefined ? undefined : TAG.exec(rest)?.[1];
}

/**
 * The year for an RFC 3164 time: the latest of last, this and next year (of the reference)
 * that is not more than a day after the reference. Years without the date (Feb 29) are skipped.
 */
export function inferYear(
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
  referenceMs: number,
  utcOffsetMinutes: number,
): number | undefined {
  const refYear = new Date(referenceMs + utcOffsetMinutes * 60_000).getUTCFullYear();
  // Feb 29 may be up to 8 years back (2096 → 2104 skips 2100); look back far enough for it.
  for (let year = refYear + 1; year >= refYear - 8; year--) {
    const local = utcEpochMs(year, month, day, hour, minute, second, ms);
    if (local === undefined) continue;
    const epochMs = local - utcOffsetMinutes * 60_000;
    if (epochMs <= referenceMs + DAY_MS) return epochMs;
  }
  return undefined;
}

/** Splits a syslog line into its parts, or gives a reason. */
export function parseSyslogEnvelope(line: string, context: SyslogContext): SyslogEnvelope | string {
  if (line.charCodeAt(0) === 0x3c /* < */) {
    const m5 = RFC5424_HEADER.exec(line);
    if (m5 !== null) return rfc5424(line, m5);
  }
  const m3 = RFC3164.exec(line);
  if (m3 !== null) return rfc3164(m3, context);
  const mf = RFC3339_FILE.exec(line);
  if (mf !== null) {
    const epochMs = parseIsoTime(mf[2]!);
    if (epochMs === undefined) return `syslog time "${mf[2]}" is not RFC 3339`;
    return withTag(pri(mf[1]), epochMs, mf[3]!, mf[4] ?? '');
  }
  return 'not a syslog line (RFC 5424, RFC 3164 or RFC 3339-stamped)';
}

function pri(text: string | undefined): number | undefined | string {
  if (text === undefined) return undefined;
  const value = Number(text);
  return value > 191 ? `syslog priority <${text}> is out of range (0-191)` : value;
}

function rfc3164(m: RegExpExecArray, context: SyslogContext): SyslogEnvelope | string {
  const fraction = m[7];
  const epochMs = inferYear(
    MONTHS[m[2]!]!,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
    fraction === undefined ? 0 : Number(`${fraction}00`.slice(0, 3)),
    context.referenceMs,
    context.utcOffsetMinutes ?? 0,
  );
  if (epochMs === undefined)
    return `syslog time "${m[2]} ${m[3]} ${m[4]}:${m[5]}:${m[6]}" is not a valid date`;
  return withTag(pri(m[1]), epochMs, m[8]!, m[9] ?? '');
}

function withTag(
  priority: number | undefined | string,
  epochMs: number,
  hostname: string,
  rest: string,
): SyslogEnvelope | string {
  if (typeof priority === 'string') return priority;
  const tag = TAG.exec(rest);
  if (tag === null) return { epochMs, priority, hostname, message: rest };
  return {
    epochMs,
    priority,
    hostname,
    appName: tag[1],
    procId: tag[2] === undefined || tag[2] === '' ? undefined : tag[2],
    message: rest.slice(tag[0].length),
  };
}

function nil(value: string): string | undefined {
  return value === '-' ? undefined : value;
}

function rfc5424(line: string, m: RegExpExecArray): SyslogEnvelope | string {
  const priority = pri(m[1]);
  if (typeof priority === 'string') return priority;
  if (m[3] === '-') return 'syslog time is nil (-); an event needs a time';
  const epochMs = parseIsoTime(m[3]!);
  if (epochMs === undefined) return `syslog time "${m[3]}" is not RFC 3339`;
  let i = m[0].length;
  let structuredData: Record<string, Record<string, string>> | undefined;
  if (line[i] === '-') {
    i++;
  } else if (line[i] === '[') {
    const sd = readStructuredData(line, i);
    if (typeof sd === 'string') return sd;
    structuredData = sd.data;
    i = sd.end;
  } else {
    return 'syslog structured data must be - or [id param="value"]';
  }
  let message = '';
  if (i < line.length) {
    if (line[i] !== ' ') return `unexpected "${line[i]}" after syslog structured data`;
    message = line.slice(i + 1);
    // RFC 5424 marks UTF-8 messages with a byte order mark; it is not part of the text.
    if (message.charCodeAt(0) === 0xfeff) message = message.slice(1);
  }
  return {
    epochMs,
    priority,
    version: Number(m[2]),
    hostname: nil(m[4]!),
    appName: nil(m[5]!),
    procId: nil(m[6]!),
    msgId: nil(m[7]!),
    structuredData,
    message,
  };
}

/**
 * RFC 5424 structured data: `[id name="value" ...][id2 ...]`. In values `\"`, `\\` and `\]`
 * are escapes; a backslash before anything else is kept as written (RFC 5424 §6.3.3).
 */
function readStructuredData(
  line: string,
  start: number,
): { data: Record<string, Record<string, string>>; end: number } | string {
  const data: Record<string, Record<string, string>> = {};
  let i = start;
  while (line[i] === '[') {
    i++;
    let idEnd = i;
    while (idEnd < line.length && line[idEnd] !== ' ' && line[idEnd] !== ']') idEnd++;
    const id = line.slice(i, idEnd);
    if (id === '') return 'syslog structured data element has no id';
    const params: Record<string, string> = {};
    i = idEnd;
    while (line[i] === ' ') {
      i++;
      const eq = line.indexOf('=', i);
      if (eq === -1 || line[eq + 1] !== '"')
        return `syslog structured data [${id}] has a parameter without ="value"`;
      const name = line.slice(i, eq);
      i = eq + 2;
      let value = '';
      let from = i;
      for (;;) {
        if (i >= line.length) return `syslog structured data [${id}] ${name} has no closing quote`;
        const c = line[i];
        if (c === '"') break;
        if (c === '\\') {
          const next = line[i + 1];
          if (next === '"' || next === '\\' || next === ']') {
            value += line.slice(from, i) + next;
            i += 2;
            from = i;
            continue;
          }
        }
        i++;
      }
      value += line.slice(from, i);
      i++;
      setOwn(params, name, value);
    }
    if (line[i] !== ']') return `syslog structured data [${id}] is not closed with ]`;
    i++;
    setOwn(data, id, params);
  }
  return { data, end: i };
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The ECS event for an envelope, with sshd and nginx messages read by their own parsers. */
export function syslogEvent(envelope: SyslogEnvelope): ParsedEvent {
  const syslog: Record<string, unknown> = {};
  if (envelope.priority !== undefined) {
    const facility = envelope.priority >> 3;
    const severity = envelope.priority & 7;
    syslog.priority = envelope.priority;
    syslog.facility = { code: facility, name: FACILITIES[facility] };
    syslog.severity = { code: severity, name: SEVERITIES[severity] };
  }
  if (envelope.version !== undefined) syslog.version = String(envelope.version);
  if (envelope.appName !== undefined) syslog.appname = envelope.appName;
  if (envelope.procId !== undefined) syslog.procid = envelope.procId;
  if (envelope.msgId !== undefined) syslog.msgid = envelope.msgId;
  if (envelope.structuredData !== undefined) syslog.structured_data = envelope.structuredData;

  const appName = envelope.appName;
  let parsed: ParsedEvent | undefined;
  if (appName === 'nginx') {
    const web = parseCombinedLogLine(envelope.message);
    // An nginx error-log line is not a combined line: it stays a plain syslog event.
    if (typeof web !== 'string') parsed = web;
  }
  const event: EcsEvent = parsed?.event ?? { '@timestamp': new Date(envelope.epochMs).toISOString() };
  event.log = { syslog };
  if (envelope.hostname !== undefined) event.host = { hostname: envelope.hostname };
  if (appName !== undefined) {
    const process: Record<string, unknown> = { name: appName };
    if (envelope.procId !== undefined && DIGITS.test(envelope.procId)) process.pid = Number(envelope.procId);
    event.process = process;
  }
  event.message = envelope.message;
  if (parsed === undefined && isSshdProgram(appName)) {
    const auth = parseSshdMessage(envelope.message);
    if (auth !== undefined) Object.assign(event, auth);
  }
  // An nginx line keeps its own time: it has a zone and is when the request happened.
  return parsed ?? { event, epochMs: envelope.epochMs };
}

/** One syslog line to an event, or a reason. */
export function parseSyslogLine(line: string, context: SyslogContext): ParsedEvent | string {
  const envelope = parseSyslogEnvelope(line, context);
  return typeof envelope === 'string' ? envelope : syslogEvent(envelope);
}
