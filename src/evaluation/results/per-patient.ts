/** Per-patient predictions: one row per case and method. */
import { protocolKey } from '../../core/vocabulary';
import { protocolAgreement } from '../set-agreement';
import { toCsv } from '../tables';
import type { EvaluationContext } from './context';
import { riskOf } from './outcome';

/** predictions.csv. */
export function perPatientPredictions(ctx: EvaluationContext): void {
  const { input, truth, predictionIndex, files } = ctx;
  {
    const rows: (string | number)[][] = [];
    for (const m of input.methods) {
      for (const t of truth) {
        const p = predictionIndex.get(m.method)!.get(t.caseId);
        const protocol = p?.protocol ?? null;
        const a = protocolAgreement(protocol ?? { drugs: [], embolics: [] }, t.optimalProtocol);
        const risk = protocol ? riskOf(ctx, t, protocol) : undefined;
        const best = riskOf(ctx, t, t.optimalProtocol);
        rows.push([
          t.caseId,
          m.method,
          protocol ? protocolKey(protocol) : '',
          protocolKey(t.optimalProtocol),
          protocolKey(t.physicianProtocol),
          a.f1,
          a.jaccard,
          a.precision,
          a.recall,
          risk ?? Number.NaN,
          risk !== undefined && best !== undefined ? risk - best : Number.NaN,
          p?.predictedRisk ?? Number.NaN,
        ]);
      }
    }
    files.push({
      path: 'predictions.csv',
      content: toCsv({
        title: 'per-patient predictions',
        columns: [
          'case_id',
          'method',
          'protocol',
          'optimal_protocol',
          'physician_protocol',
          'f1',
          'jaccard',
          'precision',
          'recall',
          'expected_risk',
          'regret',
          'predicted_risk',
        ],
        rows,
      }),
      description: 'one row per case and method: chosen protocol, agreement with the optimal protocol, true expected risk, regret, predicted risk',
    });
  }
}
