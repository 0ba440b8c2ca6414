/**
 * How far predicted risks are from what happened.
 *
 * - `brierScore`: Graf et al.'s time-dependent Brier score with inverse-probability-of-censoring
 *   weights: BS(t) = (1/n) Σ [ S(t|xᵢ)²·1(Tᵢ ≤ t, δᵢ = 1)/G(Tᵢ−) + (1 − S(t|xᵢ))²·1(Tᵢ > t)/G(t) ],
 *   G the Kaplan–Meier estimate of the censoring distribution. Needs predicted survival
 *   probabilities (e.g. from the Cox model).
 * - `riskMseVsNelsonAalen`: the paper's Figure 5 comparison, in mewm's definition: the "true
 *   risk" of subject i is the Nelson–Aalen cumulative hazard at its observed time, Ĥ(Tᵢ); both
 *   that and the predicted risk are min–max scaled to [0, 1] (risk scores have no common unit),
 *   and the MSE is their mean squared difference. This is our reading of the paper, which does
 *   not state its scaling.
 */
import { MewmError } from '../../core/errors';
import { cumulativeHazardAt, nelsonAalen } from './nelson-aalen';
import { checkScores, checkSurvival, type SurvivalData } from './survival-data';

export function brierScore(data: SurvivalData, predictedSurvivalAtT: ArrayLike<number>, time: number): number {
  const s = checkSurvival(data, 'Brier score');
  const surv = checkScores(predictedSurvivalAtT, s.n, 'Brier score predicted survival');
  if (!Number.isFinite(time) || time < 0) throw new MewmError('InvalidInput', `Brier score: evaluation time ${time} is not a finite non-negative number`);
  const censoringSurvival = censoringKaplanMeier(s.times, s.events);
  let sum = 0;
  for (let i = 0; i < s.n; i++) {
    const p = surv[i]!;
    if (p < 0 || p > 1) throw new MewmError('InvalidInput', `Brier score: predicted survival ${i} is ${p}, outside [0, 1]`);
    const ti = s.times[i]!;
    if (ti <= time && s.events[i] === 1) {
      const g = censoringSurvival(ti, true);
      if (g > 0) sum += (p * p) / g;
    } else if (ti > time) {
      const g = censoringSurvival(time, false);
      if (g > 0) sum += ((1 - p) * (1 - p)) / g;
    }
  }
  return sum / s.n;
}

/** G(t) (or G(t−) with `leftLimit`) of the censoring distribution: Kaplan–Meier with censorings as events. */
function censoringKaplanMeier(times: Float64Array, events: Uint8Array): (t: number, leftLimit: boolean) => number {
  const order = Array.from({ length: times.length }, (_, i) => i).sort((a, b) => times[a]! - times[b]!);
  const stepTimes: number[] = [];
  const stepValues: number[] = [];
  let atRisk = times.length;
  let g = 1;
  let j = 0;
  while (j < order.length) {
    const t = times[order[j]!]!;
    let censored = 0;
    let leaving = 0;
    for (; j < order.length && times[order[j]!] === t; j++) {
      leaving++;
      if (events[order[j]!] === 0) censored++;
    }
    if (censored > 0) {
      g *= 1 - censored / atRisk;
      stepTimes.push(t);
      stepValues.push(g);
    }
    atRisk -= leaving;
  }
  return (t, leftLimit) => {
    let value = 1;
    for (let k = 0; k < stepTimes.length; k++) {
      const st = stepTimes[k]!;
      if (leftLimit ? st >= t : st > t) break;
      value = stepValues[k]!;
    }
    return value;
  };
}

export interface RiskMse {
  readonly mse: number;
  /** Ĥ(Tᵢ) per subject, before scaling. */
  readonly nelsonAalenRisk: Float64Array;
}

export function riskMseVsNelsonAalen(data: SurvivalData, predictedRisk: ArrayLike<number>): RiskMse {
  const s = checkSurvival(data, 'risk MSE');
  const predicted = checkScores(predictedRisk, s.n, 'risk MSE predicted risk');
  const curve = nelsonAalen(s);
  const truth = Float64Array.from(s.times, (t) => cumulativeHazardAt(curve, t));
  const a = minMaxScale(predicted);
  const b = minMaxScale(truth);
  let sum = 0;
  for (let i = 0; i < s.n; i++) sum += (a[i]! - b[i]!) ** 2;
  return { mse: sum / s.n, nelsonAalenRisk: truth };
}

/** Maps values linearly onto [0, 1]; a constant vector maps to 0.5 everywhere. */
export function minMaxScale(values: Float64Array): Float64Array {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const span = hi - lo;
  return Float64Array.from(values, (v) => (span > 0 ? (v - lo) / span : 0.5));
}
