/**
 * Plain tables and their Markdown and CSV forms. Builders elsewhere produce two tables per
 * result: a display table (numbers formatted, intervals as "52.4 [48.1, 56.9]") for Markdown and
 * figures, and a data table (one numeric column per quantity, full precision) for CSV.
 */
import { MewmError } from '../core/errors';

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
  /** Conventions, seeds, sample sizes: printed under the Markdown table. */
  readonly notes?: readonly string[];
}

function checkTable(table: Table): void {
  table.rows.forEach((r, i) => {
    if (r.length !== table.columns.length) {
      throw new MewmError('InvalidInput', `table "${table.title}": row ${i} has ${r.length} cells, expected ${table.columns.length}`);
    }
  });
}

export function toMarkdown(table: Table): string {
  checkTable(table);
  const cell = (v: string | number) => String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    `### ${table.title}`,
    '',
    `| ${table.columns.map(cell).join(' | ')} |`,
    `|${table.columns.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  for (const r of table.rows) lines.push(`| ${r.map(cell).join(' | ')} |`);
  if (table.notes && table.notes.length > 0) {
    lines.push('');
    for (const n of table.notes) lines.push(`_${n}_`);
  }
  return lines.join('\n') + '\n';
}

/** RFC 4180 CSV: comma separated, CRLF-free (LF), fields quoted when they hold a comma, quote or newline. */
export function toCsv(table: Table): string {
  checkTable(table);
  const field = (v: string | number) => {
    const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : Number.isNaN(v) ? '' : String(v)) : v;
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [table.columns, ...table.rows].map((r) => r.map(field).join(',')).join('\n') + '\n';
}

/** "52.38" for a fraction 0.5238 shown in percent. */
export function percent(fraction: number, digits = 2): string {
  return Number.isFinite(fraction) ? (100 * fraction).toFixed(digits) : 'n/a';
}

/** "52.38 [48.10, 56.90]" for a fraction and its interval, in percent. */
export function percentWithInterval(interval: { readonly estimate: number; readonly lower: number; readonly upper: number }, digits = 2): string {
  return `${percent(interval.estimate, digits)} [${percent(interval.lower, digits)}, ${percent(interval.upper, digits)}]`;
}

export function fixed(value: number, digits = 3): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function withInterval(interval: { readonly estimate: number; readonly lower: number; readonly upper: number }, digits = 3): string {
  return `${fixed(interval.estimate, digits)} [${fixed(interval.lower, digits)}, ${fixed(interval.upper, digits)}]`;
}

/** Signed difference in percent points, e.g. "(-3.9)" / "(+2.4)". */
export function signedPercentPoints(delta: number, digits = 1): string {
  if (!Number.isFinite(delta)) return '(n/a)';
  const v = (100 * delta).toFixed(digits);
  return `(${delta >= 0 ? '+' : ''}${v})`;
}
