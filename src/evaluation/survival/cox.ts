/**
 * Cox proportional-hazards regression for a few covariates: Newton–Raphson with step halving on
 * the Efron (default, as lifelines' CoxPHFitter) or Breslow partial likelihood. Covariates are
 * centred and scaled internally for conditioning; coefficients come back on the original scale.
 * The baseline cumulative hazard is Breslow's estimator at the centred covariates, so
 * S(t | x) = exp(−H₀(t) · exp((x − mean)·β)) as lifelines predicts. Standard errors come from
 * the (penalised) information matrix.
 */
import { MewmError } from '../../core/errors';
import { checkSurvival, type CheckedSurvival, type SurvivalData } from './survival-data';

export interface CoxOptions {
  readonly ties?: 'efron' | 'breslow';
  readonly maxIterations?: number;
  /** Stop when the largest Newton step (on the standardised scale) is below this. */
  readonly tolerance?: number;
  /**
   * L2 penalty λ on the standardised coefficients: maximises ℓ(β) − ½·n·λ·Σβₛ² (n subjects), as
   * lifelines' CoxPHFitter(penalizer=λ) does (covariates scaled by their sample standard deviation).
   * 0 by default; a small λ keeps small cohorts with separation fittable.
   */
  readonly penalizer?: number;
}

export interface CoxModel {
  readonly covariates: readonly string[];
  readonly coefficients: Float64Array;
  readonly standardErrors: Float64Array;
  readonly means: Float64Array;
  readonly logPartialLikelihood: number;
  readonly iterations: number;
  readonly ties: 'efron' | 'breslow';
  /** Breslow baseline cumulative hazard at the centred covariates, at each distinct event time. */
  readonly baselineTimes: Float64Array;
  readonly baselineCumulativeHazard: Float64Array;
}

/**
 * Fits the model. `covariates[i]` is the feature row of subject i (length p = names.length).
 */
export function fitCox(data: SurvivalData, covariates: readonly (readonly number[])[], names: readonly string[], options: CoxOptions = {}): CoxModel {
  const s = checkSurvival(data, 'Cox model');
  const p = names.length;
  const ties = options.ties ?? 'efron';
  const penalizer = options.penalizer ?? 0;
  if (!(penalizer >= 0) || !Number.isFinite(penalizer))
    throw new MewmError('InvalidInput', `Cox model: penalizer must be a finite number ≥ 0, got ${penalizer}`);
  if (s.n < 2) throw new MewmError('InvalidInput', 'Cox model: needs at least two subjects');
  if (p === 0) throw new MewmError('InvalidInput', 'Cox model: no covariates');
  if (covariates.length !== s.n) throw new MewmError('InvalidInput', `Cox model: ${covariates.length} covariate rows for ${s.n} subjects`);
  const means = new Float64Array(p);
  const scales = new Float64Array(p);
  const x = new Float64Array(s.n * p);
  covariates.forEach((row, i) => {
    if (row.length !== p) throw new MewmError('InvalidInput', `Cox model: covariate row ${i} has ${row.length} values, expected ${p}`);
    for (let k = 0; k < p; k++) {
      const v = row[k]!;
      if (!Number.isFinite(v)) throw new MewmError('InvalidInput', `Cox model: covariate ${names[k]} of subject ${i} is ${v}`);
      x[i * p + k] = v;
      means[k]! += v / s.n;
    }
  });
  for (let k = 0; k < p; k++) {
    let ss = 0;
    for (let i = 0; i < s.n; i++) ss += (x[i * p + k]! - means[k]!) ** 2;
    const sd = Math.sqrt(ss / (s.n - 1));
    if (!(sd > 0)) throw new MewmError('InvalidInput', `Cox model: covariate ${names[k]} is constant`);
    scales[k] = sd;
    for (let i = 0; i < s.n; i++) x[i * p + k] = (x[i * p + k]! - means[k]!) / sd;
  }
  if (s.events.every((e) => e === 0)) throw new MewmError('InvalidInput', 'Cox model: no events');

  const order = Array.from({ length: s.n }, (_, i) => i).sort((a, b) => s.times[b]! - s.times[a]!);
  const beta = new Float64Array(p);
  const objective = (b: Float64Array) => penalise(partialLikelihood(s, x, p, order, b, ties), b, penalizer * s.n);
  let current = objective(beta);
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-10;
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const information = current.negHessian;
    const step = solveSymmetric(information, current.gradient, p);
    if (step === undefined) throw new MewmError('InvalidInput', 'Cox model: information matrix is singular (collinear covariates or separation)');
    let scale = 1;
    let next = current;
    let candidate = new Float64Array(p);
    for (let halving = 0; halving < 30; halving++) {
      for (let k = 0; k < p; k++) candidate[k] = beta[k]! + scale * step[k]!;
      next = objective(candidate);
      if (Number.isFinite(next.logLikelihood) && next.logLikelihood >= current.logLikelihood - 1e-12) break;
      scale /= 2;
    }
    let largest = 0;
    for (let k = 0; k < p; k++) largest = Math.max(largest, Math.abs(candidate[k]! - beta[k]!));
    beta.set(candidate);
    current = next;
    candidate = new Float64Array(p);
    if (largest < tolerance) {
      iterations++;
      break;
    }
  }
  if (iterations >= maxIterations) {
    throw new MewmError('InvalidInput', `Cox model: Newton–Raphson did not converge in ${maxIterations} iterations (possible separation)`);
  }
  const covariance = invertSymmetric(current.negHessian, p);
  if (covariance === undefined) throw new MewmError('InvalidInput', 'Cox model: information matrix is singular at the optimum');
  const coefficients = new Float64Array(p);
  const standardErrors = new Float64Array(p);
  for (let k = 0; k < p; k++) {
    coefficients[k] = beta[k]! / scales[k]!;
    standardErrors[k] = Math.sqrt(covariance[k * p + k]!) / scales[k]!;
  }
  const baseline = breslowBaseline(s, x, p, beta);
  return {
    covariates: [...names],
    coefficients,
    standardErrors,
    means,
    logPartialLikelihood: current.logLikelihood,
    iterations,
    ties,
    baselineTimes: baseline.times,
    baselineCumulativeHazard: baseline.hazard,
  };
}

