/**
 * Feature distance for the simulation-realism table: how far simulated post-treatment CTs lie
 * from the true ones in the feature space of OUR OWN dynamics autoencoder's encoder (the demo
 * model's `encoder.onnx`, found and sha256-checked through its manifest). It is labelled as
 * such everywhere: it is not the paper's FID (no Inception network, no ImageNet features).
 *
 * What is computed, exactly:
 * - Patch: the tumour-centred `P`³ patch `[Z, Y, X]` the dynamics model itself works on — cut
 *   with the model's `samplePatch` at the manifest's spacing around `centre` (planning voxels,
 *   e.g. the pre-treatment tumour centroid), HU mapped by `normaliseHu` to the manifest window;
 *   voxels outside the volume get (window low − 1000) HU, as in simulation.
 * - Features: the encoder's latent `[C, p, p, p]` of that patch (the demo model: C = 8 channels, p = 8).
 *   Each latent position is one C-dimensional feature vector, so one patch gives p³ vectors.
 * - Fréchet distance between two sets of patches: the p³·N position vectors of each set are
 *   pooled (over cases and positions) into one C-dimensional Gaussian (mean μ, sample
 *   covariance Σ with N − 1), and FD = ‖μ_r − μ_s‖² + tr(Σ_r + Σ_s − 2 (Σ_r^½ Σ_s Σ_r^½)^½)
 *   (equal to the usual tr(Σ_r Σ_s)^½ form). The same formula on one pair gives a per-pair FD.
 * - Per-pair feature L2: ‖z_ref − z_sim‖₂ over the flattened latents (C·p³ values).
 */
import * as ort from 'onnxruntime-node';
import { MewmError } from '../core/errors';
import type { Volume } from '../core/volume/volume';
import { loadModelManifest, normaliseHu, type LoadedManifest, type ManifestFor } from '../models/manifest';
import { samplePatch, stepRatio, type Xyz } from '../models/onnx/resample';

// ---------------------------------------------------------------------------------------------
// Gaussian statistics and the Fréchet distance (pure)

export interface GaussianStats {
  readonly dim: number;
  /** Number of vectors the statistics summarise. */
  readonly count: number;
  readonly mean: Float64Array;
  /** Sample covariance (divided by count − 1), row-major `dim × dim`. */
  readonly covariance: Float64Array;
}

/** Mean and sample covariance of `count` vectors of length `dim`, stored row-major in `vectors`. */
export function gaussianStats(vectors: ArrayLike<number>, dim: number): GaussianStats {
  if (!Number.isInteger(dim) || dim < 1 || vectors.length % dim !== 0)
    throw new MewmError('InvalidInput', `feature statistics: ${vectors.length} values are not whole vectors of ${dim}`);
  const count = vectors.length / dim;
  if (count < 2) throw new MewmError('InvalidInput', `feature statistics need at least 2 vectors, got ${count}`);
  const mean = new Float64Array(dim);
  for (let n = 0; n < count; n++) for (let i = 0; i < dim; i++) mean[i]! += vectors[n * dim + i]!;
  for (let i = 0; i < dim; i++) mean[i]! /= count;
  const covariance = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let n = 0; n < count; n++) {
    for (let i = 0; i < dim; i++) centred[i] = vectors[n * dim + i]! - mean[i]!;
    for (let i = 0; i < dim; i++) for (let j = i; j < dim; j++) covariance[i * dim + j]! += centred[i]! * centred[j]!;
  }
  for (let i = 0; i < dim; i++)
    for (let j = i; j < dim; j++) {
      const v = covariance[i * dim + j]! / (count - 1);
      covariance[i * dim + j] = v;
      covariance[j * dim + i] = v;
    }
  return { dim, count, mean, covariance };
}

/** Eigenvalues and eigenvectors (columns of `vectors`, row-major) of a symmetric matrix, by cyclic Jacobi rotations. */
export function symmetricEigen(matrix: ArrayLike<number>, dim: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) v[i * dim + i] = 1;
  const scale = Math.max(1e-300, ...Array.from(a, Math.abs));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < dim; p++) for (let q = p + 1; q < dim; q++) off += a[p * dim + q]! ** 2;
    if (Math.sqrt(off) <= 1e-15 * scale) break;
    for (let p = 0; p < dim; p++)
      for (let q = p + 1; q < dim; q++) {
        const apq = a[p * dim + q]!;
        if (apq === 0) continue;
        const theta = (a[q * dim + q]! - a[p * dim + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < dim; k++) {
          const akp = a[k * dim + p]!;
          const akq = a[k * dim + q]!;
          a[k * dim + p] = c * akp - s * akq;
          a[k * dim + q] = s * akp + c * akq;
        }
        for (let k = 0; k < dim; k++) {
          const apk = a[p * dim + k]!;
          const aqk = a[q * dim + k]!;
          a[p * dim + k] = c * apk - s * aqk;
          a[q * dim + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < dim; k++) {
          const vkp = v[k * dim + p]!;
          const vkq = v[k * dim + q]!;
          v[k * dim + p] = c * vkp - s * vkq;
          v[k * dim + q] = s * vkp + c * vkq;
        }
      }
  }
  return { values: Float64Array.from({ length: dim }, (_, i) => a[i * dim + i]!), vectors: v };
}

