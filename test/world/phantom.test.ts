import { describe, expect, it } from 'vitest';
import { Label } from '../../src/core/volume/volume';
import { GRID_PRESETS, gridAffine, insideLiver, renderPhantom } from '../../src/world/phantom';
import { samplePhenotype, totalTumourMl } from '../../src/world/phenotype';

const small = GRID_PRESETS.small;

function meanWhere(ct: Float32Array, labels: Uint8Array, label: number): number {
  let sum = 0;
  let n = 0;
  for (let q = 0; q < labels.length; q++) if (labels[q] === label) ((sum += ct[q]!), n++);
  return sum / n;
}

describe('phantom', () => {
  it('is deterministic in the seed and differs between seeds', () => {
    const a = renderPhantom(samplePhenotype('SYN-T-1', 7), small);
    const b = renderPhantom(samplePhenotype('SYN-T-1', 7), small);
    const c = renderPhantom(samplePhenotype('SYN-T-1', 8), small);
    expect(Buffer.from(a.ct.data.buffer).equals(Buffer.from(b.ct.data.buffer))).toBe(true);
    expect(Buffer.from(a.labels.data.buffer).equals(Buffer.from(b.labels.data.buffer))).toBe(true);
    expect(Buffer.from(a.ct.data.buffer).equals(Buffer.from(c.ct.data.buffer))).toBe(false);
  });

  it.each([1, 2, 3, 4, 5, 6])('seed %i: labels sit where the anatomy is, tumours enhance in the arterial phase', (seed) => {
    const phenotype = samplePhenotype(`SYN-T-${seed}`, seed);
    const { ct, labels } = renderPhantom(phenotype, small);
    expect(ct.shape).toEqual(small.shape);
    expect(labels.affine).toEqual(gridAffine(small));
    const counts = [0, 0, 0];
    for (const v of labels.data) counts[v]!++;
    const voxelMl = (small.spacing[0] * small.spacing[1] * small.spacing[2]) / 1000;
    expect(counts[Label.liver]! * voxelMl).toBeGreaterThan(700);
    expect(counts[Label.liver]! * voxelMl).toBeLessThan(3500);
    expect(counts[Label.tumour]).toBeGreaterThan(0);
    // tumour voxels (small grid, clipped to the liver) roughly match the analytic tumour volume
    expect(counts[Label.tumour]! * voxelMl).toBeLessThan(1.3 * totalTumourMl(phenotype) + 2);
    const liver = meanWhere(ct.data, labels.data, Label.liver);
    const tumour = meanWhere(ct.data, labels.data, Label.tumour);
    expect(liver).toBeGreaterThan(50);
    expect(liver).toBeLessThan(110);
    expect(tumour - liver).toBeGreaterThan(10);
    // every labelled voxel lies in the analytic liver
    const [nx, ny] = ct.shape;
    const A = ct.affine;
    let outside = 0;
    labels.data.forEach((v, q) => {
      if (v === Label.background) return;
      const i = q % nx;
      const j = Math.floor(q / nx) % ny;
      const k = Math.floor(q / (nx * ny));
      if (!insideLiver(phenotype, A[0]! * i + A[3]!, A[5]! * j + A[7]!, A[10]! * k + A[11]!)) outside++;
    });
    expect(outside).toBe(0);
    // HU are integers within the CT range
    expect(ct.data.every((v) => Number.isInteger(v) && v >= -1024 && v <= 3071)).toBe(true);
  });

  it('rejects an absurd grid with a typed error', () => {
    expect(() => renderPhantom(samplePhenotype('SYN-T-1', 1), { shape: [4, 4, 4], spacing: [1, 1, 1] })).toThrow(/not plausible/);
  });
});
