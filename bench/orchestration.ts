/**
 * Orchestration overhead: wall time of one plan through Temporal (embedded dev server, all-in-one
 * workers in this process, one child workflow per beam step) divided by the same plan as a plain
 * in-process loop over the same activity functions, on the oracle backend. Both runs must choose
 * the same protocol with the same risk (checked).
 *
 *   node --import tsx bench/orchestration.ts [--preset small|default] [--repeats N]
 *
 * small:   ROI 32x32x24 at 3 mm, B=2 D=3 E=2 T=2 Hd=2 He=1 (the test preset: overhead dominates)
 * default: mewm's defaults, ROI 96^3 at 1.5 mm, B=4 D=5 E=3 T=4 Hd=2 He=2 (compute dominates)
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { appendLipiodol, advanceBeams, chooseFinalBeam, expandBeams, initBeams, phaseSteps, scoreCandidate, type Beam } from '../src/core/planning/beam-search';
import { resolveConfig, type MewmConfig } from '../src/config/config';
import { protocolKey } from '../src/core/vocabulary';
import { activitiesFor } from '../workers/activities';
import { createWorkerDependencies } from '../workers/dependencies';
import { createLogger } from '../workers/logging';
import { TASK_QUEUES } from '../workflows/task-queues';
import type { PlanInput, PlanResult } from '../workflows/types';
import type { AuditActivities } from '../activities/audit';
import type { CaseActivities } from '../activities/case';
import type { PolicyActivities } from '../activities/policy';
import type { SimulationActivities } from '../activities/simulation';
import { TEST_PLAN_OVERRIDES, caseOf, stageCase, connectClient, startTestServer, startWorkers, tempDir, writeTestCohort } from '../test/support/temporal';

const { values } = parseArgs({ options: { preset: { type: 'string', default: 'small' }, repeats: { type: 'string', default: '2' } } });
const preset = values.preset === 'default' ? 'default' : 'small';
const repeats = Math.max(1, Number(values.repeats));

const dir = tempDir('bench-orchestration');
const cohort = await writeTestCohort(dir, 1, 3);
const caseId = cohort.patients[0]!.caseId;
const config: MewmConfig = resolveConfig({
  cwd: dir,
  env: {},
  overrides: {
    artifacts: { location: join(dir, 'artifacts') },
    worldModel: { backend: 'oracle', oracleCohortDir: cohort.dir },
    ...(preset === 'small' ? { planning: TEST_PLAN_OVERRIDES } : {}),
    log: { level: 'error', pretty: false },
  },
});
const input: PlanInput = { case: await stageCase(config, caseOf(cohort.dir, caseId)), settings: config.planning };
const log = createLogger(config.log, 'bench');

/** The plan as a plain loop: the workflow's sequence of activity calls, no Temporal. */
async function planInProcess(): Promise<{ protocol: string; risk: number }> {
  const deps = await createWorkerDependencies(config, ['gpu', 'llm', 'cpu'], log);
  try {
    const cpu = activitiesFor('cpu', deps) as unknown as CaseActivities & AuditActivities;
    const gpu = activitiesFor('gpu', deps) as unknown as SimulationActivities;
    const llm = activitiesFor('llm', deps) as unknown as PolicyActivities;
    const s = input.settings;
    const ingest = await cpu.prepareCase({ case: input.case, roiSize: s.roiSize, roiSpacingMm: s.roiSpacingMm });
    if (ingest.kind !== 'prepared') throw new Error('bench cases carry masks');
    const { roi, observation, keySlices } = ingest.prepared;
    const proposal = await llm.proposeActions({ caseId, observation, goal: s.goal, drugCount: s.drugCandidates, embolicCount: s.embolicCandidates, keySlices });
    let beams: Beam[] = initBeams(s.beams);
    let appended = false;
    for (const { phase, step } of phaseSteps(s)) {
      if (phase === 'embolic' && s.appendLipiodolAfterDrugs && !appended) {
        beams = appendLipiodol(beams, s.drugHorizon);
        appended = true;
      }
      const { specs } = expandBeams(beams, phase === 'drug' ? proposal.drugs : proposal.embolics, { planSeed: s.seed, phase, step, replicas: s.replicas });
      const sim = await gpu.simulateCandidates({ caseId, roi, candidates: specs.map((x) => ({ key: x.key, protocol: x.protocol, seeds: x.seeds })), batchReplicas: s.simulateBatchReplicas });
      const cts = sim.cts.flat();
      const seg = await gpu.segmentReplicas({ caseId, cts, batch: s.simulateBatchReplicas });
      const scored = await gpu.scoreReplicas({ caseId, roi, posts: cts.map((ct, i) => ({ ct, labels: seg.labels[i]! })) });
      let flat = 0;
      const scores = specs.map((spec) => scoreCandidate(spec, spec.seeds.map(() => scored.risks[flat++]!)));
      const outcome = advanceBeams(beams, scores, s);
      await cpu.writeAuditRecord({
        schema: 'mewm.beam-step/1', planId: 'in-process', caseId, phase, step, planSeed: s.seed, candidatesOffered: [], beamsBefore: outcome.beamsBefore, beamsAfter: outcome.beamsAfter,
        candidates: [], pruned: [], extensions: [], replacement: outcome.replacement, models: [sim.model, seg.model, scored.model],
        simulation: { computedReplicas: sim.computedReplicas, resumedReplicas: 0, attempts: 1 }, timings: { simulateMs: sim.elapsedMs, segmentMs: seg.elapsedMs, scoreMs: scored.elapsedMs, totalMs: 0 },
      });
      beams = [...outcome.beamsAfter];
    }
    const chosen = chooseFinalBeam(beams);
    return { protocol: protocolKey(chosen.protocol), risk: chosen.risk! };
  } finally {
    await deps.close();
  }
}

