/**
 * Pass/fail of a fidelity summary against thresholds: what CI and the lead's acceptance run ask
 * of a world model. Pure. A threshold left out is not checked; a metric that is NaN fails.
 *
 * Targets of issue 10 (held-out patients of a cohort seed never used in training, ≥ 24 patients):
 *   - within-patient Spearman of the viable share across the panel ≥ 0.7 (mean over patients;
 *     shares inside the post tumour label, `post.viable`);
 *   - per-agent Lipiodol and necrosis shares within 0.10 of the truth on average (`agentShareError.post`);
 *   - within-patient Spearman of the learned mean risk vs the world's expected risk ≥ 0.5.
 */
import type { FidelitySummary } from './summary';

export interface FidelityThresholds {
  /** Mean over patients of Spearman(learned, true) of the viable share inside the post tumour label. */
  readonly minViableShareSpearman?: number;
  /** Mean over patients of Spearman(learned pipeline's mean risk, world's expected risk). */
  readonly minRiskSpearman?: number;
  /** Mean over agents of |learned − true| Lipiodol share (post tumour label, protocols with the agent). */
  readonly maxLipiodolShareError?: number;
  /** The same for the necrotic share. */
  readonly maxNecrosisShareError?: number;
  /** Mean over patients of Spearman(learned, true) of the liver HU shift (toxicity). */
  readonly minLiverShiftSpearman?: number;
  /** Mean over patients of Spearman(learned, true) of the Lipiodol share inside the post tumour label. */
  readonly minLipiodolShareSpearman?: number;
}

export const ISSUE_10_TARGETS: FidelityThresholds = {
  minViableShareSpearman: 0.7,
  minRiskSpearman: 0.5,
  maxLipiodolShareError: 0.1,
  maxNecrosisShareError: 0.1,
};

export interface FidelityCheck {
  readonly metric: keyof FidelityThresholds;
  readonly description: string;
  readonly value: number;
  readonly threshold: number;
  readonly direction: '>=' | '<=';
  readonly pass: boolean;
}

interface MetricDefinition {
  readonly description: string;
  readonly direction: '>=' | '<=';
  readonly value: (s: FidelitySummary) => number;
}

const METRICS: Readonly<Record<keyof FidelityThresholds, MetricDefinition>> = {
  minViableShareSpearman: {
    description: 'viable share, within-patient Spearman learned vs truth (mean)',
    direction: '>=',
    value: (s) => s.spearman['post.viable'].mean,
  },
  minRiskSpearman: {
    description: "learned mean risk vs world's expected risk, within-patient Spearman (mean)",
    direction: '>=',
    value: (s) => s.spearman['risk.learned'].mean,
  },
  maxLipiodolShareError: { description: 'Lipiodol share, per-agent mean |learned − truth|', direction: '<=', value: (s) => s.agentShareError.post.lipiodol },
  maxNecrosisShareError: { description: 'necrotic share, per-agent mean |learned − truth|', direction: '<=', value: (s) => s.agentShareError.post.necrotic },
  minLiverShiftSpearman: {
    description: 'liver HU shift, within-patient Spearman learned vs truth (mean)',
    direction: '>=',
    value: (s) => s.spearman.liverShiftHu.mean,
  },
  minLipiodolShareSpearman: {
    description: 'Lipiodol share, within-patient Spearman learned vs truth (mean)',
    direction: '>=',
    value: (s) => s.spearman['post.lipiodol'].mean,
  },
};

export function fidelityChecks(
  summary: FidelitySummary,
  thresholds: FidelityThresholds,
): { readonly pass: boolean; readonly checks: readonly FidelityCheck[] } {
  const checks = (Object.keys(METRICS) as (keyof FidelityThresholds)[])
    .filter((metric) => thresholds[metric] !== undefined)
    .map((metric): FidelityCheck => {
      const definition = METRICS[metric];
      const threshold = thresholds[metric]!;
      const value = definition.value(summary);
      const pass = Number.isFinite(value) && (definition.direction === '>=' ? value >= threshold : value <= threshold);
      return { metric, description: definition.description, value, threshold, direction: definition.direction, pass };
    });
  return { pass: checks.every((c) => c.pass), checks };
}
