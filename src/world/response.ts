/**
 * The ground-truth TACE response of the synthetic world.
 *
 * Two layers:
 * - `responseState(phenotype, protocol, draws)`: scalar truth (per-lesion kill, shrinkage,
 *   viable / necrosis / Lipiodol fractions, toxicity) for one draw of the world's
 *   stochasticity. The survival model, `expectedRisk` and the reports use only this.
 * - `simulateResponse(pre, phenotype, protocol, seed)`: renders that state as a post-TACE CT
 *   and labels on whatever grid `pre` lives on (the full CT at generation time, a cropped and
 *   resampled region of interest at planning time), as in the paper's Figure 9: the lesion
 *   shrinks (vacated voxels become liver), its periphery keeps residual enhancing viable
 *   tumour, the rest is hyperdense Lipiodol (when given) and hypodense necrosis. Toxicity
 *   darkens the liver parenchyma by `TOXICITY_HU_PER_UNIT` HU per unit.
 *
 * Post labels: 2 = the whole residual lesion (viable + necrosis + Lipiodol), 1 = liver
 * (including the vacated tumour bed), 0 elsewhere.
 */
import { MewmError } from '../core/errors';
import { Rng, deriveSeed } from '../core/random';
import { canonicalProtocol, isValidProtocol, protocolKey, type DrugId, type EmbolicId, type Protocol } from '../core/vocabulary';
import { Label, makeVolume, voxelCount, type LabelledCt } from '../core/volume/volume';
import { FastNormal, fractalNoise, valueNoise } from './noise';
import { lesionRho, totalTumourMl, type Phenotype } from './phenotype';

/** Liver attenuation drop per unit of toxicity, HU (visible in the post-CT). */
export const TOXICITY_HU_PER_UNIT = 14;

/** HU bands of the post-treatment lesion (used by the renderer and by image measurements). */
export const POST_TUMOUR_HU = {
  necrosisMean: 22,
  /** Voxels of the residual lesion at or above this and below `lipiodolMin` count as viable. */
  viableMin: 55,
  lipiodolMin: 250,
} as const;

/** Potency of a typical dose of each drug (fraction killed at full class sensitivity). */
const DRUG_POTENCY: Readonly<Record<DrugId, number>> = {
  raltitrexed: 0.42,
  cisplatin: 0.58,
  oxaliplatin: 0.52,
  lobaplatin: 0.48,
  nedaplatin: 0.46,
  epirubicin: 0.56,
  doxorubicin: 0.58,
  idarubicin: 0.6,
  pirarubicin: 0.52,
  mitomycin: 0.48,
  hydroxycamptothecin: 0.4,
  fluorouracil: 0.38,
};

/** Systemic/hepatic toxicity of a typical dose, toxicity units. */
const DRUG_TOXICITY: Readonly<Record<DrugId, number>> = {
  raltitrexed: 0.22,
  cisplatin: 0.4,
  oxaliplatin: 0.32,
  lobaplatin: 0.3,
  nedaplatin: 0.3,
  epirubicin: 0.33,
  doxorubicin: 0.4,
  idarubicin: 0.38,
  pirarubicin: 0.32,
  mitomycin: 0.34,
  hydroxycamptothecin: 0.26,
  fluorouracil: 0.24,
};

const EMBOLIC_TOXICITY: Readonly<Record<EmbolicId, number>> = {
  lipiodol: 0.1,
  'gelatin-sponge': 0.08,
  pva: 0.12,
  'drug-eluting-beads': 0.1,
  'absolute-alcohol': 0.45,
  nbca: 0.22,
};

/**
 * Extra toxicity of combinations (multiplies the drug or embolic total): 1 agent ×1, 2 agents
 * ×1.2 (drugs) / ×1.25 (embolics), and ×1.5 / ×1.4 more for every further agent, so that
 * "give everything" is never optimal.
 */
const drugCombinationFactor = (n: number) => (n <= 1 ? 1 : 1.2 * Math.pow(1.5, n - 2));
const embolicCombinationFactor = (n: number) => (n <= 1 ? 1 : 1.25 * Math.pow(1.4, n - 2));

/** Standard-normal draws that make one replica of the world's response. */
export interface ResponseDraws {
  readonly kill: number;
  readonly lesions: readonly number[];
  readonly toxicity: number;
  readonly lipiodol: number;
}

export function drawResponse(rng: Rng, lesionCount: number): ResponseDraws {
  return {
    kill: rng.normal(),
    lesions: Array.from({ length: lesionCount }, () => rng.normal()),
    toxicity: rng.normal(),
    lipiodol: rng.normal(),
  };
}

