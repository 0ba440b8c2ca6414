/**
 * End to end through a real Temporal dev server: planTreatment on a synthetic case with the oracle
 * world model, all three task queues served by in-process workers wired as in production.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { ArtifactStores } from '../../src/artifacts';
import { getJson } from '../../src/artifacts/volumes';
import { replicaSeed } from '../../src/core/planning/beam-search';
import { exploreProtocols } from '../../src/core/planning/exploration';
import { isValidProtocol } from '../../src/core/vocabulary';
import type { MewmConfig } from '../../src/config/config';
import type { AuditActivities } from '../../activities/audit';
import type { CaseActivities } from '../../activities/case';
import type { PolicyActivities } from '../../activities/policy';
import type { SimulationActivities } from '../../activities/simulation';
import { activitiesFor } from '../../workers/activities';
import { createWorkerDependencies } from '../../workers/dependencies';
import { createLogger } from '../../src/logging/logger';
import { beamStepWith, stepReport } from '../../workflows/beam-step';
import { beamStepWorkflowId } from '../../workflows/ids';
import { planAuditQuery, planProgressQuery } from '../../workflows/queries';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { BeamStepAudit, PlanResult, ReplicaRecord, StepSummary } from '../../workflows/types';
import { caseOf, stageCase, startTemporalStack, tempDir, testConfig, writeTestCohort, type TemporalStack } from '../support/temporal';

let dir: string;
let cohortDir: string;
let caseIds: string[];
let stack: TemporalStack;
let client: Client;
let config: MewmConfig;
const stores = new ArtifactStores();

beforeAll(async () => {
  dir = tempDir('plan');
  const cohort = await writeTestCohort(dir, 2);
  cohortDir = cohort.dir;
  caseIds = cohort.patients.map((p) => p.caseId);
  config = testConfig(dir, cohortDir);
  stack = await startTemporalStack(dir, config);
  client = stack.client;
});

afterAll(async () => {
  await stack?.stop();
  stores.close();
});

async function plan(workflowId: string, caseId: string, withMask = true, seed = config.planning.seed): Promise<PlanResult> {
  return client.workflow.execute('planTreatment', {
    taskQueue: TASK_QUEUES.cpu,
    workflowId,
    args: [{ case: await stageCase(config, caseOf(cohortDir, caseId, withMask)), settings: { ...config.planning, seed }, requirements: stack.requirements }],
  });
}

/** What must be identical between two runs with the same seed (ids and timings aside). */
function decisions(result: PlanResult) {
  return {
    protocol: result.protocol,
    risk: result.risk,
    beams: result.beams,
    proposal: result.proposal,
    steps: result.steps.map(({ workflowId: _w, audit: _a, ...rest }) => rest),
    roi: result.prepared.roi,
  };
}

