import { describe, expect, it } from 'vitest';
import { isMewmError } from '../../src/core/errors';
import { diagonalAffine, makeVolume, type Affine, type LabelledCt } from '../../src/core/volume/volume';
import { observeTumour } from '../../src/policy/observation';

interface Sphere {
  readonly centre: readonly [number, number, number]; // world mm
  readonly radiusMm: number;
  readonly hu: number;
}

/** A box liver (HU 60) filling the middle of the grid with spherical tumours, all in world mm. */
function phantom(affine: Affine, shape: [number, number, number], spheres: readonly Sphere[]): LabelledCt {
  const n = shape[0] * shape[1] * shape[2];
  const ct = new Float32Array(n).fill(-100);
  const labels = new Uint8Array(n);
  for (let k = 0; k < shape[2]; k++)
    for (let j = 0; j < shape[1]; j++)
      for (let i = 0; i < shape[0]; i++) {
        const v = i + shape[0] * (j + shape[1] * k);
        const p = [
          affine[0]! * i + affine[1]! * j + affine[2]! * k + affine[3]!,
          affine[4]! * i + affine[5]! * j + affine[6]! * k + affine[7]!,
          affine[8]! * i + affine[9]! * j + affine[10]! * k + affine[11]!,
        ];
        const inLiver = i >= 4 && i < shape[0] - 4 && j >= 4 && j < shape[1] - 4 && k >= 2 && k < shape[2] - 2;
        if (!inLiver) continue;
        labels[v] = 1;
        ct[v] = 60;
        for (const s of spheres) {
          if (Math.hypot(p[0]! - s.centre[0], p[1]! - s.centre[1], p[2]! - s.centre[2]) <= s.radiusMm) {
            labels[v] = 2;
            // Alternating HU around the sphere's mean: a known heterogeneity (CV = 20 / hu).
            ct[v] = s.hu + ((i + j + k) % 2 === 0 ? 20 : -20);
          }
        }
      }
  return { ct: makeVolume(ct, shape, affine), labels: makeVolume(labels, shape, affine) };
}

const SHAPE: [number, number, number] = [100, 80, 40];
const AFFINE = diagonalAffine([1, 1, 2], [0, 0, 0]); // liver centre at x ≈ 50 mm

