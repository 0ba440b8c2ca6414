/**
 * PNG output for people: axial CT slices with label overlays, montages, and PNG encoding.
 *
 * Display convention: radiological. An axial slice is seen from the patient's feet, so the
 * patient's right is on the image's left and anterior is at the top. Concretely, for the
 * RAS-reoriented volume, image column c shows voxel i = nx-1-c and image row r shows
 * j = ny-1-r. Volumes in any orientation are reoriented to RAS first (axis permutation and
 * flips only), so `z` always counts slices from inferior (0) to superior.
 *
 * Images are `{ rgba, width, height }`: `rgba` row-major, 4 bytes per pixel, top row first.
 */
import { PNG } from 'pngjs';
import { MewmError } from '../core/errors';
import { reorientToRas } from '../core/volume/orientation';
import { Label, sameGrid, type Volume } from '../core/volume/volume';

export interface RgbaImage {
  readonly rgba: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** Abdominal soft-tissue display window (HU): level 40, width 400. */
export const abdomenDisplayWindowHu: readonly [number, number] = [-160, 240];

export const overlayColours = {
  liver: [230, 40, 40],
  tumour: [40, 220, 60],
} as const;

export interface RenderAxialSliceOptions {
  /** Grey-level window [lo, hi] in HU; default abdomen [-160, 240]. */
  readonly windowHu?: readonly [number, number];
  /** Label map on the same grid as the CT (0 background, 1 liver red, 2 tumour green). */
  readonly labels?: Volume<Uint8Array>;
  /** 'outline' draws label borders (default), 'fill' tints label voxels with `fillOpacity`. */
  readonly overlay?: 'outline' | 'fill';
  /** Opacity of the tint in 'fill' mode, 0..1 (default 0.4). */
  readonly fillOpacity?: number;
}

export function encodePng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new MewmError('InvalidInput', `PNG size ${width}x${height} is not two positive integers`);
  }
  if (rgba.length !== width * height * 4) {
    throw new MewmError('InvalidInput', `PNG of ${width}x${height} needs ${width * height * 4} RGBA bytes, got ${rgba.length}`);
  }
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  const encoded = PNG.sync.write(png);
  return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}

/** Decodes a PNG (any colour type pngjs reads) into RGBA; for tests and previews. */
export function decodePng(bytes: Uint8Array): RgbaImage {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return { rgba: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength), width: png.width, height: png.height };
}

/**
 * Renders axial slice `z` (index along the superior axis after reorientation to RAS) of a CT in
 * HU as greys over `windowHu`, with optional liver/tumour overlays, in radiological convention.
 */
export function renderAxialSlice(ct: Volume, z: number, options: RenderAxialSliceOptions = {}): RgbaImage {
  const [lo, hi] = options.windowHu ?? abdomenDisplayWindowHu;
  if (!(hi > lo)) throw new MewmError('InvalidInput', `display window [${lo}, ${hi}] must have hi > lo`);
  if (options.labels && !sameGrid(ct, options.labels)) {
    throw new MewmError('InvalidInput', 'labels must lie on the same grid (shape and affine) as the CT');
  }
  const image = reorientToRas(ct);
  const labels = options.labels ? reorientToRas(options.labels) : undefined;
  const [nx, ny, nz] = image.shape;
  if (!Number.isInteger(z) || z < 0 || z >= nz) throw new MewmError('InvalidInput', `slice ${z} is outside 0..${nz - 1}`);
  const width = nx;
  const height = ny;
  const rgba = new Uint8Array(width * height * 4);
  const plane = z * nx * ny;
  const scale = 255 / (hi - lo);
  for (let r = 0; r < height; r++) {
    const j = ny - 1 - r;
    for (let c = 0; c < width; c++) {
      const i = nx - 1 - c;
      const value = image.data[plane + i + nx * j]!;
      const grey = Number.isNaN(value) ? 0 : Math.round(Math.min(255, Math.max(0, (value - lo) * scale)));
      const p = 4 * (r * width + c);
      rgba[p] = grey;
      rgba[p + 1] = grey;
      rgba[p + 2] = grey;
      rgba[p + 3] = 255;
    }
  }
  if (labels) drawOverlay(rgba, labels.data, nx, ny, plane, options.overlay ?? 'outline', options.fillOpacity ?? 0.4);
  return { rgba, width, height };
}

function colourOf(label: number): readonly number[] | undefined {
  if (label === Label.liver) return overlayColours.liver;
  if (label === Label.tumour) return overlayColours.tumour;
  return undefined;
}

function drawOverlay(rgba: Uint8Array, labels: Uint8Array, nx: number, ny: number, plane: number, mode: 'outline' | 'fill', opacity: number): void {
  const at = (i: number, j: number) => labels[plane + i + nx * j]!;
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const label = at(i, j);
      const colour = colourOf(label);
      if (!colour) continue;
      if (mode === 'outline') {
        const border =
          i === 0 ||
          j === 0 ||
          i === nx - 1 ||
          j === ny - 1 ||
          at(i - 1, j) !== label ||
          at(i + 1, j) !== label ||
          at(i, j - 1) !== label ||
          at(i, j + 1) !== label;
        if (!border) continue;
      }
      const p = 4 * ((ny - 1 - j) * nx + (nx - 1 - i));
      const alpha = mode === 'outline' ? 1 : opacity;
      for (let channel = 0; channel < 3; channel++) {
        rgba[p + channel] = Math.round(rgba[p + channel]! * (1 - alpha) + colour[channel]! * alpha);
      }
    }
  }
}

/**
 * Tiles images row by row, `columns` per row, into one image on a black background. Every cell
 * is as large as the largest tile; smaller tiles sit in their cell's top-left corner.
 */
export function montage(tiles: readonly RgbaImage[], columns: number, options: { gapPx?: number } = {}): RgbaImage {
  if (tiles.length === 0) throw new MewmError('InvalidInput', 'a montage needs at least one tile');
  if (!Number.isInteger(columns) || columns < 1) throw new MewmError('InvalidInput', `montage columns must be a positive integer, got ${columns}`);
  const gap = options.gapPx ?? 0;
  const cellWidth = Math.max(...tiles.map((t) => t.width));
  const cellHeight = Math.max(...tiles.map((t) => t.height));
  const usedColumns = Math.min(columns, tiles.length);
  const rows = Math.ceil(tiles.length / columns);
  const width = usedColumns * cellWidth + (usedColumns - 1) * gap;
  const height = rows * cellHeight + (rows - 1) * gap;
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 3; p < rgba.length; p += 4) rgba[p] = 255;
  tiles.forEach((tile, index) => {
    if (tile.rgba.length !== tile.width * tile.height * 4) {
      throw new MewmError('InvalidInput', `montage tile ${index} has ${tile.rgba.length} bytes for ${tile.width}x${tile.height} RGBA`);
    }
    const x0 = (index % columns) * (cellWidth + gap);
    const y0 = Math.floor(index / columns) * (cellHeight + gap);
    for (let r = 0; r < tile.height; r++) {
      const source = tile.rgba.subarray(4 * r * tile.width, 4 * (r + 1) * tile.width);
      rgba.set(source, 4 * ((y0 + r) * width + x0));
    }
  });
  return { rgba, width, height };
}
