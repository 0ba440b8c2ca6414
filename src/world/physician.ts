/**
 * The physician who treated the observational cohort: a noisy guideline choice.
 *
 * What the physician uses: only what a radiologist sees on the pre-CT (largest lesion size,
 * lesion count, arterial enhancement, capsule) plus habit (agent popularity) and a modest
 * amount of experience (a weak pull towards protocols that truly work for this patient).
 * With probability `EXPLORATION` the choice is uniform over all rule-valid protocols, so every
 * agent and every protocol has support in the training data.
 */
import type { Rng } from '../core/random';
import type { AgentId, Protocol } from '../core/vocabulary';
import type { RiskedProtocol } from './gold';
import type { Phenotype } from './phenotype';

const EXPLORATION = 0.15;
const TEMPERATURE = 0.6;
const EXPERIENCE = 0.6;

/** Prior share of protocol sizes ("drugs/embolics") before habit and findings. */
const SIZE_PRIOR: Readonly<Record<string, number>> = { '1/1': 0.3, '1/2': 0.25, '2/1': 0.25, '2/2': 0.2 };

const POPULARITY: Readonly<Record<AgentId, number>> = {
  cisplatin: 0.9,
  epirubicin: 0.9,
  doxorubicin: 0.7,
  pirarubicin: 0.6,
  oxaliplatin: 0.6,
  raltitrexed: 0.6,
  lobaplatin: 0.2,
  nedaplatin: 0.1,
  idarubicin: 0.2,
  mitomycin: 0.4,
  hydroxycamptothecin: 0,
  fluorouracil: 0.2,
  lipiodol: 1.5,
  'gelatin-sponge': 0.8,
  'drug-eluting-beads': 0.3,
  pva: 0.2,
  'absolute-alcohol': -0.5,
  nbca: -0.7,
};

/** Image findings the physician reads off the pre-CT. */
export interface VisibleFindings {
  readonly largestDiameterMm: number;
  readonly lesionCount: number;
  readonly meanEnhancementHu: number;
  readonly capsule: boolean;
}

export function visibleFindings(phenotype: Phenotype): VisibleFindings {
  const largest = phenotype.lesions[0]!;
  return {
    largestDiameterMm: 2 * Math.max(...largest.radii),
    lesionCount: phenotype.lesions.length,
    meanEnhancementHu: phenotype.lesions.reduce((s, l) => s + l.enhancementHu, 0) / phenotype.lesions.length,
    capsule: largest.capsuleMm > 0,
  };
}

function guidelineScore(findings: VisibleFindings, protocol: Protocol): number {
  let score = 0;
  for (const agent of [...protocol.drugs, ...protocol.embolics]) score += POPULARITY[agent];
  const particles = protocol.embolics.filter((e) => e === 'gelatin-sponge' || e === 'pva' || e === 'drug-eluting-beads').length;
  if (findings.largestDiameterMm > 50 && protocol.drugs.length === 2) score += 0.8;
  if (findings.largestDiameterMm < 30 && protocol.drugs.length === 1) score += 0.6;
  if (findings.meanEnhancementHu > 70 && particles > 0) score += 0.5;
  if (findings.lesionCount > 1 && protocol.embolics.includes('lipiodol')) score += 0.6;
  if (findings.lesionCount > 1 && protocol.embolics.includes('drug-eluting-beads')) score -= 0.3;
  if (findings.largestDiameterMm < 30 && protocol.embolics.includes('absolute-alcohol')) score += 0.6;
  return score;
}

/**
 * Samples the physician's protocol among `ranked` (every valid candidate with its true expected
 * risk, see `rankProtocols`). Deterministic in `rng`'s state.
 */
export function physicianProtocol(phenotype: Phenotype, ranked: readonly RiskedProtocol[], rng: Rng): Protocol {
  if (rng.bernoulli(EXPLORATION)) return rng.pick(ranked).protocol;
  const findings = visibleFindings(phenotype);
  const mean = ranked.reduce((s, r) => s + r.risk, 0) / ranked.length;
  const sd = Math.sqrt(ranked.reduce((s, r) => s + (r.risk - mean) ** 2, 0) / ranked.length) || 1;
  // protocols with more agents are far more numerous: weight by size so that the habit decides
  // the protocol size, not the combinatorics
  const sizeOf = (p: Protocol) => `${p.drugs.length}/${p.embolics.length}`;
  const sizeCounts = new Map<string, number>();
  for (const r of ranked) sizeCounts.set(sizeOf(r.protocol), (sizeCounts.get(sizeOf(r.protocol)) ?? 0) + 1);
  const logits = ranked.map((r) => {
    const size = sizeOf(r.protocol);
    const sizeWeight = Math.log((SIZE_PRIOR[size] ?? 0.05) / sizeCounts.get(size)!);
    return (guidelineScore(findings, r.protocol) - (EXPERIENCE * (r.risk - mean)) / sd) / TEMPERATURE + sizeWeight;
  });
  const top = Math.max(...logits);
  const weights = logits.map((l) => Math.exp(l - top));
  const total = weights.reduce((s, w) => s + w, 0);
  let u = rng.uniform() * total;
  for (let i = 0; i < ranked.length; i++) {
    u -= weights[i]!;
    if (u <= 0) return ranked[i]!.protocol;
  }
  return ranked[ranked.length - 1]!.protocol;
}
