/**
 * One beam step of Algorithm 1 (lines 7-12 for drugs, 15-20 for embolics) as a child workflow,
 * so that a plan's history stays small: ~6 activities and ~40 events per step whatever B, D, E, T.
 *
 *   expand      every beam × every candidate the clinical rules allow, T seeds each (pure)
 *   simulate    f_DM: T post-treatment CTs per candidate, batched, heartbeated          (gpu)
 *   segment     H_seg on every simulated CT (ablation reusePreTreatmentMask: the pre mask) (gpu)
 *   score       H_surv(x0, m0, x̂, m̂) per replica                                        (gpu)
 *   advance     lowest mean risk per beam, worst beam replaced by the best (pure)
 *   audit       the full record of the step as a JSON artifact                          (cpu)
 */
import { workflowInfo } from '@temporalio/workflow';
import { advanceBeams, compareScores, expandBeams, scoreCandidate, type CandidateScore } from '../src/core/planning/beam-search';
import { activityProfiles } from './activity-profiles';
import { runPure } from './failures';
import type { BeamStepAudit, BeamStepInput, BeamStepResult, CandidateRecord, ReplicaRecord, StepSummary } from './types';
import type { ModelIdentity } from '../src/models/world-model';

export async function beamStep(input: BeamStepInput): Promise<BeamStepResult> {
  const started = Date.now();
  const { settings, phase, step } = input;
  const { cpu, gpu } = activityProfiles(settings.timeouts);
  const { specs, pruned } = runPure(() => expandBeams(input.beams, input.candidates, { planSeed: settings.seed, phase, step, replicas: settings.replicas }));

  let records: CandidateRecord[] = [];
  let scores: CandidateScore[] = [];
  const models: ModelIdentity[] = [];
  let simulation = { computedReplicas: 0, resumedReplicas: 0, attempts: 0 };
  const timings = { simulateMs: 0, segmentMs: 0, scoreMs: 0 };

  if (specs.length > 0) {
    const simulated = await gpu.simulateCandidates({
      caseId: input.caseId,
      roi: input.roi,
      candidates: specs.map((s) => ({ key: s.key, protocol: s.protocol, seeds: s.seeds })),
      batchReplicas: settings.simulateBatchReplicas,
    });
    const cts = simulated.cts.flat();
    const segmented = settings.reusePreTreatmentMask ? null : await gpu.segmentReplicas({ caseId: input.caseId, cts, batch: settings.simulateBatchReplicas });
    const labelsOf = (i: number) => (segmented ? segmented.labels[i]! : input.roi.labels);
    const scored = await gpu.scoreReplicas({ caseId: input.caseId, roi: input.roi, posts: cts.map((ct, i) => ({ ct, labels: labelsOf(i) })) });
    models.push(simulated.model, ...(segmented ? [segmented.model] : []), scored.model);
    simulation = { computedReplicas: simulated.computedReplicas, resumedReplicas: simulated.resumedReplicas, attempts: simulated.attempt };
    Object.assign(timings, { simulateMs: simulated.elapsedMs, segmentMs: segmented?.elapsedMs ?? 0, scoreMs: scored.elapsedMs });

    let flat = 0;
    const replicasOf = specs.map((spec, c) =>
      spec.seeds.map((seed, r): ReplicaRecord => {
        const index = flat++;
        return { replica: r, seed, ct: simulated.cts[c]![r]!, labels: labelsOf(index), risk: scored.risks[index]! };
      }),
    );
    scores = runPure(() => specs.map((spec, c) => scoreCandidate(spec, replicasOf[c]!.map((x) => x.risk))));
    records = scores.map((score, c) => ({
      key: score.spec.key,
      beam: score.spec.beam,
      agent: score.spec.agent,
      rank: score.spec.rank,
      protocol: score.spec.protocol,
      meanRisk: score.meanRisk,
      spreadRisk: score.spreadRisk,
      replicas: replicasOf[c]!,
    }));
  }

  const outcome = runPure(() => advanceBeams(input.beams, scores, settings));
  const totalMs = Date.now() - started;
  const audit: BeamStepAudit = {
    schema: 'mewm.beam-step/1',
    planId: input.planId,
    caseId: input.caseId,
    phase,
    step,
    planSeed: settings.seed,
    candidatesOffered: input.candidates,
    beamsBefore: outcome.beamsBefore,
    beamsAfter: outcome.beamsAfter,
    candidates: records,
    pruned,
    extensions: outcome.extensions.map((e) => ({ beam: e.beam, outcome: e.outcome, chosenKey: e.chosen?.spec.key ?? null })),
    replacement: outcome.replacement,
    models,
    simulation,
    timings: { ...timings, totalMs },
  };
  const auditRef = await cpu.writeAuditRecord(audit);

  // The replicas behind each beam after the step (a replaced beam inherits the best beam's).
  const replicasByKey = new Map(records.map((r) => [r.key, r.replicas]));
  const chosenReplicas: Record<number, readonly ReplicaRecord[]> = {};
  for (const beam of outcome.beamsAfter) {
    const source = outcome.replacement?.worst === beam.slot ? outcome.replacement.best : beam.slot;
    const extension = outcome.extensions.find((e) => e.beam === source);
    const replicas = extension?.outcome === 'extended' && extension.chosen ? replicasByKey.get(extension.chosen.spec.key) : undefined;
    if (replicas) chosenReplicas[beam.slot] = replicas;
  }
  const best = [...scores].sort(compareScores)[0];
  const summary: StepSummary = {
    phase,
    step,
    workflowId: workflowInfo().workflowId,
    beams: outcome.beamsAfter.map((b) => ({ slot: b.slot, protocol: b.protocol, risk: b.risk })),
    bestCandidate: best ? { key: best.spec.key, meanRisk: best.meanRisk, spreadRisk: best.spreadRisk } : null,
    candidates: specs.length,
    pruned: pruned.length,
    replacement: outcome.replacement,
    audit: auditRef,
    computedReplicas: simulation.computedReplicas,
    resumedReplicas: simulation.resumedReplicas,
  };
  return { beams: outcome.beamsAfter, summary, chosenReplicas };
}
