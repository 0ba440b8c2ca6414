/**
 * The shapes that travel through Temporal for one plan and one cohort: workflow inputs and
 * outputs, beam-step records and audit summaries. Plain JSON (no class instances, no voxels:
 * volumes travel as ArtifactRefs). Pure types: safe to import from workflows.
 */
import type { ArtifactRef } from '../src/artifacts/store';
import type { ModelIdentity } from '../src/models/world-model';
import type { ActionProposal, PolicyIdentity, TumourObservation } from '../src/policy/policy';
import type { AgentId, DrugId, EmbolicId, Phase, Protocol } from '../src/core/vocabulary';
import type { Beam, BeamExtension, PrunedCandidate, Replacement } from '../src/core/planning/beam-search';
import type { PlanSettings } from '../src/core/planning/settings';
import type { PlanRequirements } from '../src/core/serving';

export type { ActivityTimeouts, PlanSettings } from '../src/core/planning/settings';

/**
 * A case as a workflow sees it: the pseudonymous id and the ref of its case source artifact
 * (activities/case-source: where the CT and mask are). Paths never enter Temporal: folder and file
 * names can carry patient names, and the event history is the audit record.
 */
export interface CaseRef {
  /** Pseudonymous case id; goes into workflow ids, search attributes and logs. Never a patient identifier. */
  readonly caseId: string;
  /** The `mewm.case-source/1` JSON artifact (content-addressed: its URI holds only a hash). */
  readonly source: ArtifactRef;
}

/** The ROI the planner works on, stored as artifacts. */
export interface RoiArtifacts {
  readonly ct: ArtifactRef;
  readonly labels: ArtifactRef;
  /** ROI size in voxels [nx, ny, nz] and spacing in mm. */
  readonly size: readonly [number, number, number];
  readonly spacingMm: readonly [number, number, number];
  /** RAS mm of the tumour centre the ROI is centred on. */
  readonly centreMm: readonly [number, number, number];
}

export interface PreparedCase {
  readonly caseId: string;
  readonly roi: RoiArtifacts;
  readonly observation: TumourObservation;
  /** PNG key slices of the ROI (tumour-centre axial slice with mask outline), for the policy and people. */
  readonly keySlices: readonly ArtifactRef[];
  /** Whether the mask came from the user or from the assistant model. */
  readonly maskSource: 'provided' | 'assistant';
  readonly sourceKind: 'nifti' | 'dicom';
  readonly assistant?: ModelIdentity;
}

/** One simulated replica of one candidate, fully traceable. */
export interface ReplicaRecord {
  readonly replica: number;
  readonly seed: number;
  readonly ct: ArtifactRef;
  readonly labels: ArtifactRef;
  readonly risk: number;
}

export interface CandidateRecord {
  readonly key: string;
  readonly beam: number;
  readonly agent: AgentId;
  readonly rank: number;
  readonly protocol: Protocol;
  readonly meanRisk: number;
  readonly spreadRisk: number;
  readonly replicas: readonly ReplicaRecord[];
}

export interface StepTimings {
  readonly simulateMs: number;
  readonly segmentMs: number;
  readonly scoreMs: number;
  /** Wall time of the beam step as the workflow saw it. */
  readonly totalMs: number;
}

/** The durable audit record of one beam step (also stored as a JSON artifact). */
export interface BeamStepAudit {
  readonly schema: 'mewm.beam-step/1';
  readonly planId: string;
  readonly caseId: string;
  readonly phase: Phase;
  readonly step: number;
  readonly planSeed: number;
  readonly candidatesOffered: readonly AgentId[];
  readonly beamsBefore: readonly Beam[];
  readonly beamsAfter: readonly Beam[];
  readonly candidates: readonly CandidateRecord[];
  readonly pruned: readonly PrunedCandidate[];
  readonly extensions: readonly { readonly beam: number; readonly outcome: BeamExtension['outcome']; readonly chosenKey: string | null }[];
  readonly replacement: Replacement | null;
  readonly models: readonly ModelIdentity[];
  readonly simulation: { readonly computedReplicas: number; readonly resumedReplicas: number; readonly attempts: number };
  readonly timings: StepTimings;
}

export interface BeamStepInput {
  readonly planId: string;
  readonly caseId: string;
  readonly phase: Phase;
  readonly step: number;
  readonly beams: readonly Beam[];
  readonly candidates: readonly AgentId[];
  readonly roi: RoiArtifacts;
  readonly settings: PlanSettings;
  /** The plan's requirements (PlanInput.requirements); absent in histories from before them. */
  readonly requirements?: PlanRequirements;
}

