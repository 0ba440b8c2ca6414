/**
 * Two-group log-rank test (lifelines.statistics.logrank_test): at each distinct event time the
 * observed minus expected events of group A under the hypergeometric null, summed; the statistic
 * U = (O−E)²/V is χ² with 1 degree of freedom, so p = erfc(√(U/2)).
 */
import { MewmError } from '../../core/errors';
import { checkSurvival, erfc, type SurvivalData } from './survival-data';

export interface LogRankResult {
  readonly statistic: number;
  readonly pValue: number;
  readonly observedA: number;
  readonly expectedA: number;
  readonly observedB: number;
  readonly expectedB: number;
}

export function logRankTest(groupA: SurvivalData, groupB: SurvivalData): LogRankResult {
  const a = checkSurvival(groupA, 'log-rank group A');
  const b = checkSurvival(groupB, 'log-rank group B');
  const all: { t: number; e: number; g: 0 | 1 }[] = [];
  for (let i = 0; i < a.n; i++) all.push({ t: a.times[i]!, e: a.events[i]!, g: 0 });
  for (let i = 0; i < b.n; i++) all.push({ t: b.times[i]!, e: b.events[i]!, g: 1 });
  all.sort((x, y) => x.t - y.t);
  let atRiskA = a.n;
  let atRiskB = b.n;
  let observedA = 0;
  let expectedA = 0;
  let observedB = 0;
  let variance = 0;
  let i = 0;
  while (i < all.length) {
    const t = all[i]!.t;
    let dA = 0;
    let dB = 0;
    let leaveA = 0;
    let leaveB = 0;
    while (i < all.length && all[i]!.t === t) {
      const s = all[i]!;
      if (s.g === 0) {
        leaveA++;
        dA += s.e;
      } else {
        leaveB++;
        dB += s.e;
      }
      i++;
    }
    const n = atRiskA + atRiskB;
    const d = dA + dB;
    if (d > 0) {
      observedA += dA;
      observedB += dB;
      expectedA += (d * atRiskA) / n;
      if (n > 1) variance += (atRiskA * atRiskB * d * (n - d)) / (n * n * (n - 1));
    }
    atRiskA -= leaveA;
    atRiskB -= leaveB;
  }
  const totalEvents = observedA + observedB;
  if (totalEvents === 0 || variance === 0) {
    throw new MewmError('InvalidInput', 'log-rank test: no events, or no time at which both groups are at risk with an event');
  }
  const statistic = ((observedA - expectedA) * (observedA - expectedA)) / variance;
  return { statistic, pValue: erfc(Math.sqrt(statistic / 2)), observedA, expectedA, observedB, expectedB: totalEvents - expectedA };
}