export interface LesionResponse {
  /** Fraction of the lesion's pre-treatment volume killed. */
  readonly kill: number;
  /** Post / pre lesion volume. */
  readonly volumeRatio: number;
  /** Viable post volume / pre volume. */
  readonly viableRatio: number;
  /** Fractions of the post lesion volume; they sum to 1. */
  readonly viableFraction: number;
  readonly necrosisFraction: number;
  readonly lipiodolFraction: number;
}

export interface ResponseState {
  readonly protocol: string;
  readonly lesions: readonly LesionResponse[];
  /** Burden-weighted over lesions: viable post volume / pre tumour volume. */
  readonly viableRatio: number;
  readonly volumeRatio: number;
  readonly viableFraction: number;
  readonly necrosisFraction: number;
  readonly lipiodolFraction: number;
  readonly preTumourMl: number;
  readonly residualViableMl: number;
  /** Toxicity units (0 = none; ~1 = marked hepatic injury). */
  readonly toxicity: number;
}

const logistic = (x: number) => 1 / (1 + Math.exp(-x));
const logit = (p: number) => Math.log(p / (1 - p));
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

function assertProtocol(protocol: Protocol): Protocol {
  const p = canonicalProtocol(protocol);
  if (p.drugs.length + p.embolics.length === 0) throw new MewmError('InvalidInput', 'a TACE protocol needs at least one agent');
  if (!isValidProtocol(protocol))
    throw new MewmError('RuleViolation', `protocol ${protocolKey(protocol)} breaks a clinical rule`, { protocol: protocolKey(protocol) });
  return p;
}

/** Expected-effect part of the response (no noise): total kill and toxicity before noise. */
export function responseMeans(phenotype: Phenotype, protocol: Protocol): { kill: number; toxicity: number } {
  const p = assertProtocol(protocol);
  const bio = phenotype.biology;
  const hasLipiodol = p.embolics.includes('lipiodol');
  const hasBeads = p.embolics.includes('drug-eluting-beads');
  const delivery = hasLipiodol ? 1.2 : hasBeads ? 1.15 : 1;
  let drugSurvival = 1;
  for (const drug of p.drugs) {
    const info = drugClassOf(drug);
    const k = clamp(DRUG_POTENCY[drug] * bio.sensitivity[info] * bio.drugIdiosyncrasy[drug] * delivery, 0, 0.95);
    drugSurvival *= 1 - k;
  }
  const perfusion = 0.5 + 0.5 * bio.vascularity;
  const shunted = bio.arteriovenousShunt;
  const largest = Math.max(...phenotype.lesions.map((l) => Math.max(...l.radii)));
  const hasParticle = p.embolics.some((e) => e === 'gelatin-sponge' || e === 'pva' || e === 'drug-eluting-beads');
  let embolicSurvival = 1;
  for (const embolic of p.embolics) {
    let e: number;
    switch (embolic) {
      case 'lipiodol':
        e = 0.38 * bio.lipiodolUptake * (shunted ? 0.4 : 1) * (hasParticle ? 1.15 : 1);
        break;
      case 'gelatin-sponge':
        e = 0.26 * perfusion * (shunted ? 0.6 : 1);
        break;
      case 'pva':
        e = 0.32 * perfusion * (shunted ? 0.6 : 1);
        break;
      case 'drug-eluting-beads':
        e = 0.35 * perfusion * (shunted ? 0.6 : 1);
        break;
      case 'absolute-alcohol':
        e = 0.5 * clamp(1.3 - largest / 40, 0.25, 1);
        break;
      case 'nbca':
        e = shunted ? 0.45 : 0.22;
        break;
    }
    embolicSurvival *= 1 - clamp(e * bio.embolicIdiosyncrasy[embolic], 0, 0.95);
  }
  const kill = 1 - drugSurvival * embolicSurvival;

  let drugTox = p.drugs.reduce((s, d) => s + DRUG_TOXICITY[d], 0);
  drugTox *= drugCombinationFactor(p.drugs.length);
  let embolicTox = p.embolics.reduce((s, e) => {
    const nonTarget = shunted && (e === 'lipiodol' || e === 'gelatin-sponge' || e === 'pva' || e === 'drug-eluting-beads') ? 0.3 : 0;
    return s + EMBOLIC_TOXICITY[e] + nonTarget;
  }, 0);
  embolicTox *= embolicCombinationFactor(p.embolics.length);
  const toxicity = (drugTox + embolicTox) * (1.7 - bio.liverReserve);
  return { kill: clamp(kill, 0.001, 0.995), toxicity };
}

