/**
 * The posterior over a patient's hidden biology given what the pre-treatment CT shows, and the
 * posterior expected risk of a protocol: the best any image-based planner can know.
 *
 * What is visible (the header of ./phenotype.ts): the anatomy (liver size included), the lesions'
 * count, geometry, arterial enhancement and capsule, and the tumour's texture heterogeneity.
 * Hidden: vascularity (seen only through the noisy enhancement), liver reserve (seen only through
 * the noisy liver size), the main lesion's latent radius (seen through lesion 0's radii), the drug
 * sensitivities, per-agent idiosyncrasies, Lipiodol uptake, arteriovenous shunt, frailty and
 * resorption. `visiblePhenotype` keeps the visible part; nothing here reads the rest.
 *
 * Sampler (`generatorPosterior`): the generator's own prior, conditioned by rejection. The three
 * hidden variables with visible children are drawn from their priors in `samplePhenotype` and
 * kept with probability L(draw) / max L, where L is the likelihood of the patient's visible values
 * under the generator's noise model — an exact posterior sampler, with no weights:
 *   liver reserve r ~ U(0.35, 1);       liver scale s = 0.86 + 0.16·r + N(0, 0.03)
 *                                        (s = right-lobe x radius / 62 mm, exact in the anatomy)
 *   vascularity v ~ U(0.1, 1);           enhancement_i = clamp(30 + 70·v + N(0, 8), 22, 115) per
 *                                        lesion (a clamped value contributes its tail probability)
 *   main radius R = clamp(exp(N(ln 20, 0.4)), 8, 45); lesion 0 radii = R·(U(.85,1.15),
 *                                        U(.85,1.15), U(.8,1.1)), so L(R) ∝ R⁻³ on a feasible interval
 * These three are independent a priori and given the visible values, so each has its own loop.
 * Everything else is drawn from its conditional prior given them and the visible features, with
 * the generator's formulas (sensitivities from v, heterogeneity, ln R, lesion count; Lipiodol
 * uptake from v and the capsule; shunt from v; idiosyncrasies, frailty, resorption independent).
 * Not used: the secondary lesions' sizes, which carry a little more information on R (their
 * radius is log-normal around 0.45·R); the posterior is therefore very slightly wider than exact.
 *
 * Estimator (`posteriorExpectedRisk`): K posterior draws φ₁…φ_K (same draws for every protocol of
 * a patient: common random numbers), each scored by the world's own `expectedRisk` (which
 * averages the response noise over its fixed draws):
 *   R̂(p) = (1/K) Σ_k expectedRisk(φ_k, p),   MC standard error sd_k(expectedRisk(φ_k, p)) / √K.
 * Differences between protocols have a much smaller error (`pairedDifference`) because the
 * patient-level terms (liver reserve, frailty) cancel.
 *
 * The constants below duplicate `samplePhenotype`'s; test/world/posterior.test.ts checks that the
 * sampler is calibrated against the generator (probability integral transforms of the true hidden
 * values, unbiased risk over generated patients), so a change to the world fails it.
 */
import { MewmError } from '../core/errors';
import { Rng, deriveSeed } from '../core/random';
import { DRUGS, EMBOLICS, protocolKey, type DrugClass, type DrugId, type EmbolicId, type Protocol } from '../core/vocabulary';
import type { Anatomy, Lesion, Phenotype, TumourBiology } from './phenotype';
import { expectedRisk } from './survival';

/** What the pre-treatment CT shows of a patient. */
export interface VisiblePhenotype {
  readonly caseId: string;
  readonly anatomy: Anatomy;
  readonly lesions: readonly Lesion[];
  /** Texture amplitude of the tumour, 0..1 (visible as texture). */
  readonly heterogeneity: number;
}

export function visiblePhenotype(phenotype: Phenotype): VisiblePhenotype {
  return { caseId: phenotype.caseId, anatomy: phenotype.anatomy, lesions: phenotype.lesions, heterogeneity: phenotype.biology.heterogeneity };
}

/** Draws hidden biology given the visible phenotype. */
export interface HiddenBiologySampler {
  readonly name: string;
  /** One draw; `proposals` counts the prior draws the rejection loops used (1 per variable when exact). */
  sample(visible: VisiblePhenotype, rng: Rng): { readonly biology: TumourBiology; readonly proposals: number };
}

