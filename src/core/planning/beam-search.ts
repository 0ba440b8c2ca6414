/**
 * Algorithm 1 of the MeWM paper ("TACE Protocol Exploration with MeWM") as pure functions.
 *
 * One sequencer (exploration.ts: `exploreProtocols`, `runBeamStep`) runs them in the paper's order,
 * in the workflows and in-process alike; every decision of the search lives here:
 *   line 4      initBeams            B identical empty protocol beams
 *   line 8      expandBeams          beam × candidate (pruned by the clinical rules) × T seeds
 *   line 9/17   chooseExtensions     per beam, the candidate with the lowest mean risk over T replicas
 *   line 11-12  replaceWorstBeam     the worst beam's combo is replaced by the best beam's
 *   line 6/14   phaseSteps           drug horizon Hd, then embolism horizon He
 *   line 22     chooseFinalBeam      the beam with the lowest risk
 * Pure and deterministic: safe inside Temporal workflows.
 */
import { deriveSeed } from '../random';
import { canExtend, protocolAgents, ruleViolations, withAgent, EMPTY_PROTOCOL, type AgentId, type Phase, type Protocol, type RuleId } from '../vocabulary';
import { MewmError } from '../errors';

/** Hyper-parameters of Algorithm 1 plus the two behaviours of the public reference code, as options. */
export interface SearchOptions {
  /** B: parallel protocol beams. */
  readonly beams: number;
  /** T: simulated post-treatment CTs (diffusion replicas) per candidate. */
  readonly replicas: number;
  /** Hd: drug-extension steps. */
  readonly drugHorizon: number;
  /** He: embolic-extension steps. */
  readonly embolicHorizon: number;
  /**
   * Reference-code behaviour: after the drug horizon, Lipiodol is appended to every beam without
   * being simulated. The paper does not do this; default false.
   */
  readonly appendLipiodolAfterDrugs: boolean;
  /**
   * Reference-code behaviour: a beam only takes its best candidate if that candidate's mean risk is
   * lower than the beam's current risk, so protocols may end with fewer than Hd drugs or He
   * embolics. The first agent of each phase is always taken (a protocol needs at least one drug
   * and one embolic). The paper always appends (every plan then has exactly Hd drugs and He
   * embolics when the rules allow); default false.
   */
  readonly requireImprovement: boolean;
}

/** One agent appended to a beam, with the evidence that chose it. */
export interface BeamMove {
  readonly phase: Phase;
  /** 1-based step within the phase. */
  readonly step: number;
  readonly agent: AgentId;
  /** Mean risk over T replicas of the protocol after this move; null when appended without simulation. */
  readonly meanRisk: number | null;
  /** Why the move happened: chosen by the search or appended by the reference-code option. */
  readonly source: 'search' | 'append-lipiodol';
}

export interface Beam {
  /** The beam slot, 0..B-1. */
  readonly slot: number;
  readonly protocol: Protocol;
  /** Mean risk of the protocol's last evaluation (lower is better); null before any evaluation. */
  readonly risk: number | null;
  /** Agents in the order the search appended them (plans[b] of the paper). */
  readonly moves: readonly BeamMove[];
}

/** Algorithm 1 line 4: B beams, each the empty protocol on the pre-treatment CT. */
export function initBeams(count: number): Beam[] {
  assertPositiveInteger('beams', count);
  return Array.from({ length: count }, (_, slot) => ({ slot, protocol: EMPTY_PROTOCOL, risk: null, moves: [] }));
}

/** A beam extended by one candidate agent, with the diffusion seeds of its T replicas. */
export interface CandidateSpec {
  /** Stable id, unique within a plan: `<phase>/<step>/b<slot>/<agent>`. */
  readonly key: string;
  readonly phase: Phase;
  readonly step: number;
  readonly beam: number;
  readonly agent: AgentId;
  /** Position of the agent in the policy's candidate list: the tie-breaker. */
  readonly rank: number;
  readonly protocol: Protocol;
  /** One unsigned 32-bit seed per replica: deriveSeed(planSeed, phase, step, beam, agent, replica). */
  readonly seeds: readonly number[];
}

export type PruneReason = 'already-in-protocol' | RuleId;

export interface PrunedCandidate {
  readonly beam: number;
  readonly agent: AgentId;
  readonly reasons: readonly PruneReason[];
}

export interface StepContext {
  readonly planSeed: number;
  readonly phase: Phase;
  readonly step: number;
  readonly replicas: number;
}

export function candidateKey(phase: Phase, step: number, beam: number, agent: AgentId): string {
  return `${phase}/${step}/b${beam}/${agent}`;
}

/** The seed of one diffusion replica; the only place replica seeds are made. */
export function replicaSeed(planSeed: number, phase: Phase, step: number, beam: number, agent: AgentId, replica: number): number {
  return deriveSeed(planSeed, phase, step, beam, agent, replica);
}

/**
 * Algorithm 1 lines 8/16: for every beam and every candidate agent the clinical rules allow
 * (`canExtend`), the extended protocol and its T seeds. Pruned pairs are returned with the rules
 * that pruned them, for the audit. Order: beam slot, then the candidate order given.
 */
