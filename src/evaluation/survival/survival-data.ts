/**
 * Right-censored survival data: one observed time per subject (months in mewm's cohorts, but any
 * unit works) and whether the event (death) was observed at that time (false = censored).
 */
import { MewmError } from '../../core/errors';

export interface SurvivalData {
  readonly times: ArrayLike<number>;
  /** true / 1 = event observed, false / 0 = censored. */
  readonly events: ArrayLike<boolean | number>;
}

/** Validated, flat copy of survival data: `events[i]` is 1 or 0. */
export interface CheckedSurvival {
  readonly n: number;
  readonly times: Float64Array;
  readonly events: Uint8Array;
}

export function checkSurvival(data: SurvivalData, what = 'survival data'): CheckedSurvival {
  const n = data.times.length;
  if (n === 0) throw new MewmError('InvalidInput', `${what}: no subjects`);
  if (data.events.length !== n) {
    throw new MewmError('InvalidInput', `${what}: ${n} times but ${data.events.length} event flags`);
  }
  const times = new Float64Array(n);
  const events = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const t = data.times[i]!;
    if (!Number.isFinite(t) || t < 0) throw new MewmError('InvalidInput', `${what}: time ${i} is ${t}, expected a finite non-negative number`);
    times[i] = t;
    const e = data.events[i]!;
    if (e !== true && e !== false && e !== 0 && e !== 1) {
      throw new MewmError('InvalidInput', `${what}: event flag ${i} is ${String(e)}, expected true/false or 1/0`);
    }
    events[i] = e === true || e === 1 ? 1 : 0;
  }
  return { n, times, events };
}

export function checkScores(scores: ArrayLike<number>, n: number, what: string): Float64Array {
  if (scores.length !== n) throw new MewmError('InvalidInput', `${what}: ${scores.length} values for ${n} subjects`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = scores[i]!;
    if (!Number.isFinite(v)) throw new MewmError('InvalidInput', `${what}: value ${i} is ${v}, expected a finite number`);
    out[i] = v;
  }
  return out;
}

/** One row per distinct observed time, ascending: at risk just before it, events and censorings at it. */
export interface EventTableRow {
  readonly time: number;
  readonly atRisk: number;
  readonly events: number;
  readonly censored: number;
}

export function eventTable(data: CheckedSurvival): EventTableRow[] {
  const order = Array.from({ length: data.n }, (_, i) => i).sort((a, b) => data.times[a]! - data.times[b]!);
  const rows: EventTableRow[] = [];
  let atRisk = data.n;
  let i = 0;
  while (i < order.length) {
    const time = data.times[order[i]!]!;
    let events = 0;
    let censored = 0;
    while (i < order.length && data.times[order[i]!] === time) {
      if (data.events[order[i]!] === 1) events++;
      else censored++;
      i++;
    }
    rows.push({ time, atRisk, events, censored });
    atRisk -= events + censored;
  }
  return rows;
}

/** Standard normal quantile (Acklam's rational approximation refined by one Halley step; |error| < 1e-12). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new MewmError('InvalidInput', `normal quantile needs 0 < p < 1, got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  let x: number;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  } else if (p <= 1 - pLow) {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
      (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  const e = 0.5 * erfc(-x / Math.SQRT2) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** Complementary error function (W. J. Cody's rational Chebyshev approximations; relative error < 1e-15). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const ax = Math.abs(x);
  let result: number;
  if (ax < 0.5) {
    const t = x * x;
    const top = (((0.1857777061846032 * t + 3.161123743870566) * t + 113.8641541510502) * t + 377.485237685302) * t + 3209.377589138469;
    const bot = (((t + 23.60129095234412) * t + 244.0246379344442) * t + 1282.616526077372) * t + 2844.236833439171;
    return 1 - (x * top) / bot;
  } else if (ax < 4) {
    const top =
      (((((((2.15311535474403846e-8 * ax + 0.564188496988670089) * ax + 8.88314979438837594) * ax + 66.1191906371416295) * ax + 298.635138197400131) * ax +
        881.95222124176909) *
        ax +
        1712.04761263407058) *
        ax +
        2051.07837782607147) *
        ax +
      1230.33935479799725;
    const bot =
      (((((((ax + 15.7449261107098347) * ax + 117.693950891312499) * ax + 537.181101862009858) * ax + 1621.38957456669019) * ax + 3290.79923573345963) * ax +
        4362.61909014324716) *
        ax +
        3439.36767414372164) *
        ax +
      1230.33935480374942;
    result = (Math.exp(-ax * ax) * top) / bot;
  } else {
    const z = 1 / (ax * ax);
    const top =
      ((((0.0163153871373020978 * z + 0.305326634961232344) * z + 0.360344899949804439) * z + 0.125781726111229246) * z + 0.0160837851487422766) * z +
      0.000658749161529837803;
    const bot = ((((z + 2.56852019228982242) * z + 1.87295284992346725) * z + 0.527905102951428412) * z + 0.0605183413124413191) * z + 0.00233520497626869185;
    result = (Math.exp(-ax * ax) / ax) * (1 / Math.sqrt(Math.PI) - (z * top) / bot);
  }
  return x < 0 ? 2 - result : result;
}
