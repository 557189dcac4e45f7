/** On-call: who holds each response role (primary and backup) at an instant, from a roster file. */

export { onCallAt, type RoleOnCall, type SlotHolder } from './on-call.js';
export {
  loadRosterFile,
  type Person,
  parseRoster,
  type Roster,
  type RosterOverride,
  type SlotSource,
} from './roster.js';
export { SLOTS, type Slot } from './roster-schema.js';
export { handoffAt, memberAt, type Rotation, type RotationTurn, turnAt } from './rotation-schedule.js';