/** Principal square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues clipped to 0). */
function sqrtPsd(matrix: ArrayLike<number>, dim: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, dim);
  const out = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++)
    for (let j = 0; j < dim; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += vectors[i * dim + k]! * Math.sqrt(Math.max(values[k]!, 0)) * vectors[j * dim + k]!;
      out[i * dim + j] = s;
    }
  return out;
}

function multiply(a: ArrayLike<number>, b: ArrayLike<number>, dim: number): Float64Array {
  const out = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++)
    for (let k = 0; k < dim; k++) {
      const aik = a[i * dim + k]!;
      for (let j = 0; j < dim; j++) out[i * dim + j]! += aik * b[k * dim + j]!;
    }
  return out;
}

/** Fréchet distance between two Gaussians: ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a^½ Σ_b Σ_a^½)^½); clipped at 0 against round-off. */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  if (a.dim !== b.dim) throw new MewmError('InvalidInput', `Fréchet distance: feature dimensions differ (${a.dim} vs ${b.dim})`);
  const d = a.dim;
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mean[i]! - b.mean[i]!) ** 2;
  const rootA = sqrtPsd(a.covariance, d);
  const middle = multiply(multiply(rootA, b.covariance, d), rootA, d);
  // Symmetrise against round-off before the eigen decomposition.
  for (let i = 0; i < d; i++)
    for (let j = i + 1; j < d; j++) {
      const m = (middle[i * d + j]! + middle[j * d + i]!) / 2;
      middle[i * d + j] = m;
      middle[j * d + i] = m;
    }
  const crossTrace = symmetricEigen(middle, d).values.reduce((s, v) => s + Math.sqrt(Math.max(v, 0)), 0);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += a.covariance[i * d + i]! + b.covariance[i * d + i]!;
  return Math.max(0, meanTerm + trace - 2 * crossTrace);
}

