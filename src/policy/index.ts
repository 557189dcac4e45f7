/** Response policies: the plan's clocks, people and windows, loaded from YAML and checked. */

export {
  RESPONSE_ROLES,
  type ResponseRole,
  SEVERITIES,
  type Severity,
  WEEKDAYS,
  type Weekday,
} from './policy-schema.js';
export {
  type Deadline,
  describeDeadline,
  dueAt,
  type EscalationStep,
  loadPolicyFile,
  parsePolicy,
  type RegulatoryClock,
  type ResponsePolicy,
  type SeverityLevel,
  type StatusUpdateCadence,
} from './response-policy.js';
export { endOfCurrentOrNextWindow, isInsideWindow, type WeeklyWindow } from './time-windows.js';