// ---------------------------------------------------------------------------------------------
// The generator's noise model (src/world/phenotype.ts, samplePhenotype)

const RESERVE = { lo: 0.35, hi: 1 } as const;
const LIVER_SCALE = { base: 0.86, perReserve: 0.16, sd: 0.03, rightLobeXmm: 62 } as const;
const VASCULARITY = { lo: 0.1, hi: 1 } as const;
const ENHANCEMENT = { base: 30, perVascularity: 70, sd: 8, min: 22, max: 115 } as const;
const MAIN_RADIUS = { logMedian: Math.log(20), logSd: 0.4, min: 8, max: 45 } as const;
/** Lesion 0 radii = R × a factor drawn uniformly in these ranges (x, y, z). */
const RADIUS_FACTORS: readonly (readonly [number, number])[] = [
  [0.85, 1.15],
  [0.85, 1.15],
  [0.8, 1.1],
];
/** A rejection loop that needs more prior draws than this has a bug or an impossible observation. */
const MAX_PROPOSALS = 1_000_000;

const logistic = (x: number) => 1 / (1 + Math.exp(-x));
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 for erfc; absolute error < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** The liver scale the generator drew, read off the right lobe (its x radius is exactly 62 mm × scale). */
export function observedLiverScale(visible: VisiblePhenotype): number {
  return visible.anatomy.liverLobes[0].radii[0] / LIVER_SCALE.rightLobeXmm;
}

/** Likelihood of the liver scale given reserve r, relative to a standard normal density's peak. */
function reserveLikelihood(scale: number, r: number): number {
  const z = (scale - LIVER_SCALE.base - LIVER_SCALE.perReserve * r) / LIVER_SCALE.sd;
  return Math.exp(-0.5 * z * z);
}

/** Likelihood of the lesions' enhancements given vascularity v (clamped values: tail probabilities). */
export function vascularityLikelihood(enhancements: readonly number[], v: number): number {
  const mean = ENHANCEMENT.base + ENHANCEMENT.perVascularity * v;
  let l = 1;
  for (const e of enhancements) {
    if (e <= ENHANCEMENT.min) l *= normalCdf((ENHANCEMENT.min - mean) / ENHANCEMENT.sd);
    else if (e >= ENHANCEMENT.max) l *= 1 - normalCdf((ENHANCEMENT.max - mean) / ENHANCEMENT.sd);
    else {
      const z = (e - mean) / ENHANCEMENT.sd;
      l *= Math.exp(-0.5 * z * z);
    }
  }
  return l;
}

/** Feasible interval of the main radius R given lesion 0's radii (each radius = R × a factor in its range). */
export function mainRadiusInterval(visible: VisiblePhenotype): [number, number] {
  const radii = visible.lesions[0]!.radii;
  let lo = 0;
  let hi = Infinity;
  RADIUS_FACTORS.forEach(([fLo, fHi], axis) => {
    lo = Math.max(lo, radii[axis]! / fHi);
    hi = Math.min(hi, radii[axis]! / fLo);
  });
  return [lo, hi];
}

function impossible(name: string, caseId: string): never {
  throw new MewmError('InvalidInput', `posterior of ${name} for case ${caseId}: the visible values are impossible under the generator's prior`, { caseId });
}

function reject(name: string, caseId: string, draw: (rng: Rng) => number, accept: (x: number) => number, rng: Rng): { value: number; proposals: number } {
  for (let n = 1; n <= MAX_PROPOSALS; n++) {
    const x = draw(rng);
    if (rng.uniform() < accept(x)) return { value: x, proposals: n };
  }
  throw new MewmError(
    'Internal',
    `posterior of ${name} for case ${caseId}: no draw accepted in ${MAX_PROPOSALS} proposals (the visible values are impossible under the generator's prior)`,
    { caseId },
  );
}

/** Sup of a log-concave likelihood on [lo, hi], from a fine grid with a 1 % margin (a rejection bound must not be below the sup). */
function likelihoodBound(f: (x: number) => number, lo: number, hi: number): number {
  let best = 0;
  const steps = 2000;
  for (let i = 0; i <= steps; i++) best = Math.max(best, f(lo + ((hi - lo) * i) / steps));
  return best * 1.01;
}

