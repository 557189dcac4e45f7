/**
 * The shape of a response policy file (policies/*.yaml), as people write it. The loader turns
 * this into a ResponsePolicy with durations in milliseconds and cross-references checked.
 */
import { Type } from 'typebox';

export const SEVERITIES = ['P0', 'P1', 'P2', 'P3'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const RESPONSE_ROLES = [
  'incident_commander',
  'security_lead',
  'technical_lead',
  'communications_lead',
] as const;
export type ResponseRole = (typeof RESPONSE_ROLES)[number];

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const Duration = Type.String({
  pattern: '^(\\d+(ms|s|m|h|d|w))+$',
  description: 'a duration such as 15m, 2h or 1h30m',
});
/** A duration, or `business_hours`: by the end of the business day it falls in (or the next one). */
const Deadline = Type.String({
  pattern: '^((\\d+(ms|s|m|h|d|w))+|business_hours)$',
  description: 'a duration such as 15m or 2h, or business_hours',
});
const TimeOfDay = Type.String({
  pattern: '^([01]\\d|2[0-3]):[0-5]\\d$',
  description: 'a time HH:MM (24-hour)',
});
const Identifier = Type.String({
  pattern: '^[a-z][a-z0-9_]*$',
  description: 'a lower_snake_case identifier',
});
const Text = Type.String({ minLength: 1 });
const Days = Type.Array(Type.Enum([...WEEKDAYS]), { minItems: 1, uniqueItems: true });

const SeverityLevel = Type.Object(
  {
    name: Text,
    color: Type.Optional(Text),
    definition: Text,
    examples: Type.Array(Text, { minItems: 1 }),
    response_time: Deadline,
    acknowledge_within: Type.Optional(Deadline),
  },
  { additionalProperties: false },
);

const Role = Type.Object(
  {
    title: Text,
    primary: Text,
    backup: Text,
    responsibilities: Type.Optional(Text),
  },
  { additionalProperties: false },
);

const EscalationStep = Type.Object(
  {
    within: Duration,
    notify: Type.Array(Identifier, { minItems: 1, uniqueItems: true }),
  },
  { additionalProperties: false },
);

const StatusUpdate = Type.Object(
  {
    every: Duration,
    notify: Type.Array(Identifier, { minItems: 1, uniqueItems: true }),
  },
  { additionalProperties: false },
);

const Window = Type.Object(
  {
    days: Days,
    start: TimeOfDay,
    end: TimeOfDay,
    time_zone: Type.Optional(Text),
  },
  { additionalProperties: false },
);

const RegulatoryClock = Type.Object(
  {
    id: Identifier,
    title: Text,
    notify: Text,
    within: Duration,
    applies_when: Text,
  },
  { additionalProperties: false },
);

export const PolicyFileSchema = Type.Object(
  {
    version: Type.Literal(1),
    name: Text,
    source: Type.Optional(Text),
    time_zone: Text,
    severities: Type.Object(
      { P0: SeverityLevel, P1: SeverityLevel, P2: SeverityLevel, P3: SeverityLevel },
      { additionalProperties: false },
    ),
    roles: Type.Object(
      {
        incident_commander: Role,
        security_lead: Role,
        technical_lead: Role,
        communications_lead: Role,
      },
      { additionalProperties: false },
    ),
    stakeholders: Type.Optional(
      Type.Record(
        Type.String({ pattern: '^[a-z][a-z0-9_]*$' }),
        Type.Object({ title: Text, contact: Type.Optional(Text) }, { additionalProperties: false }),
      ),
    ),
    escalation: Type.Object(
      {
        P0: Type.Array(EscalationStep, { minItems: 1 }),
        P1: Type.Array(EscalationStep, { minItems: 1 }),
        P2: Type.Array(EscalationStep, { minItems: 1 }),
        P3: Type.Array(EscalationStep, { minItems: 1 }),
      },
      { additionalProperties: false },
    ),
    // Status-update reminders while an incident is open: who is reminded, and how often.
    status_updates: Type.Optional(
      Type.Object(
        {
          P0: Type.Optional(StatusUpdate),
          P1: Type.Optional(StatusUpdate),
          P2: Type.Optional(StatusUpdate),
          P3: Type.Optional(StatusUpdate),
        },
        { additionalProperties: false },
      ),
    ),
    business_hours: Window,
    maintenance_windows: Type.Array(Window),
    regulatory_clocks: Type.Optional(Type.Array(RegulatoryClock)),
  },
  { additionalProperties: false },
);

/** The file as written, after schema validation. */
export type PolicyFile = Type.Static<typeof PolicyFileSchema>;
