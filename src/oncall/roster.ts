/**
 * A loaded on-call roster: the people, the weekly rotations, who fills each response role's
 * primary and backup slot, and dated overrides, checked against the response policy it serves.
 * Every problem is collected and thrown together as one FB_ERR_POLICY_INVALID (file:line).
 */
import { readFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { documentFailure, type ErrorDetail, FirebreakError, parseValidatedYaml } from '../kernel/index.js';
import type { ResponsePolicy, Weekday } from '../policy/index.js';
import { type RosterFile, RosterFileSchema, type Slot } from './roster-schema.js';
import type { Rotation } from './rotation-schedule.js';

export interface Person {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  /** A Slack handle (`@dana`) or an incoming webhook URL. */
  readonly slack?: string;
  readonly phone?: string;
}

/** Who fills a slot: one person always, or a rotation's current member (`offset` turns ahead). */
export type SlotSource =
  | { readonly kind: 'person'; readonly person: string }
  | { readonly kind: 'rotation'; readonly rotation: string; readonly offset: number };

export interface RosterOverride {
  readonly role: string;
  readonly slot: Slot;
  readonly person: string;
  /** Inclusive. */
  readonly from: Date;
  /** Exclusive. */
  readonly to: Date;
  readonly reason?: string;
}

export interface Roster {
  /** Where it was loaded from. */
  readonly file: string;
  readonly people: Readonly<Record<string, Person>>;
  readonly rotations: Readonly<Record<string, Rotation>>;
  readonly roles: Readonly<Record<string, { readonly primary: SlotSource; readonly backup: SlotSource }>>;
  readonly overrides: readonly RosterOverride[];
}

const LUXON_WEEKDAY: Record<Weekday, number> = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 };

/**
 * Reads and checks a roster file against the policy whose roles it fills.
 * Throws FB_ERR_INPUT_UNREADABLE, or FB_ERR_POLICY_INVALID with every problem as file:line.
 */
export function loadRosterFile(path: string, policy: ResponsePolicy): Roster {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new FirebreakError('FB_ERR_INPUT_UNREADABLE', {
      file: path,
      reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message,
    });
  }
  return parseRoster(text, path, policy);
}