function drugClassOf(drug: DrugId) {
  return DRUG_CLASS[drug];
}

const DRUG_CLASS = {
  raltitrexed: 'antimetabolite',
  cisplatin: 'platinum',
  oxaliplatin: 'platinum',
  lobaplatin: 'platinum',
  nedaplatin: 'platinum',
  epirubicin: 'anthracycline',
  doxorubicin: 'anthracycline',
  idarubicin: 'anthracycline',
  pirarubicin: 'anthracycline',
  mitomycin: 'antitumour-antibiotic',
  hydroxycamptothecin: 'topoisomerase-inhibitor',
  fluorouracil: 'antimetabolite',
} as const;

/** The scalar response for one draw of the world's stochasticity. */
export function responseState(phenotype: Phenotype, protocol: Protocol, draws: ResponseDraws): ResponseState {
  const p = canonicalProtocol(protocol);
  return responseStateFromMeans(phenotype, p, responseMeans(phenotype, p), draws);
}

/** `responseState` when the protocol's means are already known (the hot path of `expectedRisk`). */
export function responseStateFromMeans(phenotype: Phenotype, p: Protocol, means: { kill: number; toxicity: number }, draws: ResponseDraws): ResponseState {
  const bio = phenotype.biology;
  const hasLipiodol = p.embolics.includes('lipiodol');
  const patientLogit = patientKillLogit(means, draws);
  const lipiodolShare = hasLipiodol ? clamp(0.75 * bio.lipiodolUptake * (bio.arteriovenousShunt ? 0.5 : 1) + 0.12 * draws.lipiodol + 0.1, 0.05, 0.92) : 0;
  const lesions = phenotype.lesions.map((_, index): LesionResponse => {
    const kill = lesionKill(patientLogit, draws, index);
    const volumeRatio = 1 - kill * bio.resorption * (hasLipiodol ? 0.6 : 1);
    const viableRatio = 1 - kill;
    const viableFraction = viableRatio / volumeRatio;
    const dead = 1 - viableFraction;
    return { kill, volumeRatio, viableRatio, viableFraction, lipiodolFraction: dead * lipiodolShare, necrosisFraction: dead * (1 - lipiodolShare) };
  });
  const volumes = phenotype.lesions.map((l) => l.volumeMl);
  const preTumourMl = totalTumourMl(phenotype);
  const weighted = (f: (l: LesionResponse) => number) => lesions.reduce((s, l, i) => s + f(l) * volumes[i]!, 0) / preTumourMl;
  const postVolume = weighted((l) => l.volumeRatio);
  const viableRatio = weighted((l) => l.viableRatio);
  return {
    protocol: protocolKey(p),
    lesions,
    viableRatio,
    volumeRatio: postVolume,
    viableFraction: viableRatio / postVolume,
    necrosisFraction: weighted((l) => l.volumeRatio * l.necrosisFraction) / postVolume,
    lipiodolFraction: weighted((l) => l.volumeRatio * l.lipiodolFraction) / postVolume,
    preTumourMl,
    residualViableMl: viableRatio * preTumourMl,
    toxicity: realisedToxicity(means, draws),
  };
}

const patientKillLogit = (means: { kill: number }, draws: ResponseDraws) => logit(means.kill) + 0.45 * draws.kill;
const lesionKill = (patientLogit: number, draws: ResponseDraws, index: number) => logistic(patientLogit + 0.3 * (draws.lesions[index] ?? 0));
const realisedToxicity = (means: { toxicity: number }, draws: ResponseDraws) => means.toxicity * Math.exp(0.2 * draws.toxicity);

/**
 * The two numbers the risk needs, without building a `ResponseState` (same arithmetic as
 * `responseStateFromMeans`, allocation-free for `expectedRisk`).
 */
export function viableRatioAndToxicity(
  phenotype: Phenotype,
  means: { kill: number; toxicity: number },
  draws: ResponseDraws,
): { viableRatio: number; toxicity: number } {
  const patientLogit = patientKillLogit(means, draws);
  let viable = 0;
  let total = 0;
  const lesions = phenotype.lesions;
  for (let l = 0; l < lesions.length; l++) {
    const volume = lesions[l]!.volumeMl;
    viable += (1 - lesionKill(patientLogit, draws, l)) * volume;
    total += volume;
  }
  return { viableRatio: viable / total, toxicity: realisedToxicity(means, draws) };
}

