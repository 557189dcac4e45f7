import { describe, expect, it } from 'vitest';
import { ALL_NO } from '../../test/helpers/classification.js';
import {
  CLASSIFICATION_QUESTIONS,
  type ClassificationAnswers,
  classify,
  type ImpactAssessment,
  type ImpactLevel,
  type QuestionId,
  worstImpact,
} from './classification.js';

const yes = (...ids: QuestionId[]): ClassificationAnswers =>
  ({ ...ALL_NO, ...Object.fromEntries(ids.map((id) => [id, true])) }) as ClassificationAnswers;
const LOW: ImpactAssessment = { data: 'low', service: 'low', customer: 'low' };
const at = (level: ImpactLevel): ImpactAssessment => ({ data: level, service: 'low', customer: 'low' });

describe('classify: each question alone', () => {
  it('has the seven questions of the KCT decision tree, in the plan’s order', () => {
    expect(CLASSIFICATION_QUESTIONS.map((q) => q.question)).toEqual([
      'Is customer payment data at risk?',
      'Is admin access compromised?',
      'Is service completely unavailable?',
      'Are >100 customers affected?',
      'Is there evidence of data exfiltration?',
      'Is there active exploitation?',
      'Is this reconnaissance only?',
    ]);
  });

  // With the lowest impact, a pair question falls to its lower severity.
  it.each([
    ['payment_data_at_risk', 'P0'],
    ['admin_access_compromised', 'P1'],
    ['service_unavailable', 'P0'],
    ['over_100_customers_affected', 'P1'],
    ['data_exfiltration', 'P1'],
    ['active_exploitation', 'P2'],
    ['reconnaissance_only', 'P3'],
  ] as const)('%s alone, low impact → %s', (id, severity) => {
    const result = classify(yes(id), LOW);
    expect(result.severity).toBe(severity);
    expect(result.reasoning).toHaveLength(1);
  });

  // With the highest impact, a pair question rises to its higher severity.
  it.each([
    ['payment_data_at_risk', 'P0'],
    ['admin_access_compromised', 'P0'],
    ['service_unavailable', 'P0'],
    ['over_100_customers_affected', 'P1'],
    ['data_exfiltration', 'P0'],
    ['active_exploitation', 'P1'],
    ['reconnaissance_only', 'P2'],
  ] as const)('%s alone, critical impact → %s', (id, severity) => {
    expect(classify(yes(id), at('critical')).severity).toBe(severity);
  });
});

describe('classify: the impact tie-break of a pair question', () => {
  it.each([
    // P0/P1 needs critical.
    ['admin_access_compromised', 'high', 'P1'],
    ['admin_access_compromised', 'critical', 'P0'],
    ['data_exfiltration', 'high', 'P1'],
    ['data_exfiltration', 'critical', 'P0'],
    // P1/P2 needs high.
    ['active_exploitation', 'medium', 'P2'],
    ['active_exploitation', 'high', 'P1'],
    // P2/P3 needs medium.
    ['reconnaissance_only', 'low', 'P3'],
    ['reconnaissance_only', 'medium', 'P2'],
  ] as const)('%s with worst impact %s → %s', (id, level, severity) => {
    expect(classify(yes(id), at(level)).severity).toBe(severity);
  });

  it('takes the worst of data, service and customer impact, whichever it is', () => {
    const dims = ['data', 'service', 'customer'] as const;
    for (const dim of dims) {
      const impact = { ...LOW, [dim]: 'critical' } as ImpactAssessment;
      expect(worstImpact(impact)).toBe('critical');
      expect(classify(yes('admin_access_compromised'), impact).severity).toBe('P0');
      const justUnder = { ...LOW, [dim]: 'high' } as ImpactAssessment;
      expect(classify(yes('admin_access_compromised'), justUnder).severity).toBe('P1');
    }
  });
});

describe('classify: several answers', () => {
  it('all no → P3, with a line saying so', () => {
    const result = classify(ALL_NO, at('critical'));
    expect(result.severity).toBe('P3');
    expect(result.reasoning).toEqual(['No question of the decision tree answered yes → P3']);
  });

  it('the most severe proposal wins, wherever its question comes in the list', () => {
    // Reconnaissance (last) proposes P2 at medium impact; >100 customers (fourth) proposes P1.
    expect(classify(yes('over_100_customers_affected', 'reconnaissance_only'), at('medium')).severity).toBe(
      'P1',
    );
    // A later question can raise the severity found by an earlier one.
    expect(classify(yes('over_100_customers_affected', 'data_exfiltration'), at('critical')).severity).toBe(
      'P0',
    );
    expect(classify(yes('active_exploitation', 'payment_data_at_risk'), LOW).severity).toBe('P0');
    // Neither proposes better than P2 here.
    expect(classify(yes('active_exploitation', 'reconnaissance_only'), at('medium')).severity).toBe('P2');
  });

  it('gives one reasoning line per yes, naming the question, the proposal and the impact', () => {
    const result = classify(
      yes('payment_data_at_risk', 'admin_access_compromised', 'reconnaissance_only'),
      at('high'),
    );
    expect(result.severity).toBe('P0');
    expect(result.reasoning).toEqual([
      'Is customer payment data at risk? yes → P0',
      'Is admin access compromised? yes → P0/P1; worst impact is high, below critical → P1',
      'Is this reconnaissance only? yes → P2/P3; worst impact is high, at least medium → P2',
    ]);
    expect(result.answers).toEqual(
      yes('payment_data_at_risk', 'admin_access_compromised', 'reconnaissance_only'),
    );
    expect(result.impact).toEqual(at('high'));
  });
});