/** (x − mean)·β for one covariate row: the log partial hazard lifelines predicts. */
export function coxLinearPredictor(model: CoxModel, row: readonly number[]): number {
  if (row.length !== model.covariates.length)
    throw new MewmError('InvalidInput', `Cox predictor: ${row.length} covariates, expected ${model.covariates.length}`);
  let eta = 0;
  for (let k = 0; k < row.length; k++) eta += (row[k]! - model.means[k]!) * model.coefficients[k]!;
  return eta;
}

/** S(t | x) = exp(−H₀(t)·exp(η)). */
export function coxSurvival(model: CoxModel, row: readonly number[], time: number): number {
  let h0 = 0;
  for (let i = 0; i < model.baselineTimes.length; i++) {
    if (model.baselineTimes[i]! > time) break;
    h0 = model.baselineCumulativeHazard[i]!;
  }
  return Math.exp(-h0 * Math.exp(coxLinearPredictor(model, row)));
}

interface LikelihoodState {
  readonly logLikelihood: number;
  readonly gradient: Float64Array;
  /** −∂²ℓ/∂β², row-major p×p. */
  readonly negHessian: Float64Array;
}

/** Subtracts ½·strength·Σβ² from ℓ (and its derivatives). */
function penalise(state: LikelihoodState, beta: Float64Array, strength: number): LikelihoodState {
  if (strength === 0) return state;
  const p = beta.length;
  const gradient = Float64Array.from(state.gradient, (g, k) => g - strength * beta[k]!);
  const negHessian = Float64Array.from(state.negHessian);
  let squares = 0;
  for (let k = 0; k < p; k++) {
    negHessian[k * p + k]! += strength;
    squares += beta[k]! * beta[k]!;
  }
  return { logLikelihood: state.logLikelihood - 0.5 * strength * squares, gradient, negHessian };
}