const server = await startTestServer(join(dir, 'temporal.sqlite'));
const client = await connectClient(server.address);
const workers = await startWorkers({ address: server.address, config });
const timings = { temporal: [] as number[], inProcess: [] as number[] };
let agreed = true;
try {
  for (let r = 0; r < repeats; r++) {
    let t = performance.now();
    const viaTemporal = (await client.workflow.execute('planTreatment', { taskQueue: TASK_QUEUES.cpu, workflowId: `bench-${r}`, args: [input] })) as PlanResult;
    timings.temporal.push(performance.now() - t);
    t = performance.now();
    const direct = await planInProcess();
    timings.inProcess.push(performance.now() - t);
    agreed &&= direct.protocol === protocolKey(viaTemporal.protocol) && direct.risk === viaTemporal.risk;
  }
} finally {
  await workers.stop();
  await client.connection.close();
  await server.stop();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = config.planning;
process.stdout.write(
  `orchestration overhead, preset ${preset} (ROI ${s.roiSize.join('x')} at ${s.roiSpacingMm} mm, B=${s.beams} D=${s.drugCandidates} E=${s.embolicCandidates} T=${s.replicas} Hd=${s.drugHorizon} He=${s.embolicHorizon}), ${repeats} repeats, medians:\n` +
    `  through Temporal (dev server, 1 child workflow per beam step): ${(median(timings.temporal) / 1000).toFixed(2)} s  [${timings.temporal.map((x) => (x / 1000).toFixed(2)).join(', ')}]\n` +
    `  plain in-process loop, same activities:                        ${(median(timings.inProcess) / 1000).toFixed(2)} s  [${timings.inProcess.map((x) => (x / 1000).toFixed(2)).join(', ')}]\n` +
    `  ratio Temporal / in-process: ${(median(timings.temporal) / median(timings.inProcess)).toFixed(2)}\n` +
    `  same protocol and risk in both: ${agreed ? 'yes' : 'NO'}\n`,
);
if (!agreed) process.exitCode = 1;
