/** Ablations (Table 3 style): each ablation's agreement with the optimal protocol and its regret, with deltas against the full method. */
import { MewmError } from '../../core/errors';
import { AGREEMENT_METRICS } from '../set-agreement';
import { fixed, percent, signedPercentPoints, type Table } from '../tables';
import type { AgreementRow, MethodPredictions, OutcomeRow } from '../evaluate';
import { agreementRows } from './agreement';
import { metricLabel, tableFiles, type EvaluationContext } from './context';
import { outcomeRow } from './outcome';

/** tables/ablation, or the reason it is missing. */
export function ablationTable(ctx: EvaluationContext, agreementOptimal: readonly AgreementRow[], outcome: readonly OutcomeRow[]): void {
  const { input, files, skipped, notes } = ctx;
  const ablations = input.methods.filter((m) => m.kind === 'ablation');
  if (ablations.length === 0) {
    skipped.push('ablation table: no ablation runs were given');
  } else {
    const ablationAgreement = agreementRows(ctx, 'optimal', ablations);
    const ablationOutcome = new Map(ablations.map((m) => [m.method, outcomeRow(ctx, m, false)] as const));
    const referenceOf = (m: MethodPredictions) => {
      const refId = m.ablationOf;
      const ref = agreementOptimal.find((r) => r.method === refId);
      if (!ref) throw new MewmError('InvalidInput', `ablation ${m.method}: ablationOf "${String(refId)}" is not a non-ablation method of this evaluation`);
      return ref;
    };
    const columns = ['Metric', ...ablations.map((m) => m.label)];
    const rows: (string | number)[][] = AGREEMENT_METRICS.map((k) => [
      metricLabel(k),
      ...ablations.map((m, i) => {
        const value = ablationAgreement[i]!.metrics[k].estimate;
        return `${percent(value)} ${signedPercentPoints(value - referenceOf(m).metrics[k].estimate)}`;
      }),
    ]);
    rows.push([
      'Regret',
      ...ablations.map((m) => {
        const own = ablationOutcome.get(m.method)!;
        const ref = outcome.find((o) => o.method === m.ablationOf)!;
        const delta = own.meanRegret.estimate - ref.meanRegret.estimate;
        return `${fixed(own.meanRegret.estimate)} (${delta >= 0 ? '+' : ''}${fixed(delta)})`;
      }),
    ]);
    const display: Table = { title: 'Ablations: agreement with the optimal protocol (%) and regret; (Δ) vs the full method', columns, rows, notes };
    const data: Table = {
      title: display.title,
      columns: ['method', 'ablation_of', ...AGREEMENT_METRICS.flatMap((k) => [k, `${k}_delta`]), 'regret', 'regret_delta'],
      rows: ablations.map((m, i) => {
        const ref = referenceOf(m);
        const own = ablationOutcome.get(m.method)!;
        const refOutcome = outcome.find((o) => o.method === m.ablationOf)!;
        return [
          m.method,
          m.ablationOf ?? '',
          ...AGREEMENT_METRICS.flatMap((k) => [ablationAgreement[i]!.metrics[k].estimate, ablationAgreement[i]!.metrics[k].estimate - ref.metrics[k].estimate]),
          own.meanRegret.estimate,
          own.meanRegret.estimate - refOutcome.meanRegret.estimate,
        ];
      }),
    };
    files.push(...tableFiles('ablation', display, data));
  }
}