/** A compact line per beam step: what the parent keeps and what `mewm plan` prints. */
export interface StepSummary {
  readonly phase: Phase;
  readonly step: number;
  readonly workflowId: string;
  readonly beams: readonly { readonly slot: number; readonly protocol: Protocol; readonly risk: number | null }[];
  readonly bestCandidate: { readonly key: string; readonly meanRisk: number; readonly spreadRisk: number } | null;
  readonly candidates: number;
  readonly pruned: number;
  readonly replacement: Replacement | null;
  readonly audit: ArtifactRef;
  readonly computedReplicas: number;
  readonly resumedReplicas: number;
}

export interface BeamStepResult {
  readonly beams: readonly Beam[];
  readonly summary: StepSummary;
  /** Replicas of the best candidate of each beam after this step (for previews), by beam slot. */
  readonly chosenReplicas: Readonly<Record<number, readonly ReplicaRecord[]>>;
}

export interface PlanInput {
  readonly case: CaseRef;
  readonly settings: PlanSettings;
  /** Cohort this plan belongs to (search attribute), if any. */
  readonly cohortId?: string;
  /**
   * What the plan asked for: policy and endpoint, world-model hashes and runtime settings, and the
   * queues of the workers that serve exactly those (src/core/serving.ts, workers/serving.ts).
   */
  readonly requirements: PlanRequirements;
}

/** What planTreatment accepts: also inputs recorded before requirements existed (their GPU and LLM activities go to the shared queues). */
export type PlanWorkflowInput = Omit<PlanInput, 'requirements'> & { readonly requirements?: PlanRequirements };

export type PlanStage = 'starting' | 'ingesting' | 'proposing' | 'drug-horizon' | 'embolic-horizon' | 'previews' | 'done' | 'failed';

export interface PlanProgress {
  readonly stage: PlanStage;
  readonly stepsDone: number;
  readonly stepsTotal: number;
  readonly bestRisk: number | null;
}

export interface PlanResult {
  readonly schema: 'mewm.plan/1';
  readonly planId: string;
  readonly caseId: string;
  readonly protocol: Protocol;
  readonly risk: number;
  readonly chosenBeam: Beam;
  readonly beams: readonly Beam[];
  readonly steps: readonly StepSummary[];
  readonly proposal: {
    readonly drugs: readonly DrugId[];
    readonly embolics: readonly EmbolicId[];
    readonly rationale: string;
    readonly removals: ActionProposal['removals'];
    readonly policy: PolicyIdentity;
    /** The LLM exchanges behind the candidates (model, prompt version, output mode, raw answer); LLM policies only. */
    readonly exchanges?: ActionProposal['exchanges'];
  };
  readonly prepared: PreparedCase;
  readonly previews: readonly ArtifactRef[];
  readonly settings: PlanSettings;
  /** What the plan asked for (PlanInput.requirements), when it was given. */
  readonly requirements?: PlanRequirements;
}

/** One case of a cohort as the planner needs it. */
export type CohortCase = CaseRef;

export interface CohortInput {
  readonly cohortId: string;
  /**
   * The `mewm.cohort-source/1` artifact: the cohort's cases (already filtered by split) as CaseRefs,
   * written from the manifest by whoever starts the cohort (activities/case-source writeCohortSource).
   */
  readonly cases: ArtifactRef;
  readonly settings: PlanSettings;
  /** Children running at once. */
  readonly concurrency: number;
  /** Cases per continue-as-new page. */
  readonly pageSize: number;
  /** Passed to every plan of the cohort (PlanInput.requirements). */
  readonly requirements: PlanRequirements;
  /** Carried across continue-as-new. */
  readonly state?: CohortState;
}

/** What runCohort accepts: also inputs recorded before requirements existed (their plans are refused at once). */
export type CohortWorkflowInput = Omit<CohortInput, 'requirements'> & { readonly requirements?: PlanRequirements };

export interface CohortCaseOutcome {
  readonly caseId: string;
  readonly workflowId: string;
  readonly status: 'completed' | 'failed' | 'skipped';
  readonly protocol?: Protocol;
  readonly risk?: number;
  /** The failure's type (a MewmError code) and message, for failed cases. */
  readonly errorType?: string;
  readonly error?: string;
}

export interface CohortState {
  readonly nextOffset: number;
  readonly total: number | null;
  readonly completed: number;
  readonly failed: number;
  readonly skipped: number;
  /** One JSON Lines artifact of CohortCaseOutcome per finished page. */
  readonly pages: readonly ArtifactRef[];
  readonly runs: number;
}

export interface CohortProgress extends CohortState {
  readonly running: readonly string[];
}

export interface CohortResult {
  readonly schema: 'mewm.cohort/1';
  readonly cohortId: string;
  readonly total: number;
  readonly completed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly pages: readonly ArtifactRef[];
}
