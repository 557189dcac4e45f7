/** The `postgres` connector: the KCT plan's database containment commands, each with its undo. */
export {
  createPostgresConnector,
  maskConnectionString,
  type PostgresConnectorConfig,
  PostgresConnectorError,
  quoteIdentifier,
} from './postgres-connector.js';
export {
  ConnectorSecretError,
  type PostgresSettings,
  PostgresSettingsSchema,
  postgresConnectorConfig,
  postgresConnectorManifest,
} from './postgres-manifest.js';
