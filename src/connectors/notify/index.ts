/** The built-in `notify` connector: a playbook step's message to responders, through the outbox. */
export { createNotifyConnector, NOTIFY_LIMITS, type NotifyConnectorDeps } from './notify-connector.js';
