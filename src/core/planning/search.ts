/**
 * Algorithm 1 as one plain async loop over an injected evaluator: the reference sequencing of the
 * pure beam functions. The Temporal workflow runs the same sequence with one child workflow per
 * step; this loop serves the in-process baseline of the orchestration benchmark and the tests.
 */
import type { AgentId, DrugId, EmbolicId } from '../vocabulary';
import {
  advanceBeams,
  appendLipiodol,
  chooseFinalBeam,
  expandBeams,
  initBeams,
  phaseSteps,
  scoreCandidate,
  validateSearchOptions,
  type Beam,
  type CandidateSpec,
  type PrunedCandidate,
  type SearchOptions,
  type StepOutcome,
  type CandidateScore,
} from './beam-search';

/** Returns, for each spec, its T replica risks in seed order. */
export type CandidateEvaluator = (specs: readonly CandidateSpec[]) => Promise<number[][]>;

export interface SearchStepRecord extends StepOutcome {
  readonly phase: 'drug' | 'embolic';
  readonly step: number;
  readonly scores: readonly CandidateScore[];
  readonly pruned: readonly PrunedCandidate[];
}

export interface SearchResult {
  readonly chosen: Beam;
  readonly beams: readonly Beam[];
  readonly steps: readonly SearchStepRecord[];
}

export async function runSearch(input: {
  readonly options: SearchOptions;
  readonly planSeed: number;
  readonly drugs: readonly DrugId[];
  readonly embolics: readonly EmbolicId[];
  readonly evaluate: CandidateEvaluator;
}): Promise<SearchResult> {
  const { options } = input;
  validateSearchOptions(options);
  let beams: Beam[] = initBeams(options.beams);
  const steps: SearchStepRecord[] = [];
  let lipiodolAppended = false;
  for (const { phase, step } of phaseSteps(options)) {
    if (phase === 'embolic' && options.appendLipiodolAfterDrugs && !lipiodolAppended) {
      beams = appendLipiodol(beams, options.drugHorizon);
      lipiodolAppended = true;
    }
    const candidates: readonly AgentId[] = phase === 'drug' ? input.drugs : input.embolics;
    const { specs, pruned } = expandBeams(beams, candidates, { planSeed: input.planSeed, phase, step, replicas: options.replicas });
    const risks = specs.length > 0 ? await input.evaluate(specs) : [];
    const scores = specs.map((spec, i) => scoreCandidate(spec, risks[i] ?? []));
    const outcome = advanceBeams(beams, scores, options);
    steps.push({ phase, step, scores, pruned, ...outcome });
    beams = [...outcome.beamsAfter];
  }
  if (options.appendLipiodolAfterDrugs && !lipiodolAppended) beams = appendLipiodol(beams, options.drugHorizon);
  return { chosen: chooseFinalBeam(beams), beams, steps };
}
