/**
 * The settings of one plan. They are part of the workflow input, so a plan can be reproduced from
 * its event history alone. Pure types.
 */
import type { SearchOptions } from './beam-search';

/** Timeouts of the activity profiles, in seconds (the workflow turns them into durations). */
export interface ActivityTimeouts {
  /** Start-to-close of a simulation / segmentation / scoring batch. */
  readonly gpuStartToCloseS: number;
  /** Heartbeat timeout of GPU activities: a dead worker is noticed after this long. */
  readonly gpuHeartbeatS: number;
  readonly cpuStartToCloseS: number;
  readonly llmStartToCloseS: number;
  /** Maximum attempts for retryable failures (0 = unlimited). */
  readonly maximumAttempts: number;
  /** First retry interval; later ones double up to 30 s. */
  readonly initialRetryIntervalS: number;
}

/** Everything that shapes one plan; part of the workflow input so a plan is reproducible from its history. */
export interface PlanSettings extends SearchOptions {
  /** D: drug candidates requested from the policy. */
  readonly drugCandidates: number;
  /** E: embolic candidates requested from the policy. */
  readonly embolicCandidates: number;
  /** The language treatment goal g. */
  readonly goal: string;
  /** Plan seed: every replica seed is derived from it. */
  readonly seed: number;
  /** Planning ROI: size in voxels [nx, ny, nz] and isotropic spacing in mm. */
  readonly roiSize: readonly [number, number, number];
  readonly roiSpacingMm: number;
  /** Replicas per `simulate` call inside one activity (progress is heartbeated between calls). */
  readonly simulateBatchReplicas: number;
  /** Render PNG previews of the chosen protocol. */
  readonly previews: boolean;
  /**
   * Ablation "without assistant model": every simulated CT is scored with the pre-treatment mask
   * instead of the assistant's segmentation of it. Absent (histories before the flag) = false.
   */
  readonly reusePreTreatmentMask?: boolean;
  /**
   * Focused segmentation: the assistant segments each simulated CT only in the box of the
   * pre-treatment tumour dilated by this many mm (where the dynamics model changed the CT) and
   * the ROI's labels stand elsewhere. null or absent (histories before the setting): the whole ROI.
   */
  readonly segmentationFocusMarginMm?: number | null;
  readonly timeouts: ActivityTimeouts;
}
