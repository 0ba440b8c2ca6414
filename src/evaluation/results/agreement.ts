/** Protocol agreement (Table 2 style): F1, Jaccard, precision and recall of each method's action set against the optimal and the physician's protocol. */
import { deriveSeed } from '../../core/random';
import { bootstrapIntervals, meanAt, type Interval } from '../bootstrap';
import { AGREEMENT_METRICS, protocolAgreement, type AgreementMetric, type SetAgreement } from '../set-agreement';
import { percentWithInterval, type Table } from '../tables';
import type { AgreementRow, MethodPredictions } from '../evaluate';
import { tableFiles, type EvaluationContext } from './context';

/** Each method's agreement with `reference` per case, averaged over cases with bootstrap intervals. */
export function agreementRows(ctx: EvaluationContext, reference: 'optimal' | 'physician', methods: readonly MethodPredictions[]): AgreementRow[] {
  const { truth, predictionIndex, seed, resamples } = ctx;
  return methods.map((m) => {
    const perCase = truth.map((t) => {
      const p = predictionIndex.get(m.method)!.get(t.caseId);
      const gold = reference === 'optimal' ? t.optimalProtocol : t.physicianProtocol;
      return protocolAgreement(p?.protocol ?? { drugs: [], embolics: [] }, gold);
    });
    const failed = truth.filter((t) => !predictionIndex.get(m.method)!.get(t.caseId)?.protocol).length;
    const columns = AGREEMENT_METRICS.map((metric) => Float64Array.from(perCase, (a: SetAgreement) => a[metric]));
    const intervals = bootstrapIntervals(truth.length, (idx) => columns.map((c) => meanAt(c, idx)), {
      seed: deriveSeed(seed, 'agreement', reference, m.method),
      resamples,
    });
    const metrics = Object.fromEntries(AGREEMENT_METRICS.map((metric, k) => [metric, intervals[k]!])) as Record<AgreementMetric, Interval>;
    return { method: m.method, label: m.label, n: truth.length, failed, metrics };
  });
}

/** tables/agreement-optimal and tables/agreement-physician for the main (non-ablation) methods. */
export function agreementTables(
  ctx: EvaluationContext,
  mainMethods: readonly MethodPredictions[],
): { readonly optimal: AgreementRow[]; readonly physician: AgreementRow[] } {
  const { files, notes } = ctx;
  const agreementOptimal = agreementRows(ctx, 'optimal', mainMethods);
  const agreementPhysician = agreementRows(
    ctx,
    'physician',
    mainMethods.filter((m) => m.method !== 'physician'),
  );
  for (const [name, title, rows] of [
    ['agreement-optimal', 'Protocol agreement with the optimal protocol (%)', agreementOptimal],
    ['agreement-physician', "Protocol agreement with the physician's protocol (%)", agreementPhysician],
  ] as const) {
    const display: Table = {
      title,
      columns: ['Method', 'F1-score', 'Jaccard', 'Precision', 'Recall', 'failed'],
      rows: rows.map((r) => [r.label, ...AGREEMENT_METRICS.map((k) => percentWithInterval(r.metrics[k])), `${r.failed}/${r.n}`]),
      notes: [
        ...notes,
        'per-patient metrics averaged over patients (Table 2 convention); action set = drugs ∪ embolics; a failed case scores as an empty prediction',
      ],
    };
    const data: Table = {
      title,
      columns: ['method', 'n', 'failed', ...AGREEMENT_METRICS.flatMap((k) => [k, `${k}_lower`, `${k}_upper`])],
      rows: rows.map((r) => [r.method, r.n, r.failed, ...AGREEMENT_METRICS.flatMap((k) => [r.metrics[k].estimate, r.metrics[k].lower, r.metrics[k].upper])]),
    };
    files.push(...tableFiles(name, display, data));
  }
  return { optimal: agreementOptimal, physician: agreementPhysician };
}
