/** A table (header row + body rows of text) drawn as a figure, for slides and the report. */
import { MewmError } from '../../core/errors';
import { PALETTE, line, text, textWidth, type Figure, type Primitive } from './figure';

export interface TableFigureInput {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Notes printed under the table (conventions, seed, commit). */
  readonly notes?: readonly string[];
}

export function tableFigure(input: TableFigureInput): Figure {
  const columns = input.header.length;
  if (columns === 0) throw new MewmError('InvalidInput', 'table figure: no columns');
  input.rows.forEach((r, i) => {
    if (r.length !== columns) throw new MewmError('InvalidInput', `table figure: row ${i} has ${r.length} cells, header has ${columns}`);
  });
  const size = 12;
  const pad = 10;
  const widths = input.header.map((h, c) => Math.max(textWidth(h, size), ...input.rows.map((r) => textWidth(r[c]!, size))) + 2 * pad);
  const rowHeight = 24;
  const left = 16;
  const top = 48;
  const tableWidth = widths.reduce((a, b) => a + b, 0);
  const notes = input.notes ?? [];
  const width = Math.round(Math.max(tableWidth + 2 * left, textWidth(input.title, 15) + 32, ...notes.map((n) => textWidth(n, 11) + 2 * left)));
  const height = top + rowHeight * (input.rows.length + 1) + 16 + notes.length * 16 + 8;
  const out: Primitive[] = [text(left, 28, input.title, 15, { bold: true })];
  out.push({ kind: 'rect', x: left, y: top, width: tableWidth, height: rowHeight, fill: PALETTE.headerFill });
  const drawRow = (cells: readonly string[], y: number, bold: boolean) => {
    let x = left;
    cells.forEach((cell, c) => {
      const numeric = c > 0;
      out.push(text(numeric ? x + widths[c]! - pad : x + pad, y + 16, cell, size, { anchor: numeric ? 'end' : 'start', bold }));
      x += widths[c]!;
    });
  };
  drawRow(input.header, top, true);
  input.rows.forEach((r, i) => {
    const y = top + rowHeight * (i + 1);
    out.push(line(left, y, left + tableWidth, y, { stroke: i === 0 ? PALETTE.ink : PALETTE.grid, width: 1 }));
    drawRow(r, y, false);
  });
  const bottom = top + rowHeight * (input.rows.length + 1);
  out.push(line(left, bottom, left + tableWidth, bottom, { stroke: PALETTE.ink, width: 1 }));
  notes.forEach((n, i) => out.push(text(left, bottom + 20 + i * 16, n, 11, { fill: PALETTE.muted })));
  return { width, height, background: '#ffffff', title: input.title, primitives: out };
}
