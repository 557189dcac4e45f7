/**
 * Decision-tree answers for tests, spelled out rather than derived from CLASSIFICATION_QUESTIONS,
 * so a renamed or dropped question breaks the tests instead of silently following along.
 */
import type { ClassificationAnswers, ImpactAssessment } from '../../src/incidents/index.js';

export const ALL_NO: ClassificationAnswers = {
  payment_data_at_risk: false,
  admin_access_compromised: false,
  service_unavailable: false,
  over_100_customers_affected: false,
  data_exfiltration: false,
  active_exploitation: false,
  reconnaissance_only: false,
};

export const LOW_IMPACT: ImpactAssessment = { data: 'low', service: 'low', customer: 'low' };
