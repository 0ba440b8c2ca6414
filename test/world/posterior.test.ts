/**
 * The posterior oracle (src/world/posterior.ts, src/world/posterior-oracle.ts): exact when the
 * hidden biology is known, calibrated against the generator, deterministic, and — planned with
 * Algorithm 1 through the WorldModel contract — between the full oracle and random protocols.
 */
import { describe, expect, it } from 'vitest';
import { chooseExtensions, chooseFinalBeam, expandBeams, initBeams, replaceWorstBeam, scoreCandidate, type Beam } from '../../src/core/planning/beam-search';
import { deriveSeed, Rng } from '../../src/core/random';
import { DRUGS, EMBOLICS, type AgentId, type Protocol } from '../../src/core/vocabulary';
import type { LabelledCt } from '../../src/core/volume/volume';
import type { WorldModel } from '../../src/models/world-model';
import { generatePatientTruth } from '../../src/world/cohort';
import { candidateProtocols } from '../../src/world/gold';
import { renderPhantom } from '../../src/world/phantom';
import { samplePhenotype, type Phenotype } from '../../src/world/phenotype';
import { generatorPosterior, knownBiology, observedLiverScale, posteriorExpectedRisk, samplePosterior, visiblePhenotype } from '../../src/world/posterior';
import { createPosteriorOracleFromTruth } from '../../src/world/posterior-oracle';
import { expectedRisk } from '../../src/world/survival';

const PROTOCOLS: Protocol[] = [
  { drugs: ['cisplatin'], embolics: ['lipiodol'] },
  { drugs: ['epirubicin', 'raltitrexed'], embolics: ['lipiodol', 'gelatin-sponge'] },
  { drugs: ['fluorouracil'], embolics: ['drug-eluting-beads'] },
  { drugs: ['mitomycin'], embolics: ['absolute-alcohol'] },
  { drugs: ['oxaliplatin'], embolics: [] },
];

const patients = (n: number, seed: number): Phenotype[] => Array.from({ length: n }, (_, i) => samplePhenotype(`SYN-T-${i}`, deriveSeed(seed, 'patient', i)));

const truthOf = (phenotypes: readonly Phenotype[]) => ({
  worldJson: new TextEncoder().encode('{"test":true}'),
  phenotypes: new Map(phenotypes.map((p) => [p.caseId, p])),
});

/** A coarse pre-treatment ROI: rendering is not what these tests are about. */
const coarseRoi = (phenotype: Phenotype): LabelledCt => renderPhantom(phenotype, { shape: [24, 24, 12], spacing: [10, 10, 16] });

