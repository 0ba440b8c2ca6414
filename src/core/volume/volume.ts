/**
 * The one volume type of mewm.
 *
 * Memory layout: `data[x + nx * (y + ny * z)]`, x fastest (NIfTI order). As a tensor this is
 * `[Z, Y, X]`, so `[N, C, Z, Y, X]` ONNX tensors share the same bytes without transposition.
 * `affine` maps voxel indices (i, j, k, 1) to world coordinates in RAS+ millimetres
 * (row-major 4x4, the nibabel convention). CT intensities are Hounsfield units.
 */
export type VoxelArray = Float32Array | Float64Array | Int16Array | Uint16Array | Int32Array | Uint8Array | Int8Array;

export type Shape3 = readonly [nx: number, ny: number, nz: number];
/** Row-major 4x4 voxel-to-RAS matrix, 16 numbers. */
export type Affine = readonly number[];

export interface Volume<T extends VoxelArray = VoxelArray> {
  readonly data: T;
  readonly shape: Shape3;
  readonly affine: Affine;
}

/** A CT in HU and its label map (0 background, 1 liver, 2 tumour) on the same grid. */
export interface LabelledCt {
  readonly ct: Volume<Float32Array>;
  readonly labels: Volume<Uint8Array>;
}

export const Label = { background: 0, liver: 1, tumour: 2 } as const;

export function voxelCount(shape: Shape3): number {
  return shape[0] * shape[1] * shape[2];
}

/** Spacing in mm along i, j, k: the norms of the affine's first three columns. */
export function spacingOf(affine: Affine): [number, number, number] {
  const column = (c: number) => Math.hypot(affine[c]!, affine[4 + c]!, affine[8 + c]!);
  return [column(0), column(1), column(2)];
}

/** An axis-aligned RAS affine: spacing on the diagonal, origin in the last column. */
export function diagonalAffine(spacing: readonly [number, number, number], origin: readonly [number, number, number] = [0, 0, 0]): Affine {
  return [spacing[0], 0, 0, origin[0], 0, spacing[1], 0, origin[1], 0, 0, spacing[2], origin[2], 0, 0, 0, 1];
}

export function makeVolume<T extends VoxelArray>(data: T, shape: Shape3, affine: Affine): Volume<T> {
  if (data.length !== voxelCount(shape)) {
    throw new RangeError(`volume data has ${data.length} voxels but shape ${shape.join('x')} needs ${voxelCount(shape)}`);
  }
  if (affine.length !== 16) throw new RangeError(`affine must have 16 numbers, got ${affine.length}`);
  return { data, shape: [shape[0], shape[1], shape[2]], affine: [...affine] };
}

export function sameGrid(a: Volume, b: Volume, toleranceMm = 1e-4): boolean {
  return a.shape.every((n, i) => n === b.shape[i]) && a.affine.every((v, i) => Math.abs(v - b.affine[i]!) <= toleranceMm);
}
