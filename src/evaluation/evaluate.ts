/**
 * The pure part of `mewm evaluate`: given the cohort's truth and each method's per-patient
 * protocols, computes every table and figure of the evaluation and returns them as files (the
 * CLI writes them into the results folder). No I/O here.
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
import { canonicalProtocol, protocolKey, protocolLabel, validProtocols, type DrugId, type EmbolicId, type Protocol } from '../core/vocabulary';
import { bootstrapIntervals, meanAt, type Interval } from './bootstrap';
import { AGREEMENT_METRICS, protocolAgreement, type AgreementMetric, type SetAgreement } from './set-agreement';
import { kaplanMeierFigure, formatP } from './plots/kaplan-meier-plot';
import { riskBarsFigure, type RiskBarTag } from './plots/risk-bars';
import { figureToPng } from './plots/raster';
import { figureToSvg } from './plots/svg';
import { tableFigure } from './plots/table-figure';
import type { Figure } from './plots/figure';
import { concordance } from './survival/concordance';
import { coxLinearPredictor, coxSurvival, fitCox } from './survival/cox';
import { logRankTest } from './survival/log-rank';
import { brierScore, riskMseVsNelsonAalen } from './survival/risk-error';
import { fixed, percent, percentWithInterval, signedPercentPoints, toCsv, toMarkdown, withInterval, type Table } from './tables';

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
  readonly coxBaseline?: { readonly features: readonly string[]; readonly folds: number; readonly trainingCases: number; readonly penalizer: number; readonly coefficients: Readonly<Record<string, number>> };
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
export function randomValidMethod(truth: readonly CaseTruth[], seed: number, horizons: { readonly maxDrugs: number; readonly maxEmbolics: number }): MethodPredictions {
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
export function firstChoiceProtocol(proposal: { readonly drugs: readonly DrugId[]; readonly embolics: readonly EmbolicId[] }, horizons: { readonly maxDrugs: number; readonly maxEmbolics: number }): Protocol {
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

  // Protocol agreement (Table 2 style), against the optimal protocol and against the physician.
  const mainMethods = input.methods.filter((m) => m.kind !== 'ablation');
  const agreementAgainst = (reference: 'optimal' | 'physician', methods: readonly MethodPredictions[]): AgreementRow[] =>
    methods.map((m) => {
      const perCase = truth.map((t) => {
        const p = predictionIndex.get(m.method)!.get(t.caseId);
        const gold = reference === 'optimal' ? t.optimalProtocol : t.physicianProtocol;
        return protocolAgreement(p?.protocol ?? { drugs: [], embolics: [] }, gold);
      });
      const failed = truth.filter((t) => !predictionIndex.get(m.method)!.get(t.caseId)?.protocol).length;
      const columns = AGREEMENT_METRICS.map((metric) => Float64Array.from(perCase, (a: SetAgreement) => a[metric]));
      const intervals = bootstrapIntervals(truth.length, (idx) => columns.map((c) => meanAt(c, idx)), { seed: deriveSeed(seed, 'agreement', reference, m.method), resamples });
      const metrics = Object.fromEntries(AGREEMENT_METRICS.map((metric, k) => [metric, intervals[k]!])) as Record<AgreementMetric, Interval>;
      return { method: m.method, label: m.label, n: truth.length, failed, metrics };
    });
  const agreementOptimal = agreementAgainst('optimal', mainMethods);
  const agreementPhysician = agreementAgainst(
    'physician',
    mainMethods.filter((m) => m.method !== 'physician'),
  );
  for (const [name, title, rows] of [
    ['agreement-optimal', 'Protocol agreement with the optimal protocol (%)', agreementOptimal],
    ['agreement-physician', "Protocol agreement with the physician's protocol (%)", agreementPhysician],
  ] as const) {
    const display: Table = {
      title,
      columns: ['Method', 'F1-score', 'Jaccard', 'Precision', 'Recall', 'failed'],
      rows: rows.map((r) => [r.label, ...AGREEMENT_METRICS.map((k) => percentWithInterval(r.metrics[k])), `${r.failed}/${r.n}`]),
      notes: [...notes, 'per-patient metrics averaged over patients (Table 2 convention); action set = drugs ∪ embolics; a failed case scores as an empty prediction'],
    };
    const data: Table = {
      title,
      columns: ['method', 'n', 'failed', ...AGREEMENT_METRICS.flatMap((k) => [k, `${k}_lower`, `${k}_upper`])],
      rows: rows.map((r) => [r.method, r.n, r.failed, ...AGREEMENT_METRICS.flatMap((k) => [r.metrics[k].estimate, r.metrics[k].lower, r.metrics[k].upper])]),
    };
    files.push(...tableFiles(name, display, data));
  }

  // Outcome: the true expected risk of each method's protocol and its regret against the optimum.
  const riskOf = (t: CaseTruth, protocol: Protocol): number | undefined => {
    const known = t.expectedRisk[protocolKey(protocol)];
    if (known !== undefined) return known;
    return input.riskOf?.(t.caseId, protocol);
  };
  const outcomeFor = (m: MethodPredictions, withIntervals: boolean): OutcomeRow => {
    const risks: number[] = [];
    const regrets: number[] = [];
    let optimalHits = 0;
    let failed = 0;
    for (const t of truth) {
      const p = predictionIndex.get(m.method)!.get(t.caseId)?.protocol;
      if (!p) {
        failed++;
        continue;
      }
      const risk = riskOf(t, p);
      const best = riskOf(t, t.optimalProtocol);
      if (best === undefined) throw new MewmError('InvalidInput', `case ${t.caseId}: the truth has no expected risk for its own optimal protocol`);
      if (risk === undefined) continue;
      risks.push(risk);
      regrets.push(risk - best);
      if (protocolKey(p) === protocolKey(t.optimalProtocol)) optimalHits++;
    }
    const scored = risks.length;
    const identity = Uint32Array.from(risks, (_, i) => i);
    const [meanRisk, meanRegret] =
      scored === 0
        ? [nanInterval(), nanInterval()]
        : withIntervals
          ? bootstrapIntervals(scored, (idx) => [meanAt(risks, idx), meanAt(regrets, idx)], { seed: deriveSeed(seed, 'outcome', m.method), resamples })
          : [pointInterval(meanAt(risks, identity)), pointInterval(meanAt(regrets, identity))];
    return { method: m.method, label: m.label, scored, failed, meanRisk: meanRisk!, meanRegret: meanRegret!, optimalRate: scored > 0 ? optimalHits / scored : Number.NaN };
  };
  const outcome: OutcomeRow[] = mainMethods.map((m) => outcomeFor(m, true));
  {
    const display: Table = {
      title: 'Outcome: true expected risk of the chosen protocol and regret against the optimum (lower is better)',
      columns: ['Method', 'expected risk', 'regret', 'optimal chosen (%)', 'scored', 'failed'],
      rows: outcome.map((r) => [r.label, withInterval(r.meanRisk), withInterval(r.meanRegret), percent(r.optimalRate, 1), r.scored, r.failed]),
      notes: [...notes, 'risk and regret are means over scored cases; a protocol without a true risk is not scored'],
    };
    const data: Table = {
      title: display.title,
      columns: ['method', 'scored', 'failed', 'expected_risk', 'expected_risk_lower', 'expected_risk_upper', 'regret', 'regret_lower', 'regret_upper', 'optimal_rate'],
      rows: outcome.map((r) => [r.method, r.scored, r.failed, r.meanRisk.estimate, r.meanRisk.lower, r.meanRisk.upper, r.meanRegret.estimate, r.meanRegret.lower, r.meanRegret.upper, r.optimalRate]),
    };
    files.push(...tableFiles('outcome', display, data));
  }

  // Ablations (Table 3 style): each ablation's agreement with the optimal protocol and its regret, with deltas.
  const ablations = input.methods.filter((m) => m.kind === 'ablation');
  if (ablations.length === 0) {
    skipped.push('ablation table: no ablation runs were given');
  } else {
    const ablationAgreement = agreementAgainst('optimal', ablations);
    const ablationOutcome = new Map(ablations.map((m) => [m.method, outcomeFor(m, false)] as const));
    const referenceOf = (m: MethodPredictions) => {
      const refId = m.ablationOf;
      const ref = agreementOptimal.find((r) => r.method === refId);
      if (!ref) throw new MewmError('InvalidInput', `ablation ${m.method}: ablationOf "${String(refId)}" is not a non-ablation method of this evaluation`);
      return ref;
    };
    const columns = ['Metric', ...ablations.map((m) => m.label)];
    const rows: (string | number)[][] = AGREEMENT_METRICS.map((k) => [
      metricLabel(k),
      ...ablations.map((m, i) => {
        const value = ablationAgreement[i]!.metrics[k].estimate;
        return `${percent(value)} ${signedPercentPoints(value - referenceOf(m).metrics[k].estimate)}`;
      }),
    ]);
    rows.push([
      'Regret',
      ...ablations.map((m) => {
        const own = ablationOutcome.get(m.method)!;
        const ref = outcome.find((o) => o.method === m.ablationOf)!;
        const delta = own.meanRegret.estimate - ref.meanRegret.estimate;
        return `${fixed(own.meanRegret.estimate)} (${delta >= 0 ? '+' : ''}${fixed(delta)})`;
      }),
    ]);
    const display: Table = { title: 'Ablations: agreement with the optimal protocol (%) and regret; (Δ) vs the full method', columns, rows, notes };
    const data: Table = {
      title: display.title,
      columns: ['method', 'ablation_of', ...AGREEMENT_METRICS.flatMap((k) => [k, `${k}_delta`]), 'regret', 'regret_delta'],
      rows: ablations.map((m, i) => {
        const ref = referenceOf(m);
        const own = ablationOutcome.get(m.method)!;
        const refOutcome = outcome.find((o) => o.method === m.ablationOf)!;
        return [
          m.method,
          m.ablationOf ?? '',
          ...AGREEMENT_METRICS.flatMap((k) => [ablationAgreement[i]!.metrics[k].estimate, ablationAgreement[i]!.metrics[k].estimate - ref.metrics[k].estimate]),
          own.meanRegret.estimate,
          own.meanRegret.estimate - refOutcome.meanRegret.estimate,
        ];
      }),
    };
    files.push(...tableFiles('ablation', display, data));
  }

  // Survival: C-index, log-rank of a median split, risk MSE vs Nelson–Aalen; Cox baseline on simple features.
  const survivalCases = truth.filter((t) => t.survival !== undefined);
  const survivalRows: SurvivalRow[] = [];
  let coxSummary: EvaluationSummary['coxBaseline'];
  if (survivalCases.length < 4 || survivalCases.every((t) => !t.survival!.event)) {
    skipped.push(`survival table: ${survivalCases.length} cases with survival and ${survivalCases.filter((t) => t.survival!.event).length} events are too few`);
  } else {
    const scores: SurvivalScore[] = [];
    const training = (input.coxTraining ?? []).filter((t) => t.survival !== undefined);
    const cox = training.length > 0 ? trainedCox(training, survivalCases, input.options) : crossFittedCox(survivalCases, input.options, seed);
    let coxBrier: { readonly value: number; readonly time: number } | undefined;
    if (cox.ok) {
      scores.push(cox.score);
      coxSummary = cox.summary;
      coxBrier = cox.brier;
    } else {
      skipped.push(`Cox baseline: ${cox.reason}`);
    }
    scores.push(...(input.survivalScores ?? []));
    for (const score of scores) {
      const cases = survivalCases.filter((t) => Number.isFinite(score.risk[t.caseId]));
      const times = cases.map((t) => t.survival!.timeMonths);
      const events = cases.map((t) => (t.survival!.event ? 1 : 0));
      const risk = cases.map((t) => score.risk[t.caseId]!);
      if (cases.length < 4 || events.every((e) => e === 0)) {
        skipped.push(`survival score ${score.name}: too few scored cases with events`);
        continue;
      }
      const data = { times, events };
      let cIndex: Interval;
      try {
        const negated = risk.map((r) => -r);
        const estimate = concordance(data, negated).cIndex;
        const [ci] = bootstrapIntervals(
          cases.length,
          (idx) => {
            const sub = { times: Array.from(idx, (i) => times[i]!), events: Array.from(idx, (i) => events[i]!) };
            try {
              return [concordance(sub, Array.from(idx, (i) => negated[i]!)).cIndex];
            } catch {
              return [Number.NaN];
            }
          },
          { seed: deriveSeed(seed, 'c-index', score.name), resamples },
        );
        cIndex = { estimate, lower: ci!.lower, upper: ci!.upper };
      } catch (error) {
        if (!(error instanceof MewmError)) throw error;
        skipped.push(`survival score ${score.name}: ${error.message}`);
        continue;
      }
      const sorted = [...risk].sort((a, b) => a - b);
      const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
      const high = cases.map((_, i) => risk[i]! > median);
      const group = (h: boolean) => ({ times: times.filter((_, i) => high[i] === h), events: events.filter((_, i) => high[i] === h) });
      let logRankP = Number.NaN;
      if (high.some((h) => h) && high.some((h) => !h)) {
        try {
          logRankP = logRankTest(group(false), group(true)).pValue;
        } catch (error) {
          if (!(error instanceof MewmError)) throw error;
        }
      }
      const mse = riskMseVsNelsonAalen(data, risk).mse;
      survivalRows.push({
        score: score.name,
        label: score.label,
        n: cases.length,
        events: events.reduce<number>((a, b) => a + b, 0),
        cIndex,
        logRankP,
        mseVsNelsonAalen: mse,
        ...(score.name === 'cox-baseline' && coxBrier ? { brier: coxBrier.value, brierTime: coxBrier.time } : {}),
      });
      if (high.some((h) => h) && high.some((h) => !h)) {
        const figure = kaplanMeierFigure({
          title: `Kaplan–Meier by ${score.label}: high vs low risk (median split)`,
          groups: [
            { label: 'low risk', data: group(false) },
            { label: 'high risk', data: group(true) },
          ],
          timeUnit: 'months',
          ...(Number.isFinite(logRankP) ? { logRankP } : {}),
        });
        files.push(...figureFiles(`figures/km-${score.name}`, figure, `Kaplan–Meier curves, high vs low ${score.label}`));
      }
    }
    const display: Table = {
      title: 'Survival: risk scores against observed survival',
      columns: ['Risk score', 'n', 'events', 'C-index', 'log-rank p (median split)', 'MSE vs Nelson–Aalen', 'Brier(t)'],
      rows: survivalRows.map((r) => [
        r.label,
        r.n,
        r.events,
        withInterval(r.cIndex),
        Number.isFinite(r.logRankP) ? formatP(r.logRankP) : 'n/a',
        fixed(r.mseVsNelsonAalen, 4),
        r.brier !== undefined ? `${fixed(r.brier, 4)} @ ${fixed(r.brierTime!, 1)} mo` : 'n/a',
      ]),
      notes: [
        ...notes,
        'C-index: lifelines conventions (higher risk = shorter survival; tied risks count 0.5)',
        'MSE vs Nelson–Aalen: both the score and Ĥ(T) min–max scaled to [0, 1] (mewm definition)',
        `Cox baseline (Efron ties, L2 penalizer ${input.options.coxPenalizer ?? 0.01} on standardised coefficients): ${
          (input.coxTraining ?? []).length > 0 ? 'fitted on the training cases, applied to these' : `out-of-fold linear predictors of a ${input.options.coxFolds ?? 5}-fold cross-fit on these cases`
        }; Brier with IPCW at the median follow-up`,
      ],
    };
    const data: Table = {
      title: display.title,
      columns: ['score', 'n', 'events', 'c_index', 'c_index_lower', 'c_index_upper', 'log_rank_p', 'mse_vs_nelson_aalen', 'brier', 'brier_time_months'],
      rows: survivalRows.map((r) => [r.score, r.n, r.events, r.cIndex.estimate, r.cIndex.lower, r.cIndex.upper, r.logRankP, r.mseVsNelsonAalen, r.brier ?? Number.NaN, r.brierTime ?? Number.NaN]),
    };
    files.push(...tableFiles('survival', display, data));
  }

  // Simulation realism per protocol.
  const realism = input.realism ?? [];
  if (realism.length === 0) {
    skipped.push('realism table: no simulated-vs-true samples were given');
  } else {
    const byProtocol = new Map<string, RealismSample[]>();
    for (const s of realism) byProtocol.set(s.protocolKey, [...(byProtocol.get(s.protocolKey) ?? []), s]);
    const mean = (xs: (number | undefined)[]) => {
      const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
      return v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN;
    };
    const keys = [...byProtocol.keys()].sort();
    const rowsOf = (key: string) => {
      const ss = byProtocol.get(key)!;
      return { n: ss.length, composition: mean(ss.map((s) => s.compositionError)), ssim: mean(ss.map((s) => s.ssim)), psnr: mean(ss.map((s) => s.psnr)), feature: mean(ss.map((s) => s.featureDistance)) };
    };
    const display: Table = {
      title: 'Simulation realism per protocol (simulated vs true post-treatment tumour)',
      columns: ['Protocol', 'n', 'composition MAE', 'SSIM', 'PSNR (dB)', 'feature distance (own encoder)'],
      rows: keys.map((k) => {
        const r = rowsOf(k);
        return [labelOfKey(k), r.n, fixed(r.composition, 4), fixed(r.ssim, 4), fixed(r.psnr, 2), fixed(r.feature, 4)];
      }),
      notes: ['SSIM/PSNR inside the tumour region; feature distance uses our own encoder and is not the paper\'s FID'],
    };
    const data: Table = {
      title: display.title,
      columns: ['protocol', 'n', 'composition_mae', 'ssim', 'psnr_db', 'feature_distance'],
      rows: keys.map((k) => {
        const r = rowsOf(k);
        return [k, r.n, r.composition, r.ssim, r.psnr, r.feature];
      }),
    };
    files.push(...tableFiles('realism', display, data));
  }

  // Per-patient risk by protocol, for methods that report their explored candidates.
  const maxBarCases = input.options.riskBarCases ?? 6;
  let barFigures = 0;
  for (const m of input.methods) {
    const withCandidates = m.predictions.filter((p) => p.candidates && p.candidates.length > 0).slice(0, maxBarCases);
    for (const p of withCandidates) {
      const t = truth.find((c) => c.caseId === p.caseId)!;
      const ordered = [...p.candidates!].sort((a, b) => a.meanRisk - b.meanRisk);
      const figure = riskBarsFigure({
        title: `${p.caseId}: predicted risk per candidate (${m.label})`,
        bars: ordered.map((c) => {
          const tags: RiskBarTag[] = [];
          if (p.protocol && protocolKey(c.protocol) === protocolKey(p.protocol)) tags.push('chosen');
          if (protocolKey(c.protocol) === protocolKey(t.optimalProtocol)) tags.push('optimal');
          if (protocolKey(c.protocol) === protocolKey(t.physicianProtocol)) tags.push('physician');
          return { label: protocolLabel(c.protocol), mean: c.meanRisk, lower: c.lowerRisk, upper: c.upperRisk, tags };
        }),
      });
      files.push(...figureFiles(`figures/risk-${m.method}-${safeName(p.caseId)}`, figure, `risk by candidate protocol for ${p.caseId} (${m.label})`));
      barFigures++;
    }
  }
  if (barFigures === 0) skipped.push('risk-by-protocol figures: no method reported explored candidates');

  // Per-patient predictions, one row per case and method.
  {
    const rows: (string | number)[][] = [];
    for (const m of input.methods) {
      for (const t of truth) {
        const p = predictionIndex.get(m.method)!.get(t.caseId);
        const protocol = p?.protocol ?? null;
        const a = protocolAgreement(protocol ?? { drugs: [], embolics: [] }, t.optimalProtocol);
        const risk = protocol ? riskOf(t, protocol) : undefined;
        const best = riskOf(t, t.optimalProtocol);
        rows.push([
          t.caseId,
          m.method,
          protocol ? protocolKey(protocol) : '',
          protocolKey(t.optimalProtocol),
          protocolKey(t.physicianProtocol),
          a.f1,
          a.jaccard,
          a.precision,
          a.recall,
          risk ?? Number.NaN,
          risk !== undefined && best !== undefined ? risk - best : Number.NaN,
          p?.predictedRisk ?? Number.NaN,
        ]);
      }
    }
    files.push({
      path: 'predictions.csv',
      content: toCsv({
        title: 'per-patient predictions',
        columns: ['case_id', 'method', 'protocol', 'optimal_protocol', 'physician_protocol', 'f1', 'jaccard', 'precision', 'recall', 'expected_risk', 'regret', 'predicted_risk'],
        rows,
      }),
      description: 'one row per case and method: chosen protocol, agreement with the optimal protocol, true expected risk, regret, predicted risk',
    });
  }

  const summary: EvaluationSummary = {
    schema: 'mewm.evaluation/1',
    cohortId: input.cohortId,
    cases: truth.length,
    seed,
    bootstrapResamples: resamples,
    provenance: input.options.provenance ?? {},
    agreement: { optimal: agreementOptimal, physician: agreementPhysician },
    outcome,
    survival: survivalRows,
    ...(coxSummary ? { coxBaseline: coxSummary } : {}),
    skipped,
  };
  files.push({ path: 'summary.json', content: JSON.stringify(summary, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n', description: 'every number above, machine-readable' });
  files.push({ path: 'README.md', content: readme(input, files, skipped), description: 'index of this results folder' });
  return { files, summary };
}

// ---------------------------------------------------------------------------------------------
// Helpers

interface CoxOutcome {
  readonly ok: true;
  readonly score: SurvivalScore;
  readonly summary: NonNullable<EvaluationSummary['coxBaseline']>;
  readonly brier?: { readonly value: number; readonly time: number };
}

function coxFeatureNames(cases: readonly CaseTruth[], options: EvaluationOptions): string[] {
  return [
    ...(options.coxFeatures ??
      Object.keys(cases[0]!.features ?? {})
        .filter((f) => cases.every((c) => Number.isFinite(c.features?.[f])))
        .sort()),
  ];
}

/** Cox baseline fitted on separate training cases and applied to the evaluated ones. */
function trainedCox(training: readonly CaseTruth[], cases: readonly CaseTruth[], options: EvaluationOptions): CoxOutcome | { readonly ok: false; readonly reason: string } {
  const names = coxFeatureNames(training, options);
  if (names.length === 0) return { ok: false, reason: 'no simple features shared by every training case' };
  const missing = cases.find((c) => names.some((f) => !Number.isFinite(c.features?.[f])));
  if (missing) return { ok: false, reason: `case ${missing.caseId} lacks a Cox feature (${names.join(', ')})` };
  const penalizer = options.coxPenalizer ?? 0.01;
  const row = (c: CaseTruth) => names.map((f) => c.features![f]!);
  try {
    const model = fitCox(
      { times: training.map((c) => c.survival!.timeMonths), events: training.map((c) => (c.survival!.event ? 1 : 0)) },
      training.map(row),
      names,
      { penalizer },
    );
    const times = cases.map((c) => c.survival!.timeMonths);
    const events = cases.map((c) => (c.survival!.event ? 1 : 0));
    const sortedTimes = [...times].sort((a, b) => a - b);
    const brierTime = sortedTimes[Math.floor((sortedTimes.length - 1) / 2)]!;
    return {
      ok: true,
      score: { name: 'cox-baseline', label: `Cox PH on ${names.join(', ')} (fit on ${training.length} training cases)`, risk: Object.fromEntries(cases.map((c) => [c.caseId, coxLinearPredictor(model, row(c))])) },
      summary: { features: names, folds: 0, trainingCases: training.length, penalizer, coefficients: Object.fromEntries(names.map((n, k) => [n, model.coefficients[k]!])) },
      brier: { value: brierScore({ times, events }, cases.map((c) => coxSurvival(model, row(c), brierTime)), brierTime), time: brierTime },
    };
  } catch (error) {
    if (error instanceof MewmError) return { ok: false, reason: error.message };
    throw error;
  }
}

