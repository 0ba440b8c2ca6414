/**
 * Runs test/oracles/volume_oracle.py on a volume: writes it with mewm's NIfTI writer (itself
 * checked against nibabel in test/io/nifti.test.ts), lets nibabel/scipy compute the reference,
 * and reads the result back with mewm's reader.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/core/random';
import { makeVolume, type Affine, type Shape3, type Volume } from '../../src/core/volume/volume';
import { decodeNifti, encodeNifti } from '../../src/io/nifti';
import { runOracle } from './python-oracle';

export function volumeOracle(operation: string, input: Volume, params: Record<string, unknown> = {}): Volume {
  const dir = mkdtempSync(join(tmpdir(), 'mewm-volume-oracle-'));
  try {
    const source = join(dir, 'in.nii');
    const target = join(dir, 'out.nii.gz');
    writeFileSync(source, encodeNifti(input));
    runOracle('volume_oracle.py', [operation, source, target, JSON.stringify(params)]);
    return decodeNifti(readFileSync(target), { name: `oracle ${operation}` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A smooth-plus-noise CT-like volume in HU (Float32Array), deterministic from `seed`. */
export function syntheticCt(shape: Shape3, affine: Affine, seed = 1): Volume<Float32Array> {
  const rng = new Rng(seed);
  const [nx, ny, nz] = shape;
  const data = new Float32Array(nx * ny * nz);
  let index = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, index++) {
        const smooth = 300 * Math.sin(x / 3) * Math.cos(y / 4) + 40 * z;
        data[index] = Math.round(smooth + rng.range(-100, 100));
      }
    }
  }
  return makeVolume(data, shape, affine);
}

/** A random blobby binary mask (Uint8Array 0/1), deterministic from `seed`. */
export function syntheticMask(shape: Shape3, affine: Affine, density: number, seed = 2): Volume<Uint8Array> {
  const rng = new Rng(seed);
  const data = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < data.length; i++) data[i] = rng.bernoulli(density) ? 1 : 0;
  return makeVolume(data, shape, affine);
}

/** Largest absolute difference between two volumes' voxels (same length). */
export function maxAbsDifference(a: Volume, b: Volume): number {
  if (a.data.length !== b.data.length) throw new Error(`voxel counts differ: ${a.data.length} vs ${b.data.length}`);
  let worst = 0;
  for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(a.data[i]! - b.data[i]!));
  return worst;
}

export function maxAffineDifference(a: Affine, b: Affine): number {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
}
