/** Per-patient risk by protocol: a bar figure per case for methods that report their explored candidates. */
import { protocolKey, protocolLabel } from '../../core/vocabulary';
import { riskBarsFigure, type RiskBarTag } from '../plots/risk-bars';
import { figureFiles, safeName, type EvaluationContext } from './context';

/** figures/risk-METHOD-CASE for the first `riskBarCases` cases of each method with candidates. */
export function riskByProtocolFigures(ctx: EvaluationContext): void {
  const { input, truth, files, skipped } = ctx;
  const maxBarCases = input.options.riskBarCases ?? 6;
  let barFigures = 0;
  for (const m of input.methods) {
    const withCandidates = m.predictions.filter((p) => p.candidates && p.candidates.length > 0).slice(0, maxBarCases);
    for (const p of withCandidates) {
      const t = truth.find((c) => c.caseId === p.caseId)!;
      const ordered = [...p.candidates!].sort((a, b) => a.meanRisk - b.meanRisk);
      const figure = riskBarsFigure({
        title: `${p.caseId}: predicted risk per candidate (${m.label})`,
        bars: ordered.map((c) => {
          const tags: RiskBarTag[] = [];
          if (p.protocol && protocolKey(c.protocol) === protocolKey(p.protocol)) tags.push('chosen');
          if (protocolKey(c.protocol) === protocolKey(t.optimalProtocol)) tags.push('optimal');
          if (protocolKey(c.protocol) === protocolKey(t.physicianProtocol)) tags.push('physician');
          return { label: protocolLabel(c.protocol), mean: c.meanRisk, lower: c.lowerRisk, upper: c.upperRisk, tags };
        }),
      });
      files.push(...figureFiles(`figures/risk-${m.method}-${safeName(p.caseId)}`, figure, `risk by candidate protocol for ${p.caseId} (${m.label})`));
      barFigures++;
    }
  }
  if (barFigures === 0) skipped.push('risk-by-protocol figures: no method reported explored candidates');
}
