/**
 * onnxruntime-node vs the PyTorch outputs recorded at export (training/export.py parity.json),
 * for every graph of every shipped demo model. Prints the max abs error per output.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelManifest } from '../../../src/models/manifest';
import { float32, OnnxSessionHost } from '../../../src/models/onnx/session-host';
import { readParityFile } from '../../../src/models/onnx/world-model';

const demoDir = 'models/demo';

function decode(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

describe('ONNX parity with PyTorch (recorded outputs)', () => {
  const host = new OnnxSessionHost({ intraOpNumThreads: 1 });
  afterAll(() => host.close());

  for (const role of ['dynamics', 'assistant', 'heuristic'] as const) {
    describe(role, () => {
      let graphs: Awaited<ReturnType<typeof readParityFile>>;
      let paths: Readonly<Record<string, string>>;
      beforeAll(async () => {
        const loaded = await loadModelManifest(join(demoDir, role), role);
        paths = loaded.graphPaths;
        graphs = await readParityFile(loaded.dir, loaded.manifest.parityFile ?? 'parity.json');
        for (const [graph, path] of Object.entries(paths)) await host.load(`${role}/${graph}`, path, loaded.manifest.graphs[graph]);
      });

      it('every graph reproduces the PyTorch outputs', async () => {
        expect(Object.keys(graphs).sort()).toEqual(Object.keys(paths).sort());
        for (const [graph, record] of Object.entries(graphs)) {
          const feeds = Object.fromEntries(Object.entries(record.inputs).map(([name, t]) => [name, float32(t.dims, decode(t.data))]));
          const out = await host.run(`${role}/${graph}`, feeds);
          for (const [name, expected] of Object.entries(record.outputs)) {
            const want = decode(expected.data);
            const got = out[name]!.data as Float32Array;
            expect(out[name]!.dims).toEqual(expected.dims);
            let maxAbs = 0;
            let scale = 0;
            for (let i = 0; i < want.length; i++) {
              maxAbs = Math.max(maxAbs, Math.abs(got[i]! - want[i]!));
              scale = Math.max(scale, Math.abs(want[i]!));
            }
            console.log(`parity ${role}/${graph}.${name}: max abs error ${maxAbs.toExponential(2)} (output max |x| ${scale.toFixed(3)})`);
            expect(maxAbs).toBeLessThan(1e-4 * Math.max(1, scale));
          }
        }
      });
    });
  }
});