function crossFittedCox(cases: readonly CaseTruth[], options: EvaluationOptions, seed: number): CoxOutcome | { readonly ok: false; readonly reason: string } {
  const names = coxFeatureNames(cases, options);
  if (names.length === 0) return { ok: false, reason: 'no simple features shared by every case' };
  for (const f of names) {
    const missing = cases.find((c) => !Number.isFinite(c.features?.[f]));
    if (missing) return { ok: false, reason: `case ${missing.caseId} lacks feature ${f}` };
  }
  const rows = cases.map((c) => names.map((f) => c.features![f]!));
  const penalizer = options.coxPenalizer ?? 0.01;
  const folds = Math.min(options.coxFolds ?? 5, cases.length);
  const order = new Rng(deriveSeed(seed, 'cox-folds')).shuffle(cases.map((_, i) => i));
  const foldOf = new Int32Array(cases.length);
  order.forEach((caseIndex, position) => (foldOf[caseIndex] = position % folds));
  const times = cases.map((c) => c.survival!.timeMonths);
  const events = cases.map((c) => (c.survival!.event ? 1 : 0));
  const sortedTimes = [...times].sort((a, b) => a - b);
  const brierTime = sortedTimes[Math.floor((sortedTimes.length - 1) / 2)]!;
  const risk: Record<string, number> = {};
  const survivalAtT = new Float64Array(cases.length);
  try {
    for (let f = 0; f < folds; f++) {
      const train = cases.map((_, i) => i).filter((i) => foldOf[i] !== f);
      const model = fitCox({ times: train.map((i) => times[i]!), events: train.map((i) => events[i]!) }, train.map((i) => rows[i]!), names, { penalizer });
      for (let i = 0; i < cases.length; i++) {
        if (foldOf[i] !== f) continue;
        risk[cases[i]!.caseId] = coxLinearPredictor(model, rows[i]!);
        survivalAtT[i] = coxSurvival(model, rows[i]!, brierTime);
      }
    }
    const full = fitCox({ times, events }, rows, names, { penalizer });
    const brier = brierScore({ times, events }, survivalAtT, brierTime);
    return {
      ok: true,
      score: { name: 'cox-baseline', label: `Cox PH on ${names.join(', ')} (out-of-fold)`, risk },
      summary: { features: names, folds, trainingCases: 0, penalizer, coefficients: Object.fromEntries(names.map((n, k) => [n, full.coefficients[k]!])) },
      brier: { value: brier, time: brierTime },
    };
  } catch (error) {
    if (error instanceof MewmError) return { ok: false, reason: error.message };
    throw error;
  }
}