describe('posterior expected risk', () => {
  it('equals the full oracle (the world expected risk of the true phenotype) when the hidden biology is known', () => {
    for (const phenotype of patients(6, 11)) {
      const sample = samplePosterior(visiblePhenotype(phenotype), { draws: 1, sampler: knownBiology(phenotype.biology) });
      for (const protocol of PROTOCOLS) {
        const r = posteriorExpectedRisk(sample, protocol);
        expect(r.mean).toBe(expectedRisk(phenotype, protocol));
        expect(r.standardError).toBe(0);
      }
    }
  });

  it('differs from the full oracle once the biology is hidden, by more than its Monte-Carlo error for some patients', () => {
    let beyond = 0;
    for (const phenotype of patients(6, 12)) {
      const r = posteriorExpectedRisk(samplePosterior(visiblePhenotype(phenotype), { draws: 64 }), PROTOCOLS[0]!);
      if (Math.abs(r.mean - expectedRisk(phenotype, PROTOCOLS[0]!)) > 3 * r.standardError) beyond++;
    }
    expect(beyond).toBeGreaterThan(0);
  });

  it('is deterministic in its seed, and another seed moves it by about its standard error', () => {
    const visible = visiblePhenotype(patients(1, 13)[0]!);
    const a = posteriorExpectedRisk(samplePosterior(visible, { draws: 96, seed: 5 }), PROTOCOLS[1]!);
    const again = posteriorExpectedRisk(samplePosterior(visible, { draws: 96, seed: 5 }), PROTOCOLS[1]!);
    const b = posteriorExpectedRisk(samplePosterior(visible, { draws: 96, seed: 6 }), PROTOCOLS[1]!);
    expect(again).toEqual(a);
    expect(b.mean).not.toBe(a.mean);
    expect(Math.abs(b.mean - a.mean)).toBeLessThan(5 * Math.hypot(a.standardError, b.standardError));
  });

  it(
    'is calibrated against the generator: true hidden values are uniform under their posterior within visible subgroups, and the risk is unbiased',
    { timeout: 300_000 },
    () => {
      const n = 360;
      const k = 48;
      const rows = patients(n, 14).map((phenotype) => {
        const visible = visiblePhenotype(phenotype);
        const sample = samplePosterior(visible, { draws: k, seed: 3 });
        const below = (f: (b: Phenotype['biology']) => number) => sample.draws.filter((d) => f(d.biology) < f(phenotype.biology)).length / k;
        const vascularity = sample.draws.map((d) => d.biology.vascularity);
        const vMean = vascularity.reduce((s, x) => s + x, 0) / k;
        return {
          enhancement: phenotype.lesions.reduce((s, l) => s + l.enhancementHu, 0) / phenotype.lesions.length,
          liverScale: observedLiverScale(visible),
          heterogeneity: phenotype.biology.heterogeneity,
          size: Math.max(...phenotype.lesions[0]!.radii),
          lesionCount: phenotype.lesions.length + phenotype.lesions[0]!.radii[0] / 1000, // ties broken by size
          pitReserve: below((b) => b.liverReserve),
          pitVascularity: below((b) => b.vascularity),
          pitPlatinum: below((b) => b.sensitivity.platinum),
          pitAnthracycline: below((b) => b.sensitivity.anthracycline),
          pitAntimetabolite: below((b) => b.sensitivity.antimetabolite),
          pitAntibiotic: below((b) => b.sensitivity['antitumour-antibiotic']),
          pitLipiodol: below((b) => b.lipiodolUptake),
          sdVascularity: Math.sqrt(vascularity.reduce((s, x) => s + (x - vMean) ** 2, 0) / (k - 1)),
          // platinum sensitivity follows vascularity: a wrong enhancement model biases this protocol per subgroup
          bias: posteriorExpectedRisk(sample, PROTOCOLS[0]!).mean - expectedRisk(phenotype, PROTOCOLS[0]!),
        };
      });
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      const terciles = (key: (r: (typeof rows)[number]) => number) => {
        const sorted = [...rows].sort((a, b) => key(a) - key(b));
        return [0, 1, 2].map((t) => sorted.slice((t * n) / 3, ((t + 1) * n) / 3));
      };
      // A sampler that ignored the evidence (the prior) would give PIT means near 0.2 / 0.8 in the outer terciles.
      for (const group of terciles((r) => r.enhancement)) expect(Math.abs(mean(group.map((r) => r.pitVascularity)) - 0.5)).toBeLessThan(0.08);
      for (const group of terciles((r) => r.liverScale)) expect(Math.abs(mean(group.map((r) => r.pitReserve)) - 0.5)).toBeLessThan(0.08);
      // The hidden variables with visible parents: each sensitivity within subgroups of what drives it.
      const checks: [string, (r: (typeof rows)[number]) => number, (r: (typeof rows)[number]) => number][] = [
        ['platinum | enhancement', (r) => r.enhancement, (r) => r.pitPlatinum],
        ['lipiodol uptake | enhancement', (r) => r.enhancement, (r) => r.pitLipiodol],
        ['anthracycline | heterogeneity', (r) => r.heterogeneity, (r) => r.pitAnthracycline],
        ['antimetabolite | size', (r) => r.size, (r) => r.pitAntimetabolite],
        ['antitumour antibiotic | lesion count', (r) => r.lesionCount, (r) => r.pitAntibiotic],
      ];
      for (const [name, by, pit] of checks) for (const group of terciles(by)) expect(Math.abs(mean(group.map(pit)) - 0.5), name).toBeLessThan(0.09);
      // The enhancement is informative: the posterior of vascularity is much narrower than its prior (sd 0.26).
      expect(mean(rows.map((r) => r.sdVascularity))).toBeLessThan(0.15);
      for (const group of terciles((r) => r.enhancement)) {
        const bias = group.map((r) => r.bias);
        const se = Math.sqrt(mean(bias.map((b) => (b - mean(bias)) ** 2)) / bias.length);
        expect(Math.abs(mean(bias))).toBeLessThan(4 * se + 0.02);
      }
    },
  );

  it('rejects impossible observations with a typed error instead of looping', () => {
    const phenotype = patients(1, 15)[0]!;
    const visible = visiblePhenotype(phenotype);
    // A liver far larger than any reserve can explain has likelihood 0 everywhere after underflow.
    const impossible = {
      ...visible,
      anatomy: {
        ...visible.anatomy,
        liverLobes: [{ ...visible.anatomy.liverLobes[0], radii: [62 * 9, 70 * 9, 74 * 9] }, visible.anatomy.liverLobes[1]] as const,
      },
    };
    expect(() => generatorPosterior.sample(impossible as typeof visible, new Rng(1))).toThrow(/no draw accepted|impossible/);
  });
});

// ---------------------------------------------------------------------------------------------
// Algorithm 1 through the WorldModel contract, as the planner's activities call it

