/**
 * Predicted risk of each candidate protocol for one patient: horizontal bars at the mean over
 * diffusion replicas, error bars spanning the replica spread, and tags for the chosen protocol
 * and the world's optimal one. Lower risk is better.
 */
import { MewmError } from '../../core/errors';
import { PALETTE, formatTick, line, linearScale, niceTicks, text, textWidth, titleLines, wrapText, type Figure, type Primitive } from './figure';

export type RiskBarTag = 'chosen' | 'optimal' | 'physician';

export interface RiskBar {
  /** Protocol label, e.g. "Cisplatin; Epirubicin; Lipiodol". */
  readonly label: string;
  readonly mean: number;
  /** Replica spread (e.g. min and max, or mean ± sd over the T replicas). */
  readonly lower: number;
  readonly upper: number;
  readonly tags?: readonly RiskBarTag[];
}

export interface RiskBarsInput {
  readonly title: string;
  readonly bars: readonly RiskBar[];
  readonly valueLabel?: string;
}

const TAG_COLOUR: Record<RiskBarTag, string> = { chosen: PALETTE.chosen, optimal: PALETTE.gold, physician: PALETTE.lowRisk };

export function riskBarsFigure(input: RiskBarsInput): Figure {
  if (input.bars.length === 0) throw new MewmError('InvalidInput', 'risk bars: no candidates');
  for (const b of input.bars) {
    if (![b.mean, b.lower, b.upper].every(Number.isFinite) || b.lower > b.upper) {
      throw new MewmError('InvalidInput', `risk bars: candidate "${b.label}" has mean ${b.mean}, spread [${b.lower}, ${b.upper}]`);
    }
  }
  const labelWidth = Math.min(380, Math.max(...input.bars.map((b) => textWidth(b.label, 11))) + 12);
  const rowHeight = 24;
  const width = Math.round(labelWidth + 420);
  const title = titleLines(input.title, width);
  const top = title.bottom + 34;
  const height = top + rowHeight * input.bars.length + 68;
  const area = { left: labelWidth + 8, top, right: width - 90, bottom: top + rowHeight * input.bars.length };
  const dataLo = Math.min(...input.bars.map((b) => b.lower));
  const dataHi = Math.max(...input.bars.map((b) => b.upper));
  // Risks of one patient's candidates are often close together and far from 0: zoom the axis
  // (bars then start at its left edge, and the caption says so) rather than hide the differences.
  const zoomed = dataLo > 0 && dataLo > 0.3 * dataHi;
  const pad = 0.1 * (dataHi - dataLo || Math.abs(dataHi) || 1);
  const lo = zoomed ? dataLo - pad : Math.min(0, dataLo);
  const hi = zoomed ? dataHi + pad : Math.max(0, dataHi);
  const ticks = niceTicks(lo, hi, 5).filter((t) => t >= lo - 1e-12 && t <= hi + 1e-12);
  const domain: [number, number] = zoomed ? [lo, hi] : [Math.min(lo, ticks[0] ?? lo), Math.max(hi, ticks[ticks.length - 1] ?? hi)];
  const base = zoomed ? domain[0] : 0;
  const sx = linearScale(domain, [area.left, area.right]);
  const out: Primitive[] = [...title.primitives];
  for (const t of ticks) {
    out.push(line(sx(t), area.top - 4, sx(t), area.bottom, { stroke: PALETTE.grid, width: 1 }));
    out.push(text(sx(t), area.bottom + 16, formatTick(t), 11, { anchor: 'middle', fill: PALETTE.muted }));
  }
  out.push(line(sx(base), area.top - 4, sx(base), area.bottom, { stroke: PALETTE.ink, width: 1 }));
  input.bars.forEach((b, i) => {
    const y = area.top + i * rowHeight;
    const tags = b.tags ?? [];
    const colour = tags.includes('chosen') ? PALETTE.chosen : tags.includes('optimal') ? PALETTE.gold : PALETTE.bar;
    const x0 = Math.min(sx(base), sx(b.mean));
    out.push({ kind: 'rect', x: x0, y: y + 4, width: Math.max(1, Math.abs(sx(b.mean) - sx(base))), height: rowHeight - 8, fill: colour });
    const cy = y + rowHeight / 2;
    out.push(line(sx(b.lower), cy, sx(b.upper), cy, { stroke: PALETTE.ink, width: 1.5 }));
    out.push(line(sx(b.lower), cy - 5, sx(b.lower), cy + 5, { stroke: PALETTE.ink, width: 1.5 }));
    out.push(line(sx(b.upper), cy - 5, sx(b.upper), cy + 5, { stroke: PALETTE.ink, width: 1.5 }));
    out.push(text(area.left - 8, cy + 4, b.label, 11, { anchor: 'end' }));
    out.push(text(area.right + 8, cy + 4, tags.join(', '), 11, { fill: tags.length > 0 ? TAG_COLOUR[tags[0]!] : PALETTE.muted, bold: true }));
  });
  const caption =
    input.valueLabel ?? `predicted risk (lower is better); bars: replica mean, whiskers: replica spread${zoomed ? '; axis does not start at 0' : ''}`;
  wrapText(caption, 11, width - 32).forEach((l, i) => out.push(text(width / 2, area.bottom + 36 + i * 15, l, 11, { anchor: 'middle' })));
  return { width, height, background: '#ffffff', title: input.title, primitives: out };
}
