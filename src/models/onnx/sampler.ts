/**
 * Diffusion samplers from small pure parts, with diffusers' semantics (epsilon prediction):
 * a noise schedule (betas → ᾱ), timestep plans, one step function per method, and a runner that
 * takes a `predictNoise` function (not an ONNX session), so the same code drives ONNX, a test
 * double or anything else.
 *
 * - `ddpmStep`: DDPM ancestral sampling (the paper's sampler), DDPMScheduler with
 *   `variance_type = fixed_small`, "leading" timestep spacing for fewer steps than training.
 * - `ddimStep`: DDIMScheduler (`set_alpha_to_one`, "leading" spacing), `clip_sample` off by
 *   default because these are latents, `eta` for stochasticity.
 * - `dpmSolverPlusPlus2MStep`: DPMSolverMultistepScheduler (dpmsolver++, order 2, midpoint,
 *   "linspace" spacing, `final_sigmas_type = zero`: the last step is first order and returns x̂0).
 *
 * Tensors are flat Float32Arrays holding a batch (`N` samples of equal size, sample-major);
 * coefficients are computed in float64. Noise for each sample comes from its own seed
 * (`Rng(seed)`), drawn in a fixed order, so a sample does not depend on what it is batched with.
 */
import { MewmError } from '../../core/errors';
import { Rng } from '../../core/random';

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type SamplerMethod = 'ddpm' | 'ddim' | 'dpm-solver++';

export interface ScheduleConfig {
  readonly numTrainTimesteps: number;
  readonly betaSchedule: BetaSchedule;
  readonly betaStart: number;
  readonly betaEnd: number;
}

export interface NoiseSchedule {
  readonly numTrainTimesteps: number;
  readonly betas: Float64Array;
  /** ᾱ_t = Π_{s ≤ t} (1 − β_s), index t in [0, T). */
  readonly alphasCumprod: Float64Array;
}

/** β_t and ᾱ_t as diffusers computes them (`squaredcos_cap_v2`: Nichol & Dhariwal, β ≤ 0.999). */
export function makeNoiseSchedule(config: ScheduleConfig): NoiseSchedule {
  const T = config.numTrainTimesteps;
  if (!Number.isInteger(T) || T < 2) throw new MewmError('InvalidConfig', `numTrainTimesteps must be an integer ≥ 2, got ${T}`);
  const betas = new Float64Array(T);
  const linspace = (a: number, b: number, i: number) => a + ((b - a) * i) / (T - 1);
  for (let i = 0; i < T; i++) {
    switch (config.betaSchedule) {
      case 'linear':
        betas[i] = linspace(config.betaStart, config.betaEnd, i);
        break;
      case 'scaled_linear':
        betas[i] = linspace(Math.sqrt(config.betaStart), Math.sqrt(config.betaEnd), i) ** 2;
        break;
      case 'squaredcos_cap_v2': {
        const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
        betas[i] = Math.min(1 - alphaBar((i + 1) / T) / alphaBar(i / T), 0.999);
        break;
      }
    }
  }
  const alphasCumprod = new Float64Array(T);
  let product = 1;
  for (let i = 0; i < T; i++) {
    product *= 1 - betas[i]!;
    alphasCumprod[i] = product;
  }
  return { numTrainTimesteps: T, betas, alphasCumprod };
}

function checkSteps(schedule: NoiseSchedule, steps: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > schedule.numTrainTimesteps) {
    throw new MewmError('InvalidConfig', `sampler steps must be an integer in [1, ${schedule.numTrainTimesteps}], got ${steps}`);
  }
}

/** "leading" spacing (DDPM/DDIM `set_timesteps`): t_i = i·⌊T/N⌋, descending. */
export function leadingTimesteps(schedule: NoiseSchedule, steps: number): number[] {
  checkSteps(schedule, steps);
  const ratio = Math.floor(schedule.numTrainTimesteps / steps);
  return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio);
}

/** "linspace" spacing (DPM-Solver `set_timesteps`): round(linspace(0, T−1, N+1)), descending, last dropped. */
export function linspaceTimesteps(schedule: NoiseSchedule, steps: number): number[] {
  checkSteps(schedule, steps);
  const T = schedule.numTrainTimesteps;
  const points = Array.from({ length: steps + 1 }, (_, i) => roundHalfEven(((T - 1) * i) / steps));
  return points.reverse().slice(0, steps);
}

/** numpy's round (half to even), so timesteps match diffusers exactly. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function alphaBarAt(schedule: NoiseSchedule, t: number): number {
  return t >= 0 ? schedule.alphasCumprod[t]! : 1;
}

export interface StepInput {
  readonly schedule: NoiseSchedule;
  /** Current timestep and the next (smaller) one; `prevT < 0` means the end of the chain. */
  readonly t: number;
  readonly prevT: number;
  readonly sample: Float32Array;
  readonly eps: Float32Array;
  /** Standard normal noise of the sample's size; needed when the step is stochastic. */
  readonly noise?: Float32Array;
  readonly clipSample?: number;
}

