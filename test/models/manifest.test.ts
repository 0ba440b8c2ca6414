import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isMewmError, type MewmError } from '../../src/core/errors';
import { denormaliseToHu, INTENDED_USE, loadModelManifest, normaliseHu, sha256Hex } from '../../src/models/manifest';

const graphBytes = new TextEncoder().encode('not really onnx, only hashed here');

function assistantManifest(sha256: string): Record<string, unknown> {
  return {
    schemaVersion: 1,
    name: 'test-assistant',
    version: '0.0.1',
    role: 'assistant',
    intendedUse: INTENDED_USE,
    description: 'fixture',
    axisOrder: 'NCZYX',
    patchSizeZyx: [16, 16, 16],
    spacingMm: [3, 3, 3],
    intensity: { windowHu: [-175, 600], range: [-1, 1] },
    labels: { background: 0, liver: 1, tumour: 2 },
    graphs: {
      segmenter: {
        file: 'segmenter.onnx',
        sha256,
        inputs: [{ name: 'image', dtype: 'float32', shape: ['batch', 1, 16, 16, 16] }],
        outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 3, 16, 16, 16] }],
      },
    },
    training: { data: 'fixture', cases: 0, seed: 1, config: {} },
    quality: {},
    slidingWindow: { overlap: 0.5, sigmaScale: 0.125 },
  };
}

async function caught(promise: Promise<unknown>): Promise<MewmError> {
  try {
    await promise;
  } catch (error) {
    if (isMewmError(error)) return error;
    throw error;
  }
  throw new Error('expected a MewmError');
}

describe('loadModelManifest', () => {
  let dir: string;
  const sha = sha256Hex(graphBytes);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mewm-manifest-'));
    await writeFile(join(dir, 'segmenter.onnx'), graphBytes);
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('accepts a valid manifest whose files match their hashes', async () => {
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(assistantManifest(sha)));
    const loaded = await loadModelManifest(dir, 'assistant');
    expect(loaded.manifest.role).toBe('assistant');
    expect(loaded.graphPaths['segmenter']).toBe(join(dir, 'segmenter.onnx'));
    expect(loaded.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names the file and the expected hash when a graph file was changed (ModelTampered)', async () => {
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(assistantManifest(sha)));
    await writeFile(join(dir, 'segmenter.onnx'), new TextEncoder().encode('tampered'));
    const error = await caught(loadModelManifest(dir, 'assistant'));
    expect(error.code).toBe('ModelTampered');
    expect(error.message).toContain(join(dir, 'segmenter.onnx'));
    expect(error.message).toContain(sha);
    expect(error.details['expectedSha256']).toBe(sha);
  });

  it('names the file and the expected hash when a graph file is missing (ModelMissing)', async () => {
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(assistantManifest(sha)));
    await rm(join(dir, 'segmenter.onnx'));
    const error = await caught(loadModelManifest(dir, 'assistant'));
    expect(error.code).toBe('ModelMissing');
    expect(error.message).toContain('segmenter.onnx');
    expect(error.message).toContain(sha);
  });

  it('reports a missing manifest as ModelMissing', async () => {
    const error = await caught(loadModelManifest(join(dir, 'nowhere'), 'assistant'));
    expect(error.code).toBe('ModelMissing');
    expect(error.message).toContain('manifest.json');
  });

  it.each<[string, (m: Record<string, unknown>) => void, RegExp]>([
    ['clinical-use claim', (m) => (m['intendedUse'] = 'clinical'), /intendedUse/],
    ['wrong axis order', (m) => (m['axisOrder'] = 'NCXYZ'), /axisOrder/],
    ['inverted window', (m) => (m['intensity'] = { windowHu: [600, -175], range: [-1, 1] }), /window/],
    ['missing graph', (m) => (m['graphs'] = {}), /lacks graphs: segmenter/],
    ['path escape', (m) => ((m['graphs'] as Record<string, { file: string }>)['segmenter']!.file = '../x.onnx'), /plain name/],
  ])('rejects a manifest with a %s (ModelContract)', async (_name, mutate, message) => {
    const m = assistantManifest(sha);
    mutate(m);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
    const error = await caught(loadModelManifest(dir, 'assistant'));
    expect(error.code).toBe('ModelContract');
    expect(error.message).toMatch(message);
  });

  it('rejects a model of another role', async () => {
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(assistantManifest(sha)));
    const error = await caught(loadModelManifest(dir, 'heuristic'));
    expect(error.code).toBe('ModelContract');
    expect(error.message).toMatch(/role assistant, expected heuristic/);
  });
});

describe('intensity mapping', () => {
  const intensity = { windowHu: [-175, 600] as [number, number], range: [-1, 1] as [number, number] };
  it('clips to the window and maps linearly onto the range', () => {
    expect(normaliseHu(-1000, intensity)).toBe(-1);
    expect(normaliseHu(600, intensity)).toBe(1);
    expect(normaliseHu(212.5, intensity)).toBeCloseTo(0, 12);
    expect(denormaliseToHu(normaliseHu(100, intensity), intensity)).toBeCloseTo(100, 9);
  });
});
