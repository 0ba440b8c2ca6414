/**
 * The pure part of `mewm evaluate`: given the cohort's truth and each method's per-patient
 * protocols, computes every table and figure of the evaluation and returns them as files (the
 * CLI writes them into the results folder). No I/O here. One module per table in ./results/
 * (agreement, outcome, ablation, survival, realism, risk by protocol, per-patient predictions,
 * and the folder's summary.json and README.md); this file holds the types and the method rows.
 *
 * Inputs come from three places:
 * - the synthetic world's truth (`CaseTruth`: optimal and physician protocols, true expected risk
 *   per protocol, observed survival, simple features), read from `mewm synth` output;
 * - methods that need no planner, built here or by the CLI: the optimal protocol ("best
 *   possible"), the synthetic physician, a seeded random valid protocol, the guideline policy's
 *   first choice (`baselineMethod` with a protocol function);
 * - MeWM rows from cohort workflow results (`methodFromCohortOutcomes`), including ablations.
 */
import { MewmError } from '../core/errors';
import { Rng, deriveSeed } from '../core/random';
import { canonicalProtocol, protocolKey, validProtocols, type DrugId, type EmbolicId, type Protocol } from '../core/vocabulary';
import type { Interval } from './bootstrap';
import type { AgreementMetric } from './set-agreement';
import { ablationTable } from './results/ablation';
import { agreementTables } from './results/agreement';
import type { EvaluationContext } from './results/context';
import { resultsFolder } from './results/folder';
import { outcomeTable } from './results/outcome';
import { perPatientPredictions } from './results/per-patient';
import { realismTable } from './results/realism';
import { riskByProtocolFigures } from './results/risk-by-protocol';
import { survivalTable } from './results/survival';

// ---------------------------------------------------------------------------------------------
// Input types

/** What the synthetic world knows about one test patient. */
export interface CaseTruth {
  /** Pseudonymous case id. */
  readonly caseId: string;
  /** The world's optimal protocol (lowest true expected risk within the planning horizons): the gold action. */
  readonly optimalProtocol: Protocol;
  /** The synthetic physician's protocol (what the patient "received"). */
  readonly physicianProtocol: Protocol;
  /** True expected risk (lower is better) per protocol, keyed by `protocolKey`. */
  readonly expectedRisk: Readonly<Record<string, number>>;
  /** Observed survival under the physician's protocol, months; absent when the cohort has none. */
  readonly survival?: { readonly timeMonths: number; readonly event: boolean };
  /** Simple pre-treatment features for the Cox baseline (e.g. largest diameter mm, tumour count, burden). */
  readonly features?: Readonly<Record<string, number>>;
}

/** One method's result for one case. */
export interface CasePrediction {
  readonly caseId: string;
  /** The chosen protocol; null when the method failed on this case (scores as an empty prediction). */
  readonly protocol: Protocol | null;
  /** The method's own predicted risk of its protocol (MeWM: the heuristic's mean over replicas). */
  readonly predictedRisk?: number;
  /** Every explored candidate with its predicted risk and replica spread (from the plan audit). */
  readonly candidates?: readonly CandidateRisk[];
}

export interface CandidateRisk {
  readonly protocol: Protocol;
  readonly meanRisk: number;
  /** Replica spread: e.g. mean − spread and mean + spread, or min and max over the T replicas. */
  readonly lowerRisk: number;
  readonly upperRisk: number;
}

/**
 * - `reference`: rows that bound the table (the optimal protocol, the physician);
 * - `baseline`: guideline policy, random valid, LLM-only;
 * - `mewm`: the planner with learned or oracle world models;
 * - `ablation`: a MeWM variant; compared with `ablationOf` in the ablation table.
 */
export type MethodKind = 'reference' | 'baseline' | 'mewm' | 'ablation';

export interface MethodPredictions {
  /** Stable id, used in file names: lower-case letters, digits and dashes. */
  readonly method: string;
  readonly label: string;
  readonly kind: MethodKind;
  /** For ablations: the method id they remove a component from. */
  readonly ablationOf?: string;
  readonly predictions: readonly CasePrediction[];
}

/** A risk score per case for the treatment the patient received, to be judged against observed survival. */
export interface SurvivalScore {
  readonly name: string;
  readonly label: string;
  /** caseId → risk (higher = worse). Cases without a score are left out of this score's statistics. */
  readonly risk: Readonly<Record<string, number>>;
}

/** Realism of one simulated post-treatment CT against the truth (computed by the CLI from volumes). */
export interface RealismSample {
  readonly caseId: string;
  readonly protocolKey: string;
  /** Mean absolute error of the tumour composition fractions (viable, necrotic, lipiodol), in [0, 1]. */
  readonly compositionError: number;
  readonly ssim?: number;
  /** dB. */
  readonly psnr?: number;
  /** Distance in our own encoder's feature space (not the paper's FID). */
  readonly featureDistance?: number;
}

