import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { niceTicks, wrapText } from '../../src/evaluation/plots/figure';
import { kaplanMeierFigure } from '../../src/evaluation/plots/kaplan-meier-plot';
import { figureToPng, parseColour, rasterize } from '../../src/evaluation/plots/raster';
import { riskBarsFigure } from '../../src/evaluation/plots/risk-bars';
import { figureToSvg } from '../../src/evaluation/plots/svg';
import { tableFigure } from '../../src/evaluation/plots/table-figure';

const km = () =>
  kaplanMeierFigure({
    title: 'Kaplan–Meier by a rather long risk score label that needs two lines: high vs low risk (median split)',
    groups: [
      { label: 'low risk', data: { times: [2, 4, 6, 8, 10], events: [1, 0, 1, 0, 1] } },
      { label: 'high <risk>', data: { times: [1, 2, 3, 4], events: [1, 1, 0, 1] } },
    ],
    timeUnit: 'months',
    logRankP: 6.74e-5,
  });

describe('plots', () => {
  it('nice ticks and word wrap', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6000000000000001, 0.8, 1]);
    expect(niceTicks(0, 53, 6)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(wrapText('aaa bbb ccc', 10, 6 * 7)).toEqual(['aaa bbb', 'ccc']);
  });

  it('writes a valid SVG with escaped text, legend, censor ticks and the log-rank p', () => {
    const svg = figureToSvg(km());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('high &lt;risk&gt; (n=4)');
    expect(svg).toContain('log-rank p = 6.74e-5');
    expect(svg.match(/<text /g)!.length).toBeGreaterThan(10);
    // Two bands, two curves; censor ticks at t=4 and t=8 (low) and t=3 (high) are short vertical polylines.
    expect(svg.match(/<polygon /g)).toHaveLength(2);
  });

  it('rasterises to a PNG whose pixels show both curve colours and keeps the title inside the canvas', () => {
    const figure = km();
    const raster = rasterize(figure, 1);
    const count = (hex: string) => {
      const [r, g, b] = parseColour(hex);
      let n = 0;
      for (let i = 0; i < raster.rgba.length; i += 4) if (raster.rgba[i] === r && raster.rgba[i + 1] === g && raster.rgba[i + 2] === b) n++;
      return n;
    };
    expect(count('#1f77b4')).toBeGreaterThan(100);
    expect(count('#d62728')).toBeGreaterThan(100);
    const png = PNG.sync.read(Buffer.from(figureToPng(figure, 2)));
    expect([png.width, png.height]).toEqual([figure.width * 2, figure.height * 2]);
    // No title glyph may fall off the left or right edge: the first and last pixel columns stay white.
    for (let y = 0; y < raster.height; y++) {
      for (const x of [0, raster.width - 1]) {
        const i = (y * raster.width + x) * 4;
        expect([raster.rgba[i], raster.rgba[i + 1], raster.rgba[i + 2]]).toEqual([255, 255, 255]);
      }
    }
  });

  it('validates its inputs', () => {
    const invalid = expect.objectContaining({ code: 'InvalidInput' });
    expect(() => riskBarsFigure({ title: 'x', bars: [] })).toThrow(invalid);
    expect(() => riskBarsFigure({ title: 'x', bars: [{ label: 'a', mean: 1, lower: 2, upper: 0 }] })).toThrow(invalid);
    expect(() => tableFigure({ title: 'x', header: ['a', 'b'], rows: [['1']] })).toThrow(invalid);
    expect(() => kaplanMeierFigure({ title: 'x', groups: [], timeUnit: 'months' })).toThrow(invalid);
    expect(() => rasterize(km(), 0)).toThrow(invalid);
    expect(() => parseColour('red')).toThrow(invalid);
  });
});

describe('risk bars', () => {
  it('zooms the axis when the risks sit far from 0, and says so', () => {
    const svg = figureToSvg(
      riskBarsFigure({
        title: 'case',
        bars: [
          { label: 'A', mean: 2.01, lower: 1.96, upper: 2.07, tags: ['chosen'] },
          { label: 'B', mean: 2.25, lower: 2.24, upper: 2.27 },
        ],
      }),
    );
    expect(svg).toContain('axis does not start at 0');
    const near = figureToSvg(
      riskBarsFigure({
        title: 'case',
        bars: [
          { label: 'A', mean: 0.2, lower: 0.1, upper: 0.3 },
          { label: 'B', mean: 0.9, lower: 0.8, upper: 1 },
        ],
      }),
    );
    expect(near).not.toContain('axis does not start at 0');
    expect(near).toContain('>0</text>');
  });
});
