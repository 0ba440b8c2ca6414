import { afterEach, describe, expect, it } from 'vitest';
import { isMewmError } from '../../../src/core/errors';
import { loadModelManifest } from '../../../src/models/manifest';
import { float32, OnnxSessionHost } from '../../../src/models/onnx/session-host';

describe('OnnxSessionHost', () => {
  let host: OnnxSessionHost | undefined;
  afterEach(async () => host?.close());

  it('falls back from CUDA to CPU loudly when the CUDA provider cannot load', async () => {
    const warnings: Array<{ obj: unknown; msg: string }> = [];
    const log = { warn: (obj: unknown, msg: string) => warnings.push({ obj, msg }), info: () => {} } as never;
    host = new OnnxSessionHost({ executionProvider: 'cuda', log });
    const { graphPaths, manifest } = await loadModelManifest('models/demo/assistant', 'assistant');
    const graph = await host.load('seg', graphPaths['segmenter']!, manifest.graphs['segmenter']);
    // onnxruntime-node here bundles no CUDA provider: CPU is used and the warning names the file
    if (graph.provider === 'cpu') {
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toMatch(/FALLING BACK TO CPU/);
      expect(JSON.stringify(warnings[0]!.obj)).toContain('segmenter.onnx');
    }
    const P = manifest.patchSizeZyx;
    const out = await host.runFloat('seg', { image: float32([2, 1, ...P], new Float32Array(2 * P[0] * P[1] * P[2])) }, 'logits');
    expect(out.dims).toEqual([2, 3, ...P]);
  });

  it('rejects a graph whose inputs do not match its manifest (ModelContract)', async () => {
    host = new OnnxSessionHost();
    const { graphPaths, manifest } = await loadModelManifest('models/demo/assistant', 'assistant');
    const spec = { ...manifest.graphs['segmenter']!, inputs: [{ name: 'ct', dtype: 'float32' as const, shape: ['batch', 1, 32, 32, 32] }] };
    await expect(host.load('seg', graphPaths['segmenter']!, spec)).rejects.toSatisfy((e: unknown) => isMewmError(e, 'ModelContract') && /manifest says/.test((e as Error).message));
  });

  it('with two threads, runs go on the live one after a thread dies, and fail saying so (not hang) when none is left', async () => {
    host = new OnnxSessionHost({ workers: 2 });
    expect(host.parallelism).toBe(2);
    const { graphPaths, manifest } = await loadModelManifest('models/demo/assistant', 'assistant');
    await host.load('seg', graphPaths['segmenter']!);
    const P = manifest.patchSizeZyx;
    const input = () => ({ image: float32([1, 1, ...P], new Float32Array(P[0] * P[1] * P[2])) });
    const [a, b] = await Promise.all([host.runFloat('seg', input(), 'logits'), host.runFloat('seg', input(), 'logits')]);
    expect(a.data).toEqual(b.data);
    const threads = (host as unknown as { threads: { worker: { terminate(): Promise<number> } }[] }).threads;
    await threads[0]!.worker.terminate();
    expect((await host.runFloat('seg', input(), 'logits')).data).toEqual(a.data);
    await threads[1]!.worker.terminate();
    await expect(host.runFloat('seg', input(), 'logits')).rejects.toSatisfy((e: unknown) => isMewmError(e, 'Internal') && /ONNX worker failed/.test((e as Error).message));
  });

  it('reports a wrongly sized input as ModelContract instead of crashing the worker', async () => {
    host = new OnnxSessionHost();
    const { graphPaths } = await loadModelManifest('models/demo/assistant', 'assistant');
    await host.load('seg', graphPaths['segmenter']!);
    await expect(host.run('seg', { image: float32([1, 1, 4, 4, 4], new Float32Array(10)) })).rejects.toSatisfy((e: unknown) => isMewmError(e, 'ModelContract'));
    await expect(host.run('seg', { image: float32([1, 1, 4, 4, 4], new Float32Array(64)) })).rejects.toSatisfy((e: unknown) => isMewmError(e, 'ModelContract'));
  });
});
