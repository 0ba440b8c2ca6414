/**
 * Held-out quality of a model folder through the TypeScript runtime (onnxruntime-node + the
 * TypeScript sampler), on the val/test cases of a cohort written by `mewm synth`:
 *
 *   npx tsx training/evaluate-onnx.ts --cohort DIR [--models models/demo] [--cases 12] [--seeds 3]
 *                                     [--parts dynamics,assistant,heuristic]
 *
 * Each case's CT is resampled to 1.5 mm and cut to a 96³ ROI around the tumour (the planning
 * grid of the default configuration). Prints one JSON object:
 * - dynamics: action-effect ratio (mean |x(a) − x(a')| between protocols over mean |x(a)_s −
 *   x(a)_s'| between replicas, inside the pre-treatment tumour), Spearman of the simulated viable
 *   share (mean over the replicas of the case's own protocol) vs the world's true viable ratio and
 *   vs the true post-CT's, and the error of simulated
 *   vs true post-CT viable/lipiodol/necrosis shares for the fast sampler and for DDPM-200. Two
 *   measurements of the viable share: by HU band alone over the pre-treatment tumour region
 *   (vacated tumour bed rendered as liver can fall in the band), and as the application measures
 *   it (`tumourComposition`: band and tumour label, labels from the assistant's segmentation of
 *   the simulated CT, of the true post-CT for the reference);
 * - assistant: tumour and liver Dice on the true post-CT;
 * - heuristic: C-index of risk(pre, true post) vs overall survival, log-rank p of a median split,
 *   and the ceiling of this noisy world on the same cases: the C-index of the world's own expected
 *   risk of the given protocol (truth.jsonl `physicianExpectedRisk`) and of the realised risk
 *   after the drawn response (`realisedRisk`), also over the whole cohort.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/random';
import { DRUGS, EMBOLICS, type Protocol } from '../src/core/vocabulary';
import { cropAround } from '../src/core/volume/crop';
import { resampleToSpacing } from '../src/core/volume/resample';
import { Label, type LabelledCt, type Volume } from '../src/core/volume/volume';
import { tumourComposition } from '../src/evaluation/image-metrics';
import { riskConcordanceIndex } from '../src/evaluation/survival/concordance';
import { logRankTest } from '../src/evaluation/survival/log-rank';
import { readNifti } from '../src/io/nifti';
import { spearman } from '../src/evaluation/rank-correlation';
import { centroidOf } from '../src/models/onnx/resample';
import { createOnnxWorldModel, type SamplerSettings } from '../src/models/onnx/world-model';
import { POST_TUMOUR_HU } from '../src/world/response';

const { values } = parseArgs({
  options: {
    cohort: { type: 'string' },
    models: { type: 'string', default: 'models/demo' },
    cases: { type: 'string', default: '12' },
    seeds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
    parts: { type: 'string', default: 'dynamics,assistant,heuristic' },
  },
});
if (!values.cohort) {
  console.error('usage: npx tsx training/evaluate-onnx.ts --cohort DIR [--models models/demo] [--cases N] [--seeds T]');
  process.exit(2);
}
const cohort = values.cohort;
const maxCases = Number(values.cases);
const seedCount = Number(values.seeds);
const parts = new Set(values.parts!.split(','));
for (const p of parts) if (!['dynamics', 'assistant', 'heuristic'].includes(p)) throw new Error(`--parts: unknown part ${p}`);

interface Row {
  caseId: string;
  split: string;
  preCt: string;
  preLabels: string;
  postCt: string;
  postLabels: string;
  protocol: { drugs: string[]; embolics: string[] };
  osMonths: number;
  event: 0 | 1;
}
const allRows = (await readFile(join(cohort, 'manifest.jsonl'), 'utf8'))
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Row);
const rows = allRows.filter((r) => r.split !== 'train');
interface Truth {
  caseId: string;
  physicianExpectedRisk: number;
  realisedRisk: number;
  response: { viableRatio: number };
}
const truth = new Map<string, Truth>();
for (const line of (await readFile(join(cohort, 'truth.jsonl'), 'utf8')).split('\n')) {
  if (!line.trim()) continue;
  const t = JSON.parse(line) as Truth;
  truth.set(t.caseId, t);
}

const ROI: [number, number, number] = [96, 96, 96];
async function roiOf(row: Row): Promise<{ pre: LabelledCt; post: LabelledCt }> {
  const load = async (p: string, mode: 'linear' | 'nearest') => resampleToSpacing(await readNifti(join(cohort, p)), 1.5, mode);
  const preCt = (await load(row.preCt, 'linear')) as Volume<Float32Array>;
  const preLabels = (await load(row.preLabels, 'nearest')) as Volume;
  const postCt = (await load(row.postCt, 'linear')) as Volume<Float32Array>;
  const postLabels = (await load(row.postLabels, 'nearest')) as Volume;
  const labels8 = (v: Volume): Volume<Uint8Array> => ({ ...v, data: Uint8Array.from(v.data as ArrayLike<number>) });
  const c = centroidOf(labels8(preLabels), Label.tumour) ?? centroidOf(labels8(preLabels), Label.liver)!;
  const centre = c.map(Math.round) as [number, number, number];
  const ct = (v: Volume<Float32Array>) => cropAround(v, centre, ROI, -1024) as Volume<Float32Array>;
  const lab = (v: Volume) => labels8(cropAround(v, centre, ROI, 0));
  return { pre: { ct: ct(preCt), labels: lab(preLabels) }, post: { ct: ct(postCt), labels: lab(postLabels) } };
}

function shares(ct: Float32Array, region: Uint8Array): { viable: number; lipiodol: number; necrosis: number } {
  let n = 0;
  let viable = 0;
  let lipiodol = 0;
  for (let i = 0; i < ct.length; i++) {
    if (region[i] !== Label.tumour) continue;
    n++;
    const v = ct[i]!;
    if (v >= 250) lipiodol++;
    else if (v >= 55) viable++;
  }
  return n === 0 ? { viable: 0, lipiodol: 0, necrosis: 0 } : { viable: viable / n, lipiodol: lipiodol / n, necrosis: (n - viable - lipiodol) / n };
}

const meanAbs = (a: Float32Array, b: Float32Array, region: Uint8Array) => {
  let s = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++)
    if (region[i] === Label.tumour) {
      s += Math.abs(a[i]! - b[i]!);
      n++;
    }
  return n ? s / n : 0;
};

const fast: SamplerSettings = { method: 'dpm-solver++', steps: 25 };
const ddpm: SamplerSettings = { method: 'ddpm', steps: 200 };
const worldFast = await createOnnxWorldModel({ modelDir: values.models!, sampler: fast, intraOpNumThreads: Number(values.threads), maxBatch: 8 });
const worldDdpm = await createOnnxWorldModel({ modelDir: values.models!, sampler: ddpm, intraOpNumThreads: Number(values.threads), maxBatch: 8 });
const rng = new Rng(20261126);
const within: number[] = [];
const between: number[] = [];
const simViable: number[] = [];
const trueViable: number[] = [];
const simViableLabelled: number[] = [];
const trueViableLabelled: number[] = [];
const worldViable: number[] = [];
const errFast = { viable: [] as number[], lipiodol: [] as number[], necrosis: [] as number[] };
const errDdpm = { viable: [] as number[], lipiodol: [] as number[], necrosis: [] as number[] };
const tumourDice: number[] = [];
const liverDice: number[] = [];
const risks: number[] = [];
const times: number[] = [];
const events: number[] = [];
const dice = (a: Uint8Array, b: Uint8Array, f: (v: number) => boolean) => {
  let inter = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = f(a[i]!);
    const y = f(b[i]!);
    if (x) sa++;
    if (y) sb++;
    if (x && y) inter++;
  }
  return sa + sb === 0 ? 1 : (2 * inter) / (sa + sb);
};

const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / Math.max(1, x.length);
const started = Date.now();
const isTumour = (labels: Uint8Array) => Uint8Array.from(labels, (l) => (l === Label.tumour ? 1 : 0));
for (const row of rows.slice(0, maxCases)) {
  const { pre, post } = await roiOf(row);
  times.push(row.osMonths);
  events.push(row.event);
  worldViable.push(truth.get(row.caseId)?.response.viableRatio ?? NaN);
  if (parts.has('heuristic')) risks.push(await worldFast.heuristic.risk({ caseId: row.caseId, pre, post }));
  if (parts.has('assistant')) {
    const seg = await worldFast.assistant.segment({ caseId: row.caseId, ct: post.ct });
    tumourDice.push(dice(seg.data, post.labels.data, (v) => v === Label.tumour));
    liverDice.push(dice(seg.data, post.labels.data, (v) => v >= 1));
  }
  if (!parts.has('dynamics')) continue;
  const protocol = row.protocol as unknown as Protocol;
  const other: Protocol = {
    drugs: [rng.pick(DRUGS.filter((d) => !row.protocol.drugs.includes(d)))],
    embolics: [rng.pick(EMBOLICS.filter((e) => !row.protocol.embolics.includes(e)))],
  };
  const seeds = Array.from({ length: seedCount }, (_, i) => 1000 + i);
  const [same, diff] = await worldFast.dynamics.simulate([
    { caseId: row.caseId, pre, protocol, seeds },
    { caseId: row.caseId, pre, protocol: other, seeds },
  ]);
  const region = pre.labels.data;
  for (let i = 0; i < seedCount; i++) {
    between.push(meanAbs(same![i]!.data, diff![i]!.data, region));
    for (let j = i + 1; j < seedCount; j++) within.push(meanAbs(same![i]!.data, same![j]!.data, region));
  }
  const truthShares = shares(post.ct.data, region);
  // the simulated share of a case: mean over its replicas (one replica alone is mostly sampler noise)
  const replicaShares = same!.map((v) => shares(v.data, region));
  const simShares = { viable: mean(replicaShares.map((r) => r.viable)), lipiodol: mean(replicaShares.map((r) => r.lipiodol)), necrosis: mean(replicaShares.map((r) => r.necrosis)) };
  const [ddpmSim] = await worldDdpm.dynamics.simulate([{ caseId: row.caseId, pre, protocol, seeds: [seeds[0]!] }]);
  const ddpmShares = shares(ddpmSim![0]!.data, region);
  for (const k of ['viable', 'lipiodol', 'necrosis'] as const) {
    errFast[k].push(Math.abs(simShares[k] - truthShares[k]));
    errDdpm[k].push(Math.abs(ddpmShares[k] - truthShares[k]));
  }
  simViable.push(simShares.viable);
  trueViable.push(truthShares.viable);
  const regionBinary = isTumour(region);
  const trueSeg = await worldFast.assistant.segment({ caseId: row.caseId, ct: post.ct });
  trueViableLabelled.push(tumourComposition(regionBinary, post.ct.data, isTumour(trueSeg.data), POST_TUMOUR_HU).viable);
  const labelled: number[] = [];
  for (const sim of same!) labelled.push(tumourComposition(regionBinary, sim.data, isTumour((await worldFast.assistant.segment({ caseId: row.caseId, ct: sim })).data), POST_TUMOUR_HU).viable);
  simViableLabelled.push(mean(labelled));
  console.error(`${row.caseId}: done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
await worldFast.close();
await worldDdpm.close();

const cIndexOf = (rs: readonly Row[], risk: (t: Truth) => number) =>
  Number(riskConcordanceIndex({ times: rs.map((r) => r.osMonths), events: rs.map((r) => r.event) }, rs.map((r) => risk(truth.get(r.caseId)!))).toFixed(4));
const evaluated = rows.slice(0, maxCases);
const median = [...risks].sort((a, b) => a - b)[Math.floor(risks.length / 2)]!;
const high = risks.map((r) => r >= median);
const pick = (want: boolean) => ({ times: times.filter((_, i) => high[i] === want), events: events.filter((_, i) => high[i] === want) });
const avg = (e: Record<string, number[]>) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, Number(mean(v).toFixed(4))]));
console.log(
  JSON.stringify(
    {
      models: values.models,
      cases: times.length,
      runtime: 'onnxruntime-node + TypeScript sampler',
      dynamics: parts.has('dynamics') && {
        fastSampler: fast,
        actionEffectRatio: Number((mean(between) / mean(within)).toFixed(3)),
        meanAbsHuBetweenProtocols: Number(mean(between).toFixed(2)),
        meanAbsHuBetweenReplicas: Number(mean(within).toFixed(2)),
        viableSpearmanVsWorldTruthViableRatio: Number(spearman(simViable, worldViable).toFixed(3)),
        viableSpearmanVsTruePostCt: Number(spearman(simViable, trueViable).toFixed(3)),
        viableShareNote: 'HU band [55, 250) over the pre-treatment tumour region, no labels',
        labelledViableSpearmanVsWorldTruthViableRatio: Number(spearman(simViableLabelled, worldViable).toFixed(3)),
        labelledViableSpearmanVsTruePostCt: Number(spearman(simViableLabelled, trueViableLabelled).toFixed(3)),
        labelledViableMean: { simulated: Number(mean(simViableLabelled).toFixed(4)), truePostCt: Number(mean(trueViableLabelled).toFixed(4)) },
        labelledViableNote: 'tumourComposition as the application measures it: HU band and tumour label from the assistant segmentation of each CT',
        shareMeanAbsErrorFast: avg(errFast),
        shareMeanAbsErrorDdpm200: avg(errDdpm),
      },
      assistant: parts.has('assistant') && { postTumourDice: Number(mean(tumourDice).toFixed(4)), postLiverDice: Number(mean(liverDice).toFixed(4)) },
      heuristic: parts.has('heuristic') && {
        cIndex: Number(riskConcordanceIndex({ times, events }, risks).toFixed(4)),
        logRankPMedianSplit: Number(logRankTest(pick(true), pick(false)).pValue.toFixed(4)),
      },
      heuristicCeiling: {
        note: "C-index of the world's own risks on the same cases (the best a risk model can do on this noisy world) and over the whole cohort",
        sameCases: { expectedRiskOfGivenProtocol: cIndexOf(evaluated, (t) => t.physicianExpectedRisk), realisedRisk: cIndexOf(evaluated, (t) => t.realisedRisk) },
        wholeCohort: { cases: allRows.length, expectedRiskOfGivenProtocol: cIndexOf(allRows, (t) => t.physicianExpectedRisk), realisedRisk: cIndexOf(allRows, (t) => t.realisedRisk) },
      },
    },
    null,
    2,
  ),
);
