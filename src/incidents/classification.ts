/**
 * The KCT plan's decision tree for classification (section 4, Phase 1) and its impact
 * assessment criteria (section 2). Pure: the same answers give the same severity.
 *
 * Every question answered "yes" proposes a severity; the incident gets the most severe of them,
 * so the order in which the plan lists the questions cannot hide a worse finding. Where a
 * question proposes two severities (P0/P1, P1/P2, P2/P3) the impact assessment decides: the
 * higher one is chosen when the worst of the three impact levels (data, service, customer)
 * reaches that severity's level — critical for P0, high for P1, medium for P2 — else the lower.
 * When every answer is "no", the incident is P3.
 */
import type { Severity } from '../policy/index.js';

export const CLASSIFICATION_QUESTIONS = [
  { id: 'payment_data_at_risk', question: 'Is customer payment data at risk?', yes: ['P0'] },
  { id: 'admin_access_compromised', question: 'Is admin access compromised?', yes: ['P0', 'P1'] },
  { id: 'service_unavailable', question: 'Is service completely unavailable?', yes: ['P0'] },
  { id: 'over_100_customers_affected', question: 'Are >100 customers affected?', yes: ['P1'] },
  { id: 'data_exfiltration', question: 'Is there evidence of data exfiltration?', yes: ['P0', 'P1'] },
  { id: 'active_exploitation', question: 'Is there active exploitation?', yes: ['P1', 'P2'] },
  { id: 'reconnaissance_only', question: 'Is this reconnaissance only?', yes: ['P2', 'P3'] },
] as const satisfies readonly { id: string; question: string; yes: readonly Severity[] }[];

export type QuestionId = (typeof CLASSIFICATION_QUESTIONS)[number]['id'];
export type ClassificationAnswers = Readonly<Record<QuestionId, boolean>>;

export const IMPACT_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export type ImpactLevel = (typeof IMPACT_LEVELS)[number];

export interface ImpactAssessment {
  /** critical: customer PII, payment or proprietary data; high: internal data; medium: config, logs; low: public. */
  readonly data: ImpactLevel;
  /** critical: core e-commerce unavailable; high: significant degradation; medium: minor, workaround; low: cosmetic. */
  readonly service: ImpactLevel;
  /** critical: nobody can buy; high: >25% of customers; medium: <25%; low: individual customers. */
  readonly customer: ImpactLevel;
}

export interface Classification {
  readonly severity: Severity;
  readonly answers: ClassificationAnswers;
  readonly impact: ImpactAssessment;
  /** One line per question answered yes, saying what it proposed and why. */
  readonly reasoning: string[];
}

const LEVEL_FOR_SEVERITY: Record<Severity, ImpactLevel> = {
  P0: 'critical',
  P1: 'high',
  P2: 'medium',
  P3: 'low',
};
const rank = (level: ImpactLevel) => IMPACT_LEVELS.indexOf(level);

export function worstImpact(impact: ImpactAssessment): ImpactLevel {
  return [impact.data, impact.service, impact.customer].reduce((a, b) => (rank(b) > rank(a) ? b : a));
}

/**
 * @example
 * classify({ ...allNo, admin_access_compromised: true }, { data: 'high', service: 'low', customer: 'low' })
 * // → severity P1: admin access proposes P0/P1, and the worst impact (high) is below critical
 */
export function classify(answers: ClassificationAnswers, impact: ImpactAssessment): Classification {
  const worst = worstImpact(impact);
  const reasoning: string[] = [];
  let severity: Severity = 'P3';
  for (const q of CLASSIFICATION_QUESTIONS) {
    if (!answers[q.id]) continue;
    let proposed: Severity;
    if (q.yes.length === 1) {
      proposed = q.yes[0];
      reasoning.push(`${q.question} yes → ${proposed}`);
    } else {
      const [higher, lower] = q.yes;
      const needed = LEVEL_FOR_SEVERITY[higher];
      proposed = rank(worst) >= rank(needed) ? higher : lower;
      reasoning.push(
        `${q.question} yes → ${higher}/${lower}; worst impact is ${worst}, ${
          proposed === higher ? 'at least' : 'below'
        } ${needed} → ${proposed}`,
      );
    }
    if (proposed < severity) severity = proposed;
  }
  if (reasoning.length === 0) reasoning.push('No question of the decision tree answered yes → P3');
  return { severity, answers, impact, reasoning };
}