function partialLikelihood(
  s: CheckedSurvival,
  x: Float64Array,
  p: number,
  descending: readonly number[],
  beta: Float64Array,
  ties: 'efron' | 'breslow',
): LikelihoodState {
  const gradient = new Float64Array(p);
  const negHessian = new Float64Array(p * p);
  // Risk-set sums, accumulated from the longest time down.
  let r0 = 0;
  const r1 = new Float64Array(p);
  const r2 = new Float64Array(p * p);
  let ll = 0;
  const n = descending.length;
  let i = 0;
  while (i < n) {
    const t = s.times[descending[i]!]!;
    // Subjects exiting at t enter the risk set; those with events form the tied death set D.
    let d = 0;
    let t0 = 0;
    const t1 = new Float64Array(p);
    const t2 = new Float64Array(p * p);
    const eventRows: number[] = [];
    for (; i < n && s.times[descending[i]!] === t; i++) {
      const subject = descending[i]!;
      let eta = 0;
      for (let k = 0; k < p; k++) eta += x[subject * p + k]! * beta[k]!;
      const w = Math.exp(eta);
      r0 += w;
      for (let k = 0; k < p; k++) {
        const xk = x[subject * p + k]!;
        r1[k]! += w * xk;
        for (let l = 0; l < p; l++) r2[k * p + l]! += w * xk * x[subject * p + l]!;
      }
      if (s.events[subject] === 1) {
        d++;
        eventRows.push(subject);
        ll += eta;
        t0 += w;
        for (let k = 0; k < p; k++) {
          const xk = x[subject * p + k]!;
          gradient[k]! += xk;
          t1[k]! += w * xk;
          for (let l = 0; l < p; l++) t2[k * p + l]! += w * xk * x[subject * p + l]!;
        }
      }
    }
    for (let m = 0; m < d; m++) {
      const f = ties === 'efron' ? m / d : 0;
      const phi = r0 - f * t0;
      ll -= Math.log(phi);
      for (let k = 0; k < p; k++) {
        const ak = (r1[k]! - f * t1[k]!) / phi;
        gradient[k]! -= ak;
        for (let l = 0; l < p; l++) {
          const al = (r1[l]! - f * t1[l]!) / phi;
          negHessian[k * p + l]! += (r2[k * p + l]! - f * t2[k * p + l]!) / phi - ak * al;
        }
      }
    }
  }
  return { logLikelihood: ll, gradient, negHessian };
}

function breslowBaseline(s: CheckedSurvival, x: Float64Array, p: number, beta: Float64Array): { times: Float64Array; hazard: Float64Array } {
  const order = Array.from({ length: s.n }, (_, i) => i).sort((a, b) => s.times[a]! - s.times[b]!);
  const weight = new Float64Array(s.n);
  let atRisk = 0;
  for (let i = 0; i < s.n; i++) {
    let eta = 0;
    for (let k = 0; k < p; k++) eta += x[i * p + k]! * beta[k]!;
    weight[i] = Math.exp(eta);
    atRisk += weight[i]!;
  }
  const times: number[] = [];
  const hazard: number[] = [];
  let h = 0;
  let j = 0;
  while (j < s.n) {
    const t = s.times[order[j]!]!;
    let deaths = 0;
    let leaving = 0;
    for (; j < s.n && s.times[order[j]!] === t; j++) {
      deaths += s.events[order[j]!]!;
      leaving += weight[order[j]!]!;
    }
    if (deaths > 0) {
      h += deaths / atRisk;
      times.push(t);
      hazard.push(h);
    }
    atRisk -= leaving;
  }
  return { times: Float64Array.from(times), hazard: Float64Array.from(hazard) };
}

/** Solves A·x = b for symmetric positive-definite A (Cholesky); undefined when A is not. */
function solveSymmetric(a: Float64Array, b: Float64Array, p: number): Float64Array | undefined {
  const l = cholesky(a, p);
  if (l === undefined) return undefined;
  const y = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= l[i * p + k]! * y[k]!;
    y[i] = sum / l[i * p + i]!;
  }
  const out = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let k = i + 1; k < p; k++) sum -= l[k * p + i]! * out[k]!;
    out[i] = sum / l[i * p + i]!;
  }
  return out;
}

function invertSymmetric(a: Float64Array, p: number): Float64Array | undefined {
  const inverse = new Float64Array(p * p);
  for (let c = 0; c < p; c++) {
    const e = new Float64Array(p);
    e[c] = 1;
    const column = solveSymmetric(a, e, p);
    if (column === undefined) return undefined;
    for (let r = 0; r < p; r++) inverse[r * p + c] = column[r]!;
  }
  return inverse;
}

function cholesky(a: Float64Array, p: number): Float64Array | undefined {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * p + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * p + k]! * l[j * p + k]!;
      if (i === j) {
        if (!(sum > 1e-14)) return undefined;
        l[i * p + i] = Math.sqrt(sum);
      } else {
        l[i * p + j] = sum / l[j * p + j]!;
      }
    }
  }
  return l;
}
