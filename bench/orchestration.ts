/**
 * Orchestration overhead: wall time of one plan through Temporal (embedded dev server, all-in-one
 * workers in this process, one child workflow per beam step) divided by the same plan in-process:
 * the same sequencer (`exploreProtocols`) and the same beam-step body (`beamStepWith`) over the
 * same activity functions, without Temporal, on the oracle backend. Both runs must end with the
 * same beams, protocol and risk (checked).
 *
 *   node --import tsx bench/orchestration.ts [--preset small|default] [--repeats N]
 *
 * small:   ROI 32x32x24 at 3 mm, B=2 D=3 E=2 T=2 Hd=2 He=1 (the test preset: overhead dominates)
 * default: mewm's defaults, ROI 96^3 at 1.5 mm, B=4 D=5 E=3 T=4 Hd=2 He=2 (compute dominates)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeCaseSource } from '../activities/case-source';
import type { AuditActivities } from '../activities/audit';
import type { CaseActivities } from '../activities/case';
import type { PolicyActivities } from '../activities/policy';
import type { SimulationActivities } from '../activities/simulation';
import { openTemporal } from '../src/app/temporal';
import { createArtifactStore, parseArtifactLocation } from '../src/artifacts';
import { resolveConfig, type ConfigOverrides, type MewmConfig } from '../src/config/config';
import { exploreProtocols } from '../src/core/planning/exploration';
import { protocolKey } from '../src/core/vocabulary';
import { writeCohort } from '../src/world/cohort';
import { activitiesFor } from '../workers/activities';
import { createWorkerDependencies } from '../workers/dependencies';
import { freePort } from '../workers/dev-server';
import { createLogger } from '../src/logging/logger';
import { requirementsFromConfig } from '../workers/serving';
import { beamStepWith, stepReport } from '../workflows/beam-step';
import { beamStepWorkflowId } from '../workflows/ids';
import { TASK_QUEUES } from '../workflows/task-queues';
import type { PlanInput, PlanResult, ReplicaRecord } from '../workflows/types';

const { values } = parseArgs({ options: { preset: { type: 'string', default: 'small' }, repeats: { type: 'string', default: '2' } } });
const preset = values.preset === 'default' ? 'default' : 'small';
const repeats = Math.max(1, Number(values.repeats));

/** The test suite's small plan (test/support/temporal.ts TEST_PLAN_OVERRIDES). */
const SMALL_PLAN: ConfigOverrides['planning'] = {
  beams: 2,
  drugCandidates: 3,
  embolicCandidates: 2,
  replicas: 2,
  drugHorizon: 2,
  embolicHorizon: 1,
  roiSize: [32, 32, 24],
  roiSpacingMm: 3,
  simulateBatchReplicas: 4,
  seed: 1234,
};

const dir = mkdtempSync(join(tmpdir(), 'mewm-bench-orchestration-'));
const cohortDir = join(dir, 'cohort');
const [patient] = await writeCohort({ outDir: cohortDir, seed: 3, patients: 1, gridPreset: 'small' });
const caseId = patient!.caseId;
const config: MewmConfig = resolveConfig({
  cwd: dir,
  env: {},
  overrides: {
    dataDir: join(dir, 'data'),
    artifacts: { location: join(dir, 'artifacts') },
    temporal: { port: await freePort() },
    worldModel: { backend: 'oracle', oracleCohortDir: cohortDir },
    ...(preset === 'small' ? { planning: SMALL_PLAN } : {}),
    log: { level: 'error', pretty: false },
  },
});
const caseRef = await writeCaseSource(createArtifactStore(parseArtifactLocation(config.artifacts.location)), {
  caseId,
  ct: join(cohortDir, 'cases', caseId, 'pre-ct.nii.gz'),
  mask: join(cohortDir, 'cases', caseId, 'pre-labels.nii.gz'),
});
const input: PlanInput = { case: caseRef, settings: config.planning, requirements: await requirementsFromConfig(config) };
const log = createLogger(config.log, 'bench');