function checkSizes(input: StepInput): void {
  if (input.eps.length !== input.sample.length) {
    throw new MewmError('ModelContract', `predicted noise has ${input.eps.length} values but the sample has ${input.sample.length}`);
  }
  if (input.noise && input.noise.length !== input.sample.length) {
    throw new MewmError('Internal', `noise has ${input.noise.length} values but the sample has ${input.sample.length}`);
  }
}

const clip = (v: number, limit: number | undefined) => (limit === undefined ? v : v < -limit ? -limit : v > limit ? limit : v);

/** One DDPM ancestral step x_t → x_{prev}: posterior mean plus √(β̃_t)·z (no noise at t = 0). */
export function ddpmStep(input: StepInput): Float32Array {
  checkSizes(input);
  const { schedule, t, prevT, sample, eps, noise, clipSample } = input;
  const aT = alphaBarAt(schedule, t);
  const aPrev = alphaBarAt(schedule, prevT);
  const betaProdT = 1 - aT;
  const betaProdPrev = 1 - aPrev;
  const currentAlpha = aT / aPrev;
  const currentBeta = 1 - currentAlpha;
  const coefX0 = (Math.sqrt(aPrev) * currentBeta) / betaProdT;
  const coefXt = (Math.sqrt(currentAlpha) * betaProdPrev) / betaProdT;
  const std = t > 0 ? Math.sqrt(Math.max((betaProdPrev / betaProdT) * currentBeta, 1e-20)) : 0;
  if (std > 0 && !noise) throw new MewmError('Internal', 'ddpmStep needs noise for t > 0');
  const out = new Float32Array(sample.length);
  const sqrtBeta = Math.sqrt(betaProdT);
  const sqrtA = Math.sqrt(aT);
  for (let i = 0; i < sample.length; i++) {
    const x0 = clip((sample[i]! - sqrtBeta * eps[i]!) / sqrtA, clipSample);
    out[i] = coefX0 * x0 + coefXt * sample[i]! + (std > 0 ? std * noise![i]! : 0);
  }
  return out;
}

/** One DDIM step (Song et al. Eq. 12) with diffusers' σ(η); `eta = 0` is deterministic. */
export function ddimStep(input: StepInput & { readonly eta: number }): Float32Array {
  checkSizes(input);
  const { schedule, t, prevT, sample, eps, noise, eta, clipSample } = input;
  const aT = alphaBarAt(schedule, t);
  const aPrev = alphaBarAt(schedule, prevT);
  const variance = ((1 - aPrev) / (1 - aT)) * (1 - aT / aPrev);
  const sigma = eta * Math.sqrt(variance);
  if (sigma > 0 && !noise) throw new MewmError('Internal', 'ddimStep needs noise when eta > 0');
  const dirCoef = Math.sqrt(Math.max(1 - aPrev - sigma * sigma, 0));
  const sqrtBeta = Math.sqrt(1 - aT);
  const sqrtA = Math.sqrt(aT);
  const sqrtAPrev = Math.sqrt(aPrev);
  const out = new Float32Array(sample.length);
  for (let i = 0; i < sample.length; i++) {
    let x0 = (sample[i]! - sqrtBeta * eps[i]!) / sqrtA;
    let e = eps[i]!;
    if (clipSample !== undefined) {
      x0 = clip(x0, clipSample);
      e = (sample[i]! - sqrtA * x0) / sqrtBeta;
    }
    out[i] = sqrtAPrev * x0 + dirCoef * e + (sigma > 0 ? sigma * noise![i]! : 0);
  }
  return out;
}

/** σ_t of DPM-Solver at each planned timestep, with the final σ = 0 appended. */
export function dpmSolverSigmas(schedule: NoiseSchedule, timesteps: readonly number[]): Float64Array {
  const sigmas = new Float64Array(timesteps.length + 1);
  timesteps.forEach((t, i) => {
    const a = schedule.alphasCumprod[t]!;
    sigmas[i] = Math.sqrt((1 - a) / a);
  });
  sigmas[timesteps.length] = 0;
  return sigmas;
}

export interface DpmSolverStepInput {
  /** From `dpmSolverSigmas`; step `i` goes from sigmas[i] to sigmas[i + 1]. */
  readonly sigmas: Float64Array;
  readonly stepIndex: number;
  readonly sample: Float32Array;
  readonly eps: Float32Array;
  /** x̂0 of the previous step (undefined on the first step). */
  readonly previousX0?: Float32Array;
}

const alphaOfSigma = (s: number) => 1 / Math.sqrt(s * s + 1);
const lambdaOfSigma = (s: number) => Math.log(alphaOfSigma(s)) - Math.log(s * alphaOfSigma(s));

/**
 * One DPM-Solver++(2M) step. First order on the first step and on the last (σ → 0, which
 * returns x̂0); second-order midpoint multistep in between. Returns the new sample and this
 * step's x̂0 (to pass as `previousX0` next time).
 */
