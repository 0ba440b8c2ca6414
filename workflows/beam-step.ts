/**
 * One beam step of Algorithm 1 (lines 7-12 for drugs, 15-20 for embolics) as a child workflow,
 * so that a plan's history stays small: ~6 activities and ~40 events per step whatever B, D, E, T.
 * The decisions are `runBeamStep` (src/core/planning/exploration.ts); this file supplies its
 * candidate evaluator and the audit:
 *
 *   expand      every beam × every candidate the clinical rules allow, T seeds each (pure)
 *   simulate    f_DM: T post-treatment CTs per candidate, batched, heartbeated          (gpu)
 *   segment     H_seg on every simulated CT (ablation reusePreTreatmentMask: the pre mask) (gpu)
 *   score       H_surv(x0, m0, x̂, m̂) per replica                                        (gpu)
 *   advance     lowest mean risk per beam, worst beam replaced by the best (pure)
 *   audit       the full record of the step as a JSON artifact                          (cpu)
 *
 * `beamStepWith` is the body over injected activities: the workflow passes its activity proxies,
 * bench/orchestration.ts the activity functions themselves (no Temporal).
 */
import { workflowInfo } from '@temporalio/workflow';
import { compareScores } from '../src/core/planning/beam-search';
import { runBeamStep, type CandidateEvaluation, type StepReport } from '../src/core/planning/exploration';
import type { AuditActivities } from '../activities/audit';
import type { SimulationActivities } from '../activities/simulation';
import type { ModelIdentity } from '../src/models/world-model';
import type { WorldModelRequirement } from '../src/core/serving';
import { activityProfiles, type Requiring } from './activity-profiles';
import { runPureAsync } from './failures';
import type { BeamStepAudit, BeamStepInput, BeamStepResult, CandidateRecord, ReplicaRecord, StepSummary } from './types';

export async function beamStep(input: BeamStepInput): Promise<BeamStepResult> {
  const { cpu, gpu } = activityProfiles(input.settings.timeouts, input.requirements);
  return beamStepWith(input, { gpu, cpu, workflowId: workflowInfo().workflowId });
}

/** What one beam step needs: its activities and the id it reports under. */
export interface BeamStepEnvironment {
  readonly gpu: Pick<Requiring<SimulationActivities, WorldModelRequirement>, 'simulateCandidates' | 'segmentReplicas' | 'scoreReplicas'>;
  readonly cpu: Pick<AuditActivities, 'writeAuditRecord'>;
  /** The beamStep workflow id (`beamStepWorkflowId`), kept in the step summary. */
  readonly workflowId: string;
}

export async function beamStepWith(input: BeamStepInput, { gpu, cpu, workflowId }: BeamStepEnvironment): Promise<BeamStepResult> {
  const started = Date.now();
  const { settings, phase, step } = input;
  const requires = input.requirements ? { requires: input.requirements.worldModel } : {};
  const models: ModelIdentity[] = [];
  let simulation = { computedReplicas: 0, resumedReplicas: 0, attempts: 0 };
  const timings = { simulateMs: 0, segmentMs: 0, scoreMs: 0 };

  const record = await runPureAsync(() =>
    runBeamStep<readonly ReplicaRecord[]>(
      input,
      { planSeed: settings.seed, replicas: settings.replicas, requireImprovement: settings.requireImprovement },
      async (specs) => {
        const simulated = await gpu.simulateCandidates({
          caseId: input.caseId,
          roi: input.roi,
          candidates: specs.map((s) => ({ key: s.key, protocol: s.protocol, seeds: s.seeds })),
          batchReplicas: settings.simulateBatchReplicas,
          ...requires,
        });
        const cts = simulated.cts.flat();
        const segmented = settings.reusePreTreatmentMask
          ? null
          : await gpu.segmentReplicas({
              caseId: input.caseId,
              cts,
              batch: settings.simulateBatchReplicas,
              ...(typeof settings.segmentationFocusMarginMm === 'number'
                ? { focus: { preLabels: input.roi.labels, marginMm: settings.segmentationFocusMarginMm } }
                : {}),
              ...requires,
            });
        const labelsOf = (i: number) => (segmented ? segmented.labels[i]! : input.roi.labels);
        const scored = await gpu.scoreReplicas({ caseId: input.caseId, roi: input.roi, posts: cts.map((ct, i) => ({ ct, labels: labelsOf(i) })), ...requires });
        models.push(simulated.model, ...(segmented ? [segmented.model] : []), scored.model);
        simulation = { computedReplicas: simulated.computedReplicas, resumedReplicas: simulated.resumedReplicas, attempts: simulated.attempt };
        Object.assign(timings, { simulateMs: simulated.elapsedMs, segmentMs: segmented?.elapsedMs ?? 0, scoreMs: scored.elapsedMs });

        let flat = 0;
        return specs.map((spec, c): CandidateEvaluation<readonly ReplicaRecord[]> => {
          const replicas = spec.seeds.map((seed, r): ReplicaRecord => {
            const index = flat++;
            return { replica: r, seed, ct: simulated.cts[c]![r]!, labels: labelsOf(index), risk: scored.risks[index]! };
          });
          return { risks: replicas.map((x) => x.risk), replicas };
        });
      },
    ),
  );

  const candidates: CandidateRecord[] = record.scores.map((score, c) => ({
    key: score.spec.key,
    beam: score.spec.beam,
    agent: score.spec.agent,
    rank: score.spec.rank,
    protocol: score.spec.protocol,
    meanRisk: score.meanRisk,
    spreadRisk: score.spreadRisk,
    replicas: record.evaluations[c]!.replicas,
  }));
  const totalMs = Date.now() - started;
  const audit: BeamStepAudit = {
    schema: 'mewm.beam-step/1',
    planId: input.planId,
    caseId: input.caseId,
    phase,
    step,
    planSeed: settings.seed,
    candidatesOffered: input.candidates,
    beamsBefore: record.beamsBefore,
    beamsAfter: record.beamsAfter,
    candidates,
    pruned: record.pruned,
    extensions: record.extensions.map((e) => ({ beam: e.beam, outcome: e.outcome, chosenKey: e.chosen?.spec.key ?? null })),
    replacement: record.replacement,
    models,
    simulation,
    timings: { ...timings, totalMs },
  };
  const auditRef = await cpu.writeAuditRecord(audit);

  const best = [...record.scores].sort(compareScores)[0];
  const summary: StepSummary = {
    phase,
    step,
    workflowId,
    beams: record.beamsAfter.map((b) => ({ slot: b.slot, protocol: b.protocol, risk: b.risk })),
    bestCandidate: best ? { key: best.spec.key, meanRisk: best.meanRisk, spreadRisk: best.spreadRisk } : null,
    candidates: record.specs.length,
    pruned: record.pruned.length,
    replacement: record.replacement,
    audit: auditRef,
    computedReplicas: simulation.computedReplicas,
    resumedReplicas: simulation.resumedReplicas,
  };
  return { beams: record.beamsAfter, summary, chosenReplicas: record.replicas };
}

/** A beamStep result as the sequencer reads it (exploreProtocols' StepReport). */
export function stepReport(result: BeamStepResult): StepReport<readonly ReplicaRecord[]> {
  return { beams: result.beams, replacement: result.summary.replacement, replicas: result.chosenReplicas };
}
