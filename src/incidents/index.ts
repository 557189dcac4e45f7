/**
 * Incidents: the record, its lifecycle, its classification, the service that changes them, and
 * the detection service that turns the event log's alerts into incidents.
 */
export {
  AlertGrouper,
  type AlertGrouperDeps,
  type AlertIntake,
  DEFAULT_CORRELATION_WINDOW_MS,
  DEFAULT_ENTITY_FIELDS,
  groupKey,
  type IntakeOutcome,
  type IntakeResult,
  withinWindow,
} from './alert-grouper.js';
export {
  ALERT_LIST_DEFAULT_LIMIT,
  ALERT_LIST_MAX_LIMIT,
  type AlertPage,
  AlertQuery,
  type ListAlertsQuery,
  type StoredAlert,
} from './alert-query.js';
export {
  CLASSIFICATION_QUESTIONS,
  type Classification,
  type ClassificationAnswers,
  classify,
  IMPACT_LEVELS,
  type ImpactAssessment,
  type ImpactLevel,
  type QuestionId,
  worstImpact,
} from './classification.js';
export {
  type AlertSink,
  DETECTION_CONSUMER,
  type DetectionLog,
  DetectionService,
  type DetectionServiceOptions,
  type DetectionServiceStats,
} from './detection-service.js';
export {
  type AlertJoinedData,
  type AlertJoinedVia,
  formatIncidentId,
  INCIDENT_ID_PATTERN,
  type Incident,
  type OutsideAlertData,
  type PlaybookRunData,
  type TimelineKind,
  type TimelineRecord,
} from './incident.js';
export {
  type CreateIncidentInput,
  type IncidentChange,
  type IncidentChangeListener,
  type IncidentPage,
  IncidentService,
  type IncidentServiceDeps,
  type ListIncidentsQuery,
  type SecuritySummary,
} from './incident-service.js';
export {
  ALLOWED_MOVES,
  canMove,
  type IncidentStatus,
  isOpen,
  type Phase,
  phaseOf,
  STATUSES,
} from './lifecycle.js';
export {
  type AlertmanagerAlert,
  type AlertmanagerNotification,
  alertmanagerDedupKey,
  alertmanagerSeverity,
  type OutsideAction,
  type OutsideAlertResult,
  OutsideAlertService,
  type OutsideAlertServiceDeps,
  type OutsideAlertStatus,
  type OutsideOutcome,
  type OutsideSource,
  outsideAlertFingerprint,
  type PagerDutyEvent,
  pagerDutySeverity,
  type StoredOutsideAlert,
} from './outside-alert-service.js';
