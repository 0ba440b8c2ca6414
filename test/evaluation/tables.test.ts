import { describe, expect, it } from 'vitest';
import { percentWithInterval, signedPercentPoints, toCsv, toMarkdown } from '../../src/evaluation/tables';

describe('tables', () => {
  const table = {
    title: 'T',
    columns: ['Method', 'F1'],
    rows: [
      ['a|b', '52.38 [48.10, 56.90]'],
      ['say "hi", ok', 0.5],
    ],
    notes: ['seed 1'],
  };

  it('writes Markdown with escaped pipes, right-aligned numbers and notes', () => {
    expect(toMarkdown(table)).toBe('### T\n\n| Method | F1 |\n| --- | ---: |\n| a\\|b | 52.38 [48.10, 56.90] |\n| say "hi", ok | 0.5 |\n\n_seed 1_\n');
  });

  it('writes RFC 4180 CSV, NaN as empty', () => {
    expect(
      toCsv({
        title: 'T',
        columns: ['m', 'v'],
        rows: [
          ['say "hi", ok', Number.NaN],
          ['x', 0.25],
        ],
      }),
    ).toBe('m,v\n"say ""hi"", ok",\nx,0.25\n');
  });

  it('formats percentages and deltas like the paper', () => {
    expect(percentWithInterval({ estimate: 0.52381, lower: 0.481, upper: 0.569 })).toBe('52.38 [48.10, 56.90]');
    expect(signedPercentPoints(-0.039)).toBe('(-3.9)');
    expect(signedPercentPoints(0.024)).toBe('(+2.4)');
  });

  it('rejects ragged rows', () => {
    expect(() => toCsv({ title: 'T', columns: ['a'], rows: [['1', '2']] })).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });
});
