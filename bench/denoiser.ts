/**
 * Denoiser throughput: onnxruntime-node vs PyTorch eager on the same denoiser (the model folder's
 * weights, same batch, same synthetic inputs, same thread count), measured in one run, rounds
 * interleaved (best round of each compared: the load of a shared machine changes by the second).
 * Prints wall and process-CPU ms per call (CPU time is the steadier number on a loaded machine;
 * with one thread both sides run on one core) and the speed ratio PyTorch ms / this variant's ms.
 *
 *   npx tsx bench/denoiser.ts [modelDir=models/demo/dynamics] [batch=8] [iterations=20] [threads=1] [OTHER...]
 *
 * OTHER: more denoiser graphs timed in the same rounds with the same inputs, each a file or a git
 * object `REV:PATH`, e.g. the graph before a re-export:
 *   npx tsx bench/denoiser.ts models/demo/dynamics 8 20 1 HEAD~1:models/demo/dynamics/denoiser.onnx
 *
 * PyTorch side: `training/bench_denoiser.py --serve` in training/.venv (the trained module, Conv3d
 * through oneDNN, weights rebuilt from the folder's graph); skipped with a message when that venv
 * is absent. Rounds: 5, each `iterations / 5` calls per variant.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as ort from 'onnxruntime-node';
import { loadModelManifest } from '../src/models/manifest';

const [modelDir = 'models/demo/dynamics', batchArg = '8', iterArg = '20', threadArg = '1', ...others] = process.argv.slice(2);
const batch = Number(batchArg);
const iterations = Number(iterArg);
const threads = Number(threadArg);
const rounds = 5;
const perRound = Math.max(1, Math.round(iterations / rounds));

const loaded = await loadModelManifest(modelDir, 'dynamics');
const spec = loaded.manifest.graphs['denoiser']!;

// The inputs of training/bench_denoiser.py: sin(i * 12.9898) * 0.8 (|.| for the mask), timestep 500.
const feeds: Record<string, ort.Tensor> = {};
for (const input of spec.inputs) {
  const dims = input.shape.map((d) => (typeof d === 'number' ? d : batch));
  const n = dims.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, (_, i) => {
    if (input.name === 'timestep') return 500;
    const v = Math.fround(Math.sin(i * 12.9898) * 0.8);
    return input.name === 'mask' ? Math.abs(v) : v;
  });
  feeds[input.name] = new ort.Tensor('float32', data, dims);
}

const options: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};
const tmp = mkdtempSync(join(tmpdir(), 'mewm-denoiser-bench-'));
const resolve = (other: string, i: number): string => {
  if (existsSync(other)) return other;
  const file = join(tmp, `other-${i}.onnx`);
  writeFileSync(file, execFileSync('git', ['show', other], { maxBuffer: 1 << 30 }));
  return file;
};
type Timing = { msPerCall: number; cpuMsPerCall: number };
type Variant = { name: string; rounds: Timing[]; run: (k: number) => Promise<Timing>; close: () => Promise<void> };
const variants: Variant[] = [];
const ortVariant = async (name: string, file: string): Promise<Variant> => {
  const session = await ort.InferenceSession.create(file, options);
  for (let i = 0; i < 3; i++) await session.run(feeds);
  return {
    name,
    rounds: [],
    run: async (k) => {
      const start = performance.now();
      const cpu = process.cpuUsage();
      for (let i = 0; i < k; i++) await session.run(feeds);
      const used = process.cpuUsage(cpu);
      return { msPerCall: (performance.now() - start) / k, cpuMsPerCall: (used.user + used.system) / 1000 / k };
    },
    close: () => session.release(),
  };
};
variants.push(await ortVariant(`onnxruntime-node, ${modelDir} (${loaded.manifest.version})`, loaded.graphPaths['denoiser']!));
for (const [i, other] of others.entries()) variants.push(await ortVariant(`onnxruntime-node, ${other}`, resolve(other, i)));

const python = join('training', '.venv', 'bin', 'python');
let torchVersion = '';
if (existsSync(python)) {
  const child = spawn(python, ['-m', 'training.bench_denoiser', '--serve', '--model-dir', modelDir, '--batch', String(batch), '--threads', String(threads)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const line = (await lines.next()).value as string | undefined;
    if (line === undefined) throw new Error('training/bench_denoiser.py stopped (see its error above)');
    return JSON.parse(line) as Record<string, unknown>;
  };
  torchVersion = String((await next())['torch']);
  variants.push({
    name: 'PyTorch eager (trained module, Conv3d)',
    rounds: [],
    run: async (k) => {
      child.stdin.write(`${k}\n`);
      return (await next()) as Timing;
    },
    close: async () => {
      child.stdin.end('\n');
    },
  });
}

for (let r = 0; r < rounds; r++) for (const v of variants) v.rounds.push(await v.run(perRound));
for (const v of variants) await v.close();

const best = (r: Timing[], k: keyof Timing) => Math.min(...r.map((t) => t[k]));
const median = (r: Timing[], k: keyof Timing) => r.map((t) => t[k]).sort((a, b) => a - b)[Math.floor(r.length / 2)]!;
const torchMs = variants.find((v) => v.name.startsWith('PyTorch'))?.rounds;
console.log(
  `denoiser ${loaded.manifest.name} ${loaded.manifest.version} (${loaded.sha256.slice(0, 12)}), batch ${batch}, ${threads} thread(s), ${rounds} interleaved rounds of ${perRound} calls; onnxruntime-node ${ort.env.versions.common}${torchVersion ? `, torch ${torchVersion}` : ''}`,
);
console.log(`${'variant'.padEnd(64)} wall ms/call: best  median  | CPU ms/call: best  median  | speed vs PyTorch (best wall, best CPU)`);
for (const v of variants)
  console.log(
    `${v.name.padEnd(64)} ${best(v.rounds, 'msPerCall').toFixed(2).padStart(18)} ${median(v.rounds, 'msPerCall').toFixed(2).padStart(7)}  | ${best(v.rounds, 'cpuMsPerCall').toFixed(2).padStart(17)} ${median(v.rounds, 'cpuMsPerCall').toFixed(2).padStart(7)}  | ${torchMs ? `${(best(torchMs, 'msPerCall') / best(v.rounds, 'msPerCall')).toFixed(2)}x, ${(best(torchMs, 'cpuMsPerCall') / best(v.rounds, 'cpuMsPerCall')).toFixed(2)}x` : ''}`,
  );
if (!torchMs) console.log('PyTorch eager: skipped (training/.venv is absent; see training/README.md)');
