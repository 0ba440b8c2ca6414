/**
 * createOnnxWorldModel end to end on the shipped demo models and a tiny synthetic ROI:
 * shapes and grids, determinism by seed, the action changes the simulated CT, segmentation
 * and risk are well formed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMewmError } from '../../../src/core/errors';
import { diagonalAffine, makeVolume, type LabelledCt, type Volume } from '../../../src/core/volume/volume';
import { createOnnxWorldModel, type OnnxWorldModel } from '../../../src/models/onnx/world-model';

/** 40³ ROI at 2 mm: soft-tissue background, liver ellipsoid, a 9 mm-radius tumour. */
function tinyRoi(): LabelledCt {
  const n = 40;
  const ct = new Float32Array(n * n * n);
  const labels = new Uint8Array(n * n * n);
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const i = x + n * (y + n * z);
        const liver = ((x - 20) / 17) ** 2 + ((y - 20) / 15) ** 2 + ((z - 20) / 14) ** 2 < 1;
        const tumour = (x - 22) ** 2 + (y - 19) ** 2 + (z - 20) ** 2 < 4.5 ** 2;
        ct[i] = tumour ? 105 : liver ? 60 : -90;
        ct[i] += 8 * Math.sin(i * 12.9898);
        labels[i] = tumour ? 2 : liver ? 1 : 0;
      }
  const affine = diagonalAffine([2, 2, 2], [-40, -40, -40]);
  return { ct: makeVolume(ct, [n, n, n], affine), labels: makeVolume(labels, [n, n, n], affine) };
}

function meanAbsDiff(a: Volume<Float32Array>, b: Volume<Float32Array>, where?: Uint8Array): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < a.data.length; i++) {
    if (where && where[i] !== 2) continue;
    s += Math.abs(a.data[i]! - b.data[i]!);
    c++;
  }
  return s / c;
}

describe('createOnnxWorldModel (demo models)', () => {
  let world: OnnxWorldModel;
  const pre = tinyRoi();
  const tace = { drugs: ['epirubicin'], embolics: ['lipiodol'] } as const;
  const other = { drugs: ['raltitrexed'], embolics: ['gelatin-sponge'] } as const;

  beforeAll(async () => {
    world = await createOnnxWorldModel({ modelDir: 'models/demo', sampler: { method: 'ddim', steps: 8 }, maxBatch: 4 });
  });
  afterAll(() => world?.close());

  it('names its models by manifest and hash', () => {
    expect(world.dynamics.identity).toMatchObject({ role: 'dynamics', backend: 'onnx' });
    expect(world.dynamics.identity.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(world.assistant.identity.name).toBe(world.manifests.assistant.name);
  });

  it('simulates one CT per seed on the pre grid; same seeds give the same volumes; the action matters', async () => {
    const [a, b, again] = await world.dynamics.simulate([
      { caseId: 'case-a', pre, protocol: tace, seeds: [11, 12, 13] },
      { caseId: 'case-a', pre, protocol: other, seeds: [11, 12, 13] },
      { caseId: 'case-a', pre, protocol: tace, seeds: [11, 12, 13] },
    ]);
    expect(a).toHaveLength(3);
    for (const v of a!) {
      expect(v.shape).toEqual(pre.ct.shape);
      expect(v.affine).toEqual(pre.ct.affine);
      expect(v.data.every(Number.isFinite)).toBe(true);
    }
    a!.forEach((v, i) => expect(v.data).toEqual(again![i]!.data));
    const replicas = meanAbsDiff(a![0]!, a![1]!, pre.labels.data);
    const protocols = meanAbsDiff(a![0]!, b![0]!, pre.labels.data);
    console.log(`tiny ROI, tumour voxels: mean |Δ| between replicas ${replicas.toFixed(2)} HU, between protocols ${protocols.toFixed(2)} HU`);
    expect(protocols).toBeGreaterThan(0);
    expect(replicas).toBeGreaterThan(0);
    // far from the tumour the pre-CT is kept as it was
    expect(a![0]!.data[0]).toBe(pre.ct.data[0]);
  });

  it('rejects agents the model does not know and requests without seeds', async () => {
    await expect(world.dynamics.simulate([{ caseId: 'c', pre, protocol: { drugs: [], embolics: [] }, seeds: [] }])).rejects.toSatisfy((e: unknown) => isMewmError(e, 'InvalidInput'));
  });

  it('segments liver and tumour onto the input grid', async () => {
    const labels = await world.assistant.segment({ caseId: 'case-a', ct: pre.ct });
    expect(labels.shape).toEqual(pre.ct.shape);
    expect(labels.data.every((v) => v <= 2)).toBe(true);
    let liver = 0;
    for (const v of labels.data) if (v >= 1) liver++;
    expect(liver).toBeGreaterThan(0);
  });

  it('gives a finite, deterministic risk', async () => {
    const post = { ct: pre.ct, labels: pre.labels };
    const r1 = await world.heuristic.risk({ caseId: 'case-a', pre, post });
    const r2 = await world.heuristic.risk({ caseId: 'case-a', pre, post });
    expect(Number.isFinite(r1)).toBe(true);
    expect(r1).toBe(r2);
  });
});