/** The seed's draws: what makes replica `seed` of a protocol's outcome. */
export function responseDrawsForSeed(phenotype: Phenotype, seed: number): ResponseDraws {
  return drawResponse(new Rng(deriveSeed(seed, 'response-draws')), phenotype.lesions.length);
}

/**
 * Robust location and scale (median and 1.4826·MAD) of the HU of voxels with label `label`,
 * from a 0.125 HU histogram over [-1024, 3072) with linear interpolation inside the bin.
 */
export function robustLabelStats(ct: Float32Array, labels: Uint8Array, label: number): { median: number; sigma: number; count: number } {
  const lo = -1024;
  const binsPerHu = 8;
  const bins = 4096 * binsPerHu;
  const histogram = new Uint32Array(bins);
  let count = 0;
  for (let q = 0; q < labels.length; q++) {
    if (labels[q] !== label) continue;
    const b = Math.floor((ct[q]! - lo) * binsPerHu);
    histogram[b < 0 ? 0 : b >= bins ? bins - 1 : b]!++;
    count++;
  }
  if (count === 0) return { median: Number.NaN, sigma: Number.NaN, count: 0 };
  const quantile = (h: Uint32Array, total: number, q: number) => {
    const target = q * total;
    let cumulative = 0;
    for (let b = 0; b < h.length; b++) {
      const next = cumulative + h[b]!;
      if (next >= target && h[b]! > 0) return b + (target - cumulative) / h[b]!;
      cumulative = next;
    }
    return h.length;
  };
  const medianBin = quantile(histogram, count, 0.5);
  const deviations = new Uint32Array(bins);
  for (let b = 0; b < bins; b++) {
    if (histogram[b] === 0) continue;
    const d = Math.min(bins - 1, Math.floor(Math.abs(b + 0.5 - medianBin)));
    deviations[d]! += histogram[b]!;
  }
  const mad = quantile(deviations, count, 0.5) / binsPerHu;
  return { median: lo + medianBin / binsPerHu, sigma: 1.4826 * mad, count };
}

/** Value at quantile `q` (0..1) of `scores`. */
function quantileOf(scores: Float64Array, q: number): number {
  if (scores.length === 0) return Number.NaN;
  const sorted = Float64Array.from(scores).sort();
  return sorted[clamp(Math.floor(q * sorted.length), 0, sorted.length - 1)]!;
}

/**
 * Renders replica `seed` of `protocol` on the grid of `pre`. Deterministic in all inputs.
 * Lesions are found by their analytic shape in world coordinates, so cropped or resampled
 * grids work; lesions outside the grid are simply not drawn (their response still counts in
 * `state`).
 */
