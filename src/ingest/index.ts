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
export {
  type FileScanHandlers,
  type FileScanOptions,
  type FileScanSummary,
  inputSize,
  STDIN,
  scanEventFile,
} from './file-source.js';
