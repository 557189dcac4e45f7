/**
 * What a loaded rule is, whatever file format it came from: the contract between the rule
 * loader (YAML → definitions, with file and line for every problem) and the detection engine
 * (definitions → alerts). Firebreak rules, Sigma rules and Sigma correlation rules all become
 * these nodes; the engine never sees YAML.
 */
import type { Severity } from '../policy/index.js';

/** Where a definition came from, for messages: `rules/api-flood.yaml:3`. */
export interface RuleSource {
  readonly file: string;
  readonly line: number;
}

/**
 * A numeric test on the aggregated value, as Sigma correlation conditions write it:
 * `{ gt: 3 }`, `{ gte: 20, lte: 50 }`. Every present bound must hold.
 */
export interface Threshold {
  readonly gt?: number;
  readonly gte?: number;
  readonly lt?: number;
  readonly lte?: number;
  readonly eq?: number;
  readonly neq?: number;
}

/** Limits a rule to event times outside the policy's business hours or maintenance windows. */
export type CalendarLimit = 'outside_business_hours' | 'outside_maintenance_windows';

/**
 * How matching events are combined over the window. `value` of the alert is what the
 * threshold is tested on.
 *  - count: matching events.
 *  - distinct: distinct values of `field` (events without the field do not count).
 *  - sum / avg: of the numeric `field` (events where it is not a finite number do not count).
 *  - percentile: the `percentile`-th percentile (nearest rank) of the numeric `field`.
 *  - share: Sigma's value_percentile: the percent of the window's events carrying the
 *    triggering event's value of `field`.
 *  - ratio: percent (0–100) of matching events that also match `part`; needs `minEvents`.
 *  - baseline: this window's `measure` divided by the same measure over the `windows` windows
 *    just before it (pooled), at least `minEvents` events in this window, the baseline at
 *    least `floor` (a smaller one is raised to it; zero means no alert without history).
 *  - first_seen: a value of `field` not seen in the group within `lookbackMs`, the group
 *    having at least one earlier event inside the lookback. Value 1.
 *  - sequence / unordered: the alert's inputs (steps) in that order / in any order, each at
 *    least once inside the window; value = steps completed.
 */
export type Aggregation =
  | { readonly kind: 'count' }
  | { readonly kind: 'distinct'; readonly field: string }
  | { readonly kind: 'sum'; readonly field: string }
  | { readonly kind: 'avg'; readonly field: string }
  | { readonly kind: 'percentile'; readonly field: string; readonly percentile: number }
  | { readonly kind: 'share'; readonly field: string }
  | { readonly kind: 'ratio'; readonly part: FilterSpec; readonly minEvents: number }
  | {
      readonly kind: 'baseline';
      readonly measure: BaselineMeasure;
      readonly windows: number;
      readonly minEvents: number;
      readonly floor: number;
    }
  | { readonly kind: 'first_seen'; readonly field: string; readonly lookbackMs: number }
  | { readonly kind: 'sequence' }
  | { readonly kind: 'unordered' };

export type BaselineMeasure =
  | { readonly kind: 'count' }
  | { readonly kind: 'avg'; readonly field: string }
  | { readonly kind: 'ratio'; readonly part: FilterSpec };

/** A Sigma detection mapping (search identifiers + `condition`), not yet compiled. */
export interface FilterSpec {
  readonly detection: Readonly<Record<string, unknown>>;
  /** For messages: `rules/x.yaml:7 filter`. */
  readonly where: string;
}

/**
 * An input of an aggregating rule: the events (or the alerts, when chaining correlations)
 * of another node, with how to read each group-by field from them. `fieldFor` maps a
 * group-by name to the field to read in this input's events (Sigma `aliases`); a name it
 * does not list is read as is.
 */
export interface RuleInput {
  readonly node: string;
  readonly fieldFor: Readonly<Record<string, string>>;
}

/** Matches single events: a Firebreak rule's filter, or a Sigma detection rule. */
export interface FilterNode {
  readonly type: 'filter';
  /** Unique among all nodes: the rule id, or a Sigma id / name. */
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly description: string;
  readonly filter: FilterSpec;
  /**
   * Sigma meta filters naming this rule. As pySigma applies them, a filter's condition is
   * AND-ed to the rule's: an event must match the rule and every filter (real filter files
   * say `condition: not selection` to leave events out).
   */
  readonly metaFilters: readonly FilterSpec[];
  readonly calendar: CalendarLimit | undefined;
  /**
   * Whether a match is an alert of its own. False for the events-only half of a Firebreak
   * aggregation rule and for Sigma rules that correlations consume without `generate: true`.
   */
  readonly generates: boolean;
  /** Group for the alerts of a single-event rule; empty means one group. */
  readonly groupBy: readonly string[];
  /** Quiet period per group after an alert of a single-event rule; 0 alerts on every match. */
  readonly quietMs: number;
  readonly source: RuleSource;
}

/** Combines events of its inputs per group over a sliding window: aggregation or correlation. */
export interface AggregateNode {
  readonly type: 'aggregate';
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly description: string;
  readonly inputs: readonly RuleInput[];
  readonly groupBy: readonly string[];
  readonly windowMs: number;
  readonly aggregation: Aggregation;
  /** Absent for first_seen (every new value alerts) and when the aggregation implies it. */
  readonly threshold: Threshold | undefined;
  readonly calendar: CalendarLimit | undefined;
  readonly generates: boolean;
  readonly source: RuleSource;
}

export type RuleNode = FilterNode | AggregateNode;

/** Sigma `level` → Firebreak severity, when a Sigma rule carries no `firebreak.severity`. */
export const SIGMA_LEVEL_SEVERITY: Readonly<Record<string, Severity>> = {
  critical: 'P0',
  high: 'P1',
  medium: 'P2',
  low: 'P3',
  informational: 'P3',
};

/** True when `value` satisfies every bound of `threshold`. */
export function meetsThreshold(threshold: Threshold, value: number): boolean {
  if (threshold.gt !== undefined && !(value > threshold.gt)) return false;
  if (threshold.gte !== undefined && !(value >= threshold.gte)) return false;
  if (threshold.lt !== undefined && !(value < threshold.lt)) return false;
  if (threshold.lte !== undefined && !(value <= threshold.lte)) return false;
  if (threshold.eq !== undefined && value !== threshold.eq) return false;
  if (threshold.neq !== undefined && value === threshold.neq) return false;
  return true;
}
