/**
 * The world-model contract: the three learned functions of MeWM that the planner calls.
 * Implemented by the oracle world (src/world/oracle) and by ONNX models (src/models/onnx).
 *
 * All volumes here live on the planning grid: the tumour-centred region of interest that the
 * ingest step cuts from the RAS-reoriented, resampled pre-treatment CT (see CaseRoi). CT values
 * are Hounsfield units (Float32); labels are 0 background, 1 liver, 2 tumour (Uint8). Models
 * that work on smaller patches (sliding window) or normalised intensities do that internally,
 * reading their manifest: callers never window or normalise.
 */
import type { LabelledCt, Volume } from '../core/volume/volume';
import type { Protocol } from '../core/vocabulary';

export type ModelRole = 'dynamics' | 'assistant' | 'heuristic';

/** Names the exact model that produced a number; goes into every audit record. */
export interface ModelIdentity {
  readonly role: ModelRole;
  readonly backend: 'oracle' | 'onnx';
  readonly name: string;
  readonly version: string;
  /** sha256 of the ONNX file(s), or of the oracle's world-parameters, hex. */
  readonly sha256: string;
  /** What the model may be used for, from its manifest (the demo models: synthetic data, not for clinical use). */
  readonly intendedUse?: string;
}

export interface SimulationRequest {
  /** Pseudonymous case id (never a patient identifier). */
  readonly caseId: string;
  readonly pre: LabelledCt;
  readonly protocol: Protocol;
  /** One unsigned 32-bit seed per replica, chosen by the workflow; length = T. */
  readonly seeds: readonly number[];
}

/** f_DM(x0, m0, a): simulated post-treatment CTs, one per seed, on the grid of `pre`. */
export interface DynamicsModel {
  readonly identity: ModelIdentity;
  /**
   * Simulates every request; implementations batch all replicas of all requests into as few
   * model calls as memory allows. Output: `result[r][s]` for request r and seed s. Same seeds,
   * same volumes, bit for bit.
   */
  simulate(requests: readonly SimulationRequest[]): Promise<Volume<Float32Array>[][]>;
  /**
   * Diagnostic (the fidelity evaluation): `post` as this model's image decoder draws it, i.e. the
   * treated region of a real post-CT encoded and decoded, pasted back as `simulate` pastes. What
   * no denoiser in this latent space can do better than. Absent for models without an autoencoder.
   */
  reconstruct?(input: { readonly caseId: string; readonly pre: LabelledCt; readonly post: Volume<Float32Array> }): Promise<Volume<Float32Array>>;
  /**
   * Diagnostic (the fidelity evaluation): what a response-conditioned model expects each action to
   * do before it draws anything (its response head: volume ratio, viable / necrosis / Lipiodol
   * shares, liver HU shift), one per request. Absent for models that are not conditioned that way.
   */
  expectedResponse?(requests: readonly Omit<SimulationRequest, 'seeds'>[]): Promise<ExpectedResponse[]>;
}

/** A response head's expected post-CT measurements for one action (dynamics models conditioned on them). */
export interface ExpectedResponse {
  readonly volumeRatio: number;
  readonly viableShare: number;
  readonly necrosisShare: number;
  readonly lipiodolShare: number;
  readonly liverShiftHu: number;
}

/**
 * Focused segmentation of a simulated CT: the labels of the CT it was simulated from, and how far
 * around their tumour the simulation may have changed it. An assistant may segment only that box
 * and keep these labels everywhere else (the dynamics model replaces the CT only around the
 * tumour; the liver's attenuation shift moves no boundary); one that ignores it segments it all.
 */
export interface SegmentationFocus {
  readonly preLabels: Volume<Uint8Array>;
  readonly marginMm: number;
}

/** H_seg(x̂): liver and tumour labels of a (simulated or real) CT, post-processed. */
export interface AssistantModel {
  readonly identity: ModelIdentity;
  segment(input: { readonly caseId: string; readonly ct: Volume<Float32Array>; readonly focus?: SegmentationFocus }): Promise<Volume<Uint8Array>>;
}

/** H_surv(x0, m0, x̂, m̂): a risk score, lower is better; comparable across protocols of one case. */
export interface HeuristicModel {
  readonly identity: ModelIdentity;
  risk(input: { readonly caseId: string; readonly pre: LabelledCt; readonly post: LabelledCt }): Promise<number>;
}

export interface WorldModel {
  readonly dynamics: DynamicsModel;
  readonly assistant: AssistantModel;
  readonly heuristic: HeuristicModel;
  /** How many `segment` / `risk` calls it computes at once (callers may keep that many in flight); default 1. */
  readonly parallelism?: number;
  /** Releases sessions / worker threads. */
  close(): Promise<void>;
}

/** The region the planner works on: where it sits in the original CT, so results can be pasted back. */
export interface CaseRoi {
  readonly caseId: string;
  /** Planning grid spacing in mm (isotropic by default) and size in voxels [nx, ny, nz]. */
  readonly spacingMm: readonly [number, number, number];
  readonly size: readonly [number, number, number];
}