function pointInterval(estimate: number): Interval {
  return { estimate, lower: Number.NaN, upper: Number.NaN };
}

function nanInterval(): Interval {
  return { estimate: Number.NaN, lower: Number.NaN, upper: Number.NaN };
}

function metricLabel(metric: AgreementMetric): string {
  return { f1: 'F1-score', jaccard: 'Jaccard', precision: 'Precision', recall: 'Recall' }[metric];
}

function labelOfKey(key: string): string {
  const [drugs = '', embolics = ''] = key.split('|');
  const protocol = { drugs: drugs ? (drugs.split('+') as DrugId[]) : [], embolics: embolics ? (embolics.split('+') as EmbolicId[]) : [] };
  try {
    return protocolLabel(protocol);
  } catch {
    return key;
  }
}

function safeName(caseId: string): string {
  return caseId.replace(/[^A-Za-z0-9._-]/g, '_');
}

function tableFiles(name: string, display: Table, data: Table): ResultFile[] {
  const figure = tableFigure({ title: display.title, header: display.columns, rows: display.rows.map((r) => r.map(String)), notes: display.notes ?? [] });
  return [
    { path: `tables/${name}.md`, content: toMarkdown(display), description: display.title },
    { path: `tables/${name}.csv`, content: toCsv(data), description: `${display.title} (numbers, full precision)` },
    ...figureFiles(`figures/table-${name}`, figure, `${display.title} (as a figure)`),
  ];
}

