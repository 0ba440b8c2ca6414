/** Simulation realism per protocol: simulated vs true post-treatment tumour (samples measured by src/evaluation/realism.ts). */
import { fixed, type Table } from '../tables';
import type { RealismSample } from '../evaluate';
import { labelOfKey, tableFiles, type EvaluationContext } from './context';

/** tables/realism, or the reason it is missing. */
export function realismTable(ctx: EvaluationContext): void {
  const { input, files, skipped } = ctx;
  const realism = input.realism ?? [];
  if (realism.length === 0) {
    skipped.push('realism table: no simulated-vs-true samples were given');
  } else {
    const byProtocol = new Map<string, RealismSample[]>();
    for (const s of realism) byProtocol.set(s.protocolKey, [...(byProtocol.get(s.protocolKey) ?? []), s]);
    const mean = (xs: (number | undefined)[]) => {
      const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
      return v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN;
    };
    const keys = [...byProtocol.keys()].sort();
    const rowsOf = (key: string) => {
      const ss = byProtocol.get(key)!;
      return {
        n: ss.length,
        composition: mean(ss.map((s) => s.compositionError)),
        ssim: mean(ss.map((s) => s.ssim)),
        psnr: mean(ss.map((s) => s.psnr)),
        feature: mean(ss.map((s) => s.featureDistance)),
      };
    };
    const display: Table = {
      title: 'Simulation realism per protocol (simulated vs true post-treatment tumour)',
      columns: ['Protocol', 'n', 'composition MAE', 'SSIM', 'PSNR (dB)', 'feature distance (own encoder)'],
      rows: keys.map((k) => {
        const r = rowsOf(k);
        return [labelOfKey(k), r.n, fixed(r.composition, 4), fixed(r.ssim, 4), fixed(r.psnr, 2), fixed(r.feature, 4)];
      }),
      notes: ["SSIM/PSNR inside the tumour region; feature distance uses our own encoder and is not the paper's FID"],
    };
    const data: Table = {
      title: display.title,
      columns: ['protocol', 'n', 'composition_mae', 'ssim', 'psnr_db', 'feature_distance'],
      rows: keys.map((k) => {
        const r = rowsOf(k);
        return [k, r.n, r.composition, r.ssim, r.psnr, r.feature];
      }),
    };
    files.push(...tableFiles('realism', display, data));
  }
}
