/**
 * Algorithm 1 of the MeWM paper ("TACE Protocol Exploration with MeWM") as one sequencer of the
 * pure beam functions of beam-search.ts. Everyone runs this loop; only the step differs:
 *   workflows/plan-treatment.ts  one beamStep child workflow per step (workflows/beam-step.ts)
 *   bench/orchestration.ts       the beamStep body in-process, over the same activity functions
 *   tests, bench/oracle-*        `beamStepRunner` over an injected candidate evaluator
 *
 *   line 4       initBeams         B beams of the empty protocol
 *   lines 6-13   drug horizon      Hd beam steps
 *   (option)     appendLipiodol    reference code: Lipiodol on every beam, unsimulated
 *   lines 14-21  embolism horizon  He beam steps
 *   line 22      chooseFinalBeam   the beam with the lowest risk
 *
 * One beam step (lines 7-12 / 15-20), `runBeamStep`, shared by the beamStep workflow and the
 * in-process runners:
 *   line 8/16    expandBeams + the evaluator: T replicas of f_DM per admissible candidate, scored
 *   line 9/17    chooseExtensions: each beam takes its candidate with the lowest mean risk
 *   lines 11-12  replaceWorstBeam: the worst beam is replaced by the best
 *
 * Pure and deterministic apart from the injected step and evaluator: safe inside workflows.
 */
import type { AgentId, DrugId, EmbolicId, Phase } from '../vocabulary';
import {
  appendLipiodol,
  chooseExtensions,
  chooseFinalBeam,
  expandBeams,
  initBeams,
  phaseSteps,
  replaceWorstBeam,
  scoreCandidate,
  type Beam,
  type CandidateScore,
  type CandidateSpec,
  type PrunedCandidate,
  type Replacement,
  type SearchOptions,
  type StepOutcome,
} from './beam-search';

/** What the sequencer asks of one beam step. */
export interface StepRequest {
  readonly phase: Phase;
  /** 1-based step within the phase. */
  readonly step: number;
  /** The beams before the step (plans[] of the paper). */
  readonly beams: readonly Beam[];
  /** The policy's candidates for the step's phase (D drugs or E embolics), best first. */
  readonly candidates: readonly AgentId[];
}

/** Replicas (of any representation `R`) behind each beam, by beam slot; a beam not yet extended has none. */
export type ReplicaCarry<R> = Readonly<Record<number, R>>;

/** What one beam step reports back to the sequencer. */
export interface StepReport<R> {
  /** The beams after extension (line 9/17) and replacement (lines 11-12). */
  readonly beams: readonly Beam[];
  readonly replacement: Replacement | null;
  /**
   * The replicas of the candidate each beam took in this step, by beam slot *after* the
   * replacement (the replaced slot holds the best beam's); slots that took nothing are absent.
   */
  readonly replicas: ReplicaCarry<R>;
}

/** Runs one beam step: the beamStep child workflow, the same body in-process, or `beamStepRunner`. */
export type StepRunner<R, S extends StepReport<R> = StepReport<R>> = (request: StepRequest) => Promise<S>;

/** The slot whose beam `slot` holds after lines 11-12: the best beam's for the replaced slot, else its own. */
export function originSlot(slot: number, replacement: Replacement | null): number {
  return replacement !== null && replacement.worst === slot ? replacement.best : slot;
}

/**
 * The replica carry across a step: a beam that took a candidate in the step stands on that
 * candidate's replicas; any other beam keeps those of the beam it now is (the best beam's for a
 * replaced slot, else its own).
 */
export function carryReplicas<R>(previous: ReplicaCarry<R>, step: Pick<StepReport<R>, 'beams' | 'replacement' | 'replicas'>): Record<number, R> {
  const carried: Record<number, R> = {};
  for (const beam of step.beams) {
    const origin = originSlot(beam.slot, step.replacement);
    const replicas = step.replicas[beam.slot] ?? previous[origin];
    if (replicas !== undefined) carried[beam.slot] = replicas;
  }
  return carried;
}

export interface Exploration<R, S> {
  /** Line 22: the beam with the lowest risk. */
  readonly chosen: Beam;
  /** Every beam at the end (after the Lipiodol append, when asked for). */
  readonly beams: readonly Beam[];
  /** The step reports, drug steps first, in order. */
  readonly steps: readonly S[];
  /** The replicas the chosen beam stands on (undefined when it never took a simulated candidate). */
  readonly chosenReplicas: R | undefined;
}