export function expandBeams(
  beams: readonly Beam[],
  candidates: readonly AgentId[],
  context: StepContext,
): { specs: CandidateSpec[]; pruned: PrunedCandidate[] } {
  assertPositiveInteger('replicas', context.replicas);
  const specs: CandidateSpec[] = [];
  const pruned: PrunedCandidate[] = [];
  const unique = candidates.filter((agent, i) => candidates.indexOf(agent) === i);
  for (const beam of beams) {
    unique.forEach((agent, rank) => {
      if (canExtend(beam.protocol, agent)) {
        const seeds = Array.from({ length: context.replicas }, (_, r) => replicaSeed(context.planSeed, context.phase, context.step, beam.slot, agent, r));
        specs.push({
          key: candidateKey(context.phase, context.step, beam.slot, agent),
          phase: context.phase,
          step: context.step,
          beam: beam.slot,
          agent,
          rank,
          protocol: withAgent(beam.protocol, agent),
          seeds,
        });
      } else {
        pruned.push({ beam: beam.slot, agent, reasons: pruneReasons(beam.protocol, agent) });
      }
    });
  }
  return { specs, pruned };
}

function pruneReasons(protocol: Protocol, agent: AgentId): PruneReason[] {
  if (protocolAgents(protocol).includes(agent)) return ['already-in-protocol'];
  return ruleViolations(withAgent(protocol, agent)).map((v) => v.rule);
}

/** The T risks of one candidate, in replica order, and their summary. */
export interface CandidateScore {
  readonly spec: CandidateSpec;
  readonly risks: readonly number[];
  readonly meanRisk: number;
  /** Population standard deviation of the replica risks. */
  readonly spreadRisk: number;
}

export function scoreCandidate(spec: CandidateSpec, risks: readonly number[]): CandidateScore {
  if (risks.length !== spec.seeds.length) {
    throw new MewmError('Internal', `candidate ${spec.key} has ${risks.length} risks for ${spec.seeds.length} replicas`);
  }
  if (!risks.every(Number.isFinite)) {
    throw new MewmError('ModelContract', `candidate ${spec.key}: the heuristic returned a non-finite risk`, { risks: [...risks] });
  }
  const meanRisk = risks.reduce((a, b) => a + b, 0) / risks.length;
  const variance = risks.reduce((a, r) => a + (r - meanRisk) ** 2, 0) / risks.length;
  return { spec, risks, meanRisk, spreadRisk: Math.sqrt(variance) };
}

/** Lower mean risk first; ties broken by the policy's candidate rank, then the agent id: stable. */
export function compareScores(a: CandidateScore, b: CandidateScore): number {
  if (a.meanRisk !== b.meanRisk) return a.meanRisk < b.meanRisk ? -1 : 1;
  if (a.spec.rank !== b.spec.rank) return a.spec.rank - b.spec.rank;
  return a.spec.agent < b.spec.agent ? -1 : a.spec.agent > b.spec.agent ? 1 : 0;
}

export interface BeamExtension {
  readonly beam: number;
  /** The winning candidate, or null when every candidate was pruned (or none improved, with requireImprovement). */
  readonly chosen: CandidateScore | null;
  readonly outcome: 'extended' | 'no-candidate' | 'no-improvement';
}

/**
 * Algorithm 1 lines 9/17: each beam appends its candidate with the lowest mean risk over T replicas
 * (argmin over tumours scored by H_surv with H_seg). A beam with no admissible candidate is kept
 * as it is. With `requireImprovement` (reference code) a beam that already holds an agent of the
 * step's phase only moves when the risk drops.
 */
export function chooseExtensions(
  beams: readonly Beam[],
  scores: readonly CandidateScore[],
  options: Pick<SearchOptions, 'requireImprovement'>,
): { beams: Beam[]; extensions: BeamExtension[] } {
  const nextBeams: Beam[] = [];
  const extensions: BeamExtension[] = [];
  for (const beam of beams) {
    const mine = scores.filter((s) => s.spec.beam === beam.slot).sort(compareScores);
    const best = mine[0];
    if (best === undefined) {
      nextBeams.push(beam);
      extensions.push({ beam: beam.slot, chosen: null, outcome: 'no-candidate' });
      continue;
    }
    // A TACE protocol needs at least one drug and one embolic: the first agent of a phase is
    // always taken, improvement is only asked of further agents of the same phase.
    const holdsPhase = best.spec.phase === 'drug' ? beam.protocol.drugs.length > 0 : beam.protocol.embolics.length > 0;
    if (options.requireImprovement && holdsPhase && beam.risk !== null && !(best.meanRisk < beam.risk)) {
      nextBeams.push(beam);
      extensions.push({ beam: beam.slot, chosen: best, outcome: 'no-improvement' });
      continue;
    }
    const move: BeamMove = { phase: best.spec.phase, step: best.spec.step, agent: best.spec.agent, meanRisk: best.meanRisk, source: 'search' };
    nextBeams.push({ slot: beam.slot, protocol: best.spec.protocol, risk: best.meanRisk, moves: [...beam.moves, move] });
    extensions.push({ beam: beam.slot, chosen: best, outcome: 'extended' });
  }
  return { beams: nextBeams, extensions };
}

