/**
 * Draws a `Figure` into an RGBA raster (row-major, 4 bytes per pixel, top-left origin) and
 * encodes it as PNG. `pixelRatio` renders at a multiple of the figure's size so the 5×7 font and
 * thin lines stay crisp; no anti-aliasing, no system libraries.
 */
import { PNG } from 'pngjs';
import { MewmError } from '../../core/errors';
import { GLYPH_ADVANCE, GLYPH_ASCENT, GLYPH_HEIGHT, GLYPH_WIDTH, glyphBits } from './bitmap-font';
import type { Colour, Figure, Primitive } from './figure';

export interface Raster {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
}

export function rasterize(figure: Figure, pixelRatio = 2): Raster {
  if (!Number.isInteger(pixelRatio) || pixelRatio < 1 || pixelRatio > 8) {
    throw new MewmError('InvalidInput', `pixel ratio must be an integer in 1..8, got ${pixelRatio}`);
  }
  const width = Math.round(figure.width * pixelRatio);
  const height = Math.round(figure.height * pixelRatio);
  const canvas = new Canvas(width, height);
  canvas.fillRect(0, 0, width, height, parseColour(figure.background), 1);
  for (const p of figure.primitives) drawPrimitive(canvas, p, pixelRatio);
  return { width, height, rgba: canvas.rgba };
}

