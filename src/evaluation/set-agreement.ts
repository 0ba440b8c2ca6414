/**
 * Agreement between a predicted action set and a gold action set (the paper's Table 2).
 *
 * Conventions, read from Table 2 and its caption:
 * - The set compared is the whole action combo: drugs ∪ embolics, as vocabulary agent ids.
 * - Metrics are computed per patient and then averaged over patients (sample averaging). Table 2
 *   itself shows this: MeWM's mean F1 (52.38) is not the harmonic mean of its mean precision and
 *   recall (63.06, 46.17 → 53.3), which it would be under micro averaging.
 * - Tables print the averages in percent; these functions return fractions in [0, 1].
 * - Empty sets: an empty prediction has precision 0 (1 when the gold set is empty too); an empty
 *   gold set has recall 0 (1 when the prediction is empty too); F1 = 2|P∩G| / (|P| + |G|) and
 *   Jaccard = |P∩G| / |P∪G| are 1 when both sets are empty.
 */
import { MewmError } from '../core/errors';
import { protocolAgents, type AgentId, type Protocol } from '../core/vocabulary';

export interface SetAgreement {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly jaccard: number;
}

export const AGREEMENT_METRICS = ['f1', 'jaccard', 'precision', 'recall'] as const;
export type AgreementMetric = (typeof AGREEMENT_METRICS)[number];

export function setAgreement<T>(predicted: Iterable<T>, gold: Iterable<T>): SetAgreement {
  const p = new Set(predicted);
  const g = new Set(gold);
  let overlap = 0;
  for (const item of p) if (g.has(item)) overlap++;
  const union = p.size + g.size - overlap;
  const bothEmpty = p.size === 0 && g.size === 0;
  return {
    precision: p.size === 0 ? (bothEmpty ? 1 : 0) : overlap / p.size,
    recall: g.size === 0 ? (bothEmpty ? 1 : 0) : overlap / g.size,
    f1: bothEmpty ? 1 : (2 * overlap) / (p.size + g.size),
    jaccard: bothEmpty ? 1 : overlap / union,
  };
}

/** Agreement of two protocols as agent sets (drugs ∪ embolics). */
export function protocolAgreement(predicted: Protocol, gold: Protocol): SetAgreement {
  return setAgreement<AgentId>(protocolAgents(predicted), protocolAgents(gold));
}

/** Per-metric mean over patients (sample averaging, fractions). */
export function meanAgreement(perPatient: readonly SetAgreement[]): SetAgreement {
  if (perPatient.length === 0) throw new MewmError('InvalidInput', 'mean agreement of zero patients is undefined');
  const sum = { precision: 0, recall: 0, f1: 0, jaccard: 0 };
  for (const a of perPatient) {
    sum.precision += a.precision;
    sum.recall += a.recall;
    sum.f1 += a.f1;
    sum.jaccard += a.jaccard;
  }
  const n = perPatient.length;
  return { precision: sum.precision / n, recall: sum.recall / n, f1: sum.f1 / n, jaccard: sum.jaccard / n };
}