describe('observeTumour', () => {
  it('measures one sphere: count, diameter, volume, enhancement, heterogeneity, lobe', () => {
    const o = observeTumour(phantom(AFFINE, SHAPE, [{ centre: [70, 40, 40], radiusMm: 12, hu: 100 }]));
    expect(o.tumourCount).toBe(1);
    expect(o.largestDiameterMm).toBeGreaterThan(23);
    expect(o.largestDiameterMm).toBeLessThan(27);
    const sphereMl = ((4 / 3) * Math.PI * 12 ** 3) / 1000;
    expect(Math.abs(o.totalTumourMl - sphereMl) / sphereMl).toBeLessThan(0.06);
    expect(o.liverMl).toBeCloseTo((92 * 72 * 36 * 2) / 1000, 6);
    expect(o.tumourBurden).toBeCloseTo(o.totalTumourMl / o.liverMl, 10);
    expect(o.enhancementHu).toBeGreaterThan(39);
    expect(o.enhancementHu).toBeLessThan(41);
    expect(o.heterogeneity).toBeGreaterThan(0.19);
    expect(o.heterogeneity).toBeLessThan(0.21);
    expect(o.location).toBe('right-lobe'); // x = 70 > liver centre 50: RAS +x is the patient's right
    expect(o.summary).toMatch(/^A single hyper-enhancing lesion of 2\d mm in the right lobe/);
  });

  it('counts separate lesions and calls them bilobar when they straddle the liver centre', () => {
    const o = observeTumour(
      phantom(AFFINE, SHAPE, [
        { centre: [25, 40, 40], radiusMm: 10, hu: 100 },
        { centre: [75, 40, 40], radiusMm: 6, hu: 100 },
        { centre: [30, 20, 40], radiusMm: 5, hu: 100 },
      ]),
    );
    expect(o.tumourCount).toBe(3);
    expect(o.location).toBe('bilobar');
    expect(o.largestDiameterMm).toBeGreaterThan(19);
    expect(o.largestDiameterMm).toBeLessThan(23);
    expect(o.summary).toMatch(/^3 hyper-enhancing lesions, the largest of \d+ mm in both lobes/);
  });

  it('reads the lobe in world coordinates, not voxel order (x axis flipped in the affine)', () => {
    const flipped: Affine = [-1, 0, 0, 99, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1];
    // World x = 99 - i: a lesion at world x = 25 lies at high voxel i but low world x, the patient's left.
    const o = observeTumour(phantom(flipped, SHAPE, [{ centre: [25, 40, 40], radiusMm: 8, hu: 55 }]));
    expect(o.location).toBe('left-lobe');
    expect(o.enhancementHu).toBeLessThan(0);
    expect(o.summary).toContain('hypo-attenuating');
  });

  it('ignores specks below the minimum lesion volume', () => {
    const o = observeTumour(
      phantom(AFFINE, SHAPE, [
        { centre: [70, 40, 40], radiusMm: 10, hu: 100 },
        { centre: [30, 40, 40], radiusMm: 0.5, hu: 100 },
      ]),
      { minLesionMl: 0.05 },
    );
    expect(o.tumourCount).toBe(1);
    expect(o.location).toBe('right-lobe');
  });

  it('fails typed on a case without tumour and on mismatched grids', () => {
    const empty = phantom(AFFINE, SHAPE, []);
    expect(() => observeTumour(empty, { caseId: 'case-9' })).toThrow(/case-9: no tumour/);
    const other = { ct: makeVolume(empty.ct.data, SHAPE, diagonalAffine([1, 1, 1])), labels: empty.labels };
    let error: unknown;
    try {
      observeTumour(other);
    } catch (e) {
      error = e;
    }
    expect(isMewmError(error, 'InvalidVolume')).toBe(true);
  });

  it('fails typed on non-finite HU inside the organ', () => {
    const roi = phantom(AFFINE, SHAPE, [{ centre: [70, 40, 40], radiusMm: 10, hu: 100 }]);
    const tumourVoxel = roi.labels.data.indexOf(2);
    roi.ct.data[tumourVoxel] = Number.NaN;
    expect(() => observeTumour(roi, { caseId: 'case-3' })).toThrow(/case-3: the CT has non-finite HU/);
  });
});

describe('observeTumour on the synthetic world', () => {
  it('agrees with the phantom truth: lesion count, volume, enhancement sign and the first lesion in the right lobe', async () => {
    const { generatePatientTruth } = await import('../../src/world/cohort');
    const { GRID_PRESETS, renderPhantom } = await import('../../src/world/phantom');
    let countsAgree = 0;
    const cases = 4;
    for (let index = 1; index <= cases; index++) {
      const { phenotype } = generatePatientTruth(99, index);
      const o = observeTumour(renderPhantom(phenotype, GRID_PRESETS.clinical));
      const truthMl = phenotype.lesions.reduce((sum, l) => sum + l.volumeMl, 0);
      expect(o.totalTumourMl / truthMl).toBeGreaterThan(0.8);
      expect(o.totalTumourMl / truthMl).toBeLessThan(1.25);
      expect(o.enhancementHu).toBeGreaterThan(0);
      // The world places the first (largest) lesion in its right lobe.
      if (phenotype.lesions.length === 1) expect(o.location).toBe('right-lobe');
      // Touching lesions merge into one component; a lesion is never split in two.
      expect(o.tumourCount).toBeLessThanOrEqual(phenotype.lesions.length);
      if (o.tumourCount === phenotype.lesions.length) countsAgree++;
    }
    expect(countsAgree).toBeGreaterThanOrEqual(cases - 1);
  });
});
