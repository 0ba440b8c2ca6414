/**
 * Feature distance (own encoder, not the paper's FID): the Fréchet formula on hand-checkable
 * Gaussian sets and against the pytorch-fid formula in numpy/scipy; then the real demo encoder
 * (models/demo/dynamics, manifest and sha256 checked) on synthetic tumour volumes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random';
import { diagonalAffine, makeVolume, type Volume } from '../../src/core/volume/volume';
import {
  featureDistance,
  featureDistanceWithModel,
  frechetDistance,
  gaussianStats,
  loadFeatureEncoder,
  positionVectors,
  symmetricEigen,
  type FeatureEncoder,
} from '../../src/evaluation/feature-distance';
import { pythonAvailable, pythonSkipReason, repoRoot, runOracle } from '../oracles/python-oracle';

/** `count` vectors of `dim` normal values (mean `mean`, per-axis sd), row-major. */
function gaussianSet(rng: Rng, count: number, dim: number, mean: readonly number[], sd: readonly number[]): Float64Array {
  return Float64Array.from({ length: count * dim }, (_, k) => rng.normal(mean[k % dim]!, sd[k % dim]!));
}

describe('Fréchet distance of Gaussian feature sets', () => {
  it('mean and sample covariance by hand', () => {
    // Vectors (1, 2), (3, 2), (5, 8): mean (3, 4); Σ = [[4, 6], [6, 12]] with N − 1 = 2.
    const s = gaussianStats([1, 2, 3, 2, 5, 8], 2);
    expect(Array.from(s.mean)).toEqual([3, 4]);
    expect(Array.from(s.covariance)).toEqual([4, 6, 6, 12]);
    expect(s.count).toBe(3);
  });

  it('eigenvalues of a symmetric matrix', () => {
    const { values, vectors } = symmetricEigen([2, 1, 1, 2], 2);
    expect(Array.from(values).sort()).toEqual([expect.closeTo(1, 12), expect.closeTo(3, 12)]);
    // Columns are unit eigenvectors.
    expect(Math.hypot(vectors[0]!, vectors[2]!)).toBeCloseTo(1, 12);
  });

  const rng = new Rng(2026);
  const a = gaussianSet(rng, 400, 4, [0.5, -1, 2, 0], [1, 0.5, 2, 0.1]);
  const A = gaussianStats(a, 4);

  it('identical sets: 0', () => {
    expect(frechetDistance(A, gaussianStats(Float64Array.from(a), 4))).toBeLessThan(1e-10);
  });

  it('a set shifted by δ: exactly ‖δ‖² (the covariance is unchanged)', () => {
    const delta = [0.3, -0.4, 1.2, 0];
    const shifted = a.map((v, k) => v + delta[k % 4]!);
    expect(frechetDistance(A, gaussianStats(shifted, 4))).toBeCloseTo(0.09 + 0.16 + 1.44, 9);
  });

  it('a set scaled by s: (1 − s)² (‖μ‖² + tr Σ)', () => {
    const s = 1.5;
    const scaled = a.map((v) => v * s);
    const mu2 = A.mean.reduce((t, m) => t + m * m, 0);
    const trace = [0, 5, 10, 15].reduce((t, i) => t + A.covariance[i]!, 0);
    expect(frechetDistance(A, gaussianStats(scaled, 4))).toBeCloseTo((1 - s) ** 2 * (mu2 + trace), 9);
  });

  it('latent positions become C-dimensional vectors', () => {
    // Two channels, three positions: channel-major [c0p0, c0p1, c0p2, c1p0, c1p1, c1p2].
    expect(Array.from(positionVectors([Float32Array.from([1, 2, 3, 10, 20, 30])], 2))).toEqual([1, 10, 2, 20, 3, 30]);
  });

  it('refuses fewer than two vectors and mismatched dimensions', () => {
    expect(() => gaussianStats([1, 2], 2)).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    expect(() => frechetDistance(A, gaussianStats([1, 2, 3, 4, 5, 6], 3))).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });
});

describe.skipIf(!pythonAvailable)(`Fréchet distance against numpy/scipy (pytorch-fid formula)${pythonSkipReason}`, () => {
  it.each([
    ['different means and covariances, dim 4', 4, [0, 0, 0, 0], [1, 1, 1, 1], [1, -2, 0.5, 0], [2, 0.3, 1, 0.7]],
    ['correlated-looking small sets, dim 3', 3, [5, 5, 5], [0.1, 3, 1], [5.2, 4, 5], [0.2, 2, 1.5]],
  ])('%s', (_, dim, meanA, sdA, meanB, sdB) => {
    const rng = new Rng(7 + dim);
    // Mix the axes so the covariances are not diagonal.
    const mix = (v: Float64Array) => v.map((x, k) => x + 0.5 * v[k - (k % dim)]!);
    const a = mix(gaussianSet(rng, 60, dim, meanA, sdA));
    const b = mix(gaussianSet(rng, 45, dim, meanB, sdB));
    const rows = (v: Float64Array) => Array.from({ length: v.length / dim }, (_, n) => Array.from(v.subarray(n * dim, (n + 1) * dim)));
    const { fd } = JSON.parse(runOracle('frechet_oracle.py', [], JSON.stringify({ a: rows(a), b: rows(b) }))) as { fd: number };
    const ours = frechetDistance(gaussianStats(a, dim), gaussianStats(b, dim));
    expect(fd).toBeGreaterThan(0.1);
    expect(Math.abs(ours - fd) / fd).toBeLessThan(1e-8);
  });
});

