/**
 * Who may approve (or refuse) a step: a person holding the step's role, either assigned to it
 * on the incident (`incident assign`) or on call for it right now (primary or backup, from the
 * roster). A key that belongs to no person approves nothing: an approval names who said yes.
 */
import type { Incident } from '../incidents/index.js';
import { FirebreakError } from '../kernel/index.js';
import { onCallAt, type Roster } from '../oncall/index.js';
import type { ResponsePolicy } from '../policy/index.js';

/** The caller as the runner needs it: how the audit log names them and the roster person behind the key. */
export interface Approver {
  readonly actor: string;
  readonly person?: string;
}

export interface RoleHolders {
  readonly assigned: string | undefined;
  readonly onCall: readonly string[];
}

/** Who holds `role` for this incident at `at`. */
export function roleHolders(
  role: string,
  incident: Incident,
  policy: ResponsePolicy,
  roster: Roster | undefined,
  at: Date,
): RoleHolders {
  const assigned = (incident.roles as Readonly<Record<string, string | undefined>>)[role];
  const onCall: string[] = [];
  if (roster && Object.hasOwn(roster.roles, role)) {
    const row = onCallAt(roster, policy, at).find((r) => r.role === role);
    if (row) onCall.push(row.primary.person.id, row.backup.person.id);
  }
  return { assigned, onCall };
}

/**
 * Throws FB_ERR_APPROVAL_FORBIDDEN unless the approver holds the role.
 *
 * @example assertHoldsRole({ actor: 'person:gus (key 1a2b)', person: 'gus' }, 'incident_commander', what, ...)
 */
export function assertHoldsRole(approver: Approver, role: string, what: string, holders: RoleHolders): void {
  const who = approver.person ?? approver.actor;
  if (approver.person === undefined) {
    throw new FirebreakError('FB_ERR_APPROVAL_FORBIDDEN', {
      who,
      what,
      reason: `an approval needs a person's key: create one with \`firebreak key create --person ID\``,
    });
  }
  if (holders.assigned === approver.person || holders.onCall.includes(approver.person)) return;
  const assigned = holders.assigned
    ? `assigned to ${holders.assigned}`
    : 'assigned to nobody on this incident';
  const onCall =
    holders.onCall.length > 0 ? `on call: ${[...new Set(holders.onCall)].join(', ')}` : 'no roster';
  throw new FirebreakError('FB_ERR_APPROVAL_FORBIDDEN', {
    who,
    what,
    reason: `it needs ${role}, which is ${assigned} (${onCall}); assign the role with \`firebreak incident assign\``,
  });
}
