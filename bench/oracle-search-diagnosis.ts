/**
 * Why does MeWM with the oracle world model not reach the optimal protocol? Runs Algorithm 1
 * (`exploreProtocols`, the one sequencer of the pure beam functions) in-process, no Temporal,
 * on the test cases of a synthetic cohort, with several candidate sets and risk evaluators, and
 * prints one table of regrets (true expected risk of the chosen protocol minus the optimum's).
 *
 *   node --import tsx bench/oracle-search-diagnosis.ts --cohort DIR [--split test] [--max 19]
 *        [--beams 2] [--roi 96] [--spacing 1.5] [--image-replicas 2,8] [--image-cases N]
 *
 * Evaluators: `exact` = the world's expected risk (no replica noise, the best any heuristic can
 * do); `replica` = the true risk of each replica's response draw (world noise, no imaging);
 * `image` = the oracle world model as the planner uses it (render post-CT, segment, measure).
 * Candidate sets: `guideline` = the guideline policy's D=5, E=3 (what `mewm cohort` uses);
 * `action-base` = every drug and embolic of the vocabulary (D=12, E=6), pruned per protocol by
 * the clinical rules exactly like the planner does.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { beamStepRunner, exploreProtocols } from '../src/core/planning/exploration';
import type { CandidateSpec, SearchOptions } from '../src/core/planning/beam-search';
import { DRUGS, EMBOLICS, protocolKey, validProtocols, type DrugId, type EmbolicId, type Protocol } from '../src/core/vocabulary';
import type { LabelledCt, Volume } from '../src/core/volume/volume';
import { resampleToGrid } from '../src/core/volume/resample';
import { readNifti } from '../src/io/nifti';
import { spearman } from '../src/evaluation/rank-correlation';
import { roiGrid, tumourCentreMm } from '../src/core/volume/roi';
import { observeTumour } from '../src/policy/observation';
import { GuidelinePolicy } from '../src/policy/guideline';
import { createOracleWorldModelFromTruth, readOracleTruth } from '../src/world/oracle';
import { rankProtocols } from '../src/world/gold';
import { expectedRisk, riskFromState } from '../src/world/survival';
import { responseDrawsForSeed, responseMeans, viableRatioAndToxicity } from '../src/world/response';
import type { Phenotype } from '../src/world/phenotype';

const { values } = parseArgs({
  options: {
    cohort: { type: 'string' },
    split: { type: 'string', default: 'test' },
    max: { type: 'string', default: '19' },
    beams: { type: 'string', default: '2' },
    roi: { type: 'string', default: '96' },
    spacing: { type: 'string', default: '1.5' },
    'image-replicas': { type: 'string', default: '2' },
    'image-cases': { type: 'string', default: '1000' },
    'fidelity-protocols': { type: 'string', default: '16' },
  },
});
if (!values.cohort) throw new Error('usage: --cohort DIR (a folder written by `mewm synth`)');
const cohortDir = values.cohort;
const beams = Number(values.beams);
const roiSide = Number(values.roi);
const spacing = Number(values.spacing);
const imageReplicas = values['image-replicas']!.split(',').map(Number);
const imageCases = Number(values['image-cases']);
const fidelityProtocols = Number(values['fidelity-protocols']);
const planSeed = 20250617;

const manifest = (await readFile(join(cohortDir, 'manifest.jsonl'), 'utf8'))
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as { caseId: string; split: string; preCt: string; preLabels: string; protocol: { drugs: DrugId[]; embolics: EmbolicId[] } });
const cases = manifest.filter((m) => m.split === values.split).slice(0, Number(values.max));
const truth = await readOracleTruth(cohortDir);
const world = createOracleWorldModelFromTruth(truth, { maxCachedLabelBytes: 64 * 1024 * 1024 });
const policy = new GuidelinePolicy();

async function roiOf(caseId: string, preCt: string, preLabels: string): Promise<LabelledCt> {
  const ct = (await readNifti(join(cohortDir, preCt))) as Volume<Float32Array>;
  const rawLabels = await readNifti(join(cohortDir, preLabels));
  const labels: Volume<Uint8Array> = { data: Uint8Array.from(rawLabels.data as ArrayLike<number>), shape: rawLabels.shape, affine: rawLabels.affine };
  const grid = roiGrid(tumourCentreMm(caseId, labels), [roiSide, roiSide, roiSide], spacing);
  return {
    ct: resampleToGrid({ data: Float32Array.from(ct.data as ArrayLike<number>), shape: ct.shape, affine: ct.affine }, grid.shape, grid.affine, 'linear', {
      outside: -1024,
    }) as unknown as Volume<Float32Array>,
    labels: resampleToGrid(labels, grid.shape, grid.affine, 'nearest', { outside: 0 }),
  } as LabelledCt;
}

/** The T risks of each spec, in seed order. */
type CandidateEvaluator = (specs: readonly CandidateSpec[]) => Promise<number[][]>;

