/**
 * Per-stage cost of the ONNX world model on the bundled case, outside Temporal: the GPU-queue
 * work of one beam step (simulate, store, segment, store, score) for `--candidates` × `--replicas`
 * simulated CTs, each stage timed, segmentation split into its parts (resample to the model grid,
 * sliding-window inference, argmax onto the planning grid, largest-component post-processing).
 * Run it under `node --cpu-prof` for per-function profiles of the main thread and of the ONNX
 * session worker thread (docs/performance.md; `bench/cpuprofile-top.ts` summarises them).
 *
 *   node --import tsx bench/stages.ts [--case DIR] [--candidates 2] [--replicas 4] [--batch 8] [--provider cpu|cuda] [--threads N]
 *
 * Prints ms per replica per stage, the share of each stage, the denoiser evaluations, and the
 * process's peak RSS.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { tumourCentreMm, roiGrid } from '../src/core/volume/roi';
import { LocalArtifactStore } from '../src/artifacts/local-store';
import { putVolume } from '../src/artifacts/volumes';
import { resampleToGrid } from '../src/core/volume/resample';
import type { LabelledCt, Volume } from '../src/core/volume/volume';
import { readNifti } from '../src/io/nifti';
import { normaliseHu } from '../src/models/manifest';
import { keepLargestOrgan } from '../src/models/onnx/postprocess';
import { resampleToModelGrid, stepRatio } from '../src/models/onnx/resample';
import { slidingWindowInference } from '../src/models/onnx/sliding-window';
import { argmaxOnPlanningGrid, createOnnxWorldModel } from '../src/models/onnx/world-model';
import { OnnxSessionHost, defaultIntraOpThreads, float32 } from '../src/models/onnx/session-host';
import type { Protocol } from '../src/core/vocabulary';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    case: { type: 'string', default: join(root, 'examples', 'demo-cohort', 'cases', 'SYN-1-0001') },
    candidates: { type: 'string', default: '2' },
    replicas: { type: 'string', default: '4' },
    batch: { type: 'string', default: '8' },
    'model-dir': { type: 'string', default: join(root, 'models', 'demo') },
    provider: { type: 'string', default: 'cpu' },
    threads: { type: 'string' },
  },
});
const candidates = Number(values.candidates);
const replicas = Number(values.replicas);
const batch = Number(values.batch);
const modelDir = values['model-dir'];

// Wall time and this process's CPU time (all threads: the stages run one after another, so the
// CPU time of a stage is its compute, and it is far steadier than wall time on a shared machine).
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const ms = () => performance.now();
const timings = new Map<string, number>();
const cpu = new Map<string, number>();
let cpuMark = cpuMs();
const add = (stage: string, t0: number) => {
  timings.set(stage, (timings.get(stage) ?? 0) + ms() - t0);
  const now = cpuMs();
  cpu.set(stage, (cpu.get(stage) ?? 0) + now - cpuMark);
  cpuMark = now;
};
const mark = () => {
  cpuMark = cpuMs();
  return ms();
};

// The planning ROI exactly as prepareCase builds it (96³ at 1.5 mm around the tumour).
const pre = { ct: await readNifti(join(values.case, 'pre-ct.nii.gz')), labels: await readNifti(join(values.case, 'pre-labels.nii.gz')) };
const grid = roiGrid(tumourCentreMm('bench', pre.labels as Volume<Uint8Array>), [96, 96, 96], 1.5);
const roi: LabelledCt = {
  ct: resampleToGrid(pre.ct, grid.shape, grid.affine, 'linear', { outside: -1024 }) as Volume<Float32Array>,
  labels: resampleToGrid(pre.labels as Volume<Uint8Array>, grid.shape, grid.affine, 'nearest', { outside: 0 }),
};

const provider = values.provider === 'cuda' ? 'cuda' : 'cpu';
const threads = values.threads === undefined ? {} : { intraOpNumThreads: Number(values.threads) };
const world = await createOnnxWorldModel({
  modelDir,
  maxBatch: batch,
  executionProvider: provider,
  ...threads,
  log: { warn: ((o: object, m: string) => console.error(m, JSON.stringify(o))) as never, info: () => {} },
});
const store = new LocalArtifactStore(mkdtempSync(join(tmpdir(), 'mewm-bench-stages-')));
const vocabulary: Protocol[] = [
  { drugs: ['epirubicin'], embolics: ['lipiodol'] },
  { drugs: ['raltitrexed'], embolics: ['gelatin-sponge'] },
  { drugs: ['epirubicin', 'raltitrexed'], embolics: ['lipiodol'] },
  { drugs: ['raltitrexed'], embolics: ['lipiodol', 'gelatin-sponge'] },
];
const protocols = Array.from({ length: candidates }, (_, c) => vocabulary[c % vocabulary.length]!);
const requests = protocols.map((protocol, c) => ({ caseId: 'bench', pre: roi, protocol, seeds: Array.from({ length: replicas }, (_, r) => 1000 * c + r + 1) }));

// Warm-up: one replica through every graph, so session start-up is not in the numbers.
{
  const [[ct]] = (await world.dynamics.simulate([{ ...requests[0]!, seeds: [7] }])) as [[Volume<Float32Array>]];
  const labels = await world.assistant.segment({ caseId: 'bench', ct });
  await world.heuristic.risk({ caseId: 'bench', pre: roi, post: { ct, labels } });
}

let t = mark();
const cts: Volume<Float32Array>[] = [];
for (let first = 0; first < requests.length * replicas; first += batch) {
  // The activity's batching: up to `batch` replicas per simulate call, one request per candidate.
  const flat = requests.flatMap((r, c) => r.seeds.map((seed) => ({ c, seed }))).slice(first, first + batch);
  const byCandidate = new Map<number, number[]>();
  for (const { c, seed } of flat) byCandidate.set(c, [...(byCandidate.get(c) ?? []), seed]);
  const out = await world.dynamics.simulate([...byCandidate].map(([c, seeds]) => ({ ...requests[c]!, seeds })));
  cts.push(...out.flat());
}
add('simulate', t);

t = mark();
for (const ct of cts) await putVolume(store, ct);
add('store simulated CTs', t);

// Segmentation, whole (as the activity calls it) and by part (the same steps as OnnxAssistant).
t = mark();
const labels: Volume<Uint8Array>[] = [];
for (const ct of cts) labels.push(await world.assistant.segment({ caseId: 'bench', ct }));
add('segment', t);

const am = world.manifests.assistant;
const partsHost = new OnnxSessionHost({ executionProvider: provider, ...threads, log: { warn: () => {}, info: () => {} } });
await partsHost.load('segmenter', join(modelDir, 'assistant', am.graphs['segmenter']!.file));
for (const ct of cts) {
  let u = mark();
  const ratio = stepRatio(ct, am.spacingMm[0]);
  const g = resampleToModelGrid(ct, ratio, (v) => normaliseHu(v, am.intensity));
  add('  segment: resample to model grid', u);
  u = mark();
  let inference = 0;
  const logits = await slidingWindowInference({
    image: g.data,
    inChannels: 1,
    shape: g.shapeZyx,
    roi: am.patchSizeZyx,
    overlap: am.slidingWindow.overlap,
    sigmaScale: am.slidingWindow.sigmaScale,
    outChannels: 3,
    batchSize: batch,
    padValue: am.intensity.range[0],
    predict: async (b, n) => {
      const v = ms();
      const out = (await partsHost.runFloat('segmenter', { image: float32([n, 1, ...am.patchSizeZyx], b) }, 'logits')).data;
      inference += ms() - v;
      return out;
    },
  });
  timings.set('  segment: sliding window, ONNX runs (incl. transfer)', (timings.get('  segment: sliding window, ONNX runs (incl. transfer)') ?? 0) + inference);
  add('  segment: sliding window, JS (windows, blending)', u + inference);
  u = mark();
  const l = argmaxOnPlanningGrid(logits, g.shapeZyx, ct.shape, ratio);
  add('  segment: argmax onto the planning grid', u);
  u = mark();
  keepLargestOrgan(l, ct.shape);
  add('  segment: largest organ component', u);
}
await partsHost.close();

t = mark();
for (const l of labels) await putVolume(store, l, { labels: true });
add('store labels', t);

t = mark();
for (let i = 0; i < cts.length; i++) await world.heuristic.risk({ caseId: 'bench', pre: roi, post: { ct: cts[i]!, labels: labels[i]! } });
add('score', t);
await world.close();

const n = cts.length;
const top = ['simulate', 'store simulated CTs', 'segment', 'store labels', 'score'];
const total = top.reduce((s, k) => s + (timings.get(k) ?? 0), 0);
console.log(
  `stages of one beam step, ${candidates} candidates × ${replicas} replicas = ${n} simulated CTs (ROI ${roi.ct.shape.join('×')}), batch ${batch}, ${modelDir.replace(`${root}/`, '')}, ${provider}, intra-op threads ${values.threads ?? `default (${defaultIntraOpThreads()})`}`,
);
console.log('stage                                                   wall ms/replica  share   CPU ms/replica');
for (const [k, v] of timings) {
  const share = top.includes(k) ? `${((100 * v) / total).toFixed(1).padStart(5)} %` : '       ';
  const c = cpu.get(k);
  console.log(`${k.padEnd(55)} ${(v / n).toFixed(1).padStart(10)}   ${share} ${c === undefined ? '' : (c / n).toFixed(1).padStart(10)}`);
}
const cpuTotal = top.reduce((s, k) => s + (cpu.get(k) ?? 0), 0);
console.log(
  `total (top-level stages) ${(total / n).toFixed(1)} ms/replica wall, ${(cpuTotal / n).toFixed(1)} ms/replica CPU; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`,
);
console.log("(the sliding window's ONNX part is wall time only: its CPU time is inside the JS line above it, which is JS + ONNX CPU)");