/**
 * The generator's prior conditioned on the visible phenotype by rejection: exact posterior draws
 * of the hidden biology (see the header).
 */
export const generatorPosterior: HiddenBiologySampler = {
  name: 'generator-prior-by-rejection',
  sample(visible, rng) {
    const caseId = visible.caseId;
    if (visible.lesions.length === 0) throw new MewmError('InvalidInput', `case ${caseId} has no lesion`, { caseId });
    const scale = observedLiverScale(visible);
    const bestReserve = clamp((scale - LIVER_SCALE.base) / LIVER_SCALE.perReserve, RESERVE.lo, RESERVE.hi);
    const reserveBound = reserveLikelihood(scale, bestReserve);
    if (!(reserveBound > 0)) impossible('liver reserve', caseId);
    const reserve = reject(
      'liver reserve',
      caseId,
      (g) => g.range(RESERVE.lo, RESERVE.hi),
      (r) => reserveLikelihood(scale, r) / reserveBound,
      rng,
    );

    const enhancements = visible.lesions.map((l) => l.enhancementHu);
    const vascularityBound = likelihoodBound((v) => vascularityLikelihood(enhancements, v), VASCULARITY.lo, VASCULARITY.hi);
    if (!(vascularityBound > 0)) impossible('vascularity', caseId);
    const vascularity = reject(
      'vascularity',
      caseId,
      (g) => g.range(VASCULARITY.lo, VASCULARITY.hi),
      (v) => vascularityLikelihood(enhancements, v) / vascularityBound,
      rng,
    );

    const [rLo, rHi] = mainRadiusInterval(visible);
    if (!(rLo <= rHi)) impossible('main lesion radius', caseId);
    const radius = reject(
      'main lesion radius',
      caseId,
      (g) => clamp(Math.exp(g.normal(MAIN_RADIUS.logMedian, MAIN_RADIUS.logSd)), MAIN_RADIUS.min, MAIN_RADIUS.max),
      (R) => (R >= rLo - 1e-9 && R <= rHi + 1e-9 ? Math.pow(Math.min(1, rLo / R), 3) : 0),
      rng,
    );

    const v = vascularity.value;
    const lesionCount = visible.lesions.length;
    const hasCapsule = visible.lesions[0]!.capsuleMm > 0;
    const logSize = (Math.log(radius.value) - MAIN_RADIUS.logMedian) / MAIN_RADIUS.logSd;
    const sensitivity: Record<DrugClass, number> = {
      platinum: logistic(0.1 + 1.6 * (v - 0.55) + rng.normal(0, 0.9)),
      anthracycline: logistic(0.1 + 1.6 * (visible.heterogeneity - 0.5) + rng.normal(0, 0.9)),
      antimetabolite: logistic(-0.2 - 0.7 * logSize + rng.normal(0, 0.9)),
      'antitumour-antibiotic': logistic(-0.2 + 0.6 * (lesionCount - 1.5) + rng.normal(0, 0.9)),
      'topoisomerase-inhibitor': logistic(-0.5 + rng.normal(0, 1.1)),
    };
    const drugIdiosyncrasy = Object.fromEntries(DRUGS.map((d) => [d, Math.exp(rng.normal(0, 0.3))])) as Record<DrugId, number>;
    const embolicIdiosyncrasy = Object.fromEntries(EMBOLICS.map((e) => [e, Math.exp(rng.normal(0, 0.3))])) as Record<EmbolicId, number>;
    const biology: TumourBiology = {
      vascularity: v,
      heterogeneity: visible.heterogeneity,
      sensitivity,
      drugIdiosyncrasy,
      embolicIdiosyncrasy,
      lipiodolUptake: logistic(2.4 * (v - 0.5) + (hasCapsule ? 0.6 : -0.2) + rng.normal(0, 0.6)),
      arteriovenousShunt: rng.bernoulli(0.06 + 0.22 * v),
      liverReserve: reserve.value,
      frailty: rng.normal(0, 0.35),
      resorption: rng.range(0.35, 0.65),
    };
    return { biology, proposals: reserve.proposals + vascularity.proposals + radius.proposals };
  },
};

