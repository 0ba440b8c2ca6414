/**
 * The assistant's segmenter graph against another one (e.g. the graph before a re-export): speed
 * and labels, on onnxruntime-node, in one run.
 *
 * - Labels: the bundled case's planning ROI (96³ at 1.5 mm around the tumour, as prepareCase
 *   builds it) and `--replicas` simulated post-CTs of it (the model folder's dynamics, default
 *   sampler), each segmented exactly as OnnxAssistant does (model grid, 8 Gaussian-blended
 *   windows of 32³, argmax onto the planning grid, largest organ component) with both graphs:
 *   differing voxels before and after post-processing, max |logit difference| on the model grid.
 * - Speed: one batch of the ROI's 8 windows per call, both sessions round-robin (`--rounds`
 *   rounds of `--calls` calls each; the best round of each compared, since the load of a shared
 *   machine changes by the second); process CPU ms per call (the steadier number on a loaded
 *   machine: with one thread a call runs on one core) and wall ms.
 *
 *   npx tsx bench/segmenter.ts [--model-dir models/demo] [--other REV:PATH|FILE] [--replicas 8]
 *        [--rounds 7] [--calls 2] [--threads 1] [--case DIR]
 *
 * `--other` defaults to assistant 0.2.0's graph, `d42d977:models/demo/assistant/segmenter.onnx`
 * (a git object is written to a temporary file).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { roiGrid, tumourCentreMm } from '../src/core/volume/roi';
import { resampleToGrid } from '../src/core/volume/resample';
import type { LabelledCt, Volume } from '../src/core/volume/volume';
import { readNifti } from '../src/io/nifti';
import { loadModelManifest, normaliseHu } from '../src/models/manifest';
import { keepLargestOrgan } from '../src/models/onnx/postprocess';
import { resampleToModelGrid, stepRatio } from '../src/models/onnx/resample';
import { slidingWindowInference } from '../src/models/onnx/sliding-window';
import { argmaxOnPlanningGrid, createOnnxWorldModel } from '../src/models/onnx/world-model';
import type { Protocol } from '../src/core/vocabulary';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    'model-dir': { type: 'string', default: join(root, 'models', 'demo') },
    other: { type: 'string', default: 'd42d977:models/demo/assistant/segmenter.onnx' },
    case: { type: 'string', default: join(root, 'examples', 'demo-cohort', 'cases', 'SYN-1-0001') },
    replicas: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '7' },
    calls: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
  },
});
const modelDir = values['model-dir'];
const threads = Number(values.threads);
const replicas = Number(values.replicas);

const loaded = await loadModelManifest(join(modelDir, 'assistant'), 'assistant');
const m = loaded.manifest;
const otherFile = existsSync(values.other)
  ? values.other
  : (() => {
      const file = join(mkdtempSync(join(tmpdir(), 'mewm-segmenter-bench-')), 'other.onnx');
      writeFileSync(file, execFileSync('git', ['show', values.other], { maxBuffer: 1 << 30 }));
      return file;
    })();
const options: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};
const graphs = [
  {
    name: `${m.name} ${m.version} (${loaded.graphPaths['segmenter']!.replace(`${root}/`, '')})`,
    session: await ort.InferenceSession.create(loaded.graphPaths['segmenter']!, options),
  },
  { name: `other (${values.other})`, session: await ort.InferenceSession.create(otherFile, options) },
];
const roi = m.patchSizeZyx;

// The planning ROI exactly as prepareCase builds it (96³ at 1.5 mm around the tumour).
const pre = { ct: await readNifti(join(values.case, 'pre-ct.nii.gz')), labels: await readNifti(join(values.case, 'pre-labels.nii.gz')) };
const grid = roiGrid(tumourCentreMm('bench', pre.labels as Volume<Uint8Array>), [96, 96, 96], 1.5);
const planning: LabelledCt = {
  ct: resampleToGrid(pre.ct, grid.shape, grid.affine, 'linear', { outside: -1024 }) as Volume<Float32Array>,
  labels: resampleToGrid(pre.labels as Volume<Uint8Array>, grid.shape, grid.affine, 'nearest', { outside: 0 }),
};

/** OnnxAssistant.segment with a given session; also returns the model-grid logits. */
const segment = async (session: ort.InferenceSession, ct: Volume<Float32Array>, batches?: Float32Array[]) => {
  const ratio = stepRatio(ct, m.spacingMm[0]);
  const g = resampleToModelGrid(ct, ratio, (v) => normaliseHu(v, m.intensity));
  const logits = await slidingWindowInference({
    image: g.data,
    inChannels: 1,
    shape: g.shapeZyx,
    roi,
    overlap: m.slidingWindow.overlap,
    sigmaScale: m.slidingWindow.sigmaScale,
    outChannels: 3,
    batchSize: 8,
    padValue: m.intensity.range[0],
    predict: async (batch, n) => {
      batches?.push(Float32Array.from(batch));
      const out = await session.run({ image: new ort.Tensor('float32', batch, [n, 1, ...roi]) });
      return out['logits']!.data as Float32Array;
    },
  });
  const raw = argmaxOnPlanningGrid(logits, g.shapeZyx, ct.shape, ratio);
  return { logits, raw: Uint8Array.from(raw), labels: keepLargestOrgan(raw, ct.shape) };
};