export interface Replacement {
  /** The slot whose combo was discarded (highest risk; ties: highest slot). */
  readonly worst: number;
  /** The slot copied into it (lowest risk; ties: lowest slot). */
  readonly best: number;
}

const riskOrInfinity = (beam: Beam) => beam.risk ?? Number.POSITIVE_INFINITY;

/** Index of the lowest-risk beam; ties go to the lowest slot. Unevaluated beams rank last. */
export function bestBeamIndex(beams: readonly Beam[]): number {
  if (beams.length === 0) throw new MewmError('Internal', 'no beams to choose from');
  let best = 0;
  for (let i = 1; i < beams.length; i++) if (riskOrInfinity(beams[i]!) < riskOrInfinity(beams[best]!)) best = i;
  return best;
}

/** Index of the highest-risk beam; ties go to the highest slot. */
export function worstBeamIndex(beams: readonly Beam[]): number {
  if (beams.length === 0) throw new MewmError('Internal', 'no beams to choose from');
  let worst = beams.length - 1;
  for (let i = beams.length - 2; i >= 0; i--) if (riskOrInfinity(beams[i]!) > riskOrInfinity(beams[worst]!)) worst = i;
  return worst;
}

/**
 * Algorithm 1 lines 11-12/19-20: plans[argmax risk] ← plans[argmin risk]. When every beam has the
 * same risk there is no worst beam and nothing is replaced (copying would only destroy diversity).
 */
export function replaceWorstBeam(beams: readonly Beam[]): { beams: Beam[]; replacement: Replacement | null } {
  const best = bestBeamIndex(beams);
  const worst = worstBeamIndex(beams);
  const bestBeam = beams[best]!;
  const worstBeam = beams[worst]!;
  if (best === worst || !(riskOrInfinity(worstBeam) > riskOrInfinity(bestBeam))) return { beams: [...beams], replacement: null };
  const next = beams.map((beam, i) => (i === worst ? { ...bestBeam, slot: worstBeam.slot } : beam));
  return { beams: next, replacement: { worst: worstBeam.slot, best: bestBeam.slot } };
}

/** The outcome of one beam step (exploration.ts `runBeamStep`): extension of all beams, then replacement. */
export interface StepOutcome {
  readonly beamsBefore: readonly Beam[];
  readonly beamsAfter: readonly Beam[];
  readonly extensions: readonly BeamExtension[];
  readonly replacement: Replacement | null;
}

/**
 * Reference-code option: Lipiodol appended to every beam after the drug phase, unsimulated. The
 * beam keeps its last risk (the reference code does not re-score either). Beams where Lipiodol is
 * already present or breaks a rule are left alone.
 */
export function appendLipiodol(beams: readonly Beam[], drugHorizon: number): Beam[] {
  return beams.map((beam) => {
    if (!canExtend(beam.protocol, 'lipiodol')) return beam;
    const move: BeamMove = { phase: 'drug', step: drugHorizon, agent: 'lipiodol', meanRisk: null, source: 'append-lipiodol' };
    return { ...beam, protocol: withAgent(beam.protocol, 'lipiodol'), moves: [...beam.moves, move] };
  });
}

/** Algorithm 1 line 22: the beam with the lowest risk (ties: lowest slot). */
export function chooseFinalBeam(beams: readonly Beam[]): Beam {
  const beam = beams[bestBeamIndex(beams)]!;
  if (beam.risk === null)
    throw new MewmError('InvalidInput', 'no beam was ever evaluated: the policy proposed no admissible agent (check D and E and the candidate lists)');
  return beam;
}

/** The step schedule: Hd drug steps then He embolic steps, each `{ phase, step }` with 1-based steps. */
export function phaseSteps(options: Pick<SearchOptions, 'drugHorizon' | 'embolicHorizon'>): { phase: Phase; step: number }[] {
  assertNonNegativeInteger('drugHorizon', options.drugHorizon);
  assertNonNegativeInteger('embolicHorizon', options.embolicHorizon);
  return [
    ...Array.from({ length: options.drugHorizon }, (_, i) => ({ phase: 'drug' as const, step: i + 1 })),
    ...Array.from({ length: options.embolicHorizon }, (_, i) => ({ phase: 'embolic' as const, step: i + 1 })),
  ];
}

export function validateSearchOptions(options: SearchOptions): void {
  assertPositiveInteger('beams', options.beams);
  assertPositiveInteger('replicas', options.replicas);
  assertNonNegativeInteger('drugHorizon', options.drugHorizon);
  assertNonNegativeInteger('embolicHorizon', options.embolicHorizon);
  if (options.drugHorizon + options.embolicHorizon === 0) {
    throw new MewmError('InvalidConfig', 'drugHorizon and embolicHorizon are both 0: the search would never extend a beam; set at least one to 1 or more');
  }
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new MewmError('InvalidConfig', `${name} must be a positive integer, got ${value}`);
}
function assertNonNegativeInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new MewmError('InvalidConfig', `${name} must be a non-negative integer, got ${value}`);
}