export interface EvaluationOptions {
  readonly seed: number;
  readonly bootstrapResamples?: number;
  /** Feature names for the Cox baseline; default: every feature present in all cases. */
  readonly coxFeatures?: readonly string[];
  /** Folds of the cross-fitted Cox baseline (out-of-fold risks); 5 by default. */
  readonly coxFolds?: number;
  /** L2 penalty of the Cox baseline on standardised coefficients (lifelines' penalizer); 0.01 by default. */
  readonly coxPenalizer?: number;
  /** Per-patient risk-by-protocol plots: at most this many cases per method; 6 by default. */
  readonly riskBarCases?: number;
  /** Recorded in summary.json and table notes. */
  readonly provenance?: { readonly command?: string; readonly commit?: string };
}

export interface EvaluationInput {
  readonly cohortId: string;
  readonly truth: readonly CaseTruth[];
  readonly methods: readonly MethodPredictions[];
  readonly survivalScores?: readonly SurvivalScore[];
  readonly realism?: readonly RealismSample[];
  /**
   * Cases the Cox baseline is fitted on (e.g. the training split, with survival and features);
   * when absent it is cross-fitted on the evaluated cases (out-of-fold predictions).
   */
  readonly coxTraining?: readonly CaseTruth[];
  /** True expected risk of a protocol missing from a case's `expectedRisk` table (e.g. the world's function). */
  readonly riskOf?: (caseId: string, protocol: Protocol) => number | undefined;
  /** Rows or files left out before the evaluation, and why (e.g. a method without its endpoint). */
  readonly skipped?: readonly string[];
  /** Further files for the results folder (e.g. how each method was planned), listed in the README. */
  readonly extraFiles?: readonly ResultFile[];
  readonly options: EvaluationOptions;
}

export interface ResultFile {
  /** Relative path inside the results folder, '/'-separated. */
  readonly path: string;
  readonly content: string | Uint8Array;
  readonly description: string;
}

export interface AgreementRow {
  readonly method: string;
  readonly label: string;
  readonly n: number;
  readonly failed: number;
  readonly metrics: Readonly<Record<AgreementMetric, Interval>>;
}

export interface OutcomeRow {
  readonly method: string;
  readonly label: string;
  readonly scored: number;
  readonly failed: number;
  readonly meanRisk: Interval;
  readonly meanRegret: Interval;
  readonly optimalRate: number;
}

export interface SurvivalRow {
  readonly score: string;
  readonly label: string;
  readonly n: number;
  readonly events: number;
  readonly cIndex: Interval;
  readonly logRankP: number;
  readonly mseVsNelsonAalen: number;
  /** Brier score at `brierTime` (only for scores with survival probabilities: the Cox baseline). */
  readonly brier?: number;
  readonly brierTime?: number;
}

export interface EvaluationSummary {
  readonly schema: 'mewm.evaluation/1';
  readonly cohortId: string;
  readonly cases: number;
  readonly seed: number;
  readonly bootstrapResamples: number;
  readonly provenance: { readonly command?: string; readonly commit?: string };
  readonly agreement: { readonly optimal: readonly AgreementRow[]; readonly physician: readonly AgreementRow[] };
  readonly outcome: readonly OutcomeRow[];
  readonly survival: readonly SurvivalRow[];
  /** folds > 0: cross-fitted on the evaluated cases; trainingCases > 0: fitted on separate training cases. */
  readonly coxBaseline?: {
    readonly features: readonly string[];
    readonly folds: number;
    readonly trainingCases: number;
    readonly penalizer: number;
    readonly coefficients: Readonly<Record<string, number>>;
  };
  /** Tables or figures not produced, and why. */
  readonly skipped: readonly string[];
}

export interface EvaluationOutput {
  readonly files: readonly ResultFile[];
  readonly summary: EvaluationSummary;
}

// ---------------------------------------------------------------------------------------------
// Methods that need no planner

export function optimalMethod(truth: readonly CaseTruth[]): MethodPredictions {
  return {
    method: 'optimal',
    label: 'Optimal protocol (best possible)',
    kind: 'reference',
    predictions: truth.map((t) => ({ caseId: t.caseId, protocol: t.optimalProtocol })),
  };
}

export function physicianMethod(truth: readonly CaseTruth[]): MethodPredictions {
  return {
    method: 'physician',
    label: 'Synthetic physician (pre-CT)',
    kind: 'reference',
    predictions: truth.map((t) => ({ caseId: t.caseId, protocol: t.physicianProtocol })),
  };
}

/** A rule-valid protocol drawn uniformly per case from a seed derived from (seed, case id). */
export function randomValidMethod(
  truth: readonly CaseTruth[],
  seed: number,
  horizons: { readonly maxDrugs: number; readonly maxEmbolics: number },
): MethodPredictions {
  const choices = validProtocols(horizons.maxDrugs, horizons.maxEmbolics);
  return {
    method: 'random-valid',
    label: 'Random valid protocol',
    kind: 'baseline',
    predictions: truth.map((t) => ({ caseId: t.caseId, protocol: new Rng(deriveSeed(seed, 'random-valid', t.caseId)).pick(choices) })),
  };
}

