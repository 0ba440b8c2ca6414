/**
 * Survival in the synthetic world: a Weibull proportional-hazards model whose log-hazard
 * ("risk", lower is better) depends on the post-treatment viable tumour burden, treatment
 * toxicity, liver reserve, multifocality and frailty.
 *
 *   risk = 0.8·ln(1 + residualViableMl / 3) + 0.6·toxicity + 1.2·(1 − liverReserve)
 *          + 0.15·(lesionCount − 1) + frailty
 *   T ~ Weibull(shape 1.3, scale 26 months · exp(−(risk − 2) / 1.3))
 *
 * `expectedRisk` averages `risk` over a fixed set of response draws (the same draws for every
 * protocol, so protocol comparisons have no Monte Carlo jitter): deterministic.
 */
import { Rng, deriveSeed } from '../core/random';
import { canonicalProtocol, type Protocol } from '../core/vocabulary';
import { totalTumourMl, type Phenotype } from './phenotype';
import { drawResponse, responseMeans, viableRatioAndToxicity, type ResponseDraws } from './response';

export const WEIBULL_SHAPE = 1.3;
export const WEIBULL_SCALE_MONTHS = 26;
const REFERENCE_RISK = 2;
const EXPECTATION_DRAW_COUNT = 48;

/** What the risk needs from a post-treatment state (measured or true). */
export interface RiskInputs {
  /** Viable post-treatment tumour volume / pre-treatment tumour volume, 0..1. */
  readonly viableRatio: number;
  /** Toxicity units. */
  readonly toxicity: number;
}

export function riskFromState(phenotype: Phenotype, inputs: RiskInputs): number {
  const residualMl = Math.max(0, inputs.viableRatio) * totalTumourMl(phenotype);
  const bio = phenotype.biology;
  return (
    0.8 * Math.log1p(residualMl / 3) + 0.6 * Math.max(0, inputs.toxicity) + 1.2 * (1 - bio.liverReserve) + 0.15 * (phenotype.lesions.length - 1) + bio.frailty
  );
}

const drawCache = new Map<number, ResponseDraws[]>();

/** The fixed draws `expectedRisk` averages over (antithetic pairs), per lesion count. */
export function expectationDraws(lesionCount: number): ResponseDraws[] {
  let draws = drawCache.get(lesionCount);
  if (!draws) {
    const rng = new Rng(deriveSeed(0x6578706b, 'expectation', lesionCount));
    draws = [];
    for (let i = 0; i < EXPECTATION_DRAW_COUNT / 2; i++) {
      const d = drawResponse(rng, lesionCount);
      draws.push(d, { kill: -d.kill, lesions: d.lesions.map((v) => -v), toxicity: -d.toxicity, lipiodol: -d.lipiodol });
    }
    drawCache.set(lesionCount, draws);
  }
  return draws;
}

/** True expected risk of `protocol` for this patient, averaged over the world's stochasticity. */
export function expectedRisk(phenotype: Phenotype, protocol: Protocol): number {
  const draws = expectationDraws(phenotype.lesions.length);
  const p = canonicalProtocol(protocol);
  const means = responseMeans(phenotype, p);
  let sum = 0;
  for (const d of draws) sum += riskFromState(phenotype, viableRatioAndToxicity(phenotype, means, d));
  return sum / draws.length;
}

export interface SurvivalOutcome {
  /** Observed time, months (one decimal). */
  readonly osMonths: number;
  /** 1 = death observed, 0 = alive / lost to follow-up (censored). */
  readonly event: 0 | 1;
  /** The uncensored survival time, months (truth only). */
  readonly trueSurvivalMonths: number;
  readonly censoringMonths: number;
}

/** Draws survival for a patient whose realised risk is `risk`. Deterministic in `seed`. */
export function drawSurvival(risk: number, seed: number): SurvivalOutcome {
  const rng = new Rng(deriveSeed(seed, 'survival'));
  const scale = WEIBULL_SCALE_MONTHS * Math.exp(-(risk - REFERENCE_RISK) / WEIBULL_SHAPE);
  const u = 1 - rng.uniform();
  const survival = scale * Math.pow(-Math.log(u), 1 / WEIBULL_SHAPE);
  const administrative = rng.range(12, 96);
  const lost = rng.bernoulli(0.12) ? rng.range(1, 36) : Infinity;
  const censoring = Math.min(administrative, lost);
  const observed = Math.min(survival, censoring);
  return {
    osMonths: Math.max(0.1, Math.round(observed * 10) / 10),
    event: survival <= censoring ? 1 : 0,
    trueSurvivalMonths: survival,
    censoringMonths: censoring,
  };
}
