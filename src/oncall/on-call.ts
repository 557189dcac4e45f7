/**
 * Who holds each response role's primary and backup slot at an instant, and until when.
 * A pure function of the roster, the policy and the instant: paging asks it with event or
 * clock time, never with wall time of its own.
 */
import type { ResponsePolicy } from '../policy/index.js';
import type { Person, Roster, SlotSource } from './roster.js';
import type { Slot } from './roster-schema.js';
import { memberAt, turnAt } from './rotation-schedule.js';

export interface SlotHolder {
  readonly person: Person;
  /** Why: a fixed person, a rotation's turn, or a dated override. */
  readonly via: 'person' | 'rotation' | 'override';
  /** The rotation, when `via` is rotation. */
  readonly rotation?: string;
  /** When this slot's assignment next changes (a hand-off, or an override starting or ending); none: never. */
  readonly until?: Date;
}

export interface RoleOnCall {
  readonly role: string;
  readonly title: string;
  readonly primary: SlotHolder;
  readonly backup: SlotHolder;
}

/**
 * One row per role of the policy, in the policy's order.
 *
 * @example
 * onCallAt(roster, policy, clock.now()).find((r) => r.role === 'security_lead')?.primary.person.email
 */
export function onCallAt(roster: Roster, policy: ResponsePolicy, at: Date): RoleOnCall[] {
  return Object.entries(policy.roles).map(([role, { title }]) => {
    const slots = roster.roles[role];
    if (!slots) throw new RangeError(`roster ${roster.file} has no role ${role}`);
    return {
      role,
      title,
      primary: holderAt(roster, role, 'primary', slots.primary, at),
      backup: holderAt(roster, role, 'backup', slots.backup, at),
    };
  });
}

function holderAt(roster: Roster, role: string, slot: Slot, source: SlotSource, at: Date): SlotHolder {
  const t = at.getTime();
  const mine = roster.overrides.filter((o) => o.role === role && o.slot === slot);
  const current = mine.find((o) => o.from.getTime() <= t && t < o.to.getTime());
  if (current) return { person: person(roster, current.person), via: 'override', until: current.to };

  const nextOverride = mine
    .map((o) => o.from.getTime())
    .filter((from) => from > t)
    .reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
  const earliest = (until: number) => {
    const next = Math.min(until, nextOverride);
    return Number.isFinite(next) ? { until: new Date(next) } : {};
  };

  if (source.kind === 'person') {
    return { person: person(roster, source.person), via: 'person', ...earliest(Number.POSITIVE_INFINITY) };
  }
  const rotation = roster.rotations[source.rotation]!;
  const turn = turnAt(rotation, at);
  // With one member the hand-off changes nothing.
  const handoff = rotation.members.length > 1 ? turn.until.getTime() : Number.POSITIVE_INFINITY;
  return {
    person: person(roster, memberAt(rotation, turn.turn, source.offset)),
    via: 'rotation',
    rotation: rotation.id,
    ...earliest(handoff),
  };
}

function person(roster: Roster, id: string): Person {
  const found = roster.people[id];
  if (!found) throw new RangeError(`roster ${roster.file} has no person ${id}`);
  return found;
}
