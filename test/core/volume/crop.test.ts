import { describe, expect, it } from 'vitest';
import { boundingBox, boxCentre, cropAround, cropStart, gridOffset, pasteInto } from '../../../src/core/volume/crop';
import { makeVolume, type Affine, type Shape3 } from '../../../src/core/volume/volume';

const affine: Affine = [-0.8, 0, 0, 100, 0, -0.8, 0, 90, 0, 0, 3, -20, 0, 0, 0, 1];
const shape: Shape3 = [6, 5, 4];
const indexVolume = () =>
  makeVolume(
    Int16Array.from({ length: 120 }, (_, i) => i),
    shape,
    affine,
  );
const at = (x: number, y: number, z: number) => x + 6 * (y + 5 * z);

describe('boundingBox', () => {
  it.each([
    { name: 'one voxel', voxels: [[2, 3, 1]], min: [2, 3, 1], max: [2, 3, 1] },
    {
      name: 'two corners',
      voxels: [
        [0, 0, 0],
        [5, 4, 3],
      ],
      min: [0, 0, 0],
      max: [5, 4, 3],
    },
    {
      name: 'a line along y',
      voxels: [
        [1, 1, 2],
        [1, 3, 2],
      ],
      min: [1, 1, 2],
      max: [1, 3, 2],
    },
  ])('$name', ({ voxels, min, max }) => {
    const data = new Uint8Array(120);
    for (const [x, y, z] of voxels) data[at(x!, y!, z!)] = 2;
    const box = boundingBox(makeVolume(data, shape, affine));
    expect(box).toEqual({ min, max });
  });

  it('is undefined for an empty mask, and honours a predicate', () => {
    expect(boundingBox(makeVolume(new Uint8Array(120), shape, affine))).toBeUndefined();
    const data = new Uint8Array(120);
    data[at(1, 1, 1)] = 1;
    data[at(4, 4, 3)] = 2;
    expect(boundingBox(makeVolume(data, shape, affine), (v) => v === 2)).toEqual({ min: [4, 4, 3], max: [4, 4, 3] });
    expect(boxCentre({ min: [1, 1, 1], max: [4, 4, 3] })).toEqual([2, 2, 2]);
  });
});

describe('cropAround and pasteInto', () => {
  it.each([
    { name: 'inside', centre: [3, 2, 2] as const, size: [2, 3, 2] as Shape3 },
    { name: 'overlapping the low corner', centre: [0, 0, 0] as const, size: [3, 3, 3] as Shape3 },
    { name: 'overlapping the high corner', centre: [5, 4, 3] as const, size: [4, 4, 4] as Shape3 },
    { name: 'larger than the volume', centre: [3, 2, 2] as const, size: [9, 8, 7] as Shape3 },
  ])('crop $name: voxels, fill and affine follow the source', ({ centre, size }) => {
    const source = indexVolume();
    const patch = cropAround(source, centre, size, -1024);
    const start = cropStart(centre, size);
    expect(patch.shape).toEqual(size);
    expect(patch.data).toBeInstanceOf(Int16Array);
    for (let z = 0; z < size[2]; z++)
      for (let y = 0; y < size[1]; y++)
        for (let x = 0; x < size[0]; x++) {
          const [sx, sy, sz] = [start[0] + x, start[1] + y, start[2] + z];
          const inside = sx >= 0 && sy >= 0 && sz >= 0 && sx < 6 && sy < 5 && sz < 4;
          expect(patch.data[x + size[0] * (y + size[1] * z)]).toBe(inside ? at(sx, sy, sz) : -1024);
        }
    // patch voxel (0,0,0) sits where source voxel `start` sits
    expect(patch.affine[3]).toBeCloseTo(100 - 0.8 * start[0], 9);
    expect(patch.affine[7]).toBeCloseTo(90 - 0.8 * start[1], 9);
    expect(patch.affine[11]).toBeCloseTo(-20 + 3 * start[2], 9);
    expect(gridOffset(source.affine, patch.affine)).toEqual(start);
    // pasting the untouched crop back changes nothing
    expect(Array.from(pasteInto(source, patch, start).data)).toEqual(Array.from(source.data));
  });

  it('pastes an edited patch at the offset derived from the affines, clipping at the border', () => {
    const source = indexVolume();
    const patch = cropAround(source, [5, 4, 3], [2, 2, 2]);
    const edited = makeVolume(new Int16Array(8).fill(7), patch.shape, patch.affine);
    const pasted = pasteInto(source, edited);
    expect(pasted.data[at(4, 3, 2)]).toBe(7);
    expect(pasted.data[at(5, 4, 3)]).toBe(7);
    expect(pasted.data[at(3, 3, 2)]).toBe(at(3, 3, 2));
    expect(source.data[at(5, 4, 3)]).toBe(at(5, 4, 3));
  });

  it('refuses a patch that is not on the target grid', () => {
    const source = indexVolume();
    const other = makeVolume(new Int16Array(8), [2, 2, 2], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    expect(() => pasteInto(source, other)).toThrow(/not on the target grid/);
  });
});
