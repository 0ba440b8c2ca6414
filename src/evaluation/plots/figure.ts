/**
 * A figure as a flat list of drawing primitives in pixel coordinates (origin top-left, y down).
 * The same figure renders to SVG (`figureToSvg`) and to an RGBA raster / PNG (`rasterize`,
 * `figureToPng`), so plots are written once and need no browser or system tool.
 */

/** '#rrggbb'. */
export type Colour = string;

export interface LineStyle {
  readonly stroke: Colour;
  readonly width: number;
  /** Dash and gap lengths in px; solid when absent. */
  readonly dash?: readonly [number, number];
  readonly opacity?: number;
}

export type Primitive =
  | ({ readonly kind: 'polyline'; readonly points: readonly (readonly [number, number])[] } & LineStyle)
  | { readonly kind: 'polygon'; readonly points: readonly (readonly [number, number])[]; readonly fill: Colour; readonly opacity?: number }
  | {
      readonly kind: 'rect';
      readonly x: number;
      readonly y: number;
      readonly width: number;
      readonly height: number;
      readonly fill?: Colour;
      readonly stroke?: Colour;
      readonly strokeWidth?: number;
      readonly opacity?: number;
    }
  | {
      readonly kind: 'text';
      readonly x: number;
      /** Baseline. */
      readonly y: number;
      readonly text: string;
      /** Cap height is about 0.7·size px. */
      readonly size: number;
      readonly fill: Colour;
      readonly anchor?: 'start' | 'middle' | 'end';
      readonly bold?: boolean;
    };

export interface Figure {
  readonly width: number;
  readonly height: number;
  readonly background: Colour;
  readonly title: string;
  readonly primitives: readonly Primitive[];
}

export const PALETTE = {
  ink: '#222222',
  grid: '#dddddd',
  muted: '#777777',
  lowRisk: '#1f77b4',
  highRisk: '#d62728',
  chosen: '#2ca02c',
  gold: '#ff7f0e',
  bar: '#8c9fb8',
  headerFill: '#eef1f5',
} as const;

export function line(x1: number, y1: number, x2: number, y2: number, style: LineStyle): Primitive {
  return {
    kind: 'polyline',
    points: [
      [x1, y1],
      [x2, y2],
    ],
    ...style,
  };
}

export function text(
  x: number,
  y: number,
  content: string,
  size: number,
  options: { fill?: Colour; anchor?: 'start' | 'middle' | 'end'; bold?: boolean } = {},
): Primitive {
  return { kind: 'text', x, y, text: content, size, fill: options.fill ?? PALETTE.ink, anchor: options.anchor ?? 'start', bold: options.bold ?? false };
}

/** Width of `content` at `size` px, as both renderers lay it out (monospace: 0.6·size per character). */
export function textWidth(content: string, size: number): number {
  return content.length * 0.6 * size;
}

/** Greedy word wrap so that each line fits `maxWidth` px at `size` (a single over-long word is cut). */
export function wrapText(content: string, size: number, maxWidth: number): string[] {
  const maxChars = Math.max(4, Math.floor(maxWidth / (0.6 * size)));
  const lines: string[] = [];
  let current = '';
  for (const word of content.split(/\s+/).filter((w) => w.length > 0)) {
    const candidate = current ? `${current} ${word}` : word;
    if (candidate.length <= maxChars) current = candidate;
    else {
      if (current) lines.push(current);
      current = word.length > maxChars ? `${word.slice(0, maxChars - 1)}…` : word;
    }
  }
  if (current) lines.push(current);
  return lines.length > 0 ? lines : [''];
}

/** Centred title lines from y = 26 down; returns the primitives and the y below the last line. */
export function titleLines(content: string, width: number, size = 15): { primitives: Primitive[]; bottom: number } {
  const lines = wrapText(content, size, width - 32);
  const primitives = lines.map((l, i) => text(width / 2, 26 + i * (size + 5), l, size, { anchor: 'middle', bold: true }));
  return { primitives, bottom: 26 + (lines.length - 1) * (size + 5) };
}

/** About `count` round tick values covering [lo, hi] (1, 2, 2.5, 5 × 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

export function formatTick(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e4 || abs < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** Linear map from data to pixels. */
export function linearScale(domain: readonly [number, number], range: readonly [number, number]): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

export interface AxesLayout {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

/** Axes frame, grid lines, tick labels and axis titles for a plot area. */
export function axes(
  area: AxesLayout,
  x: { readonly domain: readonly [number, number]; readonly ticks: readonly number[]; readonly label: string },
  y: { readonly domain: readonly [number, number]; readonly ticks: readonly number[]; readonly label: string },
): Primitive[] {
  const sx = linearScale(x.domain, [area.left, area.right]);
  const sy = linearScale(y.domain, [area.bottom, area.top]);
  const out: Primitive[] = [];
  for (const t of y.ticks) {
    out.push(line(area.left, sy(t), area.right, sy(t), { stroke: PALETTE.grid, width: 1 }));
    out.push(text(area.left - 6, sy(t) + 4, formatTick(t), 11, { anchor: 'end', fill: PALETTE.muted }));
  }
  for (const t of x.ticks) {
    out.push(line(sx(t), area.bottom, sx(t), area.bottom + 4, { stroke: PALETTE.ink, width: 1 }));
    out.push(text(sx(t), area.bottom + 17, formatTick(t), 11, { anchor: 'middle', fill: PALETTE.muted }));
  }
  out.push({
    kind: 'polyline',
    points: [
      [area.left, area.top],
      [area.left, area.bottom],
      [area.right, area.bottom],
    ],
    stroke: PALETTE.ink,
    width: 1,
  });
  out.push(text((area.left + area.right) / 2, area.bottom + 36, x.label, 12, { anchor: 'middle' }));
  out.push(text(14, area.top - 10, y.label, 12));
  return out;
}
