/**
 * Resume that keeps finished work (issue 11, item 6): a GPU worker is SIGKILLed mid-simulation.
 * Heartbeats reach the server at most every 0.8 × heartbeat timeout, so the last one is several
 * batches old; the per-batch checkpoint in the artifact store is not. Measured: replicas the dead
 * worker finished vs replicas the next attempt took over (recomputed ≤ one batch), and seconds from
 * the kill to the next attempt's start (≈ the heartbeat timeout, not a minute). The plan equals an
 * undisturbed run's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { MewmConfig } from '../../src/config/config';
import type { SimulateOutput } from '../../activities/simulation';
import type { DevServer } from '../../workers/dev-server';
import { beamStepWorkflowId } from '../../workflows/ids';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { PlanResult } from '../../workflows/types';
import {
  caseOf,
  connectClient,
  stageCase,
  startTestServer,
  startWorkers,
  tempDir,
  testConfig,
  writeTestCohort,
  type RunningWorkers,
} from '../support/temporal';

const DELAY_MS = 300;
const BATCH = 2;
const HEARTBEAT_S = 4;
let dir: string;
let cohortDir: string;
let caseId: string;
let server: DevServer;
let client: Client;
let config: MewmConfig;
const running: RunningWorkers[] = [];
let gpu: ChildProcess | undefined;
let simulatedByDeadWorker = 0;

beforeAll(async () => {
  dir = tempDir('resume-checkpoint');
  const cohort = await writeTestCohort(dir, 1, 27);
  cohortDir = cohort.dir;
  caseId = cohort.patients[0]!.caseId;
  config = testConfig(dir, cohortDir, {
    planning: {
      drugHorizon: 1,
      embolicHorizon: 1,
      previews: false,
      simulateBatchReplicas: BATCH,
      timeouts: {
        gpuStartToCloseS: 600,
        gpuHeartbeatS: HEARTBEAT_S,
        cpuStartToCloseS: 300,
        llmStartToCloseS: 300,
        maximumAttempts: 10,
        initialRetryIntervalS: 0.2,
      },
    },
  });
  server = await startTestServer(join(dir, 'temporal.sqlite'));
  client = await connectClient(server.address);
  running.push(await startWorkers({ address: server.address, config, roles: ['cpu', 'llm'] }));
}, 300_000);

afterAll(async () => {
  gpu?.kill('SIGKILL');
  for (const w of running) await w.stop();
  await client?.connection.close();
  await server?.stop();
});

function startCountingGpu(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'support', 'counting-gpu-worker.ts')], {
    env: { ...process.env, MEWM_TEST_CONFIG: JSON.stringify(config), MEWM_TEST_ADDRESS: server.address, MEWM_TEST_DELAY_MS: String(DELAY_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      for (const match of text.matchAll(/simulated (\d+)/g)) simulatedByDeadWorker = Math.max(simulatedByDeadWorker, Number(match[1]));
      if (text.includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`GPU worker process exited early (${code})`)));
  });
}

/** The completed simulate activity of a step: its output and when its last attempt started. */
async function simulateOutcome(stepWorkflowId: string): Promise<{ output: SimulateOutput; startedAtMs: number }> {
  const history = await client.workflow.getHandle(stepWorkflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  for (const event of history.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(event.eventId), s.activityType?.name ?? '');
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed && scheduled.get(String(completed.scheduledEventId)) === 'simulateCandidates') {
      const output = defaultPayloadConverter.fromPayload<SimulateOutput>(completed.result!.payloads![0]! as never);
      const completedAtMs = Number(event.eventTime!.seconds) * 1000 + Math.floor((event.eventTime!.nanos ?? 0) / 1e6);
      return { output, startedAtMs: completedAtMs - output.elapsedMs };
    }
  }
  throw new Error('no completed simulateCandidates');
}

const decisions = (r: PlanResult) => ({
  protocol: r.protocol,
  risk: r.risk,
  beams: r.beams,
  steps: r.steps.map(({ workflowId: _w, audit: _a, computedReplicas: _c, resumedReplicas: _r, ...rest }) => rest),
});

describe('kill -9 of a GPU worker mid-simulation', () => {
  it('the next attempt takes over every checkpointed replica, starts within seconds, and plans identically', { timeout: 600_000 }, async () => {
    gpu = await startCountingGpu();
    const planId = 'plan-resume-checkpoint';
    const handle = await client.workflow.start('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: planId,
      args: [{ case: await stageCase(config, caseOf(cohortDir, caseId)), settings: config.planning, requirements: await running[0]!.requirements() }],
    });
    // Kill after several batches: more than one heartbeat interval's worth of finished replicas.
    for (let i = 0; i < 3000 && simulatedByDeadWorker < 7; i++) await new Promise((r) => setTimeout(r, 50));
    expect(simulatedByDeadWorker).toBeGreaterThanOrEqual(7);
    gpu.kill('SIGKILL');
    const killedAtMs = Date.now();
    await new Promise((r) => gpu!.once('exit', r));
    running.push(await startWorkers({ address: server.address, config, roles: ['gpu'], identity: 'second-gpu' }));
    const disturbed = (await handle.result()) as PlanResult;

    const { output, startedAtMs } = await simulateOutcome(beamStepWorkflowId(planId, 'drug', 1));
    const recoverySeconds = (startedAtMs - killedAtMs) / 1000;
    const recomputed = simulatedByDeadWorker - output.resumedReplicas;
    console.log(
      `resume: dead worker simulated ${simulatedByDeadWorker} replicas; attempt ${output.attempt} took over ${output.resumedReplicas}, ` +
        `recomputed ${recomputed} (batch ${BATCH}), computed ${output.computedReplicas} in all; next attempt started ${recoverySeconds.toFixed(1)} s after the kill (heartbeat timeout ${HEARTBEAT_S} s)`,
    );
    expect(output.attempt).toBe(2);
    expect(recomputed).toBeGreaterThanOrEqual(0);
    expect(recomputed).toBeLessThanOrEqual(BATCH);
    expect(recoverySeconds).toBeLessThan(HEARTBEAT_S + 6);

    const undisturbed = (await client.workflow.execute('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'plan-resume-undisturbed',
      args: [{ case: await stageCase(config, caseOf(cohortDir, caseId)), settings: config.planning, requirements: await running[0]!.requirements() }],
    })) as PlanResult;
    // A checkpoint belongs to one activity execution: another run resumes nothing.
    expect(undisturbed.steps.every((s) => s.resumedReplicas === 0)).toBe(true);
    expect(decisions(disturbed)).toEqual(decisions(undisturbed));
  });
});