function figureFiles(base: string, figure: Figure, description: string): ResultFile[] {
  return [
    { path: `${base}.svg`, content: figureToSvg(figure), description },
    { path: `${base}.png`, content: figureToPng(figure), description },
  ];
}

function readme(input: EvaluationInput, files: readonly ResultFile[], skipped: readonly string[]): string {
  const lines = [
    `# Evaluation of cohort ${input.cohortId}`,
    '',
    `Cases: ${input.truth.length}. Methods: ${input.methods.map((m) => `${m.label} (\`${m.method}\`, ${m.kind})`).join('; ')}.`,
    `Seed ${input.options.seed}${input.options.provenance?.commit ? `, commit ${input.options.provenance.commit}` : ''}.`,
    ...(input.options.provenance?.command ? ['', 'Command:', '', '```', input.options.provenance.command, '```'] : []),
    '',
    '## Tables',
    '',
  ];
  for (const f of files.filter((f) => f.path.startsWith('tables/') && f.path.endsWith('.md'))) {
    lines.push(typeof f.content === 'string' ? f.content : '');
  }
  lines.push('## Files', '');
  for (const f of files) lines.push(`- \`${f.path}\`: ${f.description}`);
  if (skipped.length > 0) {
    lines.push('', '## Not produced', '');
    for (const s of skipped) lines.push(`- ${s}`);
  }
  return lines.join('\n') + '\n';
}
