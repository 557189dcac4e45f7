/** Settings: parsed once, frozen, the only reader of the environment. */
export {
  type ConfigOverrides,
  DEFAULT_PORT,
  type FirebreakConfig,
  type LogLevel,
  loadConfig,
  POLICIES_DIR,
} from './config.js';
