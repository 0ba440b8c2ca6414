/**
 * Renders a patient's pre-treatment arterial-phase abdominal CT (HU, integers) and its label
 * map (0 background, 1 liver, 2 tumour) straight onto typed arrays. Anatomy is analytic in RAS
 * millimetres, so any grid renders the same patient; the presets give the clinical geometry of
 * the paper (0.8 x 0.8 x 3 mm) and a coarse one for fast tests.
 */
import { deriveSeed } from '../core/random';
import { MewmError } from '../core/errors';
import { diagonalAffine, makeVolume, type Affine, type LabelledCt, type Shape3 } from '../core/volume/volume';
import { FastNormal, fractalNoise, valueNoise } from './noise';
import { ellipsoidRho, lesionRho, liverRho, type Ellipsoid, type Phenotype } from './phenotype';

export interface WorldGrid {
  readonly shape: Shape3;
  /** mm along x, y, z. */
  readonly spacing: readonly [number, number, number];
  /**
   * RAS mm of voxel (0, 0, 0). Default: the block centred on the world origin. Training renders
   * a lattice-aligned sub-block of a preset grid with it (the same voxel centres, less work).
   */
  readonly originMm?: readonly [number, number, number];
}

export type GridPreset = 'clinical' | 'small';

/** clinical: 320 x 320 x 64 at 0.8 x 0.8 x 3 mm (256 x 256 x 192 mm). small: the same block at 96 x 96 x 32. */
export const GRID_PRESETS: Readonly<Record<GridPreset, WorldGrid>> = {
  clinical: { shape: [320, 320, 64], spacing: [0.8, 0.8, 3] },
  small: { shape: [96, 96, 32], spacing: [256 / 96, 256 / 96, 6] },
};

export function isGridPreset(name: string): name is GridPreset {
  return name === 'clinical' || name === 'small';
}

/** Axis-aligned RAS affine; without `originMm` the block is centred on the world origin. */
export function gridAffine(grid: WorldGrid): Affine {
  const origin = grid.originMm ?? (grid.shape.map((n, a) => (-(n - 1) / 2) * grid.spacing[a]!) as [number, number, number]);
  return diagonalAffine(grid.spacing, origin);
}

const hu = {
  air: -1000,
  skin: 30,
  subcutaneousFat: -105,
  visceralFat: -90,
  muscle: 52,
  cancellousBone: 240,
  corticalBone: 650,
  csf: 15,
  aorta: 290,
  ivc: 105,
  lung: -860,
  kidneyCortex: 175,
  kidneyMedulla: 85,
  spleen: 118,
  bowelWall: 55,
  bowelFluid: 18,
  gas: -900,
  portalVesselOverLiver: 65,
  capsuleUnderLiver: -14,
} as const;

interface Box {
  i0: number;
  i1: number;
  j0: number;
  j1: number;
  k0: number;
  k1: number;
}

function boxAround(affine: Affine, shape: Shape3, center: readonly number[], halfWidthMm: readonly number[]): Box | undefined {
  const idx = (axis: number, mm: number) => (mm - affine[4 * axis + 3]!) / affine[5 * axis]!;
  const lo = (a: number) => Math.max(0, Math.floor(idx(a, center[a]! - halfWidthMm[a]!)));
  const hi = (a: number) => Math.min(shape[a]! - 1, Math.ceil(idx(a, center[a]! + halfWidthMm[a]!)));
  const box = { i0: lo(0), i1: hi(0), j0: lo(1), j1: hi(1), k0: lo(2), k1: hi(2) };
  return box.i0 > box.i1 || box.j0 > box.j1 || box.k0 > box.k1 ? undefined : box;
}

function ellipsoidBox(affine: Affine, shape: Shape3, e: Ellipsoid, scale = 1): Box | undefined {
  return boxAround(
    affine,
    shape,
    e.center,
    e.radii.map((r) => r * scale),
  );
}

