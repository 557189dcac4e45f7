/** The tamper-evident record of every change. */
export {
  type AuditEntry,
  type AuditEntryInput,
  AuditLog,
  type AuditVerification,
  entryHash,
} from './audit-log.js';