/** What both runs must agree on. */
const outcomeOf = (beams: unknown, protocol: Parameters<typeof protocolKey>[0], risk: number) =>
  JSON.stringify({ protocol: protocolKey(protocol), risk, beams });

/** planTreatment without Temporal: its activity calls, in its order, as plain function calls. */
async function planInProcess(planId: string): Promise<string> {
  const deps = await createWorkerDependencies(config, ['gpu', 'llm', 'cpu'], log);
  try {
    const cpu = activitiesFor('cpu', deps) as unknown as CaseActivities & AuditActivities;
    const gpu = activitiesFor('gpu', deps) as unknown as SimulationActivities;
    const llm = activitiesFor('llm', deps) as unknown as PolicyActivities;
    const settings = input.settings;
    const ingest = await cpu.prepareCase({ case: input.case, roiSize: settings.roiSize, roiSpacingMm: settings.roiSpacingMm });
    if (ingest.kind !== 'prepared') throw new Error('bench cases carry masks');
    const { roi, observation, keySlices } = ingest.prepared;
    const proposal = await llm.proposeActions({
      caseId,
      observation,
      goal: settings.goal,
      drugCount: settings.drugCandidates,
      embolicCount: settings.embolicCandidates,
      keySlices,
    });
    const { chosen, beams, chosenReplicas } = await exploreProtocols<readonly ReplicaRecord[]>({
      options: settings,
      drugs: proposal.drugs,
      embolics: proposal.embolics,
      runStep: async (request) =>
        stepReport(
          await beamStepWith({ planId, caseId, ...request, roi, settings }, { gpu, cpu, workflowId: beamStepWorkflowId(planId, request.phase, request.step) }),
        ),
    });
    if (settings.previews && chosenReplicas !== undefined && chosenReplicas.length > 0) {
      await cpu.renderPreviews({ caseId, roi, posts: chosenReplicas.map((r) => ({ ct: r.ct, labels: r.labels })) });
    }
    return outcomeOf(beams, chosen.protocol, chosen.risk!);
  } finally {
    await deps.close();
  }
}

const temporal = await openTemporal(config, log, { workers: ['gpu', 'llm', 'cpu'] });
const timings = { temporal: [] as number[], inProcess: [] as number[] };
let agreed = true;
try {
  for (let r = 0; r < repeats; r++) {
    const planId = `bench-${r}`;
    let t = performance.now();
    const viaTemporal = (await temporal.client.workflow.execute('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: planId,
      args: [input],
    })) as PlanResult;
    timings.temporal.push(performance.now() - t);
    t = performance.now();
    const direct = await planInProcess(`${planId}-in-process`);
    timings.inProcess.push(performance.now() - t);
    agreed &&= direct === outcomeOf(viaTemporal.beams, viaTemporal.protocol, viaTemporal.risk);
  }
} finally {
  await temporal.close();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = config.planning;
process.stdout.write(
  `orchestration overhead, preset ${preset} (ROI ${s.roiSize.join('x')} at ${s.roiSpacingMm} mm, B=${s.beams} D=${s.drugCandidates} E=${s.embolicCandidates} T=${s.replicas} Hd=${s.drugHorizon} He=${s.embolicHorizon}), ${repeats} repeats, medians:\n` +
    `  through Temporal (dev server, 1 child workflow per beam step): ${(median(timings.temporal) / 1000).toFixed(2)} s  [${timings.temporal.map((x) => (x / 1000).toFixed(2)).join(', ')}]\n` +
    `  plain in-process loop, same activities:                        ${(median(timings.inProcess) / 1000).toFixed(2)} s  [${timings.inProcess.map((x) => (x / 1000).toFixed(2)).join(', ')}]\n` +
    `  ratio Temporal / in-process: ${(median(timings.temporal) / median(timings.inProcess)).toFixed(2)}\n` +
    `  same beams, protocol and risk in both: ${agreed ? 'yes' : 'NO'}\n`,
);
if (!agreed) process.exitCode = 1;
