/**
 * Kaplan–Meier curves of several groups (e.g. high vs low predicted risk): step curves, shaded
 * confidence bands, censoring ticks, a legend with group sizes, and the log-rank p when given.
 */
import { MewmError } from '../../core/errors';
import { kaplanMeier } from '../survival/kaplan-meier';
import type { SurvivalData } from '../survival/survival-data';
import { PALETTE, axes, line, linearScale, niceTicks, text, titleLines, type Colour, type Figure, type Primitive } from './figure';

export interface KaplanMeierGroup {
  readonly label: string;
  readonly data: SurvivalData;
  readonly colour?: Colour;
}

export interface KaplanMeierPlotInput {
  readonly title: string;
  readonly groups: readonly KaplanMeierGroup[];
  /** Unit of the time axis, e.g. 'months'. */
  readonly timeUnit: string;
  readonly logRankP?: number;
  /** Confidence level of the bands, 0.95 by default. */
  readonly level?: number;
}

const DEFAULT_COLOURS = [PALETTE.lowRisk, PALETTE.highRisk, PALETTE.chosen, PALETTE.gold];

export function kaplanMeierFigure(input: KaplanMeierPlotInput): Figure {
  if (input.groups.length === 0) throw new MewmError('InvalidInput', 'Kaplan–Meier plot: no groups');
  const width = 640;
  const title = titleLines(input.title, width);
  const height = 420 + title.bottom - 26;
  const area = { left: 64, top: title.bottom + 26, right: width - 24, bottom: height - 64 };
  const curves = input.groups.map((g) => kaplanMeier(g.data, input.level ?? 0.95));
  const maxTime = Math.max(...curves.map((c) => c.points[c.points.length - 1]!.time), 1e-9);
  const xTicks = niceTicks(0, maxTime, 6);
  const xMax = Math.max(maxTime, xTicks[xTicks.length - 1]!);
  const sx = linearScale([0, xMax], [area.left, area.right]);
  const sy = linearScale([0, 1], [area.bottom, area.top]);
  const out: Primitive[] = [...title.primitives];
  out.push(
    ...axes(
      area,
      { domain: [0, xMax], ticks: xTicks, label: `time (${input.timeUnit})` },
      { domain: [0, 1], ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], label: 'survival probability' },
    ),
  );

  curves.forEach((curve, g) => {
    const colour = input.groups[g]!.colour ?? DEFAULT_COLOURS[g % DEFAULT_COLOURS.length]!;
    const pts = curve.points;
    const upper: [number, number][] = [];
    const lower: [number, number][] = [];
    const steps: [number, number][] = [];
    for (let i = 0; i < pts.length; i++) {
      const p = pts[i]!;
      const next = i + 1 < pts.length ? pts[i + 1]!.time : p.time;
      steps.push([sx(p.time), sy(p.survival)], [sx(next), sy(p.survival)]);
      const lo = Number.isFinite(p.lower) ? p.lower : p.survival;
      const hi = Number.isFinite(p.upper) ? p.upper : p.survival;
      upper.push([sx(p.time), sy(hi)], [sx(next), sy(hi)]);
      lower.push([sx(p.time), sy(lo)], [sx(next), sy(lo)]);
    }
    out.push({ kind: 'polygon', points: [...upper, ...lower.reverse()], fill: colour, opacity: 0.15 });
    out.push({ kind: 'polyline', points: steps, stroke: colour, width: 2 });
    for (const p of pts) {
      if (p.censored > 0) out.push(line(sx(p.time), sy(p.survival) - 5, sx(p.time), sy(p.survival) + 5, { stroke: colour, width: 1.5 }));
    }
    const n = pts.find((p) => p.atRisk > 0)?.atRisk ?? 0;
    const ly = area.top + 14 + g * 18;
    out.push(line(area.right - 190, ly - 4, area.right - 166, ly - 4, { stroke: colour, width: 3 }));
    out.push(text(area.right - 160, ly, `${input.groups[g]!.label} (n=${n})`, 12));
  });
  const legendBottom = area.top + 14 + input.groups.length * 18;
  out.push(text(area.right - 190, legendBottom + 2, '| censored', 11, { fill: PALETTE.muted }));
  if (input.logRankP !== undefined) {
    out.push(text(area.right - 190, legendBottom + 20, `log-rank p = ${formatP(input.logRankP)}`, 12, { bold: true }));
  }
  return { width, height, background: '#ffffff', title: input.title, primitives: out };
}

export function formatP(p: number): string {
  if (!Number.isFinite(p)) return String(p);
  if (p < 1e-3) return p.toExponential(2);
  return p.toFixed(4);
}
