/**
 * Parity and speed of every graph of a model folder on an execution provider (default CUDA):
 * each graph's recorded PyTorch outputs (`parity.json`, training/export.py) reproduced within
 * 1e-4·max(1, |x|max) — the CPU parity test's tolerance — and ms per call at batch `--batch` on
 * the provider and on the CPU, in the same run. Exits non-zero when the provider fell back to the
 * CPU or a graph is off, so `bench/gpu-check.sh` can stop there.
 *
 *   node --import tsx bench/gpu-parity.ts [--models models/demo] [--provider cuda] [--batch 8] [--iterations 20]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModelManifest } from '../src/models/manifest';
import { float32, OnnxSessionHost } from '../src/models/onnx/session-host';
import { readParityFile } from '../src/models/onnx/world-model';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'models/demo' },
    provider: { type: 'string', default: 'cuda' },
    batch: { type: 'string', default: '8' },
    iterations: { type: 'string', default: '20' },
  },
});
const provider = values.provider === 'cpu' ? 'cpu' : 'cuda';
const batch = Number(values.batch);
const iterations = Number(values.iterations);
const decode = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

let fellBack = false;
const warn = (o: object, msg: string) => {
  fellBack = true;
  console.error(`${msg}: ${JSON.stringify(o)}`);
};
const hosts = {
  device: new OnnxSessionHost({ executionProvider: provider, log: { warn: warn as never, info: () => {} } }),
  cpu: new OnnxSessionHost({ log: { warn: () => {}, info: () => {} } }),
};
let failures = 0;
console.log(`graph                          provider  max abs error  tolerance   ${provider} ms/call  cpu ms/call  speed-up (batch ${batch})`);
for (const role of ['dynamics', 'assistant', 'heuristic'] as const) {
  const loaded = await loadModelManifest(join(values.models, role), role);
  const parity = await readParityFile(loaded.dir, loaded.manifest.parityFile ?? 'parity.json');
  for (const [graph, path] of Object.entries(loaded.graphPaths)) {
    const key = `${role}/${graph}`;
    const { provider: used } = await hosts.device.load(key, path, loaded.manifest.graphs[graph]);
    if (fellBack) {
      await Promise.all([hosts.device.close(), hosts.cpu.close()]);
      console.error(`FAILED: the ${provider} execution provider did not load (fell back to the CPU); see the reason above and docs/deployment.md`);
      process.exit(2);
    }
    await hosts.cpu.load(key, path, loaded.manifest.graphs[graph]);
    const record = parity[graph];
    let maxAbs = NaN;
    let tolerance = NaN;
    if (record) {
      const out = await hosts.device.run(key, Object.fromEntries(Object.entries(record.inputs).map(([name, t]) => [name, float32(t.dims, decode(t.data))])));
      maxAbs = 0;
      let scale = 0;
      for (const [name, expected] of Object.entries(record.outputs)) {
        const want = decode(expected.data);
        const got = out[name]!.data as Float32Array;
        for (let i = 0; i < want.length; i++) {
          maxAbs = Math.max(maxAbs, Math.abs(got[i]! - want[i]!));
          scale = Math.max(scale, Math.abs(want[i]!));
        }
      }
      tolerance = 1e-4 * Math.max(1, scale);
      if (!(maxAbs < tolerance)) failures++;
    }
    // Speed: the graph's manifest shapes at `batch` (synthetic values: weights decide the cost).
    const spec = loaded.manifest.graphs[graph]!;
    const feeds = Object.fromEntries(
      spec.inputs.map((t) => {
        const dims = t.shape.map((d) => (typeof d === 'number' ? d : batch));
        const n = dims.reduce((a, b) => a * b, 1);
        return [
          t.name,
          float32(
            dims,
            Float32Array.from({ length: n }, (_, i) => (t.name === 'timestep' ? 500 : Math.sin(i * 12.9898) * 0.8)),
          ),
        ];
      }),
    );
    const time = async (host: OnnxSessionHost) => {
      for (let i = 0; i < 3; i++) await host.run(key, feeds);
      const start = performance.now();
      for (let i = 0; i < iterations; i++) await host.run(key, feeds);
      return (performance.now() - start) / iterations;
    };
    const deviceMs = await time(hosts.device);
    const cpuMs = await time(hosts.cpu);
    console.log(
      `${key.padEnd(30)} ${used.padEnd(8)}  ${maxAbs.toExponential(2).padStart(13)}  ${tolerance.toExponential(1).padStart(9)}  ${deviceMs.toFixed(2).padStart(13)}  ${cpuMs.toFixed(2).padStart(11)}  ${(cpuMs / deviceMs).toFixed(1)}x`,
    );
  }
}
await Promise.all([hosts.device.close(), hosts.cpu.close()]);
if (fellBack) {
  console.error(`FAILED: the ${provider} execution provider did not load (fell back to the CPU); see the reason above and docs/deployment.md`);
  process.exit(2);
}
if (failures > 0) {
  console.error(`FAILED: ${failures} graph(s) outside the parity tolerance on ${provider}`);
  process.exit(1);
}
console.log(`parity on ${provider}: every graph within tolerance`);