// Simulated post-CTs of the bundled case (the folder's dynamics, default sampler).
const world = await createOnnxWorldModel({ modelDir, maxBatch: 8, log: { warn: () => {}, info: () => {} } as never });
const protocols: Protocol[] = [
  { drugs: ['raltitrexed', 'lobaplatin'], embolics: ['lipiodol', 'gelatin-sponge'] },
  { drugs: ['epirubicin'], embolics: ['lipiodol'] },
];
const cts: { name: string; ct: Volume<Float32Array> }[] = [{ name: 'pre-CT ROI', ct: planning.ct }];
if (replicas > 0) {
  const per = Math.ceil(replicas / protocols.length);
  const out = await world.dynamics.simulate(
    protocols.map((protocol, c) => ({ caseId: 'bench', pre: planning, protocol, seeds: Array.from({ length: per }, (_, r) => 100 * c + r + 1) })),
  );
  out.forEach((list, c) =>
    list.slice(0, replicas - c * per).forEach((ct, r) =>
      cts.push({
        name: `simulated ${protocols[c]!.drugs.join('+')} / ${protocols[c]!.embolics.join('+')} seed ${100 * c + r + 1}`,
        ct: ct as Volume<Float32Array>,
      }),
    ),
  );
}
await world.close();

console.log(`labels, ${graphs[0]!.name} vs ${graphs[1]!.name}:`);
const windows: Float32Array[] = [];
let totalRaw = 0;
let totalPost = 0;
for (const [i, { name, ct }] of cts.entries()) {
  const a = await segment(graphs[0]!.session, ct, i === 0 ? windows : undefined);
  const b = await segment(graphs[1]!.session, ct);
  let maxLogit = 0;
  for (let q = 0; q < a.logits.length; q++) maxLogit = Math.max(maxLogit, Math.abs(a.logits[q]! - b.logits[q]!));
  let raw = 0;
  let post = 0;
  const counts = [0, 0, 0];
  for (let q = 0; q < a.raw.length; q++) {
    if (a.raw[q] !== b.raw[q]) raw++;
    if (a.labels[q] !== b.labels[q]) post++;
    counts[a.labels[q]!]!++;
  }
  totalRaw += raw;
  totalPost += post;
  console.log(
    `  ${name.padEnd(62)} differing voxels: argmax ${raw}, after post-processing ${post} of ${a.raw.length} (liver ${counts[1]}, tumour ${counts[2]}); max |logit diff| ${maxLogit.toExponential(2)}`,
  );
}
console.log(`  total differing voxels over ${cts.length} CTs: argmax ${totalRaw}, after post-processing ${totalPost}`);

// Speed: the ROI's windows as one batch per call.
const batch = windows[0]!;
const n = batch.length / (roi[0] * roi[1] * roi[2]);
const feeds = { image: new ort.Tensor('float32', batch, [n, 1, ...roi]) };
for (const g of graphs) await g.session.run(feeds);
const rounds = Number(values.rounds);
const calls = Number(values.calls);
const timing = graphs.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
for (let r = 0; r < rounds; r++) {
  for (const [i, g] of graphs.entries()) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    for (let k = 0; k < calls; k++) await g.session.run(feeds);
    const used = process.cpuUsage(cpu);
    timing[i]!.wall.push((performance.now() - start) / calls);
    timing[i]!.cpu.push((used.user + used.system) / 1000 / calls);
  }
}
const best = (v: number[]) => Math.min(...v);
const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]!;
console.log(
  `speed: batch ${n} windows of ${roi.join('×')} (the ROI's), ${threads} thread(s), ${rounds} interleaved rounds of ${calls} calls; onnxruntime-node ${ort.env.versions.common}; load average ${loadavg()[0]!.toFixed(1)}`,
);
console.log(`${'graph'.padEnd(78)} CPU ms/call best  median | wall ms/call best  median`);
for (const [i, g] of graphs.entries())
  console.log(
    `${g.name.padEnd(78)} ${best(timing[i]!.cpu).toFixed(1).padStart(18)} ${median(timing[i]!.cpu).toFixed(1).padStart(7)} | ${best(timing[i]!.wall).toFixed(1).padStart(18)} ${median(timing[i]!.wall).toFixed(1).padStart(7)}`,
  );
console.log(
  `speed-up of the first graph (other / first): CPU best ${(best(timing[1]!.cpu) / best(timing[0]!.cpu)).toFixed(2)}x, median ${(median(timing[1]!.cpu) / median(timing[0]!.cpu)).toFixed(2)}x; wall best ${(best(timing[1]!.wall) / best(timing[0]!.wall)).toFixed(2)}x`,
);
for (const g of graphs) await g.session.release();
