/**
 * The action-fidelity evaluation, in process (no Temporal): for every held-out patient and every
 * protocol of the fixed panel, the learned simulation beside the world's truth for the same
 * patient, protocol and replica seeds.
 *
 * Per patient (one ROI, built as planning builds it):
 *   learned  `dynamics.simulate` of all panel protocols in one call (T seeds each) → the
 *            assistant's labels of each simulated CT → the heuristic's risk on pre + that post;
 *   truth    `simulateResponse(pre ROI, phenotype, protocol, seed)` with the same seeds: the true
 *            post-CT, its labels and its `ResponseState`; the world's `expectedRisk`.
 * Seeds are shared by all protocols of a patient (common random numbers): replica r of every
 * protocol sees the same world draws and the same sampler noise, so what differs between protocols
 * is the action alone, and a model that ignores the action produces identical CTs.
 *
 * Risk per (protocol, replica), each to be ranked against `expectedRisk` within the patient:
 *   learned            learned heuristic on pre + simulated post (assistant labels): the pipeline;
 *   heuristicOnTruth   learned heuristic on pre + true post (true labels): the heuristic alone;
 *   worldOnSimulated   `riskFromState` of what is measured on the simulated post (measure.ts):
 *                      dynamics + assistant alone, read by a perfect heuristic;
 *   worldOnTruth       `riskFromState` of the same measurements on the true post: the oracle's view;
 *   assistantOnTruth   the same measurements on the true post with the assistant's labels: the
 *                      assistant alone (its loss against worldOnTruth);
 *   worldOnReconstruction  the same on the true post whose treated region the dynamics' autoencoder
 *                      encoded and decoded (pasted as simulate pastes), assistant labels: what the
 *                      image decoder lets any denoiser show (null where the model has none);
 *   worldOnResponse    `riskFromState` of what the dynamics' response head expects of the action
 *                      (viable ratio = volume ratio × viable share, toxicity from the liver shift),
 *                      before anything is drawn: the only part of a response-conditioned model that
 *                      reads the action, so the ceiling of its ranking (null where there is none);
 *   posteriorOracle    the world's expected risk averaged over the hidden biology given what the
 *                      pre-CT shows (src/world/posterior.ts, K = 512 draws): the honest ceiling of
 *                      any image-based model's ranking, whatever its dynamics, assistant or heuristic;
 *   worldOnState       `riskFromState` of the replica's true `ResponseState`: the realised truth.
 */
import { MewmError } from '../../core/errors';
import { deriveSeed } from '../../core/random';
import { canonicalProtocol, protocolKey, protocolLabel, type Protocol } from '../../core/vocabulary';
import type { LabelledCt } from '../../core/volume/volume';
import type { ExpectedResponse, ModelIdentity, WorldModel } from '../../models/world-model';
import type { Phenotype } from '../../world/phenotype';
import { simulateResponse, TOXICITY_HU_PER_UNIT, type ResponseState } from '../../world/response';
import { posteriorExpectedRisk, samplePosterior, visiblePhenotype } from '../../world/posterior';
import { expectedRisk, riskFromState } from '../../world/survival';
import { readFidelityCohort, readPlanningRoi, type FidelityCase, type FidelitySplit, type RoiSettings } from './cohort';
import { measurePost, type PostMeasures } from './measure';
import { FIDELITY_PANEL, type PanelEntry } from './panel';

export const FIDELITY_SCHEMA = 'mewm.fidelity/1';

/** The world's `ResponseState` of one replica, the fractions the renderer draws (reference). */
export interface StateSummary {
  readonly viableFraction: number;
  readonly necrosisFraction: number;
  readonly lipiodolFraction: number;
  readonly volumeRatio: number;
  readonly viableRatio: number;
  readonly toxicity: number;
  /** −TOXICITY_HU_PER_UNIT · toxicity: the liver shift the world renders. */
  readonly liverShiftHu: number;
}

export interface ReplicaRisks {
  readonly learned: number;
  readonly heuristicOnTruth: number;
  readonly worldOnSimulated: number;
  readonly worldOnTruth: number;
  readonly worldOnState: number;
  /** Absent in results written before these rows existed. */
  readonly assistantOnTruth?: number;
  readonly worldOnReconstruction?: number | null;
  /** Absent in results written before this row existed; null: the dynamics model has no response head. */
  readonly worldOnResponse?: number | null;
  /** Absent in results written before this row existed. */
  readonly posteriorOracle?: number;
}

export interface ReplicaRecord {
  readonly seed: number;
  readonly learned: PostMeasures;
  readonly truth: PostMeasures;
  /** The true post-CT measured with the assistant's labels (absent in older results). */
  readonly truthAssistant?: PostMeasures;
  /** The autoencoder's reconstruction of the true post-CT, assistant labels (null: no autoencoder). */
  readonly reconstruction?: PostMeasures | null;
  readonly state: StateSummary;
  readonly risk: ReplicaRisks;
}

