/** Incidents: the record, its lifecycle, its classification and the service that changes them. */
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
  formatIncidentId,
  INCIDENT_ID_PATTERN,
  type Incident,
  type TimelineKind,
  type TimelineRecord,
} from './incident.js';
export {
  type CreateIncidentInput,
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