/** The latent positions of `[C, p³]` latents as C-dimensional vectors, row-major `(patches · p³) × C`. */
export function positionVectors(latents: readonly Float32Array[], channels: number): Float64Array {
  const total = latents.reduce((n, z) => n + z.length, 0);
  const out = new Float64Array(total);
  let row = 0;
  for (const z of latents) {
    if (z.length % channels !== 0) throw new MewmError('InvalidInput', `a latent of ${z.length} values does not split into ${channels} channels`);
    const positions = z.length / channels;
    for (let q = 0; q < positions; q++, row++) for (let c = 0; c < channels; c++) out[row * channels + c] = z[c * positions + q]!;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Our encoder

export interface EncoderIdentity {
  /** The dynamics model's manifest name and version, and the graph used. */
  readonly name: string;
  readonly version: string;
  readonly graph: 'encoder';
  /** sha256 of encoder.onnx, as in (and checked against) the manifest. */
  readonly sha256: string;
}

export interface FeatureEncoder {
  readonly identity: EncoderIdentity;
  /** Patch side P (voxels) and latent channels C. */
  readonly patchSize: number;
  readonly channels: number;
  /** The tumour-centred model patch `[Z, Y, X]` (P³, model intensity range) of a CT in HU. */
  patchOf(ct: Volume, centre: Xyz): Float32Array;
  /** Latents `[C, p, p, p]` (flattened) of model patches, in order. */
  embed(patches: readonly Float32Array[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

/** Loads the encoder of the dynamics model in `modelDir` (e.g. models/demo/dynamics); manifest and sha256 checked. */
export async function loadFeatureEncoder(modelDir: string, options: { maxBatch?: number; intraOpNumThreads?: number } = {}): Promise<FeatureEncoder> {
  const loaded: LoadedManifest<ManifestFor<'dynamics'>> = await loadModelManifest(modelDir, 'dynamics');
  const m = loaded.manifest;
  const P = m.patchSizeZyx[0];
  if (m.patchSizeZyx.some((n) => n !== P))
    throw new MewmError('ModelContract', `feature distance: ${m.name} has a non-cubic patch ${m.patchSizeZyx.join('x')}`);
  const session = await ort.InferenceSession.create(loaded.graphPaths['encoder']!, {
    executionProviders: ['cpu'],
    ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
  });
  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  const maxBatch = options.maxBatch ?? 8;
  const patchVoxels = P * P * P;
  const fillHu = m.intensity.windowHu[0] - 1000;
  return {
    identity: { name: m.name, version: m.version, graph: 'encoder', sha256: m.graphs['encoder']!.sha256 },
    patchSize: P,
    channels: m.latent.channels,
    patchOf(ct, centre) {
      return samplePatch(ct, centre, P, stepRatio(ct, m.spacingMm[0]), fillHu, (v) => normaliseHu(v, m.intensity));
    },
    async embed(patches) {
      const out: Float32Array[] = [];
      for (let start = 0; start < patches.length; start += maxBatch) {
        const group = patches.slice(start, start + maxBatch);
        const batch = new Float32Array(group.length * patchVoxels);
        group.forEach((p, i) => {
          if (p.length !== patchVoxels)
            throw new MewmError('InvalidInput', `feature distance: a patch has ${p.length} voxels, the encoder takes ${P}³ = ${patchVoxels}`);
          batch.set(p, i * patchVoxels);
        });
        const result = await session.run({ [inputName!]: new ort.Tensor('float32', batch, [group.length, 1, P, P, P]) });
        const latent = result[outputName!]!.data as Float32Array;
        const size = latent.length / group.length;
        group.forEach((_, i) => out.push(latent.slice(i * size, (i + 1) * size)));
      }
      return out;
    },
    async close() {
      await session.release();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The evaluation's entry point

/**
 * One comparison: the true post-treatment CT and a simulated one. Either CT volumes in HU on
 * one axis-aligned grid (e.g. the planning ROI) with the `centre` to cut the patch at (planning
 * voxels x, y, z; the pre-treatment tumour centroid), or ready model patches (`patchOf`).
 */
export type FeaturePair =
  { readonly reference: Volume; readonly simulated: Volume; readonly centre: Xyz } | { readonly reference: Float32Array; readonly simulated: Float32Array };

export interface FeatureDistanceResult {
  /** Fréchet distance between the pooled latent-position Gaussians of all references and all simulations. */
  readonly frechet: number;
  /** Mean over pairs of ‖z_ref − z_sim‖₂ (flattened latents). */
  readonly meanL2: number;
  /** Per pair, in order: latent L2 and the Fréchet distance of that pair alone. */
  readonly pairs: readonly { readonly l2: number; readonly frechet: number }[];
  readonly encoder: EncoderIdentity;
}

/** Feature distances of `pairs` with `encoder` (see the module comment for the exact definitions). */
export async function featureDistance(encoder: FeatureEncoder, pairs: readonly FeaturePair[]): Promise<FeatureDistanceResult> {
  if (pairs.length === 0) throw new MewmError('InvalidInput', 'feature distance needs at least one pair');
  const patch = (side: Volume | Float32Array, centre: Xyz | undefined) => (side instanceof Float32Array ? side : encoder.patchOf(side, centre!));
  const references: Float32Array[] = [];
  const simulated: Float32Array[] = [];
  for (const pair of pairs) {
    const centre = 'centre' in pair ? pair.centre : undefined;
    if (!(pair.reference instanceof Float32Array) && centre === undefined)
      throw new MewmError('InvalidInput', 'feature distance: a pair of volumes needs the centre to cut its patches at');
    references.push(patch(pair.reference, centre));
    simulated.push(patch(pair.simulated, centre));
  }
  const [zr, zs] = [await encoder.embed(references), await encoder.embed(simulated)];
  const C = encoder.channels;
  const stats = (latents: readonly Float32Array[]) => gaussianStats(positionVectors(latents, C), C);
  const perPair = zr.map((r, i) => {
    const s = zs[i]!;
    let sum = 0;
    for (let k = 0; k < r.length; k++) sum += (r[k]! - s[k]!) ** 2;
    return { l2: Math.sqrt(sum), frechet: frechetDistance(stats([r]), stats([s])) };
  });
  return {
    frechet: frechetDistance(stats(zr), stats(zs)),
    meanL2: perPair.reduce((a, p) => a + p.l2, 0) / perPair.length,
    pairs: perPair,
    encoder: encoder.identity,
  };
}

/** Loads the encoder from `modelDir`, computes the feature distances of `pairs`, and releases it. */
export async function featureDistanceWithModel(modelDir: string, pairs: readonly FeaturePair[]): Promise<FeatureDistanceResult> {
  const encoder = await loadFeatureEncoder(modelDir);
  try {
    return await featureDistance(encoder, pairs);
  } finally {
    await encoder.close();
  }
}