export interface ProtocolRecord {
  readonly key: string;
  readonly label: string;
  readonly expectedRisk: number;
  readonly replicas: readonly ReplicaRecord[];
}

export interface CaseRecord {
  readonly caseId: string;
  readonly split: string;
  /** Wall seconds per stage for this patient. */
  readonly seconds: {
    readonly roi: number;
    readonly simulate: number;
    readonly segment: number;
    readonly score: number;
    readonly truth: number;
    readonly diagnose?: number;
    readonly total: number;
  };
  readonly protocols: readonly ProtocolRecord[];
}

export interface FidelityRun {
  readonly schema: typeof FIDELITY_SCHEMA;
  readonly cohortDir: string;
  readonly split: FidelitySplit;
  readonly seed: number;
  readonly replicas: number;
  readonly roi: RoiSettings;
  readonly models: { readonly dynamics: ModelIdentity; readonly assistant: ModelIdentity; readonly heuristic: ModelIdentity };
  /** Free-form run settings worth recording (sampler, control, …). */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly panel: readonly { readonly key: string; readonly label: string; readonly protocol: Protocol; readonly why: string }[];
  readonly cases: readonly CaseRecord[];
}

export interface FidelityOptions extends RoiSettings {
  readonly cohortDir: string;
  readonly split: FidelitySplit;
  /** At most this many cases (manifest order). */
  readonly cases?: number;
  /** Replicas T per protocol. */
  readonly replicas: number;
  readonly seed: number;
  readonly panel?: readonly PanelEntry[];
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Focused segmentation as planning does it (PlanSettings.segmentationFocusMarginMm); null or absent: the whole ROI. */
  readonly segmentationFocusMarginMm?: number | null;
  /** Called after each patient (progress). */
  readonly onCase?: (record: CaseRecord, done: number, total: number) => void;
}

/**
 * The world's risk of what a response head expects: viable ratio = volume ratio × viable share of
 * the residual lesion, toxicity from the liver shift (the `(r)` row).
 */
export function riskOfExpectedResponse(phenotype: Phenotype, response: ExpectedResponse): number {
  return riskFromState(phenotype, {
    viableRatio: response.volumeRatio * response.viableShare,
    toxicity: Math.max(0, -response.liverShiftHu / TOXICITY_HU_PER_UNIT),
  });
}

/** Replica seeds of one patient: shared by every protocol of the panel (see the module comment). */
export function replicaSeeds(seed: number, caseId: string, replicas: number): number[] {
  return Array.from({ length: replicas }, (_, r) => deriveSeed(seed, 'fidelity', caseId, r));
}

function stateSummary(state: ResponseState): StateSummary {
  return {
    viableFraction: state.viableFraction,
    necrosisFraction: state.necrosisFraction,
    lipiodolFraction: state.lipiodolFraction,
    volumeRatio: state.volumeRatio,
    viableRatio: state.viableRatio,
    toxicity: state.toxicity,
    liverShiftHu: -TOXICITY_HU_PER_UNIT * state.toxicity,
  };
}

const seconds = (since: number) => (performance.now() - since) / 1000;