export function encodeRasterPng(raster: Raster): Uint8Array {
  const png = new PNG({ width: raster.width, height: raster.height });
  png.data = Buffer.from(raster.rgba.buffer, raster.rgba.byteOffset, raster.rgba.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}

export function figureToPng(figure: Figure, pixelRatio = 2): Uint8Array {
  return encodeRasterPng(rasterize(figure, pixelRatio));
}

function drawPrimitive(canvas: Canvas, p: Primitive, k: number): void {
  switch (p.kind) {
    case 'polyline': {
      const colour = parseColour(p.stroke);
      const width = Math.max(1, Math.round(p.width * k));
      let travelled = 0;
      for (let i = 1; i < p.points.length; i++) {
        const [x0, y0] = p.points[i - 1]!;
        const [x1, y1] = p.points[i]!;
        travelled = canvas.line(x0 * k, y0 * k, x1 * k, y1 * k, width, colour, p.opacity ?? 1, p.dash ? [p.dash[0] * k, p.dash[1] * k] : undefined, travelled);
      }
      return;
    }
    case 'polygon':
      canvas.fillPolygon(
        p.points.map(([x, y]) => [x * k, y * k] as const),
        parseColour(p.fill),
        p.opacity ?? 1,
      );
      return;
    case 'rect': {
      const x = Math.round(p.x * k);
      const y = Math.round(p.y * k);
      const w = Math.round(p.width * k);
      const h = Math.round(p.height * k);
      if (p.fill) canvas.fillRect(x, y, w, h, parseColour(p.fill), p.opacity ?? 1);
      if (p.stroke) {
        const s = Math.max(1, Math.round((p.strokeWidth ?? 1) * k));
        const c = parseColour(p.stroke);
        canvas.fillRect(x, y, w, s, c, 1);
        canvas.fillRect(x, y + h - s, w, s, c, 1);
        canvas.fillRect(x, y, s, h, c, 1);
        canvas.fillRect(x + w - s, y, s, h, c, 1);
      }
      return;
    }
    case 'text': {
      // Integer glyph scale nearest to the SVG size (0.6·size advance = GLYPH_ADVANCE·scale).
      const scale = Math.max(1, Math.round((0.6 * p.size * k) / GLYPH_ADVANCE));
      // Combining marks (e.g. the hat of Ĥ written as H + U+0302) have no glyph of their own here.
      const chars = [...p.text.normalize('NFC')].filter((ch) => !/[\u0300-\u036f]/.test(ch));
      const advance = GLYPH_ADVANCE * scale;
      const total = chars.length * advance - scale;
      const anchor = p.anchor ?? 'start';
      let x = Math.round(p.x * k - (anchor === 'middle' ? total / 2 : anchor === 'end' ? total : 0));
      const top = Math.round(p.y * k) - GLYPH_ASCENT * scale;
      const colour = parseColour(p.fill);
      for (const ch of chars) {
        const bits = glyphBits(ch);
        for (let r = 0; r < GLYPH_HEIGHT; r++) {
          for (let c = 0; c < GLYPH_WIDTH; c++) {
            if (bits[r * GLYPH_WIDTH + c] !== 1) continue;
            canvas.fillRect(x + c * scale, top + r * scale, scale + (p.bold ? Math.max(1, scale >> 1) : 0), scale, colour, 1);
          }
        }
        x += advance;
      }
      return;
    }
  }
}

type Rgb = readonly [number, number, number];

export function parseColour(colour: Colour): Rgb {
  const m = /^#([0-9a-f]{6})$/i.exec(colour);
  if (!m) throw new MewmError('InvalidInput', `colour ${JSON.stringify(colour)} is not #rrggbb`);
  const v = parseInt(m[1]!, 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

class Canvas {
  readonly rgba: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rgba = new Uint8Array(width * height * 4);
  }

  blend(x: number, y: number, [r, g, b]: Rgb, alpha: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    const d = this.rgba;
    d[i] = Math.round(d[i]! + (r - d[i]!) * alpha);
    d[i + 1] = Math.round(d[i + 1]! + (g - d[i + 1]!) * alpha);
    d[i + 2] = Math.round(d[i + 2]! + (b - d[i + 2]!) * alpha);
    d[i + 3] = 255;
  }

  fillRect(x: number, y: number, w: number, h: number, colour: Rgb, alpha: number): void {
    const x0 = Math.max(0, Math.floor(x));
    const y0 = Math.max(0, Math.floor(y));
    const x1 = Math.min(this.width, Math.floor(x + w));
    const y1 = Math.min(this.height, Math.floor(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.blend(xx, yy, colour, alpha);
  }

  /** Thick line by stamping squares along a DDA walk; returns the distance walked (for dashes). */
  line(
    x0: number,
    y0: number,
    x1: number,
    y1: number,
    width: number,
    colour: Rgb,
    alpha: number,
    dash: readonly [number, number] | undefined,
    offset: number,
  ): number {
    const length = Math.hypot(x1 - x0, y1 - y0);
    const steps = Math.max(1, Math.ceil(length * 2));
    const half = Math.floor(width / 2);
    // With translucency, stamp every pixel at most once per line.
    const seen = alpha < 1 ? new Set<number>() : undefined;
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      const along = offset + t * length;
      if (dash && along % (dash[0] + dash[1]) >= dash[0]) continue;
      const cx = Math.round(x0 + (x1 - x0) * t);
      const cy = Math.round(y0 + (y1 - y0) * t);
      for (let dy = -half; dy < width - half; dy++) {
        for (let dx = -half; dx < width - half; dx++) {
          const px = cx + dx;
          const py = cy + dy;
          if (seen) {
            const key = py * this.width + px;
            if (seen.has(key)) continue;
            seen.add(key);
          }
          this.blend(px, py, colour, alpha);
        }
      }
    }
    return offset + length;
  }

  /** Even–odd scanline fill sampled at pixel centres. */
  fillPolygon(points: readonly (readonly [number, number])[], colour: Rgb, alpha: number): void {
    if (points.length < 3) return;
    let minY = Infinity;
    let maxY = -Infinity;
    for (const [, y] of points) {
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
    for (let y = Math.max(0, Math.floor(minY)); y <= Math.min(this.height - 1, Math.ceil(maxY)); y++) {
      const sy = y + 0.5;
      const xs: number[] = [];
      for (let i = 0; i < points.length; i++) {
        const [ax, ay] = points[i]!;
        const [bx, by] = points[(i + 1) % points.length]!;
        if ((ay <= sy && by > sy) || (by <= sy && ay > sy)) xs.push(ax + ((sy - ay) / (by - ay)) * (bx - ax));
      }
      xs.sort((a, b) => a - b);
      for (let i = 0; i + 1 < xs.length; i += 2) {
        for (let x = Math.max(0, Math.ceil(xs[i]! - 0.5)); x <= Math.min(this.width - 1, Math.floor(xs[i + 1]! - 0.5)); x++) this.blend(x, y, colour, alpha);
      }
    }
  }
}
