/** Outcome: the true expected risk of each method's protocol and its regret against the optimum (lower is better). */
import { MewmError } from '../../core/errors';
import { deriveSeed } from '../../core/random';
import { protocolKey, type Protocol } from '../../core/vocabulary';
import { bootstrapIntervals, meanAt } from '../bootstrap';
import { percent, withInterval, type Table } from '../tables';
import type { CaseTruth, MethodPredictions, OutcomeRow } from '../evaluate';
import { nanInterval, pointInterval, tableFiles, type EvaluationContext } from './context';

/** The true expected risk of `protocol` for case `t`: from the truth, else from the evaluation's `riskOf`. */
export function riskOf(ctx: EvaluationContext, t: CaseTruth, protocol: Protocol): number | undefined {
  const known = t.expectedRisk[protocolKey(protocol)];
  if (known !== undefined) return known;
  return ctx.input.riskOf?.(t.caseId, protocol);
}

/** One method's outcome: mean risk and regret over its scored cases (with bootstrap intervals or as points). */
export function outcomeRow(ctx: EvaluationContext, m: MethodPredictions, withIntervals: boolean): OutcomeRow {
  const { truth, predictionIndex, seed, resamples } = ctx;
  const risks: number[] = [];
  const regrets: number[] = [];
  let optimalHits = 0;
  let failed = 0;
  for (const t of truth) {
    const p = predictionIndex.get(m.method)!.get(t.caseId)?.protocol;
    if (!p) {
      failed++;
      continue;
    }
    const risk = riskOf(ctx, t, p);
    const best = riskOf(ctx, t, t.optimalProtocol);
    if (best === undefined) throw new MewmError('InvalidInput', `case ${t.caseId}: the truth has no expected risk for its own optimal protocol`);
    if (risk === undefined) continue;
    risks.push(risk);
    regrets.push(risk - best);
    if (protocolKey(p) === protocolKey(t.optimalProtocol)) optimalHits++;
  }
  const scored = risks.length;
  const identity = Uint32Array.from(risks, (_, i) => i);
  const [meanRisk, meanRegret] =
    scored === 0
      ? [nanInterval(), nanInterval()]
      : withIntervals
        ? bootstrapIntervals(scored, (idx) => [meanAt(risks, idx), meanAt(regrets, idx)], { seed: deriveSeed(seed, 'outcome', m.method), resamples })
        : [pointInterval(meanAt(risks, identity)), pointInterval(meanAt(regrets, identity))];
  return {
    method: m.method,
    label: m.label,
    scored,
    failed,
    meanRisk: meanRisk!,
    meanRegret: meanRegret!,
    optimalRate: scored > 0 ? optimalHits / scored : Number.NaN,
  };
}

/** tables/outcome for the main methods. */
export function outcomeTable(ctx: EvaluationContext, mainMethods: readonly MethodPredictions[]): OutcomeRow[] {
  const { files, notes } = ctx;
  const outcome: OutcomeRow[] = mainMethods.map((m) => outcomeRow(ctx, m, true));
  {
    const display: Table = {
      title: 'Outcome: true expected risk of the chosen protocol and regret against the optimum (lower is better)',
      columns: ['Method', 'expected risk', 'regret', 'optimal chosen (%)', 'scored', 'failed'],
      rows: outcome.map((r) => [r.label, withInterval(r.meanRisk), withInterval(r.meanRegret), percent(r.optimalRate, 1), r.scored, r.failed]),
      notes: [...notes, 'risk and regret are means over scored cases; a protocol without a true risk is not scored'],
    };
    const data: Table = {
      title: display.title,
      columns: [
        'method',
        'scored',
        'failed',
        'expected_risk',
        'expected_risk_lower',
        'expected_risk_upper',
        'regret',
        'regret_lower',
        'regret_upper',
        'optimal_rate',
      ],
      rows: outcome.map((r) => [
        r.method,
        r.scored,
        r.failed,
        r.meanRisk.estimate,
        r.meanRisk.lower,
        r.meanRisk.upper,
        r.meanRegret.estimate,
        r.meanRegret.lower,
        r.meanRegret.upper,
        r.optimalRate,
      ]),
    };
    files.push(...tableFiles('outcome', display, data));
  }
  return outcome;
}