/** Algorithm 1 in-process over a risk evaluator. */
function runSearch(input: {
  options: SearchOptions;
  planSeed: number;
  drugs: readonly DrugId[];
  embolics: readonly EmbolicId[];
  evaluate: CandidateEvaluator;
}) {
  const evaluate = async (specs: readonly CandidateSpec[]) => (await input.evaluate(specs)).map((risks) => ({ risks, replicas: null }));
  return exploreProtocols({ ...input, runStep: beamStepRunner({ ...input.options, planSeed: input.planSeed }, evaluate) });
}

function exactEvaluator(phenotype: Phenotype): CandidateEvaluator {
  return async (specs) => specs.map((s) => s.seeds.map(() => expectedRisk(phenotype, s.protocol)));
}
function replicaEvaluator(phenotype: Phenotype): CandidateEvaluator {
  return async (specs) =>
    specs.map((s) => {
      const means = responseMeans(phenotype, s.protocol);
      return s.seeds.map((seed) => riskFromState(phenotype, viableRatioAndToxicity(phenotype, means, responseDrawsForSeed(phenotype, seed))));
    });
}
let renders = 0;
function imageEvaluator(caseId: string, pre: LabelledCt): CandidateEvaluator {
  return async (specs) => {
    const out: number[][] = [];
    for (const s of specs) {
      const [cts] = await world.dynamics.simulate([{ caseId, pre, protocol: s.protocol, seeds: s.seeds }]);
      const risks: number[] = [];
      for (const ct of cts!) {
        const labels = await world.assistant.segment({ caseId, ct });
        risks.push(await world.heuristic.risk({ caseId, pre, post: { ct, labels } }));
        renders++;
      }
      out.push(risks);
    }
    return out;
  };
}

type Row = { name: string; regrets: number[]; optimal: number; shapes: Map<string, number> };
const rows = new Map<string, Row>();
function record(name: string, regret: number, protocol: Protocol) {
  let row = rows.get(name);
  if (!row) rows.set(name, (row = { name, regrets: [], optimal: 0, shapes: new Map() }));
  row.regrets.push(regret);
  if (regret < 1e-12) row.optimal++;
  const shape = `${protocol.drugs.length}d+${protocol.embolics.length}e`;
  row.shapes.set(shape, (row.shapes.get(shape) ?? 0) + 1);
}

const coverage = { drugs: 0, embolics: 0, both: 0, goldShape: new Map<string, number>(), physicianShape: new Map<string, number>() };
const fidelity = { complete: [] as number[], drugOnlyImage: [] as number[], drugOnlyVsBestCompletion: [] as number[], drugOnlyVsWithLipiodol: [] as number[] };
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
const base = (replicas: number, extra: Partial<SearchOptions> = {}): SearchOptions => ({
  beams,
  replicas,
  drugHorizon: 2,
  embolicHorizon: 2,
  appendLipiodolAfterDrugs: false,
  requireImprovement: false,
  ...extra,
});
const all22 = validProtocols(2, 2);
const started = performance.now();