/** A baseline whose protocol is a function of the case (e.g. the guideline policy's first choice). */
export async function baselineMethod(
  method: string,
  label: string,
  truth: readonly CaseTruth[],
  choose: (truth: CaseTruth) => Protocol | Promise<Protocol>,
): Promise<MethodPredictions> {
  const predictions: CasePrediction[] = [];
  for (const t of truth) {
    let protocol: Protocol | null;
    try {
      protocol = await choose(t);
    } catch (error) {
      // A baseline that cannot answer for a case scores as an empty prediction, like a failed plan.
      if (error instanceof MewmError) protocol = null;
      else throw error;
    }
    predictions.push({ caseId: t.caseId, protocol });
  }
  return { method, label, kind: 'baseline', predictions };
}

/** The first choices of a policy proposal: its first `maxDrugs` drugs and first `maxEmbolics` embolics, in proposal order. */
export function firstChoiceProtocol(
  proposal: { readonly drugs: readonly DrugId[]; readonly embolics: readonly EmbolicId[] },
  horizons: { readonly maxDrugs: number; readonly maxEmbolics: number },
): Protocol {
  return canonicalProtocol({ drugs: proposal.drugs.slice(0, horizons.maxDrugs), embolics: proposal.embolics.slice(0, horizons.maxEmbolics) });
}

/** Structural view of a cohort workflow's per-case outcome (workflows/types.ts CohortCaseOutcome). */
export interface CohortOutcomeLike {
  readonly caseId: string;
  readonly status: 'completed' | 'failed' | 'skipped';
  readonly protocol?: Protocol;
  readonly risk?: number;
}

/** MeWM rows from a cohort run; candidates (for risk plots) can be attached per case from plan audits. */
export function methodFromCohortOutcomes(
  method: string,
  label: string,
  kind: 'mewm' | 'ablation' | 'baseline',
  outcomes: readonly CohortOutcomeLike[],
  extras: { readonly ablationOf?: string; readonly candidates?: Readonly<Record<string, readonly CandidateRisk[]>> } = {},
): MethodPredictions {
  return {
    method,
    label,
    kind,
    ...(extras.ablationOf !== undefined ? { ablationOf: extras.ablationOf } : {}),
    predictions: outcomes.map((o) => ({
      caseId: o.caseId,
      // 'skipped' = planned by an earlier run of the same cohort, whose protocol the line carries.
      protocol: o.status !== 'failed' && o.protocol ? o.protocol : null,
      ...(o.risk !== undefined ? { predictedRisk: o.risk } : {}),
      ...(extras.candidates?.[o.caseId] ? { candidates: extras.candidates[o.caseId] } : {}),
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Evaluation

export function evaluate(input: EvaluationInput): EvaluationOutput {
  const truth = input.truth;
  if (truth.length === 0) throw new MewmError('InvalidInput', `cohort ${input.cohortId}: no cases to evaluate`);
  const ids = new Set<string>();
  for (const t of truth) {
    if (ids.has(t.caseId)) throw new MewmError('InvalidInput', `cohort ${input.cohortId}: case ${t.caseId} appears twice in the truth`);
    ids.add(t.caseId);
  }
  const methodIds = new Set<string>();
  for (const m of input.methods) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(m.method)) throw new MewmError('InvalidInput', `method id "${m.method}" must be lower-case letters, digits and dashes`);
    if (methodIds.has(m.method)) throw new MewmError('InvalidInput', `method ${m.method} given twice`);
    methodIds.add(m.method);
    for (const p of m.predictions) {
      if (!ids.has(p.caseId)) throw new MewmError('InvalidInput', `method ${m.method}: case ${p.caseId} is not in cohort ${input.cohortId}`);
    }
  }
  const seed = input.options.seed;
  const resamples = input.options.bootstrapResamples ?? 2000;
  const files: ResultFile[] = [...(input.extraFiles ?? [])];
  const skipped: string[] = [...(input.skipped ?? [])];
  const notes = [
    `${truth.length} cases; 95% percentile bootstrap over patients, ${resamples} resamples, seed ${seed}`,
    ...(input.options.provenance?.commit ? [`commit ${input.options.provenance.commit}`] : []),
  ];

  const predictionIndex = new Map<string, Map<string, CasePrediction>>();
  for (const m of input.methods) predictionIndex.set(m.method, new Map(m.predictions.map((p) => [p.caseId, p])));

  const ctx: EvaluationContext = { input, truth, seed, resamples, notes, predictionIndex, files, skipped };
  // One module per table (./results/), in the order the results folder lists them.
  const mainMethods = input.methods.filter((m) => m.kind !== 'ablation');
  const agreement = agreementTables(ctx, mainMethods);
  const outcome = outcomeTable(ctx, mainMethods);
  ablationTable(ctx, agreement.optimal, outcome);
  const survival = survivalTable(ctx);
  realismTable(ctx);
  riskByProtocolFigures(ctx);
  perPatientPredictions(ctx);
  return resultsFolder(ctx, { agreement, outcome, survival });
}