/** Algorithm 1, lines 4-22: the drug horizon, then the embolism horizon, then the best beam. */
export async function exploreProtocols<R, S extends StepReport<R> = StepReport<R>>(input: {
  readonly options: Pick<SearchOptions, 'beams' | 'drugHorizon' | 'embolicHorizon' | 'appendLipiodolAfterDrugs'>;
  readonly drugs: readonly DrugId[];
  readonly embolics: readonly EmbolicId[];
  readonly runStep: StepRunner<R, S>;
}): Promise<Exploration<R, S>> {
  const { options, runStep } = input;
  phaseSteps(options); // Hd and He must be non-negative integers
  let beams: readonly Beam[] = initBeams(options.beams); // line 4
  let carry: ReplicaCarry<R> = {};
  const steps: S[] = [];
  const advance = async (phase: Phase, step: number, candidates: readonly AgentId[]) => {
    const report = await runStep({ phase, step, beams, candidates }); // lines 7-12 / 15-20
    carry = carryReplicas(carry, report);
    beams = report.beams;
    steps.push(report);
  };

  // lines 6-13: drug horizon
  for (let step = 1; step <= options.drugHorizon; step++) await advance('drug', step, input.drugs);
  if (options.appendLipiodolAfterDrugs) beams = appendLipiodol(beams, options.drugHorizon);
  // lines 14-21: embolism horizon
  for (let step = 1; step <= options.embolicHorizon; step++) await advance('embolic', step, input.embolics);

  const chosen = chooseFinalBeam(beams); // line 22
  return { chosen, beams, steps, chosenReplicas: carry[chosen.slot] };
}

/** One evaluated candidate: its T risks in seed order and whatever the evaluator keeps of its replicas. */
export interface CandidateEvaluation<R> {
  readonly risks: readonly number[];
  readonly replicas: R;
}

/** Lines 8/16: simulates T replicas of each candidate and scores them; one evaluation per spec, in spec order. */
export type CandidateEvaluator<R> = (specs: readonly CandidateSpec[]) => Promise<readonly CandidateEvaluation<R>[]>;

/** Everything one beam step decided, with the evidence: the input of the audit record. */
export interface BeamStepRecord<R> extends StepReport<R>, StepOutcome {
  readonly phase: Phase;
  readonly step: number;
  readonly specs: readonly CandidateSpec[];
  readonly pruned: readonly PrunedCandidate[];
  /** One score per spec, in spec order. */
  readonly scores: readonly CandidateScore[];
  /** One evaluation per spec, in spec order (empty when every candidate was pruned). */
  readonly evaluations: readonly CandidateEvaluation<R>[];
}

export type StepSettings = Pick<SearchOptions, 'replicas' | 'requireImprovement'> & { readonly planSeed: number };

/** One beam step, Algorithm 1 lines 7-12 (drugs) or 15-20 (embolics). */
export async function runBeamStep<R>(request: StepRequest, settings: StepSettings, evaluate: CandidateEvaluator<R>): Promise<BeamStepRecord<R>> {
  const { phase, step, beams } = request;
  // line 8/16: every beam × every candidate the clinical rules allow, T replica seeds each
  const { specs, pruned } = expandBeams(beams, request.candidates, { planSeed: settings.planSeed, phase, step, replicas: settings.replicas });
  // line 8/16: T post-treatment CTs of f_DM per candidate, scored by H_surv with H_seg
  const evaluations = specs.length > 0 ? await evaluate(specs) : [];
  const scores = specs.map((spec, i) => scoreCandidate(spec, evaluations[i]?.risks ?? []));
  // line 9/17: each beam appends its candidate with the lowest mean risk
  const extended = chooseExtensions(beams, scores, settings);
  // lines 11-12/19-20: plans[argmax risk] ← plans[argmin risk]
  const { beams: beamsAfter, replacement } = replaceWorstBeam(extended.beams);

  const replicasOfSpec = new Map(specs.map((spec, i) => [spec.key, evaluations[i]?.replicas]));
  const replicas: Record<number, R> = {};
  for (const beam of beamsAfter) {
    const extension = extended.extensions.find((e) => e.beam === originSlot(beam.slot, replacement));
    const taken = extension?.outcome === 'extended' && extension.chosen ? replicasOfSpec.get(extension.chosen.spec.key) : undefined;
    if (taken !== undefined) replicas[beam.slot] = taken;
  }
  return {
    phase,
    step,
    specs,
    pruned,
    scores,
    evaluations,
    beamsBefore: beams,
    beamsAfter,
    beams: beamsAfter,
    extensions: extended.extensions,
    replacement,
    replicas,
  };
}

/** A step runner that runs `runBeamStep` in-process over `evaluate` (tests, in-process benchmarks). */
export function beamStepRunner<R>(settings: StepSettings, evaluate: CandidateEvaluator<R>): StepRunner<R, BeamStepRecord<R>> {
  return (request) => runBeamStep(request, settings, evaluate);
}