for (const [index, c] of cases.entries()) {
  const phenotype = truth.phenotypes.get(c.caseId)!;
  const ranked = rankProtocols(phenotype);
  const best = ranked[0]!;
  const riskOf = (p: Protocol) => expectedRisk(phenotype, p) - best.risk;
  const pre = await roiOf(c.caseId, c.preCt, c.preLabels);
  const proposal = policy.proposeSync({
    caseId: c.caseId,
    observation: observeTumour(pre, { caseId: c.caseId }),
    goal: 'minimise risk',
    drugCount: 5,
    embolicCount: 3,
  });
  const gd = best.protocol.drugs.every((d) => proposal.drugs.includes(d));
  const ge = best.protocol.embolics.every((e) => proposal.embolics.includes(e));
  coverage.drugs += gd ? 1 : 0;
  coverage.embolics += ge ? 1 : 0;
  coverage.both += gd && ge ? 1 : 0;
  bump(coverage.goldShape, `${best.protocol.drugs.length}d+${best.protocol.embolics.length}e`);
  record('physician (synthetic, for reference)', riskOf(c.protocol), c.protocol);

  // Ceilings: exhaustive over what a candidate set / a fixed 2+2 shape can reach.
  const inSet = ranked.find(
    (r) => r.protocol.drugs.every((d) => proposal.drugs.includes(d)) && r.protocol.embolics.every((e) => proposal.embolics.includes(e)),
  )!;
  record('ceiling: best protocol inside guideline sets (exhaustive)', inSet.risk - best.risk, inSet.protocol);
  const best22 = ranked.find((r) => r.protocol.drugs.length === 2 && r.protocol.embolics.length === 2)!;
  record('ceiling: best protocol with exactly 2 drugs + 2 embolics', best22.risk - best.risk, best22.protocol);
  const inSet22 = ranked.find(
    (r) =>
      r.protocol.drugs.length === 2 &&
      r.protocol.embolics.length === 2 &&
      r.protocol.drugs.every((d) => proposal.drugs.includes(d)) &&
      r.protocol.embolics.every((e) => proposal.embolics.includes(e)),
  );
  if (inSet22) record('ceiling: best 2d+2e inside guideline sets', inSet22.risk - best.risk, inSet22.protocol);

  const sets = { guideline: { drugs: proposal.drugs, embolics: proposal.embolics }, 'action-base': { drugs: DRUGS, embolics: EMBOLICS } } as const;
  for (const [setName, set] of Object.entries(sets)) {
    for (const requireImprovement of [false, true]) {
      const tag = requireImprovement ? ', requireImprovement' : '';
      const exact = await runSearch({ options: base(1, { requireImprovement }), planSeed, ...set, evaluate: exactEvaluator(phenotype) });
      record(`Alg.1 ${setName}, exact risk (T=∞)${tag}`, riskOf(exact.chosen.protocol), exact.chosen.protocol);
    }
    for (const t of [2, 8]) {
      const rep = await runSearch({ options: base(t), planSeed, ...set, evaluate: replicaEvaluator(phenotype) });
      record(`Alg.1 ${setName}, true replica risk T=${t}`, riskOf(rep.chosen.protocol), rep.chosen.protocol);
    }
    if (index < imageCases) {
      for (const t of imageReplicas) {
        const img = await runSearch({ options: base(t), planSeed, ...set, evaluate: imageEvaluator(c.caseId, pre) });
        record(`Alg.1 ${setName}, oracle image heuristic T=${t}`, riskOf(img.chosen.protocol), img.chosen.protocol);
      }
    }
  }

  // (d) fidelity of the image heuristic (T=4 mean) against the world's expected risk.
  if (index < imageCases) {
    const step = Math.max(1, Math.floor(all22.length / fidelityProtocols));
    const sample = all22.filter((_, i) => i % step === 0).slice(0, fidelityProtocols);
    const seeds = [11, 22, 33, 44];
    const heuristicMean = async (p: Protocol) => {
      const risks = (
        await imageEvaluator(c.caseId, pre)([{ key: 'fidelity', phase: 'embolic', step: 1, beam: 0, agent: 'lipiodol', rank: 0, protocol: p, seeds }])
      )[0]!;
      return risks.reduce((s, r) => s + r, 0) / risks.length;
    };
    const completeImage: number[] = [];
    for (const p of sample) completeImage.push(await heuristicMean(p));
    fidelity.complete.push(
      spearman(
        completeImage,
        sample.map((p) => expectedRisk(phenotype, p)),
      ),
    );
    const drugOnly = DRUGS.map((d): Protocol => ({ drugs: [d], embolics: [] }));
    const drugImage: number[] = [];
    for (const p of drugOnly) drugImage.push(await heuristicMean(p));
    const drugExact = drugOnly.map((p) => expectedRisk(phenotype, p));
    fidelity.drugOnlyImage.push(spearman(drugImage, drugExact));
    const bestCompletion = DRUGS.map((d) => ranked.find((r) => r.protocol.drugs.includes(d))!.risk);
    fidelity.drugOnlyVsBestCompletion.push(spearman(drugExact, bestCompletion));
    fidelity.drugOnlyVsWithLipiodol.push(
      spearman(
        drugExact,
        DRUGS.map((d) => expectedRisk(phenotype, { drugs: [d], embolics: ['lipiodol'] })),
      ),
    );
  }
  process.stderr.write(`${c.caseId} done (${index + 1}/${cases.length}, ${renders} renders, ${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const n = cases.length;
const lines: string[] = [];
lines.push(
  `oracle search diagnosis: ${n} ${values.split} cases of ${cohortDir}; B=${beams}, Hd=He=2, plan seed ${planSeed}, ROI ${roiSide}^3 at ${spacing} mm`,
);
lines.push(
  `(a) coverage of the optimal protocol by the guideline sets (D=5, E=3): drugs ${coverage.drugs}/${n}, embolics ${coverage.embolics}/${n}, all agents ${coverage.both}/${n}`,
);
lines.push(`    optimal protocol shapes: ${[...coverage.goldShape].map(([k, v]) => `${k} ${v}`).join(', ')}`);
lines.push('');
lines.push('| search / ceiling | mean regret | optimal chosen | chosen shapes | cases |');
lines.push('| --- | ---: | ---: | --- | ---: |');
for (const row of rows.values()) {
  lines.push(
    `| ${row.name} | ${mean(row.regrets).toFixed(3)} | ${row.optimal}/${row.regrets.length} | ${[...row.shapes].map(([k, v]) => `${k} ${v}`).join(', ')} | ${row.regrets.length} |`,
  );
}
if (fidelity.complete.length > 0) {
  lines.push('');
  lines.push(`(d) heuristic fidelity, mean per-case Spearman over ${fidelity.complete.length} cases (image heuristic = mean of 4 replicas):`);
  lines.push(`    complete 2d+2e protocols (${fidelityProtocols} per case): image heuristic vs expectedRisk ${mean(fidelity.complete).toFixed(3)}`);
  lines.push(`    drug-only protocols (12 drugs): image heuristic vs expectedRisk ${mean(fidelity.drugOnlyImage).toFixed(3)}`);
  lines.push(`    drug-only expectedRisk vs best complete protocol containing that drug ${mean(fidelity.drugOnlyVsBestCompletion).toFixed(3)}`);
  lines.push(`    drug-only expectedRisk vs drug + Lipiodol expectedRisk ${mean(fidelity.drugOnlyVsWithLipiodol).toFixed(3)}`);
}
lines.push(`${renders} oracle renders, ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.stdout.write(lines.join('\n') + '\n');
await world.close();