export function simulateResponse(pre: LabelledCt, phenotype: Phenotype, protocol: Protocol, seed: number): { post: LabelledCt; state: ResponseState } {
  const { ct, labels } = pre;
  if (ct.data.length !== labels.data.length || !ct.shape.every((n, i) => n === labels.shape[i])) {
    throw new MewmError('InvalidInput', `${phenotype.caseId}: pre-CT and labels are on different grids`);
  }
  const state = responseState(phenotype, protocol, responseDrawsForSeed(phenotype, seed));
  const [nx, ny] = ct.shape;
  const n = voxelCount(ct.shape);
  const A = ct.affine;
  const preHu = ct.data;
  const preLabels = labels.data;
  const postHu = new Float32Array(preHu);
  const postLabels = new Uint8Array(preLabels);
  const liver = robustLabelStats(preHu, preLabels, Label.liver);
  const liverHu = Number.isFinite(liver.median) ? liver.median : phenotype.anatomy.liverHu;
  const sigma = Number.isFinite(liver.sigma) && liver.sigma > 0 ? liver.sigma : phenotype.anatomy.noiseSigmaHu;
  const toxicityShift = TOXICITY_HU_PER_UNIT * state.toxicity;
  const noise = new FastNormal(deriveSeed(seed, 'post-ct-noise'));

  // Assign every tumour voxel to the lesion whose shape it lies deepest in.
  const lesionCount = phenotype.lesions.length;
  const members: number[][] = Array.from({ length: lesionCount }, () => []);
  const rhoOf = new Float32Array(n);
  const world = (q: number): [number, number, number] => {
    const i = q % nx;
    const j = Math.floor(q / nx) % ny;
    const k = Math.floor(q / (nx * ny));
    return [A[0]! * i + A[1]! * j + A[2]! * k + A[3]!, A[4]! * i + A[5]! * j + A[6]! * k + A[7]!, A[8]! * i + A[9]! * j + A[10]! * k + A[11]!];
  };
  for (let q = 0; q < n; q++) {
    const label = preLabels[q]!;
    if (label === Label.liver) postHu[q] = preHu[q]! - toxicityShift;
    if (label !== Label.tumour) continue;
    const [x, y, z] = world(q);
    let best = 0;
    let bestRho = Infinity;
    phenotype.lesions.forEach((lesion, l) => {
      const rho = lesionRho(lesion, x, y, z);
      if (rho < bestRho) {
        bestRho = rho;
        best = l;
      }
    });
    members[best]!.push(q);
    rhoOf[q] = Math.min(bestRho, 1.5);
  }

  members.forEach((voxels, l) => {
    if (voxels.length === 0) return;
    const response = state.lesions[l]!;
    const lesion = phenotype.lesions[l]!;
    const retentionSeed = deriveSeed(seed, 'retain', l);
    const viableSeed = deriveSeed(seed, 'viable', l);
    const lipiodolSeed = deriveSeed(seed, 'lipiodol', l);
    const textureSeed = deriveSeed(seed, 'texture', l);
    const coords = voxels.map(world);
    // shrink: keep the innermost voxels (irregular margin from a noise field)
    const retention = Float64Array.from(voxels, (q, m) => rhoOf[q]! + 0.25 * valueNoise(retentionSeed, ...coords[m]!, 8));
    const keepCut = quantileOf(retention, response.volumeRatio);
    const kept: number[] = [];
    voxels.forEach((q, m) => {
      if (retention[m]! <= keepCut && kept.length < Math.round(response.volumeRatio * voxels.length)) kept.push(m);
      else {
        postLabels[q] = Label.liver;
        postHu[q] = liverHu - toxicityShift + sigma * noise.next();
      }
    });
    // viable tumour survives at the periphery
    const viability = Float64Array.from(kept, (m) => rhoOf[voxels[m]!]! + 0.45 * valueNoise(viableSeed, ...coords[m]!, 10));
    const viableCount = Math.round(response.viableFraction * kept.length);
    const viableCut = quantileOf(viability, 1 - response.viableFraction);
    const dead: number[] = [];
    let viableSoFar = 0;
    kept.forEach((m, r) => {
      const q = voxels[m]!;
      if (viability[r]! >= viableCut && viableSoFar < viableCount) {
        viableSoFar++;
        const perfusion = 1 - 0.35 * response.kill;
        const enhancement = Math.max(lesion.enhancementHu * perfusion, 40, POST_TUMOUR_HU.viableMin - liverHu + 45);
        postHu[q] = liverHu + enhancement + 24 * phenotype.biology.heterogeneity * fractalNoise(textureSeed, ...coords[m]!, 5) + sigma * noise.next();
      } else dead.push(m);
    });
    const lipiodolShare = response.lipiodolFraction / Math.max(1e-9, response.lipiodolFraction + response.necrosisFraction);
    const lipiodolScore = Float64Array.from(dead, (m) => valueNoise(lipiodolSeed, ...coords[m]!, 7) - 0.4 * rhoOf[voxels[m]!]!);
    const lipiodolCut = quantileOf(lipiodolScore, 1 - lipiodolShare);
    const lipiodolCount = Math.round(lipiodolShare * dead.length);
    let lipiodolSoFar = 0;
    dead.forEach((m, r) => {
      const q = voxels[m]!;
      const [x, y, z] = coords[m]!;
      if (lipiodolShare > 0 && lipiodolScore[r]! >= lipiodolCut && lipiodolSoFar < lipiodolCount) {
        lipiodolSoFar++;
        const density = clamp(0.5 + 0.9 * valueNoise(lipiodolSeed ^ 0x55, x, y, z, 4), 0, 1);
        postHu[q] = POST_TUMOUR_HU.lipiodolMin + 60 + 420 * density + sigma * noise.next();
      } else {
        postHu[q] = POST_TUMOUR_HU.necrosisMean + 6 * valueNoise(textureSeed ^ 0x33, x, y, z, 6) + sigma * noise.next();
      }
    });
  });
  for (let q = 0; q < n; q++) if (preLabels[q] !== Label.background) postHu[q] = Math.round(postHu[q]!);
  return {
    post: { ct: makeVolume(postHu, ct.shape, ct.affine), labels: makeVolume(postLabels, labels.shape, labels.affine) },
    state,
  };
}
