/** Settings: parsed once, frozen, the only reader of the environment. */
export {
  BUILTIN_RULES_DIR,
  type ConfigOverrides,
  DEFAULT_PORT,
  type FirebreakConfig,
  type LogLevel,
  loadConfig,
  type PagingSettings,
  PLAYBOOKS_DIR,
  POLICIES_DIR,
  type SyslogSettings,
} from './config.js';