async function plan(
  world: WorldModel,
  caseId: string,
  pre: LabelledCt,
  settings: { beams: number; replicas: number; drugs: readonly AgentId[]; embolics: readonly AgentId[] },
): Promise<Protocol> {
  let beams: Beam[] = initBeams(settings.beams);
  const steps = [
    ...[1, 2].map((step) => ({ phase: 'drug' as const, step, candidates: settings.drugs })),
    ...[1, 2].map((step) => ({ phase: 'embolic' as const, step, candidates: settings.embolics })),
  ];
  for (const { phase, step, candidates } of steps) {
    const { specs } = expandBeams(beams, candidates, { planSeed: 20250617, phase, step, replicas: settings.replicas });
    const posts = await world.dynamics.simulate(specs.map((s) => ({ caseId, pre, protocol: s.protocol, seeds: s.seeds })));
    const scores = [];
    for (const [i, spec] of specs.entries()) {
      const risks = [];
      for (const ct of posts[i]!) risks.push(await world.heuristic.risk({ caseId, pre, post: { ct, labels: await world.assistant.segment({ caseId, ct }) } }));
      scores.push(scoreCandidate(spec, risks));
    }
    beams = replaceWorstBeam(chooseExtensions(beams, scores, { requireImprovement: false }).beams).beams;
  }
  return chooseFinalBeam(beams).protocol;
}

describe('the posterior oracle world model', () => {
  it('scores a rendered candidate with the posterior expected risk of its protocol, the known-biology variant with the exact risk, and refuses CTs it did not render', async () => {
    const phenotype = patients(1, 16)[0]!;
    const pre = coarseRoi(phenotype);
    const posterior = createPosteriorOracleFromTruth(truthOf([phenotype]), { draws: 32 });
    const known = createPosteriorOracleFromTruth(truthOf([phenotype]), { knownBiology: true });
    for (const protocol of PROTOCOLS.slice(0, 3)) {
      const [[a, b]] = (await posterior.dynamics.simulate([{ caseId: phenotype.caseId, pre, protocol, seeds: [1, 2] }])) as [
        [LabelledCt['ct'], LabelledCt['ct']],
      ];
      const labels = await posterior.assistant.segment({ caseId: phenotype.caseId, ct: a });
      const risk = await posterior.heuristic.risk({ caseId: phenotype.caseId, pre, post: { ct: a, labels } });
      expect(risk).toBe(posterior.posteriorRisk(phenotype.caseId, protocol).mean);
      expect(await posterior.heuristic.risk({ caseId: phenotype.caseId, pre, post: { ct: b, labels } })).toBe(risk);
      const [[k]] = (await known.dynamics.simulate([{ caseId: phenotype.caseId, pre, protocol, seeds: [1] }])) as [[LabelledCt['ct']]];
      expect(await known.heuristic.risk({ caseId: phenotype.caseId, pre, post: { ct: k, labels } })).toBe(expectedRisk(phenotype, protocol));
    }
    await expect(posterior.heuristic.risk({ caseId: phenotype.caseId, pre, post: pre })).rejects.toMatchObject({ code: 'InvalidInput' });
    expect(posterior.dynamics.identity.version).toMatch(/posterior-k32-seed/);
    expect(known.dynamics.identity.version).toMatch(/known-biology/);
  });

  it('planned with Algorithm 1, its regret lies between the full oracle (hidden biology known) and random valid protocols', async () => {
    const cohort = Array.from({ length: 8 }, (_, i) => generatePatientTruth(20261210, i + 1));
    const phenotypes = cohort.map((t) => t.phenotype);
    const posterior = createPosteriorOracleFromTruth(truthOf(phenotypes), { draws: 64 });
    const full = createPosteriorOracleFromTruth(truthOf(phenotypes), { knownBiology: true });
    const choices = candidateProtocols();
    const regret = { posterior: [] as number[], full: [] as number[], random: [] as number[] };
    const settings = { beams: 2, replicas: 1, drugs: DRUGS, embolics: EMBOLICS };
    for (const t of cohort) {
      const pre = coarseRoi(t.phenotype);
      const best = t.ranked[0]!.risk;
      regret.posterior.push(expectedRisk(t.phenotype, await plan(posterior, t.caseId, pre, settings)) - best);
      regret.full.push(expectedRisk(t.phenotype, await plan(full, t.caseId, pre, settings)) - best);
      regret.random.push(expectedRisk(t.phenotype, new Rng(deriveSeed(1, 'random', t.caseId)).pick(choices)) - best);
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    console.log(
      `mean regret on ${cohort.length} patients: full oracle ${mean(regret.full).toFixed(3)}, posterior oracle ${mean(regret.posterior).toFixed(3)}, random ${mean(regret.random).toFixed(3)}`,
    );
    expect(mean(regret.full)).toBeLessThan(mean(regret.posterior));
    expect(mean(regret.posterior)).toBeLessThan(mean(regret.random));
    // Same search, same seeds: the plans differ only through the risk (hidden biology).
    expect(regret.posterior.some((r, i) => r !== regret.full[i])).toBe(true);
  }, 600_000);
});
