/** The tamper-evident record of every change. */
export { AuditLog, type AuditEntry, type AuditEntryInput, type AuditVerification, entryHash } from './audit-log.js';
