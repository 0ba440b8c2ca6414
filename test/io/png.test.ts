import { describe, expect, it } from 'vitest';
import { diagonalAffine, makeVolume } from '../../src/core/volume/volume';
import { decodePng, encodePng, montage, overlayColours, renderAxialSlice } from '../../src/io/png';

const [nx, ny, nz] = [6, 4, 3];
const pixel = (image: { rgba: Uint8Array; width: number }, row: number, column: number) =>
  Array.from(image.rgba.subarray(4 * (row * image.width + column), 4 * (row * image.width + column) + 4));

/** A RAS CT of -1000 HU with one 240 HU voxel at the patient's left-posterior corner of slice 1. */
function rasCt() {
  const data = new Float32Array(nx * ny * nz).fill(-1000);
  data[0 + nx * (0 + ny * 1)] = 240;
  return makeVolume(data, [nx, ny, nz], diagonalAffine([0.8, 0.8, 3], [-2, -1, 0]));
}

describe('renderAxialSlice', () => {
  it('shows the patient left-posterior voxel at the bottom-right (radiological convention)', () => {
    const image = renderAxialSlice(rasCt(), 1);
    expect([image.width, image.height]).toEqual([nx, ny]);
    expect(pixel(image, ny - 1, nx - 1)).toEqual([255, 255, 255, 255]);
    expect(pixel(image, 0, 0)).toEqual([0, 0, 0, 255]);
  });

  it('renders an LPS-stored copy of the same anatomy identically', () => {
    const ras = rasCt();
    const lps = new Float32Array(ras.data.length);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          lps[nx - 1 - i + nx * (ny - 1 - j + ny * k)] = ras.data[i + nx * (j + ny * k)]!;
        }
    // voxel (i', j') of the LPS grid sits where RAS voxel (nx-1-i', ny-1-j') sits
    const affine = [-0.8, 0, 0, -2 + 0.8 * (nx - 1), 0, -0.8, 0, -1 + 0.8 * (ny - 1), 0, 0, 3, 0, 0, 0, 0, 1];
    const lpsImage = renderAxialSlice(makeVolume(lps, [nx, ny, nz], affine), 1);
    expect(Array.from(lpsImage.rgba)).toEqual(Array.from(renderAxialSlice(ras, 1).rgba));
  });

  it('windows HU to greys and draws liver and tumour overlays', () => {
    const ct = rasCt();
    const labels = new Uint8Array(nx * ny * nz);
    labels[2 + nx * (1 + ny * 1)] = 1;
    labels[3 + nx * (1 + ny * 1)] = 2;
    const filled = renderAxialSlice(ct, 1, { windowHu: [-1000, 1000], labels: makeVolume(labels, [nx, ny, nz], ct.affine), overlay: 'fill', fillOpacity: 1 });
    expect(pixel(filled, ny - 1 - 1, nx - 1 - 2).slice(0, 3)).toEqual([...overlayColours.liver]);
    expect(pixel(filled, ny - 1 - 1, nx - 1 - 3).slice(0, 3)).toEqual([...overlayColours.tumour]);
    expect(pixel(filled, 0, 0)).toEqual([0, 0, 0, 255]);
    expect(pixel(filled, ny - 1, nx - 1).slice(0, 3)).toEqual([158, 158, 158]); // (240 + 1000) / 2000 * 255;
  });

  it('rejects slices outside the volume and labels on another grid', () => {
    expect(() => renderAxialSlice(rasCt(), 3)).toThrow(/outside 0..2/);
    const labels = makeVolume(new Uint8Array(nx * ny * nz), [nx, ny, nz], diagonalAffine([1, 1, 1]));
    expect(() => renderAxialSlice(rasCt(), 0, { labels })).toThrow(/same grid/);
  });
});

describe('montage and PNG encoding', () => {
  it('tiles images row by row and survives a PNG round trip', () => {
    const tile = (value: number, width: number, height: number) => ({ rgba: new Uint8Array(width * height * 4).fill(value), width, height });
    const image = montage([tile(10, 2, 2), tile(20, 3, 1), tile(30, 2, 2)], 2);
    expect([image.width, image.height]).toEqual([6, 4]);
    expect(pixel(image, 0, 3)).toEqual([20, 20, 20, 20]);
    expect(pixel(image, 1, 3)).toEqual([0, 0, 0, 255]);
    expect(pixel(image, 3, 1)).toEqual([30, 30, 30, 30]);
    const decoded = decodePng(encodePng(image.rgba, image.width, image.height));
    expect([decoded.width, decoded.height]).toEqual([6, 4]);
    expect(Array.from(decoded.rgba)).toEqual(Array.from(image.rgba));
  });

  it('rejects a buffer of the wrong size', () => {
    expect(() => encodePng(new Uint8Array(10), 2, 2)).toThrow(/needs 16 RGBA bytes/);
  });
});