export function dpmSolverPlusPlus2MStep(input: DpmSolverStepInput): { sample: Float32Array; x0: Float32Array } {
  const { sigmas, stepIndex: i, sample, eps, previousX0 } = input;
  if (eps.length !== sample.length) {
    throw new MewmError('ModelContract', `predicted noise has ${eps.length} values but the sample has ${sample.length}`);
  }
  const numSteps = sigmas.length - 1;
  const sigmaS0 = sigmas[i]!;
  const sigmaT = sigmas[i + 1]!;
  const alphaS0 = alphaOfSigma(sigmaS0);
  const sigmaS0Scaled = sigmaS0 * alphaS0;
  const x0 = new Float32Array(sample.length);
  for (let k = 0; k < sample.length; k++) x0[k] = (sample[k]! - sigmaS0Scaled * eps[k]!) / alphaS0;

  const out = new Float32Array(sample.length);
  const lastStep = i === numSteps - 1;
  if (sigmaT === 0) {
    // λ_t = +∞: the first-order update collapses to x̂0 exactly.
    out.set(x0);
    return { sample: out, x0 };
  }
  const alphaT = alphaOfSigma(sigmaT);
  const lambdaT = lambdaOfSigma(sigmaT);
  const lambdaS0 = lambdaOfSigma(sigmaS0);
  const h = lambdaT - lambdaS0;
  const ratio = (sigmaT * alphaT) / sigmaS0Scaled;
  const phi = alphaT * (Math.exp(-h) - 1);
  if (previousX0 === undefined || i === 0 || lastStep) {
    for (let k = 0; k < sample.length; k++) out[k] = ratio * sample[k]! - phi * x0[k]!;
  } else {
    const lambdaS1 = lambdaOfSigma(sigmas[i - 1]!);
    const r0 = (lambdaS0 - lambdaS1) / h;
    for (let k = 0; k < sample.length; k++) {
      const d1 = (x0[k]! - previousX0[k]!) / r0;
      out[k] = ratio * sample[k]! - phi * x0[k]! - 0.5 * phi * d1;
    }
  }
  return { sample: out, x0 };
}

export interface SampleOptions {
  /** ε̂(x_t, t) for the whole batch `[N, ...sampleShape]`, flat; returns the same size. */
  readonly predictNoise: (x: Float32Array, timestep: number) => Promise<Float32Array>;
  readonly schedule: NoiseSchedule;
  /** Values per sample (e.g. C·Z·Y·X of a latent). */
  readonly sampleSize: number;
  readonly steps: number;
  readonly method: SamplerMethod;
  /** One seed per sample: the batch size is `seeds.length`. */
  readonly seeds: readonly number[];
  /** DDIM only; 0 (deterministic after the initial noise) by default. */
  readonly eta?: number;
  /** Called after each step (progress, heartbeats). */
  readonly onStep?: (stepIndex: number, steps: number) => void;
}

function drawNormals(rngs: readonly Rng[], sampleSize: number): Float32Array {
  const out = new Float32Array(rngs.length * sampleSize);
  rngs.forEach((rng, s) => {
    for (let k = 0; k < sampleSize; k++) out[s * sampleSize + k] = rng.normal();
  });
  return out;
}

/** Runs the whole reverse chain from seeded Gaussian noise; returns x_0 for the batch, flat. */
export async function sample(options: SampleOptions): Promise<Float32Array> {
  const { predictNoise, schedule, sampleSize, steps, method, seeds } = options;
  if (seeds.length === 0) throw new MewmError('InvalidInput', 'sample needs at least one seed');
  if (!Number.isInteger(sampleSize) || sampleSize <= 0) throw new MewmError('Internal', `sampleSize must be a positive integer, got ${sampleSize}`);
  const rngs = seeds.map((seed) => new Rng(seed >>> 0));
  let x = drawNormals(rngs, sampleSize);
  const callModel = async (t: number) => {
    const eps = await predictNoise(x, t);
    if (eps.length !== x.length) throw new MewmError('ModelContract', `denoiser returned ${eps.length} values for an input of ${x.length}`);
    return eps;
  };
  if (method === 'dpm-solver++') {
    const timesteps = linspaceTimesteps(schedule, steps);
    const sigmas = dpmSolverSigmas(schedule, timesteps);
    let previousX0: Float32Array | undefined;
    for (let i = 0; i < timesteps.length; i++) {
      const eps = await callModel(timesteps[i]!);
      const next = dpmSolverPlusPlus2MStep({ sigmas, stepIndex: i, sample: x, eps, ...(previousX0 ? { previousX0 } : {}) });
      x = next.sample;
      previousX0 = next.x0;
      options.onStep?.(i, steps);
    }
    return x;
  }
  const timesteps = leadingTimesteps(schedule, steps);
  const ratio = Math.floor(schedule.numTrainTimesteps / steps);
  const eta = options.eta ?? 0;
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i]!;
    const prevT = t - ratio;
    const eps = await callModel(t);
    if (method === 'ddpm') {
      const noise = t > 0 ? drawNormals(rngs, sampleSize) : undefined;
      x = ddpmStep({ schedule, t, prevT, sample: x, eps, ...(noise ? { noise } : {}) });
    } else {
      const noise = eta > 0 ? drawNormals(rngs, sampleSize) : undefined;
      x = ddimStep({ schedule, t, prevT, sample: x, eps, eta, ...(noise ? { noise } : {}) });
    }
    options.onStep?.(i, steps);
  }
  return x;
}
