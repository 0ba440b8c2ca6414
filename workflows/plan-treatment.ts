/**
 * planTreatment: Algorithm 1 of the MeWM paper for one patient, durable.
 *
 *   ingest      pre-CT (+ mask, or the assistant segments it) → tumour-centred ROI     (cpu, gpu)
 *   line 5      π_VLM proposes D drugs and E embolics (the clinical rules prune later)  (llm)
 *   lines 4-22  exploreProtocols (src/core/planning/exploration.ts): B empty beams, the drug
 *               horizon (Hd beam steps), the embolism horizon (He beam steps), the beam with
 *               the lowest risk; each beam step is one beamStep child workflow
 *   previews    PNG montages of the chosen protocol's simulated CTs                     (cpu)
 *
 * Every replica seed derives from `settings.seed` inside the pure planning code, so the same input
 * gives the same plan bit for bit, however often activities are retried or workers die.
 */
import { ApplicationFailure, executeChild, isCancellation, patched, setHandler, upsertSearchAttributes, workflowInfo, log } from '@temporalio/workflow';
import { phaseSteps } from '../src/core/planning/beam-search';
import { exploreProtocols, type StepRequest } from '../src/core/planning/exploration';
import type { ActionProposal } from '../src/policy/policy';
import { activityProfiles } from './activity-profiles';
import { beamStep, stepReport } from './beam-step';
import { failureType, runPure, runPureAsync } from './failures';
import { beamStepWorkflowId } from './ids';
import { planAuditQuery, planProgressQuery, askedForQuery } from './queries';
import { MewmCaseId, MewmCohortId, MewmStatus, type MewmStatusValue } from './search-attributes';
import type { PlanProgress, PlanResult, PlanWorkflowInput, PreparedCase, ReplicaRecord, StepSummary } from './types';
import type { ArtifactRef } from '../src/artifacts/store';

export async function planTreatment(input: PlanWorkflowInput): Promise<PlanResult> {
  const planId = workflowInfo().workflowId;
  const { settings, requirements } = input;
  const requiresWorld = requirements ? { requires: requirements.worldModel } : {};
  const caseId = input.case.caseId;
  const schedule = runPure(() => phaseSteps(settings));
  let progress: PlanProgress = { stage: 'starting', stepsDone: 0, stepsTotal: schedule.length, bestRisk: null };
  let prepared: PreparedCase | null = null;
  let proposal: ActionProposal | null = null;
  const steps: StepSummary[] = [];
  setHandler(planProgressQuery, () => progress);
  setHandler(planAuditQuery, () => ({ planId, caseId, prepared, proposal, steps }));
  setHandler(askedForQuery, () => ({ settings, requirements: requirements ?? null }));

  const setStatus = (status: MewmStatusValue) =>
    upsertSearchAttributes([
      { key: MewmCaseId, value: caseId },
      { key: MewmStatus, value: status },
      ...(input.cohortId === undefined ? [] : [{ key: MewmCohortId, value: input.cohortId }]),
    ]);
  setStatus('running');

  try {
    // A new plan without requirements would wait on the old shared queues, which no worker polls:
    // refused at once. Histories from before requirements replay past this (no patch marker).
    if (requirements === undefined && patched('plan-requires-requirements')) {
      throw ApplicationFailure.nonRetryable(
        'the plan input has no requirements (policy, world model): start it with `mewm plan`, or pass PlanInput.requirements (workers/serving.ts)',
        'InvalidInput',
      );
    }
    const { cpu, gpu, llm } = activityProfiles(settings.timeouts, requirements);

    progress = { ...progress, stage: 'ingesting' };
    const roiRequest = { case: input.case, roiSize: settings.roiSize, roiSpacingMm: settings.roiSpacingMm };
    let ingest = await cpu.prepareCase(roiRequest);
    if (ingest.kind === 'needs-segmentation') {
      const segmented = await gpu.segmentCase({ caseId, ct: ingest.planningCt, ...requiresWorld });
      ingest = await cpu.prepareCase({
        ...roiRequest,
        segmented: { ct: ingest.planningCt, labels: segmented.labels, model: segmented.model, sourceKind: ingest.sourceKind },
      });
    }
    if (ingest.kind !== 'prepared') throw ApplicationFailure.nonRetryable(`case ${caseId}: ingest did not produce a planning ROI`, 'Internal');
    const preparedCase = ingest.prepared;
    prepared = preparedCase;

    progress = { ...progress, stage: 'proposing' };
    const proposed = await llm.proposeActions({
      caseId,
      observation: preparedCase.observation,
      goal: settings.goal,
      drugCount: settings.drugCandidates,
      embolicCount: settings.embolicCandidates,
      keySlices: preparedCase.keySlices,
      ...(requirements ? { requires: requirements.policy } : {}),
    });
    proposal = proposed;

    // One beam step: a child workflow (lines 7-12 / 15-20), reported to the sequencer as it asks.
    const runStep = async ({ phase, step, beams, candidates }: StepRequest) => {
      progress = { ...progress, stage: phase === 'drug' ? 'drug-horizon' : 'embolic-horizon' };
      const result = await executeChild(beamStep, {
        workflowId: beamStepWorkflowId(planId, phase, step),
        args: [{ planId, caseId, phase, step, beams, candidates, roi: preparedCase.roi, settings, ...(requirements ? { requirements } : {}) }],
      });
      steps.push(result.summary);
      const risks = result.beams.map((b) => b.risk).filter((r): r is number => r !== null);
      progress = { ...progress, stepsDone: steps.length, bestRisk: risks.length > 0 ? Math.min(...risks) : null };
      return stepReport(result);
    };
    const {
      chosen,
      beams,
      chosenReplicas: replicas,
    } = await runPureAsync(() =>
      exploreProtocols<readonly ReplicaRecord[]>({ options: settings, drugs: proposed.drugs, embolics: proposed.embolics, runStep }),
    );

    let previews: ArtifactRef[] = [];
    const chosenReplicas = replicas ?? [];
    if (settings.previews && chosenReplicas.length > 0) {
      progress = { ...progress, stage: 'previews' };
      previews = await cpu.renderPreviews({ caseId, roi: preparedCase.roi, posts: chosenReplicas.map((r) => ({ ct: r.ct, labels: r.labels })) });
    }

    progress = { ...progress, stage: 'done', bestRisk: chosen.risk };
    setStatus('completed');
    log.info('plan completed', { caseId, protocol: chosen.protocol, risk: chosen.risk });
    return {
      schema: 'mewm.plan/1',
      planId,
      caseId,
      protocol: chosen.protocol,
      risk: chosen.risk!,
      chosenBeam: chosen,
      beams,
      steps,
      proposal: {
        drugs: proposed.drugs,
        embolics: proposed.embolics,
        rationale: proposed.rationale,
        removals: proposed.removals,
        policy: proposed.policy,
        ...(proposed.exchanges ? { exchanges: proposed.exchanges } : {}),
      },
      prepared: preparedCase,
      previews,
      settings,
      ...(requirements ? { requirements } : {}),
    };
  } catch (error) {
    progress = { ...progress, stage: 'failed' };
    setStatus('failed');
    if (isCancellation(error)) throw error;
    const { type, message } = failureType(error);
    log.warn('plan failed', { caseId, type });
    throw ApplicationFailure.create({ type, message: `case ${caseId}: ${message}`, nonRetryable: true, cause: error instanceof Error ? error : undefined });
  }
}
