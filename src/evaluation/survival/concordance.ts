/**
 * Harrell's concordance index with lifelines' conventions (lifelines.utils.concordance_index):
 * - a higher score means a longer predicted survival: pass −risk for risk scores;
 * - a pair (i, j) is comparable when i has an event and t_i < t_j, or t_i = t_j and j is
 *   censored (a subject censored at a death time outlived it); two events at the same time are
 *   not comparable;
 * - a comparable pair counts 1 when score_i < score_j, 0.5 when the scores tie, 0 otherwise.
 * O(n²): cohorts here are hundreds of patients.
 */
import { MewmError } from '../../core/errors';
import { checkScores, checkSurvival, type SurvivalData } from './survival-data';

export interface Concordance {
  readonly cIndex: number;
  readonly comparablePairs: number;
  readonly concordant: number;
  readonly tiedScores: number;
}

export function concordance(data: SurvivalData, survivalScores: ArrayLike<number>): Concordance {
  const s = checkSurvival(data, 'concordance index');
  const score = checkScores(survivalScores, s.n, 'concordance index scores');
  let pairs = 0;
  let concordant = 0;
  let tied = 0;
  for (let i = 0; i < s.n; i++) {
    if (s.events[i] !== 1) continue;
    const ti = s.times[i]!;
    for (let j = 0; j < s.n; j++) {
      const tj = s.times[j]!;
      const comparable = ti < tj || (ti === tj && s.events[j] === 0);
      if (!comparable) continue;
      pairs++;
      if (score[i]! < score[j]!) concordant++;
      else if (score[i] === score[j]) tied++;
    }
  }
  if (pairs === 0) throw new MewmError('InvalidInput', 'concordance index: no comparable pairs (no events, or every event ties with every later exit)');
  return { cIndex: (concordant + 0.5 * tied) / pairs, comparablePairs: pairs, concordant, tiedScores: tied };
}

/** C-index of risk scores (higher risk = shorter survival): concordance of −risk. */
export function riskConcordanceIndex(data: SurvivalData, risk: ArrayLike<number>): number {
  const negated = Array.from({ length: risk.length }, (_, i) => -risk[i]!);
  return concordance(data, negated).cIndex;
}