/** Whether world point (x, y) mm lies inside the abdominal cavity (inside the muscle wall). */
export function insideAbdomen(phenotype: Phenotype, x: number, y: number): boolean {
  const { anatomy } = phenotype;
  const [a, b] = anatomy.bodySemiAxes;
  const e = Math.hypot(x / a, y / b);
  if (e >= 1) return false;
  const depth = e < 1e-6 ? a : Math.hypot(x, y) * (1 / e - 1);
  return depth >= anatomy.fatMm + anatomy.muscleMm;
}

/** Whether world point (x, y, z) mm lies in the liver (tumours included), as the phantom draws it. */
export function insideLiver(phenotype: Phenotype, x: number, y: number, z: number): boolean {
  const { anatomy } = phenotype;
  if (!insideAbdomen(phenotype, x, y)) return false;
  const [rightLobe, leftLobe] = anatomy.liverLobes;
  if (ellipsoidRho(rightLobe, x, y, z) > 1.2 && ellipsoidRho(leftLobe, x, y, z) > 1.2) return false;
  return liverRho(anatomy, x, y, z, valueNoise(deriveSeed(anatomy.textureSeed, 'liver-shape'), x, y, z, 35)) < 1;
}

/** Renders the pre-treatment CT and labels of `phenotype` on `grid`. */
export function renderPhantom(phenotype: Phenotype, grid: WorldGrid): LabelledCt {
  const [nx, ny, nz] = grid.shape;
  if (![nx, ny, nz].every((n) => Number.isInteger(n) && n >= 8 && n <= 1024) || !grid.spacing.every((s) => s > 0.1 && s < 20)) {
    throw new MewmError('InvalidInput', `phantom grid ${grid.shape.join('x')} at ${grid.spacing.join('x')} mm is not plausible`);
  }
  const affine = gridAffine(grid);
  const sx = affine[0]!;
  const sy = affine[5]!;
  const sz = affine[10]!;
  const ox = affine[3]!;
  const oy = affine[7]!;
  const oz = affine[11]!;
  const plane = nx * ny;
  const ct = new Float32Array(plane * nz);
  const labels = new Uint8Array(plane * nz);
  const { anatomy, lesions, biology } = phenotype;
  const [a, b] = anatomy.bodySemiAxes;
  const wall = anatomy.fatMm + anatomy.muscleMm;
  const spineY = -b + wall + 40;
  const canalY = -b + wall + 16;
  const aortaX = -14;
  const aortaY = spineY + 29;
  const ivcX = 24;
  const ivcY = spineY + 27;

  // One axial template for the z-invariant structures; `inner` marks the abdominal cavity.
  const base = new Float32Array(plane);
  const inner = new Uint8Array(plane);
  for (let j = 0; j < ny; j++) {
    const y = oy + j * sy;
    for (let i = 0; i < nx; i++) {
      const x = ox + i * sx;
      const e = Math.hypot(x / a, y / b);
      const p = i + nx * j;
      if (e >= 1) {
        base[p] = hu.air;
        continue;
      }
      const depth = e < 1e-6 ? a : Math.hypot(x, y) * (1 / e - 1);
      let v: number;
      if (depth < 1.5) v = hu.skin;
      else if (depth < anatomy.fatMm) v = hu.subcutaneousFat;
      else if (depth < wall) v = hu.muscle;
      else {
        v = hu.visceralFat;
        inner[p] = 1;
      }
      if (inner[p]) {
        if (Math.hypot((Math.abs(x) - 30) / 22, (y - (spineY - 22)) / 16) < 1) v = hu.muscle;
        if (Math.hypot((Math.abs(x) - 42) / 12, (y - (spineY + 6)) / 14) < 1) v = hu.muscle; // psoas
        const rBody = Math.hypot(x, y - spineY);
        if (rBody < 17) v = rBody > 14 ? hu.corticalBone : hu.cancellousBone;
        const rCanal = Math.hypot(x, y - canalY);
        if (rCanal < 13 && rBody >= 17) v = rCanal < 8 ? hu.csf : hu.corticalBone;
        if (Math.hypot(x - aortaX, y - aortaY) < 11) v = hu.aorta;
      }
      base[p] = v;
    }
  }
  for (let k = 0; k < nz; k++) ct.set(base, k * plane);

  const textureSeed = anatomy.textureSeed;
  const fillEllipsoid = (e: Ellipsoid, value: (rho: number, x: number, y: number, z: number) => number | undefined) => {
    const box = ellipsoidBox(affine, grid.shape, e);
    if (!box) return;
    for (let k = box.k0; k <= box.k1; k++) {
      const z = oz + k * sz;
      for (let j = box.j0; j <= box.j1; j++) {
        const y = oy + j * sy;
        for (let i = box.i0; i <= box.i1; i++) {
          const p = i + nx * j;
          if (!inner[p]) continue;
          const x = ox + i * sx;
          const rho = ellipsoidRho(e, x, y, z);
          if (rho >= 1) continue;
          const v = value(rho, x, y, z);
          if (v !== undefined) ct[p + plane * k] = v;
        }
      }
    }
  };

  // IVC below the liver dome
  for (let k = 0; k < nz; k++) {
    const z = oz + k * sz;
    if (z < -75 || z > 70) continue;
    for (let j = 0; j < ny; j++) {
      const y = oy + j * sy;
      for (let i = 0; i < nx; i++) {
        const x = ox + i * sx;
        if (Math.hypot(x - ivcX, y - ivcY) < 11) ct[i + nx * j + plane * k] = hu.ivc;
      }
    }
  }
  for (const sign of [1, -1]) {
    fillEllipsoid({ center: [sign * 62, -5, 160], radii: [58, 78, 100] }, () => hu.lung);
  }
  for (const kidney of anatomy.kidneys) fillEllipsoid(kidney, (rho) => (rho > 0.68 ? hu.kidneyCortex : hu.kidneyMedulla));
  const spleenSeed = deriveSeed(textureSeed, 'spleen');
  fillEllipsoid(anatomy.spleen, (_r, x, y, z) => hu.spleen + 28 * valueNoise(spleenSeed, x, y, z, 9));
  const stomach = anatomy.stomach;
  fillEllipsoid(stomach, (rho, _x, y, z) =>
    rho > 0.88 ? hu.bowelWall : y > stomach.center[1] + 0.2 * stomach.radii[1] && z > stomach.center[2] ? hu.gas : hu.bowelFluid,
  );
  const bowelSeed = deriveSeed(textureSeed, 'bowel');
  for (const loop of anatomy.bowel) {
    fillEllipsoid(loop, (rho, x, y, z) => (rho > 0.8 ? hu.bowelWall : valueNoise(bowelSeed, x, y, z, 10) > 0.25 ? hu.gas : hu.bowelFluid));
  }

  // Liver, its vessels and its lesions
  const [rightLobe, leftLobe] = anatomy.liverLobes;
  const deformationSeed = deriveSeed(textureSeed, 'liver-shape');
  const liverTextureSeed = deriveSeed(textureSeed, 'liver-texture');
  const lobeBoxes = [rightLobe, leftLobe].map((lobe) => ellipsoidBox(affine, grid.shape, lobe, 1.15)).filter((b): b is Box => b !== undefined);
  if (lobeBoxes.length > 0) {
    const box: Box = {
      i0: Math.min(...lobeBoxes.map((b) => b.i0)),
      i1: Math.max(...lobeBoxes.map((b) => b.i1)),
      j0: Math.min(...lobeBoxes.map((b) => b.j0)),
      j1: Math.max(...lobeBoxes.map((b) => b.j1)),
      k0: Math.min(...lobeBoxes.map((b) => b.k0)),
      k1: Math.max(...lobeBoxes.map((b) => b.k1)),
    };
    for (let k = box.k0; k <= box.k1; k++) {
      const z = oz + k * sz;
      for (let j = box.j0; j <= box.j1; j++) {
        const y = oy + j * sy;
        for (let i = box.i0; i <= box.i1; i++) {
          const p = i + nx * j;
          const q = p + plane * k;
          if (!inner[p]) continue;
          const x = ox + i * sx;
          // cheap rejection before the noise-deformed implicit function
          if (ellipsoidRho(rightLobe, x, y, z) > 1.2 && ellipsoidRho(leftLobe, x, y, z) > 1.2) continue;
          const rho = liverRho(anatomy, x, y, z, valueNoise(deformationSeed, x, y, z, 35));
          if (rho >= 1) continue;
          labels[q] = 1;
          ct[q] = anatomy.liverHu + 6 * fractalNoise(liverTextureSeed, x, y, z, 12);
        }
      }
    }
  }
  for (const vessel of anatomy.vessels) {
    const center = [0, 1, 2].map((c) => (vessel.from[c]! + vessel.to[c]!) / 2);
    const half = [0, 1, 2].map((c) => Math.abs(vessel.from[c]! - vessel.to[c]!) / 2 + vessel.radiusMm);
    const box = boxAround(affine, grid.shape, center, half);
    if (!box) continue;
    const d = [0, 1, 2].map((c) => vessel.to[c]! - vessel.from[c]!) as [number, number, number];
    const length2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2] || 1;
    const r2 = vessel.radiusMm * vessel.radiusMm;
    for (let k = box.k0; k <= box.k1; k++) {
      const z = oz + k * sz;
      for (let j = box.j0; j <= box.j1; j++) {
        const y = oy + j * sy;
        for (let i = box.i0; i <= box.i1; i++) {
          const q = i + nx * j + plane * k;
          if (labels[q] !== 1) continue;
          const x = ox + i * sx;
          const px = x - vessel.from[0];
          const py = y - vessel.from[1];
          const pz = z - vessel.from[2];
          const t = Math.min(1, Math.max(0, (px * d[0] + py * d[1] + pz * d[2]) / length2));
          const ex = px - t * d[0];
          const ey = py - t * d[1];
          const ez = pz - t * d[2];
          if (ex * ex + ey * ey + ez * ez < r2) ct[q] = anatomy.liverHu + hu.portalVesselOverLiver;
        }
      }
    }
  }
  lesions.forEach((lesion, index) => {
    const reach = Math.max(...lesion.radii) * (1 + lesion.lobes.reduce((s, l) => s + l.amplitude, 0)) + 1;
    const box = boxAround(affine, grid.shape, lesion.center, [reach, reach, reach]);
    if (!box) return;
    const lesionSeed = deriveSeed(textureSeed, 'lesion', index);
    const meanRadius = (lesion.radii[0] + lesion.radii[1] + lesion.radii[2]) / 3;
    for (let k = box.k0; k <= box.k1; k++) {
      const z = oz + k * sz;
      for (let j = box.j0; j <= box.j1; j++) {
        const y = oy + j * sy;
        for (let i = box.i0; i <= box.i1; i++) {
          const q = i + nx * j + plane * k;
          if (labels[q] !== 1) continue;
          const x = ox + i * sx;
          const rho = lesionRho(lesion, x, y, z);
          if (rho >= 1) continue;
          labels[q] = 2;
          const inCapsule = lesion.capsuleMm > 0 && (1 - rho) * meanRadius < lesion.capsuleMm;
          ct[q] = inCapsule
            ? anatomy.liverHu + hu.capsuleUnderLiver
            : anatomy.liverHu + lesion.enhancementHu + 32 * biology.heterogeneity * fractalNoise(lesionSeed, x, y, z, 5);
        }
      }
    }
  });

  const noise = new FastNormal(deriveSeed(phenotype.seed, 'pre-ct-noise'));
  const sigma = anatomy.noiseSigmaHu;
  for (let q = 0; q < ct.length; q++) {
    const v = ct[q]!;
    ct[q] = Math.round(v <= hu.air ? hu.air + Math.abs(4 * noise.next()) : v + sigma * noise.next());
  }
  return { ct: makeVolume(ct, grid.shape, affine), labels: makeVolume(labels, grid.shape, affine) };
}
