/**
 * Nelson–Aalen cumulative hazard. By default the tie-corrected ("smoothed") increment that
 * lifelines' NelsonAalenFitter uses: d tied events among n at risk add Σ_{k=0}^{d−1} 1/(n−k)
 * (variance Σ 1/(n−k)²); `ties: 'discrete'` gives the textbook d/n (variance (n−d)d/n³).
 * The band is lifelines' log transform: H·exp(±z·√V / H).
 */
import { MewmError } from '../../core/errors';
import { checkSurvival, eventTable, normalQuantile, type EventTableRow, type SurvivalData } from './survival-data';

export interface NelsonAalenPoint extends EventTableRow {
  readonly cumulativeHazard: number;
  readonly variance: number;
  readonly lower: number;
  readonly upper: number;
}

export interface NelsonAalenCurve {
  readonly points: readonly NelsonAalenPoint[];
  readonly level: number;
}

export interface NelsonAalenOptions {
  readonly ties?: 'corrected' | 'discrete';
  readonly level?: number;
}

export function nelsonAalen(data: SurvivalData, options: NelsonAalenOptions = {}): NelsonAalenCurve {
  const level = options.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new MewmError('InvalidInput', `Nelson–Aalen level must lie in (0, 1), got ${level}`);
  const corrected = (options.ties ?? 'corrected') === 'corrected';
  const table = eventTable(checkSurvival(data, 'Nelson–Aalen'));
  const z = normalQuantile(1 - (1 - level) / 2);
  const points: NelsonAalenPoint[] = [];
  if (table[0]!.time > 0) points.push({ time: 0, atRisk: table[0]!.atRisk, events: 0, censored: 0, cumulativeHazard: 0, variance: 0, lower: 0, upper: 0 });
  let hazard = 0;
  let variance = 0;
  for (const row of table) {
    const n = row.atRisk;
    const d = row.events;
    if (corrected) {
      for (let k = 0; k < d; k++) {
        hazard += 1 / (n - k);
        variance += 1 / ((n - k) * (n - k));
      }
    } else if (d > 0) {
      hazard += d / n;
      variance += ((n - d) * d) / (n * n * n);
    }
    const factor = hazard === 0 ? 1 : Math.exp((z * Math.sqrt(variance)) / hazard);
    points.push({ ...row, cumulativeHazard: hazard, variance, lower: hazard / factor, upper: hazard * factor });
  }
  return { points, level };
}

/** H(t) of a fitted curve (right-continuous step function). */
export function cumulativeHazardAt(curve: NelsonAalenCurve, time: number): number {
  let h = 0;
  for (const p of curve.points) {
    if (p.time > time) break;
    h = p.cumulativeHazard;
  }
  return h;
}
