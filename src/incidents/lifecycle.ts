/**
 * The incident lifecycle as a table of allowed moves (DESIGN.md style rule 10), checked before
 * anything is saved. The phases follow the KCT plan's sections: detection and assessment,
 * containment, eradication, recovery, post-incident.
 */
export const STATUSES = [
  'detected',
  'acknowledged',
  'contained',
  'eradicated',
  'recovered',
  'resolved',
  'closed',
] as const;
export type IncidentStatus = (typeof STATUSES)[number];

/**
 * `acknowledged → resolved` is the one shortcut: an alert found to be a false positive, or
 * needing no containment, is resolved with a reason. Nothing moves backwards; a recurrence
 * is a new incident, so the record of the old one stays as it was.
 */
export const ALLOWED_MOVES: Readonly<Record<IncidentStatus, readonly IncidentStatus[]>> = {
  detected: ['acknowledged'],
  acknowledged: ['contained', 'resolved'],
  contained: ['eradicated'],
  eradicated: ['recovered'],
  recovered: ['resolved'],
  resolved: ['closed'],
  closed: [],
};

/** Moves that must say why. */
export const MOVES_NEEDING_REASON: ReadonlySet<string> = new Set(['acknowledged→resolved']);

export type Phase = 'detection_and_assessment' | 'containment' | 'eradication' | 'recovery' | 'post_incident';

export function phaseOf(status: IncidentStatus): Phase {
  switch (status) {
    case 'detected':
    case 'acknowledged':
      return 'detection_and_assessment';
    case 'contained':
      return 'containment';
    case 'eradicated':
      return 'eradication';
    case 'recovered':
      return 'recovery';
    default:
      return 'post_incident';
  }
}

export function canMove(from: IncidentStatus, to: IncidentStatus): boolean {
  return ALLOWED_MOVES[from].includes(to);
}

/** The column that records when the incident reached a status. */
export const REACHED_AT_COLUMN = {
  acknowledged: 'acknowledged_at',
  contained: 'contained_at',
  eradicated: 'eradicated_at',
  recovered: 'recovered_at',
  resolved: 'resolved_at',
  closed: 'closed_at',
} as const satisfies Partial<Record<IncidentStatus, string>>;

/** Open means somebody still has work to do on it. */
export function isOpen(status: IncidentStatus): boolean {
  return status !== 'resolved' && status !== 'closed';
}
