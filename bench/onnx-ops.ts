/**
 * Where onnxruntime-node spends a graph's run time: ms per call of one graph under several
 * session-option variants measured in the same run (the first variant is the baseline of the
 * ratios), and, with `--ops`, onnxruntime's own per-node profile summed by operator type.
 *
 *   node --import tsx bench/onnx-ops.ts [--model models/demo/assistant] [--graph segmenter]
 *        [--batch 8] [--iterations 5] [--rounds 5] [--threads 1] [--ops] [--file OTHER.onnx]... [--only-current]
 *
 * `--file` times other .onnx files with the same inputs after the graph's own variants, in the
 * same run (e.g. the rewritten denoiser of bench/denoiser_as_2d.py --out DIR).
 *
 * Inputs are synthetic (the manifest's shapes, `batch` for the symbolic dim); weights, not
 * values, decide the cost of these graphs.
 */
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadModelManifest } from '../src/models/manifest';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/demo/assistant' },
    graph: { type: 'string', default: 'segmenter' },
    batch: { type: 'string', default: '8' },
    iterations: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
    ops: { type: 'boolean', default: false },
    file: { type: 'string', multiple: true, default: [] },
    'only-current': { type: 'boolean', default: false },
  },
});
const batch = Number(values.batch);
const iterations = Number(values.iterations);
const rounds = Number(values.rounds);
const threads = Number(values.threads);
const roleOf = { assistant: 'assistant', dynamics: 'dynamics', heuristic: 'heuristic' } as const;
const role = Object.values(roleOf).find((r) => values.model.replace(/\/$/, '').endsWith(r)) ?? 'assistant';
const loaded = await loadModelManifest(values.model, role);
const spec = loaded.manifest.graphs[values.graph];
const path = loaded.graphPaths[values.graph];
if (!spec || !path) throw new Error(`no graph ${values.graph} in ${values.model}`);

const feeds: Record<string, ort.Tensor> = {};
for (const input of spec.inputs) {
  const dims = input.shape.map((d) => (typeof d === 'number' ? d : batch));
  const n = dims.reduce((a, b) => a * b, 1);
  feeds[input.name] = new ort.Tensor(
    'float32',
    Float32Array.from({ length: n }, (_, i) => (input.name === 'timestep' ? 500 : Math.sin(i * 12.9898) * 0.8)),
    dims,
  );
}

const base: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};
const variants: [string, ort.InferenceSession.SessionOptions][] = [
  ['current (all, no spinning, arena on)', base],
  ['spinning on', { ...base, extra: {} }],
  ['optimisation: basic', { ...base, graphOptimizationLevel: 'basic' }],
  ['optimisation: extended', { ...base, graphOptimizationLevel: 'extended' }],
  ['no CPU arena', { ...base, enableCpuMemArena: false }],
  ['no memory pattern', { ...base, enableMemPattern: false }],
  [`${threads === 1 ? 2 : 1} intra-op thread(s)`, { ...base, intraOpNumThreads: threads === 1 ? 2 : 1 }],
  [`${threads === 1 ? 2 : 1} intra-op thread(s), spinning on`, { ...base, intraOpNumThreads: threads === 1 ? 2 : 1, extra: {} }],
];

// All sessions live at once and are timed round-robin, `rounds` times: on a shared machine the
// load changes from second to second, so each variant's best round is compared, never one run.
const sessions: { name: string; session: ort.InferenceSession; rounds: number[] }[] = [];
for (const [name, options] of values['only-current'] ? variants.slice(0, 1) : variants)
  sessions.push({ name, session: await ort.InferenceSession.create(path, options), rounds: [] });
for (const file of values.file)
  sessions.push({ name: `${file.split('/').pop()} (current options)`, session: await ort.InferenceSession.create(file, base), rounds: [] });
for (const s of sessions) for (let i = 0; i < 2; i++) await s.session.run(feeds);
for (let round = 0; round < rounds; round++)
  for (const s of sessions) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await s.session.run(feeds);
    s.rounds.push((performance.now() - start) / iterations);
  }
for (const s of sessions) await s.session.release();
const best = (r: number[]) => Math.min(...r);
const median = (r: number[]) => [...r].sort((a, b) => a - b)[Math.floor(r.length / 2)]!;
console.log(
  `${values.model}/${values.graph}: batch ${batch}, ${threads} intra-op thread(s), ${rounds} rounds of ${iterations} calls per variant (round-robin), onnxruntime-node ${ort.env.versions.common}`,
);
console.log(`${'variant'.padEnd(44)} best ms/call  median   speed vs first (best)`);
for (const s of sessions)
  console.log(
    `${s.name.padEnd(44)} ${best(s.rounds).toFixed(1).padStart(12)} ${median(s.rounds).toFixed(1).padStart(8)}   ${(best(sessions[0]!.rounds) / best(s.rounds)).toFixed(2)}x`,
  );

if (values.ops) {
  const prefix = `/tmp/mewm-ort-profile-${process.pid}`;
  const session = await ort.InferenceSession.create(path, { ...base, enableProfiling: true, profileFilePrefix: prefix });
  for (let i = 0; i < iterations; i++) await session.run(feeds);
  session.endProfiling();
  await session.release();
  const { readdirSync } = await import('node:fs');
  const file = readdirSync('/tmp').find((f) => f.startsWith(`mewm-ort-profile-${process.pid}`));
  if (!file) throw new Error('onnxruntime wrote no profile');
  const events = JSON.parse(readFileSync(`/tmp/${file}`, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  rmSync(`/tmp/${file}`);
  const byOp = new Map<string, number>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    total += e.dur;
  }
  console.log(`per operator type (onnxruntime profile, ${iterations} calls): ${(total / 1000 / iterations).toFixed(1)} ms/call in kernels`);
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]))
    console.log(`  ${op.padEnd(24)} ${(us / 1000 / iterations).toFixed(2).padStart(8)} ms/call ${((100 * us) / total).toFixed(1).padStart(5)} %`);
}
