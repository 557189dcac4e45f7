/** The small shared vocabulary every module may use. */
export { type Clock, systemClock, VirtualClock } from './clock.js';
export { formatDuration, parseDuration } from './duration.js';
export {
  ERROR_CATALOGUE,
  type ErrorCode,
  type ErrorDetail,
  type ErrorKind,
  FirebreakError,
  isFirebreakError,
  renderMessage,
} from './errors.js';
export { LoopPause } from './loop-pause.js';
export {
  failure as documentFailure,
  type LocateLine,
  type ParsedYaml,
  parseValidatedYaml,
} from './validated-yaml.js';
export { lineOfYamlPath, type YamlPath } from './yaml-path-line.js';
