/**
 * Kaplan–Meier survival estimate with Greenwood variance and lifelines' default confidence band
 * (the exponential Greenwood / log(−log) transform, KaplanMeierFitter.confidence_interval_).
 */
import { MewmError } from '../../core/errors';
import { checkSurvival, eventTable, normalQuantile, type EventTableRow, type SurvivalData } from './survival-data';

export interface KaplanMeierPoint extends EventTableRow {
  /** S(t) just after `time`. */
  readonly survival: number;
  /** Σ d/(n(n−d)) up to `time` (Greenwood's sum; Var S = S²·sum). */
  readonly greenwoodSum: number;
  readonly lower: number;
  readonly upper: number;
}

export interface KaplanMeierCurve {
  /** Distinct observed times ascending (events and censorings), preceded by t = 0 when no one exits at 0. */
  readonly points: readonly KaplanMeierPoint[];
  readonly level: number;
  /** Median survival time: the first time S(t) ≤ 0.5, or Infinity when S never gets there. */
  readonly median: number;
}

export function kaplanMeier(data: SurvivalData, level = 0.95): KaplanMeierCurve {
  if (!(level > 0 && level < 1)) throw new MewmError('InvalidInput', `Kaplan–Meier level must lie in (0, 1), got ${level}`);
  const table = eventTable(checkSurvival(data, 'Kaplan–Meier'));
  const z = normalQuantile(1 - (1 - level) / 2);
  const points: KaplanMeierPoint[] = [];
  if (table[0]!.time > 0) points.push({ time: 0, atRisk: table[0]!.atRisk, events: 0, censored: 0, survival: 1, greenwoodSum: 0, lower: 1, upper: 1 });
  let survival = 1;
  let greenwood = 0;
  for (const row of table) {
    if (row.events > 0) {
      survival *= 1 - row.events / row.atRisk;
      // lifelines sets the term to 0 when everyone at risk dies (n = d), rather than infinity.
      if (row.atRisk > row.events) greenwood += row.events / (row.atRisk * (row.atRisk - row.events));
    }
    const [lower, upper] = logLogBand(survival, greenwood, z);
    points.push({ ...row, survival, greenwoodSum: greenwood, lower, upper });
  }
  const medianPoint = points.find((p) => p.survival <= 0.5);
  return { points, level, median: medianPoint ? medianPoint.time : Number.POSITIVE_INFINITY };
}

/** exp(−exp(log(−log S) ∓ z·√V / log S)); the band is [1, 1] where S = 1 and [0, 0] where S = 0 (as lifelines). */
function logLogBand(survival: number, greenwoodSum: number, z: number): [number, number] {
  if (survival >= 1) return [1, 1];
  if (survival <= 0) return [0, 0];
  const v = Math.log(survival);
  const spread = (z * Math.sqrt(greenwoodSum)) / v;
  return [Math.exp(-Math.exp(Math.log(-v) - spread)), Math.exp(-Math.exp(Math.log(-v) + spread))];
}

/** S(t) of a fitted curve (right-continuous step function). */
export function survivalAt(curve: KaplanMeierCurve, time: number): number {
  let s = 1;
  for (const p of curve.points) {
    if (p.time > time) break;
    s = p.survival;
  }
  return s;
}