describe('planTreatment on a real Temporal dev server', () => {
  let first: PlanResult;

  it('returns a valid protocol within the horizons, with an audit record per beam step', async () => {
    first = await plan('plan-e2e-a', caseIds[0]!);
    const { protocol, settings } = first;
    expect(isValidProtocol(protocol)).toBe(true);
    expect(protocol.drugs.length).toBeGreaterThanOrEqual(1);
    expect(protocol.drugs.length).toBeLessThanOrEqual(settings.drugHorizon);
    expect(protocol.embolics.length).toBeGreaterThanOrEqual(1);
    expect(protocol.embolics.length).toBeLessThanOrEqual(settings.embolicHorizon);
    expect(first.risk).toBe(Math.min(...first.beams.map((b) => b.risk!)));
    expect(first.steps.map((s) => `${s.phase}-${s.step}`)).toEqual(['drug-1', 'drug-2', 'embolic-1']);
    expect(first.prepared.maskSource).toBe('provided');
    expect(first.prepared.roi.size).toEqual([32, 32, 24]);
    expect(first.previews).toHaveLength(1);

    for (const summary of first.steps) {
      const audit = await getJson<BeamStepAudit>(stores.storeFor(summary.audit.uri), summary.audit);
      expect(audit.schema).toBe('mewm.beam-step/1');
      expect(audit.caseId).toBe(caseIds[0]);
      expect(audit.beamsAfter).toEqual(summary.beams.map((b) => expect.objectContaining(b)));
      expect(audit.models.map((m) => m.role)).toEqual(['dynamics', 'assistant', 'heuristic']);
      expect(audit.models.every((m) => m.backend === 'oracle' && /^[0-9a-f]{64}$/.test(m.sha256))).toBe(true);
      for (const candidate of audit.candidates) {
        expect(candidate.replicas).toHaveLength(settings.replicas);
        candidate.replicas.forEach((r, i) => expect(r.seed).toBe(replicaSeed(settings.seed, audit.phase, audit.step, candidate.beam, candidate.agent, i)));
        const mean = candidate.replicas.reduce((a, r) => a + r.risk, 0) / candidate.replicas.length;
        expect(candidate.meanRisk).toBeCloseTo(mean, 12);
        for (const r of candidate.replicas) expect(await stores.storeFor(r.ct.uri).exists(r.ct)).toBe(true);
      }
      // Every beam × offered agent is either a simulated candidate or recorded as pruned.
      expect(audit.candidates.length + audit.pruned.length).toBe(audit.beamsBefore.length * audit.candidatesOffered.length);
    }
  });

  it('reproduces the same plan, bit for bit, from the same seed', async () => {
    const again = await plan('plan-e2e-b', caseIds[0]!);
    expect(decisions(again)).toEqual(decisions(first));
  });

  it('plans the same in-process: the same sequencer and beam-step body over the activity functions, without Temporal', async () => {
    const deps = await createWorkerDependencies(config, ['gpu', 'llm', 'cpu'], createLogger(config.log, 'test'));
    try {
      const cpu = activitiesFor('cpu', deps) as unknown as CaseActivities & AuditActivities;
      const gpu = activitiesFor('gpu', deps) as unknown as SimulationActivities;
      const llm = activitiesFor('llm', deps) as unknown as PolicyActivities;
      const settings = config.planning;
      const caseId = caseIds[0]!;
      const ingest = await cpu.prepareCase({
        case: await stageCase(config, caseOf(cohortDir, caseId)),
        roiSize: settings.roiSize,
        roiSpacingMm: settings.roiSpacingMm,
      });
      if (ingest.kind !== 'prepared') throw new Error('the test case has a mask');
      const { roi, observation, keySlices } = ingest.prepared;
      const proposal = await llm.proposeActions({
        caseId,
        observation,
        goal: settings.goal,
        drugCount: settings.drugCandidates,
        embolicCount: settings.embolicCandidates,
        keySlices,
      });
      const planId = 'plan-in-process';
      const summaries: StepSummary[] = [];
      const { chosen, beams, chosenReplicas } = await exploreProtocols<readonly ReplicaRecord[]>({
        options: settings,
        drugs: proposal.drugs,
        embolics: proposal.embolics,
        runStep: async (request) => {
          const result = await beamStepWith(
            { planId, caseId, ...request, roi, settings },
            { gpu, cpu, workflowId: beamStepWorkflowId(planId, request.phase, request.step) },
          );
          summaries.push(result.summary);
          return stepReport(result);
        },
      });
      const previews = await cpu.renderPreviews({ caseId, roi, posts: chosenReplicas!.map((r) => ({ ct: r.ct, labels: r.labels })) });
      expect({ protocol: chosen.protocol, risk: chosen.risk, beams, chosenBeam: chosen }).toEqual({
        protocol: first.protocol,
        risk: first.risk,
        beams: first.beams,
        chosenBeam: first.chosenBeam,
      });
      expect(summaries.map(({ workflowId: _w, audit: _a, ...rest }) => rest)).toEqual(decisions(first).steps);
      // the previews are content-addressed renders of the chosen beam's replicas: the replica carry agrees too
      expect(previews.map((p) => p.uri)).toEqual(first.previews.map((p) => p.uri));
    } finally {
      await deps.close();
    }
  });

  it('answers progress and audit queries and is found by its search attributes', async () => {
    const handle = client.workflow.getHandle('plan-e2e-a');
    expect(await handle.query(planProgressQuery)).toMatchObject({ stage: 'done', stepsDone: 3, stepsTotal: 3 });
    const audit = await handle.query(planAuditQuery);
    expect(audit.steps.map((s) => s.audit.uri)).toEqual(first.steps.map((s) => s.audit.uri));
    const description = await handle.describe();
    const attributes = description.typedSearchAttributes;
    expect(attributes.get({ name: 'MewmCaseId', type: 'KEYWORD' } as never)).toBe(caseIds[0]);
    expect(attributes.get({ name: 'MewmStatus', type: 'KEYWORD' } as never)).toBe('completed');
    // Visibility is eventually consistent: poll the list query briefly.
    let found: string[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = [];
      for await (const w of client.workflow.list({ query: `MewmCaseId="${caseIds[0]}" AND MewmStatus="completed" AND WorkflowType="planTreatment"` }))
        found.push(w.workflowId);
      if (found.length < 2) await new Promise((r) => setTimeout(r, 200));
    }
    expect(found.sort()).toEqual(['plan-e2e-a', 'plan-e2e-b']);
  });

  it('applies the reference-code options when asked (Lipiodol appended after the drugs, improvement required)', async () => {
    const result: PlanResult = await client.workflow.execute('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'plan-e2e-reference-options',
      args: [
        {
          case: await stageCase(config, caseOf(cohortDir, caseIds[0]!)),
          settings: { ...config.planning, appendLipiodolAfterDrugs: true, requireImprovement: true },
          requirements: stack.requirements,
        },
      ],
    });
    expect(result.protocol.embolics).toContain('lipiodol');
    for (const beam of result.beams) {
      expect(beam.moves.some((m) => m.source === 'append-lipiodol' && m.agent === 'lipiodol' && m.meanRisk === null)).toBe(true);
      // With requireImprovement, every searched move lowered the beam's risk.
      const risks = beam.moves.filter((m) => m.source === 'search').map((m) => m.meanRisk!);
      risks.slice(1).forEach((r, i) => expect(r).toBeLessThan(risks[i]!));
    }
    // Lipiodol is never offered as an embolic candidate to a beam that already holds it.
    const embolicAudit = await getJson<BeamStepAudit>(stores.storeFor(result.steps[2]!.audit.uri), result.steps[2]!.audit);
    expect(embolicAudit.candidates.some((c) => c.agent === 'lipiodol')).toBe(false);
  });

  it('segments the pre-CT with the assistant model when the case has no mask', async () => {
    const result = await plan('plan-e2e-nomask', caseIds[1]!, false);
    expect(result.prepared.maskSource).toBe('assistant');
    expect(result.prepared.assistant?.role).toBe('assistant');
    expect(isValidProtocol(result.protocol)).toBe(true);
  });

  it('refuses at once a new plan whose input has no requirements (it would wait on queues nobody polls)', async () => {
    const started = Date.now();
    const error = await client.workflow
      .execute('planTreatment', {
        taskQueue: TASK_QUEUES.cpu,
        workflowId: 'plan-no-requirements',
        args: [{ case: await stageCase(config, caseOf(cohortDir, caseIds[0]!)), settings: config.planning }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('InvalidInput');
    expect(cause.message).toContain('has no requirements');
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