/** A degenerate prior: the hidden biology is known (every draw is `biology`). The posterior oracle then is the full oracle. */
export function knownBiology(biology: TumourBiology): HiddenBiologySampler {
  return { name: 'known-biology', sample: () => ({ biology, proposals: 1 }) };
}

// ---------------------------------------------------------------------------------------------
// Posterior draws and the estimator

export interface PosteriorSample {
  readonly caseId: string;
  readonly sampler: string;
  /** The K posterior phenotypes: the visible part of the patient with one draw of hidden biology each. */
  readonly draws: readonly Phenotype[];
  /** Prior proposals per accepted draw (all rejection loops together; 3 = nothing rejected). */
  readonly proposalsPerDraw: number;
}

export interface PosteriorOptions {
  /** K, the number of posterior draws (default 512). */
  readonly draws?: number;
  /** Seed of the draws; each patient gets deriveSeed(seed, 'posterior', caseId). */
  readonly seed?: number;
  readonly sampler?: HiddenBiologySampler;
}

export const DEFAULT_POSTERIOR_DRAWS = 512;
export const DEFAULT_POSTERIOR_SEED = 0x706f7374; // "post"

/** K draws of the patient's hidden biology given its visible phenotype. Deterministic in (visible, options). */
export function samplePosterior(visible: VisiblePhenotype, options: PosteriorOptions = {}): PosteriorSample {
  const k = options.draws ?? DEFAULT_POSTERIOR_DRAWS;
  if (!Number.isInteger(k) || k < 1) throw new MewmError('InvalidInput', `posterior draws must be a positive integer, got ${k}`);
  const sampler = options.sampler ?? generatorPosterior;
  const rng = new Rng(deriveSeed(options.seed ?? DEFAULT_POSTERIOR_SEED, 'posterior', visible.caseId));
  const draws: Phenotype[] = [];
  let proposals = 0;
  for (let i = 0; i < k; i++) {
    const { biology, proposals: n } = sampler.sample(visible, rng);
    proposals += n;
    draws.push({ caseId: visible.caseId, seed: 0, anatomy: visible.anatomy, lesions: visible.lesions, biology });
  }
  return { caseId: visible.caseId, sampler: sampler.name, draws, proposalsPerDraw: proposals / k };
}

export interface PosteriorRisk {
  /** Posterior expected risk R̂(p). */
  readonly mean: number;
  /** Monte-Carlo standard error of `mean` (sd over draws / √K; 0 for a degenerate prior). */
  readonly standardError: number;
}

/** expectedRisk(φ_k, protocol) for every draw k. */
export function drawRisks(sample: PosteriorSample, protocol: Protocol): Float64Array {
  return Float64Array.from(sample.draws, (phenotype) => expectedRisk(phenotype, protocol));
}

function meanAndError(values: Float64Array): PosteriorRisk {
  const k = values.length;
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / k;
  if (k < 2) return { mean, standardError: 0 };
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  return { mean, standardError: Math.sqrt(ss / (k - 1) / k) };
}

/** The posterior expected risk of `protocol` and its Monte-Carlo standard error. */
export function posteriorExpectedRisk(sample: PosteriorSample, protocol: Protocol): PosteriorRisk {
  return meanAndError(drawRisks(sample, protocol));
}

/** R̂(a) − R̂(b) with its paired (common-draw) Monte-Carlo standard error. */
export function pairedDifference(sample: PosteriorSample, a: Protocol, b: Protocol): PosteriorRisk {
  const ra = drawRisks(sample, a);
  const rb = drawRisks(sample, b);
  return meanAndError(ra.map((x, i) => x - rb[i]!));
}

/** Posterior expected risks of one patient, memoised per protocol (the planner asks for each protocol many times). */
export class PosteriorRiskTable {
  private readonly cache = new Map<string, PosteriorRisk>();

  constructor(readonly sample: PosteriorSample) {}

  risk(protocol: Protocol): PosteriorRisk {
    const key = protocolKey(protocol);
    let r = this.cache.get(key);
    if (!r) {
      r = posteriorExpectedRisk(this.sample, protocol);
      this.cache.set(key, r);
    }
    return r;
  }
}