export function parseRoster(text: string, file: string, policy: ResponsePolicy): Roster {
  const { value, lineOf } = parseValidatedYaml<RosterFile>(
    text,
    file,
    RosterFileSchema,
    'FB_ERR_POLICY_INVALID',
  );
  const problems: ErrorDetail[] = [];
  const problem = (path: (string | number)[], message: string) =>
    problems.push({ path: path.join('.'), line: lineOf(path), message });

  const people: Record<string, Person> = {};
  const emails = new Map<string, string>();
  for (const [id, p] of Object.entries(value.people)) {
    const email = p.email.toLowerCase();
    const holder = emails.get(email);
    if (holder) problem(['people', id, 'email'], `${p.email} is also ${holder}'s email`);
    emails.set(email, id);
    people[id] = { id, ...p };
  }

  const rotations: Record<string, Rotation> = {};
  for (const [id, r] of Object.entries(value.rotations ?? {})) {
    const at = ['rotations', id];
    if (id in people) problem(at, `${id} is also a person's id; give the rotation another name`);
    r.members.forEach((m, i) => {
      if (!(m in people)) problem([...at, 'members', i], `${m} is not in people`);
      if (r.members.indexOf(m) !== i) problem([...at, 'members', i], `${m} appears twice`);
    });
    const validZone = DateTime.now().setZone(r.time_zone).isValid;
    if (!validZone) {
      problem(
        [...at, 'time_zone'],
        `${JSON.stringify(r.time_zone)} is not an IANA time zone such as UTC or Europe/Berlin`,
      );
    }
    const start = DateTime.fromISO(r.start, { zone: 'utc' });
    if (!start.isValid) problem([...at, 'start'], `${r.start} is not a date`);
    else if (start.weekday !== LUXON_WEEKDAY[r.handoff.day]) {
      problem(
        [...at, 'start'],
        `${r.start} is a ${start.toFormat('cccc')}; it must be a hand-off day (${r.handoff.day})`,
      );
    }
    const [h, m] = r.handoff.time.split(':').map(Number);
    rotations[id] = {
      id,
      members: r.members,
      handoffDay: r.handoff.day,
      handoffMinute: h! * 60 + m!,
      timeZone: validZone ? r.time_zone : 'UTC',
      start: r.start,
    };
  }

  const roleIds = Object.keys(policy.roles);
  const roles: Record<string, { primary: SlotSource; backup: SlotSource }> = {};
  for (const role of roleIds) {
    if (!(role in value.roles))
      problem(['roles'], `${role} is missing (the policy has ${roleIds.join(', ')})`);
  }
  for (const [role, slots] of Object.entries(value.roles)) {
    const at = ['roles', role];
    if (!roleIds.includes(role)) {
      problem(at, `${policy.name}'s policy has no role ${role}; it has ${roleIds.join(', ')}`);
      continue;
    }
    const source = (slot: Slot): SlotSource => {
      const ref = slots[slot];
      const path = [...at, slot];
      if (typeof ref === 'string') {
        if (ref in people) return { kind: 'person', person: ref };
        if (ref in rotations) return { kind: 'rotation', rotation: ref, offset: 0 };
        problem(path, `${ref} is neither a person nor a rotation`);
        return { kind: 'person', person: ref };
      }
      const offset = ref.offset ?? 0;
      const rotation = rotations[ref.rotation];
      if (!rotation) problem([...path, 'rotation'], `${ref.rotation} is not a rotation`);
      else if (offset >= rotation.members.length) {
        problem(
          [...path, 'offset'],
          `${ref.rotation} has ${rotation.members.length} member(s); the offset must be below that`,
        );
      }
      return { kind: 'rotation', rotation: ref.rotation, offset };
    };
    const primary = source('primary');
    const backup = source('backup');
    const clash = sameSlotHolder(primary, backup, rotations);
    if (clash) problem([...at, 'backup'], `${clash}; the backup must be someone else than the primary`);
    roles[role] = { primary, backup };
  }

  const dated = new Set<number>();
  const overrides: RosterOverride[] = (value.overrides ?? []).map((o, i) => {
    const at = ['overrides', i];
    if (!roleIds.includes(o.role)) problem([...at, 'role'], `the policy has no role ${o.role}`);
    if (!(o.person in people)) problem([...at, 'person'], `${o.person} is not in people`);
    const from = instant(o.from);
    const to = instant(o.to);
    if (!from) problem([...at, 'from'], `${o.from} is not a valid time`);
    if (!to) problem([...at, 'to'], `${o.to} is not a valid time`);
    else if (from && to.getTime() <= from.getTime()) problem([...at, 'to'], `must be after from (${o.from})`);
    else if (from) dated.add(i);
    return {
      role: o.role,
      slot: o.slot,
      person: o.person,
      from: from ?? new Date(0),
      to: to ?? new Date(0),
      ...(o.reason ? { reason: o.reason } : {}),
    };
  });
  overrides.forEach((o, i) => {
    const j = overrides.findIndex(
      (p, k) =>
        k < i && dated.has(k) && p.role === o.role && p.slot === o.slot && p.from < o.to && o.from < p.to,
    );
    if (j >= 0 && dated.has(i)) {
      problem(['overrides', i], `overlaps override ${j} for ${o.role} ${o.slot}; one slot has one holder`);
    }
  });

  if (problems.length > 0) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw documentFailure('FB_ERR_POLICY_INVALID', file, problems);
  }
  return deepFreeze({ file, people, rotations, roles, overrides });
}

/** Why primary and backup would be the same person at some time, or undefined when they never are. */
function sameSlotHolder(
  primary: SlotSource,
  backup: SlotSource,
  rotations: Readonly<Record<string, Rotation>>,
): string | undefined {
  if (primary.kind === 'person' && backup.kind === 'person') {
    return primary.person === backup.person ? `${backup.person} is also the primary` : undefined;
  }
  if (primary.kind === 'rotation' && backup.kind === 'rotation') {
    const rotation = rotations[primary.rotation];
    if (primary.rotation !== backup.rotation || !rotation) return undefined;
    const n = rotation.members.length;
    return (primary.offset - backup.offset) % n === 0
      ? `offset ${backup.offset} of ${primary.rotation} (${n} member(s)) is the primary's own turn; use another offset`
      : undefined;
  }
  const [person, rotationSlot] = primary.kind === 'person' ? [primary, backup] : [backup, primary];
  if (person.kind !== 'person' || rotationSlot.kind !== 'rotation') return undefined;
  const rotation = rotations[rotationSlot.rotation];
  return rotation?.members.includes(person.person)
    ? `${person.person} is in rotation ${rotation.id} and would fill both slots in their turn`
    : undefined;
}

function instant(text: string): Date | undefined {
  const parsed = DateTime.fromISO(text, { setZone: true });
  return parsed.isValid ? parsed.toJSDate() : undefined;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof Date)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
