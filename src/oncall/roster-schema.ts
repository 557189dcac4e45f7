/**
 * The shape of an on-call roster file (rosters/*.yaml), as people write it: people, weekly
 * rotations, who fills each response role's primary and backup slot, and dated overrides.
 * The loader (roster.ts) checks the cross-references against the response policy.
 */
import { Type } from 'typebox';
import { WEEKDAYS } from '../policy/index.js';

const Id = Type.String({
  pattern: '^[a-z][a-z0-9_-]*$',
  description: 'a lower-case id such as dana or security-weekly',
});
const Text = Type.String({ minLength: 1 });

const Person = Type.Object(
  {
    name: Text,
    email: Type.String({ pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$', description: 'an email address' }),
    slack: Type.Optional(
      Type.String({
        pattern: '^(@[A-Za-z0-9._-]+|https://hooks\\.slack\\.com/\\S+)$',
        description: 'a Slack handle such as @dana, or an https://hooks.slack.com/... incoming webhook URL',
      }),
    ),
    phone: Type.Optional(
      Type.String({
        pattern: '^\\+[0-9][0-9 ().-]{5,24}$',
        description: 'an international phone number starting with +, such as +1 555 0100',
      }),
    ),
  },
  { additionalProperties: false },
);

const Rotation = Type.Object(
  {
    members: Type.Array(Id, { minItems: 1 }),
    handoff: Type.Object(
      {
        day: Type.Enum([...WEEKDAYS]),
        time: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'a time HH:MM (24-hour)' }),
      },
      { additionalProperties: false },
    ),
    time_zone: Text,
    start: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'a date YYYY-MM-DD' }),
  },
  { additionalProperties: false },
);

/** `dana` (a person or a rotation id), or `{ rotation: security-weekly, offset: 1 }`. */
const SlotRef = Type.Union([
  Id,
  Type.Object(
    { rotation: Id, offset: Type.Optional(Type.Integer({ minimum: 0 })) },
    { additionalProperties: false },
  ),
]);

const IsoInstant = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,3})?)?(Z|[+-]\\d{2}:\\d{2})$',
  description: 'an ISO 8601 time with an offset, such as 2026-12-24T09:00:00+01:00',
});

export const SLOTS = ['primary', 'backup'] as const;
export type Slot = (typeof SLOTS)[number];

export const RosterFileSchema = Type.Object(
  {
    people: Type.Record(Id, Person, { minProperties: 1 }),
    rotations: Type.Optional(Type.Record(Id, Rotation)),
    roles: Type.Record(
      Type.String(),
      Type.Object({ primary: SlotRef, backup: SlotRef }, { additionalProperties: false }),
    ),
    overrides: Type.Optional(
      Type.Array(
        Type.Object(
          {
            role: Text,
            slot: Type.Enum([...SLOTS]),
            person: Id,
            from: IsoInstant,
            to: IsoInstant,
            reason: Type.Optional(Text),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);

/** The file as written, after schema validation. */
export type RosterFile = Type.Static<typeof RosterFileSchema>;
