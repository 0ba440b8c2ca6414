/**
 * Deterministic procedural noise for the synthetic world: lattice value noise in world
 * millimetres (so a texture looks the same on any voxel grid) and a fast table of standard
 * normals for per-voxel CT noise.
 */
import { Rng, deriveSeed } from '../core/random';

function latticeValue(seed: number, ix: number, iy: number, iz: number): number {
  let h = seed ^ Math.imul(ix, 0x27d4eb2d) ^ Math.imul(iy, 0x165667b1) ^ Math.imul(iz, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

const smooth = (t: number) => t * t * (3 - 2 * t);

/**
 * Value noise in [-1, 1] at world position (x, y, z) mm with lattice cell size `cellMm`.
 * Smooth (C1 across cells), deterministic in `seed`.
 */
export function valueNoise(seed: number, x: number, y: number, z: number, cellMm: number): number {
  const fx = x / cellMm;
  const fy = y / cellMm;
  const fz = z / cellMm;
  const ix = Math.floor(fx);
  const iy = Math.floor(fy);
  const iz = Math.floor(fz);
  const tx = smooth(fx - ix);
  const ty = smooth(fy - iy);
  const tz = smooth(fz - iz);
  const c000 = latticeValue(seed, ix, iy, iz);
  const c100 = latticeValue(seed, ix + 1, iy, iz);
  const c010 = latticeValue(seed, ix, iy + 1, iz);
  const c110 = latticeValue(seed, ix + 1, iy + 1, iz);
  const c001 = latticeValue(seed, ix, iy, iz + 1);
  const c101 = latticeValue(seed, ix + 1, iy, iz + 1);
  const c011 = latticeValue(seed, ix, iy + 1, iz + 1);
  const c111 = latticeValue(seed, ix + 1, iy + 1, iz + 1);
  const x00 = c000 + (c100 - c000) * tx;
  const x10 = c010 + (c110 - c010) * tx;
  const x01 = c001 + (c101 - c001) * tx;
  const x11 = c011 + (c111 - c011) * tx;
  const y0 = x00 + (x10 - x00) * ty;
  const y1 = x01 + (x11 - x01) * ty;
  return 2 * (y0 + (y1 - y0) * tz) - 1;
}

/** Two octaves of value noise, roughly in [-1, 1]. */
export function fractalNoise(seed: number, x: number, y: number, z: number, cellMm: number): number {
  return 0.67 * valueNoise(seed, x, y, z, cellMm) + 0.33 * valueNoise(deriveSeed(seed, 'octave'), x, y, z, cellMm / 2.3);
}

const normalTableSize = 1 << 16;
let normalTable: Float32Array | undefined;

/** 65,536 standard normal values from a fixed seed, shared by every noise source. */
function standardNormals(): Float32Array {
  if (!normalTable) {
    const rng = new Rng(0x6e6f6973);
    normalTable = new Float32Array(normalTableSize);
    for (let i = 0; i < normalTableSize; i++) normalTable[i] = rng.normal();
  }
  return normalTable;
}

/**
 * A stream of approximately standard-normal values, one table lookup per draw (the table
 * index comes from a seeded PRNG, so the stream is deterministic and non-repeating in practice).
 */
export class FastNormal {
  private readonly table = standardNormals();
  private readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  next(): number {
    return this.table[this.rng.nextUint32() >>> 16]!;
  }
}
