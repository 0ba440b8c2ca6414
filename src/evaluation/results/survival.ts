/** Survival: C-index, log-rank of a median split, risk MSE vs Nelson–Aalen, Kaplan–Meier figures; the Cox baseline on simple features. */
import { MewmError } from '../../core/errors';
import { Rng, deriveSeed } from '../../core/random';
import { bootstrapIntervals, type Interval } from '../bootstrap';
import { kaplanMeierFigure, formatP } from '../plots/kaplan-meier-plot';
import { concordance } from '../survival/concordance';
import { coxLinearPredictor, coxSurvival, fitCox } from '../survival/cox';
import { logRankTest } from '../survival/log-rank';
import { brierScore, riskMseVsNelsonAalen } from '../survival/risk-error';
import { fixed, withInterval, type Table } from '../tables';
import type { CaseTruth, EvaluationOptions, EvaluationSummary, SurvivalRow, SurvivalScore } from '../evaluate';
import { figureFiles, tableFiles, type EvaluationContext } from './context';

/** tables/survival and the Kaplan–Meier figures of every risk score (the Cox baseline first), or the reasons they are missing. */
export function survivalTable(ctx: EvaluationContext): { readonly rows: SurvivalRow[]; readonly cox?: EvaluationSummary['coxBaseline'] } {
  const { input, truth, seed, resamples, files, skipped, notes } = ctx;
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
              return [
                concordance(
                  sub,
                  Array.from(idx, (i) => negated[i]!),
                ).cIndex,
              ];
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
          (input.coxTraining ?? []).length > 0
            ? 'fitted on the training cases, applied to these'
            : `out-of-fold linear predictors of a ${input.options.coxFolds ?? 5}-fold cross-fit on these cases`
        }; Brier with IPCW at the median follow-up`,
      ],
    };
    const data: Table = {
      title: display.title,
      columns: ['score', 'n', 'events', 'c_index', 'c_index_lower', 'c_index_upper', 'log_rank_p', 'mse_vs_nelson_aalen', 'brier', 'brier_time_months'],
      rows: survivalRows.map((r) => [
        r.score,
        r.n,
        r.events,
        r.cIndex.estimate,
        r.cIndex.lower,
        r.cIndex.upper,
        r.logRankP,
        r.mseVsNelsonAalen,
        r.brier ?? Number.NaN,
        r.brierTime ?? Number.NaN,
      ]),
    };
    files.push(...tableFiles('survival', display, data));
  }
  return { rows: survivalRows, ...(coxSummary ? { cox: coxSummary } : {}) };
}

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
function trainedCox(
  training: readonly CaseTruth[],
  cases: readonly CaseTruth[],
  options: EvaluationOptions,
): CoxOutcome | { readonly ok: false; readonly reason: string } {
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
      score: {
        name: 'cox-baseline',
        label: `Cox PH on ${names.join(', ')} (fit on ${training.length} training cases)`,
        risk: Object.fromEntries(cases.map((c) => [c.caseId, coxLinearPredictor(model, row(c))])),
      },
      summary: {
        features: names,
        folds: 0,
        trainingCases: training.length,
        penalizer,
        coefficients: Object.fromEntries(names.map((n, k) => [n, model.coefficients[k]!])),
      },
      brier: {
        value: brierScore(
          { times, events },
          cases.map((c) => coxSurvival(model, row(c), brierTime)),
          brierTime,
        ),
        time: brierTime,
      },
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
      const model = fitCox(
        { times: train.map((i) => times[i]!), events: train.map((i) => events[i]!) },
        train.map((i) => rows[i]!),
        names,
        { penalizer },
      );
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
