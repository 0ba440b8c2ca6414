/**
 * Small synthetic cases on disk for the Temporal tests: a CT (HU, NIfTI) with a liver and a
 * spherical enhancing tumour, and its label map. Not the synthetic world of src/world: just enough
 * anatomy for ingest, ROI cropping and the test-double world model.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Label, diagonalAffine, makeVolume } from '../../src/core/volume/volume';
import { writeNifti } from '../../src/io/nifti';
import { Rng } from '../../src/core/random';

export interface TestCase {
  readonly caseId: string;
  readonly ct: string;
  readonly mask: string;
}

export async function writeTestCase(dir: string, caseId: string, seed = 1, shape: [number, number, number] = [40, 40, 24], spacingMm = 2): Promise<TestCase> {
  const [nx, ny, nz] = shape;
  const rng = new Rng(seed);
  const ct = new Float32Array(nx * ny * nz);
  const labels = new Uint8Array(nx * ny * nz);
  const centre = [nx / 2 + rng.range(-3, 3), ny / 2 + rng.range(-3, 3), nz / 2 + rng.range(-2, 2)];
  const tumourRadius = rng.range(4, 6);
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        const liver = ((x - nx / 2) / (nx * 0.42)) ** 2 + ((y - ny / 2) / (ny * 0.42)) ** 2 + ((z - nz / 2) / (nz * 0.45)) ** 2 < 1;
        const tumour = Math.hypot(x - centre[0]!, y - centre[1]!, (z - centre[2]!) * 1) < tumourRadius;
        if (tumour) {
          ct[i] = 120 + rng.normal(0, 8);
          labels[i] = Label.tumour;
        } else if (liver) {
          ct[i] = 60 + rng.normal(0, 6);
          labels[i] = Label.liver;
        } else {
          ct[i] = -1000 + rng.normal(0, 5);
        }
      }
    }
  }
  const affine = diagonalAffine([spacingMm, spacingMm, spacingMm], [-nx, -ny, -nz]);
  const caseDir = join(dir, caseId);
  mkdirSync(caseDir, { recursive: true });
  const ctPath = join(caseDir, 'pre-ct.nii.gz');
  const maskPath = join(caseDir, 'pre-labels.nii.gz');
  await writeNifti(ctPath, makeVolume(ct, shape, affine));
  await writeNifti(maskPath, makeVolume(labels, shape, affine));
  return { caseId, ct: ctPath, mask: maskPath };
}

/** A case whose CT is a truncated gzip stream: ingest must fail with a non-retryable InvalidVolume. */
export function writeCorruptCase(dir: string, caseId: string): TestCase {
  const caseDir = join(dir, caseId);
  mkdirSync(caseDir, { recursive: true });
  const ctPath = join(caseDir, 'pre-ct.nii.gz');
  const bytes = gzipSync(Buffer.alloc(4096, 7));
  writeFileSync(ctPath, bytes.subarray(0, bytes.length / 2));
  return { caseId, ct: ctPath, mask: join(caseDir, 'pre-labels.nii.gz') };
}

/** A cohort manifest (JSON Lines, absolute paths) for the given cases. */
export function writeManifest(path: string, cases: readonly TestCase[]): string {
  writeFileSync(path, cases.map((c) => JSON.stringify({ caseId: c.caseId, ct: c.ct, mask: c.mask })).join('\n') + '\n');
  return path;
}
