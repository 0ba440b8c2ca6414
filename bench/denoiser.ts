/**
 * Denoiser throughput: onnxruntime-node vs PyTorch eager, same architecture, batch and thread
 * count, measured in the same run. Prints ms per call for both and the ratio.
 *
 *   npx tsx bench/denoiser.ts [modelDir=models/demo/dynamics] [batch=8] [iterations=20] [threads=1]
 *
 * PyTorch side: `training/bench_denoiser.py` in training/.venv (skipped with a message when that
 * venv is absent).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModelManifest } from '../src/models/manifest';

const [modelDir = 'models/demo/dynamics', batchArg = '8', iterArg = '20', threadArg = '1'] = process.argv.slice(2);
const batch = Number(batchArg);
const iterations = Number(iterArg);
const threads = Number(threadArg);

const loaded = await loadModelManifest(modelDir, 'dynamics');
const m = loaded.manifest;
const P = m.patchSizeZyx[0];
const C = m.latent.channels;
const p = P / m.latent.downsample;
const A = m.action.agents.length;
const H = m.action.maxAgents;
const F = (m.training.config as { text_dim: number }).text_dim;

const session = await ort.InferenceSession.create(loaded.graphPaths['denoiser']!, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
});
const random = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.8);
const feeds = {
  noisy_latent: new ort.Tensor('float32', random(batch * C * p * p * p), [batch, C, p, p, p]),
  timestep: new ort.Tensor('float32', new Float32Array(batch).fill(500), [batch]),
  masked_latent: new ort.Tensor('float32', random(batch * C * p * p * p), [batch, C, p, p, p]),
  mask: new ort.Tensor('float32', random(batch * P * P * P).map(Math.abs), [batch, 1, P, P, P]),
  action_concepts: new ort.Tensor('float32', new Float32Array(batch * A), [batch, A]),
  action_text: new ort.Tensor('float32', random(batch * H * F), [batch, H, F]),
  action_text_mask: new ort.Tensor('float32', new Float32Array(batch * H).fill(1), [batch, H]),
};
for (let i = 0; i < 3; i++) await session.run(feeds);
const start = performance.now();
for (let i = 0; i < iterations; i++) await session.run(feeds);
const ortMs = (performance.now() - start) / iterations;
await session.release();

const python = join('training', '.venv', 'bin', 'python');
console.log(`denoiser ${m.name} (${loaded.sha256.slice(0, 12)}), batch ${batch}, ${threads} thread(s), ${iterations} calls`);
console.log(`onnxruntime-node ${ort.env.versions.common}: ${ortMs.toFixed(2)} ms/call`);
if (!existsSync(python)) {
  console.log('PyTorch eager: skipped (training/.venv is absent; see training/README.md)');
} else {
  const out = execFileSync(python, [
    '-m',
    'training.bench_denoiser',
    '--model-dir',
    modelDir,
    '--batch',
    String(batch),
    '--iterations',
    String(iterations),
    '--threads',
    String(threads),
  ]);
  const torchMs = (JSON.parse(out.toString('utf8').trim().split('\n').pop()!) as { msPerCall: number }).msPerCall;
  console.log(`PyTorch eager: ${torchMs.toFixed(2)} ms/call`);
  console.log(`ratio (PyTorch ms / onnxruntime-node ms): ${(torchMs / ortMs).toFixed(2)}x`);
}
