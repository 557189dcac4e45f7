/** Sources of events (log files and stdin, read as they stream) and the durable event log. */

export {
  type AppendOptions,
  type AppendRange,
  type AppendResult,
  type ConsumerCheckpoint,
  EventLog,
  type EventLogDeps,
  type EventSearchQuery,
  type EventSearchResult,
  type LoggedEvent,
  type PruneOptions,
  type PruneResult,
  SEARCH_MAX_LIMIT,
  SEARCH_MAX_RANGE_MS,
} from './event-log.js';
export { formatEventQuery, parseEventQuery } from './event-query.js';
export {
  decideFollowStep,
  FileFollower,
  type FileFollowerOptions,
  type FileId,
  type FollowerRead,
  type FollowState,
  type FollowStep,
  LineCutter,
  MAX_LINE_BYTES,
} from './file-follower.js';
export {
  type FileScanHandlers,
  type FileScanOptions,
  type FileScanSummary,
  inputSize,
  STDIN,
  scanEventFile,
} from './file-source.js';
export {
  type AppendBatchOptions,
  appendEventBatch,
  type BatchFormat,
  type BatchRejection,
  type BodyLimits,
  type EventBatch,
  HTTP_SOURCE,
  INGEST_MAX_BODY_BYTES,
  INGEST_MAX_DECODED_BYTES,
  INGEST_MAX_EVENTS,
  INGEST_MEDIA_TYPES,
  type IngestAnswer,
  parseEventBatch,
  type ReadBodyOptions,
  readEventBody,
} from './http-source.js';
export {
  encodeSyslogFrames,
  type FrameEvent,
  SyslogFrameDecoder,
  type SyslogFrameDecoderOptions,
  type TcpFraming,
} from './syslog-framing.js';
export {
  SYSLOG_DEFAULT_BATCH_MAX_DELAY_MS,
  SYSLOG_DEFAULT_BATCH_MAX_EVENTS,
  SYSLOG_DEFAULT_MAX_MESSAGE_BYTES,
  SYSLOG_DEFAULT_RETRY_DELAYS_MS,
  SYSLOG_REJECTION_SAMPLES,
  type SyslogEventSink,
  SyslogListener,
  type SyslogListenerOptions,
  type SyslogListenerStats,
  type SyslogRejectionSample,
  type SyslogTransport,
} from './syslog-listener.js';