const modelDir = resolve(repoRoot, 'models', 'demo', 'dynamics');

describe.skipIf(!existsSync(join(modelDir, 'encoder.onnx')))('feature distance with our demo encoder (models/demo/dynamics)', () => {
  let encoder: FeatureEncoder;
  beforeAll(async () => {
    encoder = await loadFeatureEncoder(modelDir);
  });
  afterAll(async () => encoder?.close());

  /** A 40³ planning-grid CT at 3 mm: liver 60 HU, a tumour of `radius` voxels at `tumourHu`. */
  function ct(radius: number, tumourHu: number): Volume<Float32Array> {
    const n = 40;
    const data = new Float32Array(n * n * n).fill(-1000);
    for (let z = 0; z < n; z++)
      for (let y = 0; y < n; y++)
        for (let x = 0; x < n; x++) {
          const i = x + n * (y + n * z);
          if (Math.hypot(x - 20, y - 20, z - 20) < 16) data[i] = 60;
          if (Math.hypot(x - 21, y - 19, z - 20) < radius) data[i] = tumourHu;
        }
    return makeVolume(data, [n, n, n], diagonalAffine([3, 3, 3]));
  }
  const centre = [21, 19, 20] as const;

  it('names the encoder by manifest name, version and the sha256 of encoder.onnx', async () => {
    const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8'));
    expect(encoder.identity).toEqual({ name: manifest.name, version: manifest.version, graph: 'encoder', sha256: manifest.graphs.encoder.sha256 });
    expect(encoder.patchSize).toBe(manifest.patchSizeZyx[0]);
    expect(encoder.channels).toBe(manifest.latent.channels);
  });

  it('identical reference and simulation: 0 for the Fréchet part and the L2', async () => {
    const pre = ct(6, 110);
    const result = await featureDistance(encoder, [
      { reference: pre, simulated: ct(6, 110), centre },
      { reference: ct(4, 300), simulated: ct(4, 300), centre },
    ]);
    expect(result.frechet).toBeLessThan(1e-9);
    expect(result.meanL2).toBe(0);
    expect(result.pairs.map((p) => p.l2)).toEqual([0, 0]);
  });

  it('a different tumour is farther than a slightly different one; patches and volumes give the same numbers', async () => {
    const truth = ct(6, 110);
    const close = ct(6, 130);
    const far = ct(9, 500);
    const result = await featureDistance(encoder, [
      { reference: truth, simulated: close, centre },
      { reference: truth, simulated: far, centre },
    ]);
    const [near, distant] = result.pairs;
    expect(near!.l2).toBeGreaterThan(0);
    expect(distant!.l2).toBeGreaterThan(near!.l2);
    expect(distant!.frechet).toBeGreaterThan(near!.frechet);
    expect(result.meanL2).toBeCloseTo((near!.l2 + distant!.l2) / 2, 9);
    const fromPatches = await featureDistance(encoder, [
      { reference: encoder.patchOf(truth, centre), simulated: encoder.patchOf(close, centre) },
      { reference: encoder.patchOf(truth, centre), simulated: encoder.patchOf(far, centre) },
    ]);
    expect(fromPatches).toEqual(result);
  });

  it('embeds the same in batches as one by one', async () => {
    const patches = [ct(6, 110), ct(8, 300), ct(3, -50)].map((v) => encoder.patchOf(v, centre));
    const single = await loadFeatureEncoder(modelDir, { maxBatch: 1 });
    try {
      const [batched, alone] = [await encoder.embed(patches), await single.embed(patches)];
      batched.forEach((z, i) => z.forEach((v, k) => expect(Math.abs(v - alone[i]![k]!)).toBeLessThan(1e-4)));
    } finally {
      await single.close();
    }
  });

  it('loads, computes and releases in one call; typed errors for bad pairs', async () => {
    const result = await featureDistanceWithModel(modelDir, [{ reference: ct(6, 110), simulated: ct(6, 110), centre }]);
    expect(result.encoder.sha256).toBe(encoder.identity.sha256);
    await expect(featureDistance(encoder, [])).rejects.toMatchObject({ code: 'InvalidInput' });
    await expect(featureDistance(encoder, [{ reference: new Float32Array(10), simulated: new Float32Array(10) }])).rejects.toMatchObject({
      code: 'InvalidInput',
    });
    await expect(featureDistance(encoder, [{ reference: ct(6, 110), simulated: ct(6, 110) } as never])).rejects.toMatchObject({ code: 'InvalidInput' });
  });
});