/** One patient through the learned pipeline and the world's truth. */
export async function evaluateCase(
  world: WorldModel,
  c: FidelityCase,
  pre: LabelledCt,
  panel: readonly Protocol[],
  seeds: readonly number[],
  focusMarginMm: number | null,
): Promise<Omit<CaseRecord, 'split' | 'seconds'> & { seconds: Omit<CaseRecord['seconds'], 'roi' | 'total'> }> {
  const caseId = c.caseId;
  const focus = focusMarginMm === null ? {} : { focus: { preLabels: pre.labels, marginMm: focusMarginMm } };
  let t = performance.now();
  const simulated = await world.dynamics.simulate(panel.map((protocol) => ({ caseId, pre, protocol, seeds })));
  if (simulated.length !== panel.length || simulated.some((posts) => posts.length !== seeds.length)) {
    throw new MewmError('ModelContract', `dynamics model ${world.dynamics.identity.name} returned the wrong number of volumes`, { caseId });
  }
  const responses = world.dynamics.expectedResponse ? await world.dynamics.expectedResponse(panel.map((protocol) => ({ caseId, pre, protocol }))) : undefined;
  const simulateSeconds = seconds(t);
  let segmentSeconds = 0;
  let scoreSeconds = 0;
  let truthSeconds = 0;
  let diagnoseSeconds = 0;
  const protocols: ProtocolRecord[] = [];
  const posterior = samplePosterior(visiblePhenotype(c.phenotype));
  for (const [i, protocol] of panel.entries()) {
    const replicas: ReplicaRecord[] = [];
    const posteriorOracle = posteriorExpectedRisk(posterior, protocol).mean;
    const response = responses?.[i];
    const worldOnResponse = response ? riskOfExpectedResponse(c.phenotype, response) : null;
    for (const [r, seed] of seeds.entries()) {
      const ct = simulated[i]![r]!;
      t = performance.now();
      const labels = await world.assistant.segment({ caseId, ct, ...focus });
      segmentSeconds += seconds(t);
      t = performance.now();
      const truth = simulateResponse(pre, c.phenotype, protocol, seed);
      const learnedMeasures = measurePost(pre, { ct, labels });
      const truthMeasures = measurePost(pre, truth.post);
      truthSeconds += seconds(t);
      t = performance.now();
      const truthAssistant = measurePost(pre, { ct: truth.post.ct, labels: await world.assistant.segment({ caseId, ct: truth.post.ct, ...focus }) });
      const reconstructed = world.dynamics.reconstruct ? await world.dynamics.reconstruct({ caseId, pre, post: truth.post.ct }) : undefined;
      const reconstruction = reconstructed
        ? measurePost(pre, { ct: reconstructed, labels: await world.assistant.segment({ caseId, ct: reconstructed, ...focus }) })
        : null;
      diagnoseSeconds += seconds(t);
      t = performance.now();
      const learnedRisk = await world.heuristic.risk({ caseId, pre, post: { ct, labels } });
      const heuristicOnTruth = await world.heuristic.risk({ caseId, pre, post: truth.post });
      scoreSeconds += seconds(t);
      replicas.push({
        seed,
        learned: learnedMeasures,
        truth: truthMeasures,
        truthAssistant,
        reconstruction,
        state: stateSummary(truth.state),
        risk: {
          learned: learnedRisk,
          heuristicOnTruth,
          worldOnSimulated: riskFromState(c.phenotype, learnedMeasures),
          worldOnTruth: riskFromState(c.phenotype, truthMeasures),
          worldOnState: riskFromState(c.phenotype, truth.state),
          assistantOnTruth: riskFromState(c.phenotype, truthAssistant),
          worldOnReconstruction: reconstruction ? riskFromState(c.phenotype, reconstruction) : null,
          worldOnResponse,
          posteriorOracle,
        },
      });
    }
    protocols.push({ key: protocolKey(protocol), label: protocolLabel(protocol), expectedRisk: expectedRisk(c.phenotype, protocol), replicas });
  }
  return {
    caseId,
    protocols,
    seconds: { simulate: simulateSeconds, segment: segmentSeconds, score: scoreSeconds, truth: truthSeconds, diagnose: diagnoseSeconds },
  };
}

/** Runs the evaluation over the cohort's cases; `world` is the model under test (not closed here). */
export async function runFidelity(world: WorldModel, options: FidelityOptions): Promise<FidelityRun> {
  if (!Number.isInteger(options.replicas) || options.replicas < 1)
    throw new MewmError('InvalidInput', `replicas must be a positive integer, got ${options.replicas}`);
  const panelEntries = options.panel ?? FIDELITY_PANEL;
  if (panelEntries.length < 2) throw new MewmError('InvalidInput', 'the fidelity panel needs at least two protocols to rank');
  const panel = panelEntries.map((e) => canonicalProtocol(e.protocol));
  const cases = await readFidelityCohort(options.cohortDir, options.split, options.cases);
  const roi: RoiSettings = { roiSize: options.roiSize, roiSpacingMm: options.roiSpacingMm };
  const records: CaseRecord[] = [];
  for (const c of cases) {
    const started = performance.now();
    const pre = await readPlanningRoi(options.cohortDir, c, roi);
    const roiSeconds = seconds(started);
    const result = await evaluateCase(world, c, pre, panel, replicaSeeds(options.seed, c.caseId, options.replicas), options.segmentationFocusMarginMm ?? null);
    const record: CaseRecord = { ...result, split: c.split, seconds: { roi: roiSeconds, ...result.seconds, total: seconds(started) } };
    records.push(record);
    options.onCase?.(record, records.length, cases.length);
  }
  return {
    schema: FIDELITY_SCHEMA,
    cohortDir: options.cohortDir,
    split: options.split,
    seed: options.seed,
    replicas: options.replicas,
    roi,
    models: { dynamics: world.dynamics.identity, assistant: world.assistant.identity, heuristic: world.heuristic.identity },
    settings: options.settings ?? {},
    panel: panelEntries.map((e, i) => ({ key: protocolKey(panel[i]!), label: protocolLabel(panel[i]!), protocol: panel[i]!, why: e.why })),
    cases: records,
  };
}
