/** The built-in `decisions` connector: Firebreak's own IP blocklist and kill switches. */
export {
  type AddDecisionInput,
  DECISION_ID_PATTERN,
  DECISION_LIST_DEFAULT_LIMIT,
  DECISION_LIST_MAX_LIMIT,
  DECISION_MAX_DURATION_MS,
  DECISION_ORIGIN_PATTERN,
  DECISION_SCOPES,
  DECISION_TYPES,
  type Decision,
  type DecisionPage,
  type DecisionScope,
  DecisionService,
  type DecisionServiceDeps,
  type DecisionStream,
  type DecisionType,
  type ListDecisionsQuery,
  type LiveDecisionFilter,
  SWITCH_NAMES,
  SWITCHES,
  type Switch,
  type SwitchName,
} from './decision-service.js';
export { createDecisionsConnector, type DecisionsConnectorDeps } from './decisions-connector.js';
export {
  networkContains,
  type ParsedAddress,
  type ParsedNetwork,
  parseAddress,
  parseNetwork,
} from './ip-value.js';
