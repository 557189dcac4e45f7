/**
 * Detection (pure: no I/O but reading rule files at load). Rule files → rule nodes → a
 * streaming engine over ECS events that emits alerts.
 */
export { type Alert, alertFingerprint, alertToJson, type EventRef } from './alert.js';
export {
  allowedByCalendar,
  calendarFromPolicy,
  DEFAULT_CALENDAR,
  type DetectionCalendar,
} from './detection-calendar.js';
export {
  DetectionEngine,
  type DetectionEngineOptions,
  type DetectionStats,
  type EngineCheckpoint,
} from './detection-engine.js';
export type {
  AggregateNode,
  Aggregation,
  CalendarLimit,
  FilterNode,
  RuleNode,
  Threshold,
} from './rule-definition.js';
export { readRuleFiles } from './rule-files.js';
export { loadRules, type RuleText } from './rule-loader.js';
export { type CompiledDetection, compileDetection } from './sigma-detection.js';
export type { DetectionOptions } from './sigma-value-matcher.js';
