/**
 * The heuristic's survival graph against another version of it (e.g. the graph before a
 * re-export): risks and speed on onnxruntime-node, in one run.
 *
 * - Risks: `OnnxHeuristic.risk` (5 crops around the tumour, mean risk) of the bundled case's
 *   planning ROI against itself and against `--replicas` simulated post-CTs of it (the folder's
 *   dynamics, default sampler; labels by the folder's assistant), with the folder's heuristic and
 *   with the other one (a copy of the model folder whose heuristic graph, manifest and parity
 *   file are those of `--other-rev`): max |risk difference| and whether the ranking of the CTs by
 *   risk is the same.
 * - Speed: one call of the crops (batch 5 of [2 × 3 × 32³]) per run, both graphs round-robin
 *   (`--rounds` rounds of `--calls` calls; best round compared), process CPU ms and wall ms.
 *
 *   npx tsx bench/heuristic.ts [--model-dir models/demo] [--other-rev fe78f88] [--replicas 8] [--rounds 9] [--calls 20] [--threads 1]
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { roiGrid, tumourCentreMm } from '../src/core/volume/roi';
import { resampleToGrid } from '../src/core/volume/resample';
import type { LabelledCt, Volume } from '../src/core/volume/volume';
import type { Protocol } from '../src/core/vocabulary';
import { readNifti } from '../src/io/nifti';
import { loadModelManifest } from '../src/models/manifest';
import { createOnnxWorldModel } from '../src/models/onnx/world-model';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    'model-dir': { type: 'string', default: join(root, 'models', 'demo') },
    'other-rev': { type: 'string', default: 'fe78f88' },
    case: { type: 'string', default: join(root, 'examples', 'demo-cohort', 'cases', 'SYN-1-0001') },
    replicas: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '9' },
    calls: { type: 'string', default: '20' },
    threads: { type: 'string', default: '1' },
  },
});
const modelDir = values['model-dir'];
const rev = values['other-rev'];
const threads = Number(values.threads);

// The other model folder: this one with the heuristic files of `rev`.
const otherDir = join(mkdtempSync(join(tmpdir(), 'mewm-heuristic-bench-')), 'models');
cpSync(modelDir, otherDir, { recursive: true });
for (const file of ['manifest.json', 'parity.json', 'survival.onnx'])
  writeFileSync(join(otherDir, 'heuristic', file), execFileSync('git', ['show', `${rev}:models/demo/heuristic/${file}`], { maxBuffer: 1 << 30 }));
const log = { warn: () => {}, info: () => {} } as never;
const options = { maxBatch: 8, intraOpNumThreads: threads, log };
const worlds = [await createOnnxWorldModel({ modelDir, ...options }), await createOnnxWorldModel({ modelDir: otherDir, ...options })];
const names = worlds.map((w) => `heuristic ${w.manifests.heuristic.version}`);

const pre = { ct: await readNifti(join(values.case, 'pre-ct.nii.gz')), labels: await readNifti(join(values.case, 'pre-labels.nii.gz')) };
const grid = roiGrid(tumourCentreMm('bench', pre.labels as Volume<Uint8Array>), [96, 96, 96], 1.5);
const planning: LabelledCt = {
  ct: resampleToGrid(pre.ct, grid.shape, grid.affine, 'linear', { outside: -1024 }) as Volume<Float32Array>,
  labels: resampleToGrid(pre.labels as Volume<Uint8Array>, grid.shape, grid.affine, 'nearest', { outside: 0 }),
};
const protocols: Protocol[] = [
  { drugs: ['raltitrexed', 'lobaplatin'], embolics: ['lipiodol', 'gelatin-sponge'] },
  { drugs: ['epirubicin'], embolics: ['lipiodol'] },
];
const replicas = Number(values.replicas);
const per = Math.ceil(replicas / protocols.length);
const posts: { name: string; post: LabelledCt }[] = [{ name: 'pre ROI as its own post', post: planning }];
const sims = await worlds[0]!.dynamics.simulate(
  protocols.map((protocol, c) => ({ caseId: 'bench', pre: planning, protocol, seeds: Array.from({ length: per }, (_, r) => 100 * c + r + 1) })),
);
for (const [c, list] of sims.entries())
  for (const [r, ct] of list.slice(0, replicas - c * per).entries()) {
    const labels = await worlds[0]!.assistant.segment({ caseId: 'bench', ct });
    posts.push({ name: `${protocols[c]!.drugs.join('+')} / ${protocols[c]!.embolics.join('+')} seed ${100 * c + r + 1}`, post: { ct, labels } });
  }
console.log(`risks, ${names[0]} (${modelDir.replace(`${root}/`, '')}) vs ${names[1]} (${rev}):`);
const risks: number[][] = [[], []];
for (const { name, post } of posts) {
  const [a, b] = [
    await worlds[0]!.heuristic.risk({ caseId: 'bench', pre: planning, post }),
    await worlds[1]!.heuristic.risk({ caseId: 'bench', pre: planning, post }),
  ];
  risks[0]!.push(a);
  risks[1]!.push(b);
  console.log(`  ${name.padEnd(56)} ${a.toFixed(7)} vs ${b.toFixed(7)}  |diff| ${Math.abs(a - b).toExponential(2)}`);
}
const order = (r: number[]) =>
  r
    .map((_, i) => i)
    .sort((i, j) => r[i]! - r[j]!)
    .join(',');
console.log(
  `  max |risk diff| ${Math.max(...risks[0]!.map((a, i) => Math.abs(a - risks[1]![i]!))).toExponential(2)}; same ranking of the ${posts.length} CTs: ${order(risks[0]!) === order(risks[1]!)}`,
);
for (const w of worlds) await w.close();

// Speed: the graphs themselves, 5 crops of synthetic [3 × 32³] pre and post (values do not decide the cost).
const sessionOptions: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};
const sessions = [];
for (const dir of [modelDir, otherDir]) {
  const loaded = await loadModelManifest(join(dir, 'heuristic'), 'heuristic');
  sessions.push(await ort.InferenceSession.create(loaded.graphPaths['survival']!, sessionOptions));
}
const n = 5;
const P = 32;
const make = (seed: number) =>
  Float32Array.from({ length: n * 3 * P ** 3 }, (_, i) =>
    Math.floor(i / P ** 3) % 3 === 0 ? Math.sin((i + seed) * 12.9898) * 0.8 : Math.sin((i + seed) * 78.233) > 0.2 ? 1 : 0,
  );
const feeds = { pre: new ort.Tensor('float32', make(0), [n, 3, P, P, P]), post: new ort.Tensor('float32', make(1), [n, 3, P, P, P]) };
for (const s of sessions) await s.run(feeds);
const timing = sessions.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
const calls = Number(values.calls);
for (let r = 0; r < Number(values.rounds); r++)
  for (const [i, s] of sessions.entries()) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    for (let k = 0; k < calls; k++) await s.run(feeds);
    const used = process.cpuUsage(cpu);
    timing[i]!.wall.push((performance.now() - start) / calls);
    timing[i]!.cpu.push((used.user + used.system) / 1000 / calls);
  }
const best = (v: number[]) => Math.min(...v);
const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]!;
console.log(
  `speed: batch ${n} crops, ${threads} thread(s), ${values.rounds} interleaved rounds of ${calls} calls; onnxruntime-node ${ort.env.versions.common}; load average ${loadavg()[0]!.toFixed(1)}`,
);
for (const [i, name] of names.entries())
  console.log(
    `  ${name.padEnd(16)} CPU ms/call best ${best(timing[i]!.cpu).toFixed(2)} median ${median(timing[i]!.cpu).toFixed(2)} | wall best ${best(timing[i]!.wall).toFixed(2)} median ${median(timing[i]!.wall).toFixed(2)}`,
  );
console.log(
  `speed-up of ${names[0]} over ${names[1]}: CPU best ${(best(timing[1]!.cpu) / best(timing[0]!.cpu)).toFixed(2)}x, median ${(median(timing[1]!.cpu) / median(timing[0]!.cpu)).toFixed(2)}x`,
);
for (const s of sessions) await s.release();
