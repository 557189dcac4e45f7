/** Canonical ECS events and the parsers that make them (NDJSON/JSON, nginx, sshd, syslog). */
export {
  describeRejection,
  type EcsEvent,
  nestDottedKeys,
  type ParsedEvent,
  type Rejection,
  type RejectionLocation,
} from './ecs-event.js';
export { parseIsoTime, parseTimestampValue } from './event-time.js';
export { detectFormat, type LogFormat } from './format-detection.js';
export {
  createLineParser,
  type LineOutcome,
  type LineParser,
  type LineParserOptions,
  type ParseResult,
  parseText,
} from './line-parser.js';
export { ecsEventFromJson, parseEcsArray, parseEcsLine } from './ndjson-parser.js';
export { parseCombinedLogLine } from './nginx-parser.js';
export { isSshdProgram, parseSshdMessage } from './sshd-parser.js';
export {
  parseSyslogEnvelope,
  parseSyslogLine,
  type SyslogContext,
  type SyslogEnvelope,
} from './syslog-parser.js';
