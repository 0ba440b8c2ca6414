/**
 * What every table of `evaluate` (src/evaluation/evaluate.ts) shares: the input, the evaluated
 * cases, the bootstrap settings, the notes under each table, the per-method prediction index, and
 * the results folder being filled (files and the reasons something was not produced, in order).
 */
import { protocolLabel, type DrugId, type EmbolicId } from '../../core/vocabulary';
import type { Interval } from '../bootstrap';
import type { Figure } from '../plots/figure';
import { figureToPng } from '../plots/raster';
import { figureToSvg } from '../plots/svg';
import { tableFigure } from '../plots/table-figure';
import type { AgreementMetric } from '../set-agreement';
import { toCsv, toMarkdown, type Table } from '../tables';
import type { CaseTruth, CasePrediction, EvaluationInput, ResultFile } from '../evaluate';

export interface EvaluationContext {
  readonly input: EvaluationInput;
  readonly truth: readonly CaseTruth[];
  readonly seed: number;
  readonly resamples: number;
  /** Printed under every table. */
  readonly notes: readonly string[];
  /** method → case id → prediction. */
  readonly predictionIndex: ReadonlyMap<string, ReadonlyMap<string, CasePrediction>>;
  /** The results folder, in the order its files are written. */
  readonly files: ResultFile[];
  readonly skipped: string[];
}

export function pointInterval(estimate: number): Interval {
  return { estimate, lower: Number.NaN, upper: Number.NaN };
}

export function nanInterval(): Interval {
  return { estimate: Number.NaN, lower: Number.NaN, upper: Number.NaN };
}

export function metricLabel(metric: AgreementMetric): string {
  return { f1: 'F1-score', jaccard: 'Jaccard', precision: 'Precision', recall: 'Recall' }[metric];
}

export function labelOfKey(key: string): string {
  const [drugs = '', embolics = ''] = key.split('|');
  const protocol = { drugs: drugs ? (drugs.split('+') as DrugId[]) : [], embolics: embolics ? (embolics.split('+') as EmbolicId[]) : [] };
  try {
    return protocolLabel(protocol);
  } catch {
    return key;
  }
}

export function safeName(caseId: string): string {
  return caseId.replace(/[^A-Za-z0-9._-]/g, '_');
}

export function tableFiles(name: string, display: Table, data: Table): ResultFile[] {
  const figure = tableFigure({ title: display.title, header: display.columns, rows: display.rows.map((r) => r.map(String)), notes: display.notes ?? [] });
  return [
    { path: `tables/${name}.md`, content: toMarkdown(display), description: display.title },
    { path: `tables/${name}.csv`, content: toCsv(data), description: `${display.title} (numbers, full precision)` },
    ...figureFiles(`figures/table-${name}`, figure, `${display.title} (as a figure)`),
  ];
}

export function figureFiles(base: string, figure: Figure, description: string): ResultFile[] {
  return [
    { path: `${base}.svg`, content: figureToSvg(figure), description },
    { path: `${base}.png`, content: figureToPng(figure), description },
  ];
}
