/**
 * GPU failure: the GPU worker process is SIGKILLed while a simulate activity is half done. A second
 * GPU worker picks the activity up after the heartbeat timeout, resumes from the last heartbeat
 * (finished replicas are not simulated again), and the plan ends exactly as an undisturbed run.
 * Finished beam steps are not recomputed: checked in the event histories.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { MewmConfig } from '../../src/config/config';
import type { DevServer } from '../../workers/dev-server';
import { beamStepWorkflowId } from '../../workflows/ids';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { PlanResult } from '../../workflows/types';
import {
  caseOf,
  stageCase,
  connectClient,
  startTestServer,
  startWorkers,
  tempDir,
  testConfig,
  writeTestCohort,
  type RunningWorkers,
} from '../support/temporal';

// Per simulated replica; heartbeats reach the server at most every 0.8 × 3 s, so a step must last several seconds.
const DELAY_MS = 600;
let dir: string;
let cohortDir: string;
let caseId: string;
let server: DevServer;
let client: Client;
let config: MewmConfig;
const running: RunningWorkers[] = [];
let gpuProcess: ChildProcess | undefined;

beforeAll(async () => {
  dir = tempDir('gpu-failure');
  const cohort = await writeTestCohort(dir, 1, 21);
  cohortDir = cohort.dir;
  caseId = cohort.patients[0]!.caseId;
  config = testConfig(dir, cohortDir, {
    planning: {
      simulateBatchReplicas: 1,
      timeouts: { gpuStartToCloseS: 300, gpuHeartbeatS: 3, cpuStartToCloseS: 120, llmStartToCloseS: 120, maximumAttempts: 10, initialRetryIntervalS: 0.2 },
    },
  });
  server = await startTestServer(join(dir, 'temporal.sqlite'));
  client = await connectClient(server.address);
  running.push(await startWorkers({ address: server.address, config, roles: ['cpu', 'llm'] }));
});

afterAll(async () => {
  gpuProcess?.kill('SIGKILL');
  for (const w of running) await w.stop();
  await client?.connection.close();
  await server?.stop();
});

function startGpuProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'support', 'gpu-worker-process.ts')], {
    env: { ...process.env, MEWM_TEST_CONFIG: JSON.stringify(config), MEWM_TEST_ADDRESS: server.address, MEWM_TEST_DELAY_MS: String(DELAY_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`GPU worker process exited early (${code})`)));
  });
}

/** Finished replicas in the last heartbeat of the pending simulate activity of a beam step, or -1. */
async function heartbeatedReplicas(stepWorkflowId: string): Promise<number> {
  try {
    const description = await client.workflow.getHandle(stepWorkflowId).describe();
    const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'simulateCandidates');
    const payload = pending?.heartbeatDetails?.payloads?.[0];
    if (!payload) return -1;
    const details = defaultPayloadConverter.fromPayload<{ done: Record<string, unknown> }>(payload as never);
    return Object.keys(details.done).length;
  } catch {
    return -1; // the step has not started yet
  }
}

function decisions(result: PlanResult) {
  return {
    protocol: result.protocol,
    risk: result.risk,
    beams: result.beams,
    steps: result.steps.map(({ workflowId: _w, audit: _a, computedReplicas: _c, resumedReplicas: _r, ...rest }) => rest),
  };
}

async function activityAttempts(workflowId: string, activityType: string): Promise<number[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  const attempts: number[] = [];
  for (const event of history.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(event.eventId), s.activityType?.name ?? '');
    const started = event.activityTaskStartedEventAttributes;
    if (started && scheduled.get(String(started.scheduledEventId)) === activityType) attempts.push(started.attempt ?? 0);
  }
  return attempts;
}

describe('GPU worker killed mid-simulation', () => {
  it('finishes on a second worker with the undisturbed result, resuming from the heartbeat', { timeout: 180_000 }, async () => {
    gpuProcess = await startGpuProcess();
    const planId = 'plan-gpu-killed';
    const handle = await client.workflow.start('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: planId,
      args: [{ case: await stageCase(config, caseOf(cohortDir, caseId)), settings: config.planning, requirements: await running[0]!.requirements() }],
    });

    // Wait until the second drug step's simulation has finished a few replicas, then kill the worker.
    const victim = beamStepWorkflowId(planId, 'drug', 2);
    let done = -1;
    for (let i = 0; i < 900 && done < 2; i++) {
      done = await heartbeatedReplicas(victim);
      if (done < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(done).toBeGreaterThanOrEqual(2);
    gpuProcess.kill('SIGKILL');
    await new Promise((r) => gpuProcess!.once('exit', r));

    // The second GPU worker is not slowed: timing must not change any result.
    running.push(await startWorkers({ address: server.address, config, roles: ['gpu'], identity: 'second-gpu' }));
    const disturbed = (await handle.result()) as PlanResult;

    // The interrupted step: a second attempt that took over the heartbeated replicas.
    const interrupted = disturbed.steps.find((s) => s.phase === 'drug' && s.step === 2)!;
    expect(await activityAttempts(victim, 'simulateCandidates')).toEqual([2]);
    expect(interrupted.resumedReplicas).toBeGreaterThanOrEqual(2);
    expect(interrupted.resumedReplicas + interrupted.computedReplicas).toBe(interrupted.candidates * config.planning.replicas);
    // The step finished before the kill ran once: one attempt, nothing resumed, no second child run.
    expect(await activityAttempts(beamStepWorkflowId(planId, 'drug', 1), 'simulateCandidates')).toEqual([1]);
    expect(disturbed.steps[0]!.resumedReplicas).toBe(0);
    const parentHistory = await client.workflow.getHandle(planId).fetchHistory();
    const childStarts = (parentHistory.events ?? [])
      .filter((e) => e.childWorkflowExecutionStartedEventAttributes)
      .map((e) => e.childWorkflowExecutionStartedEventAttributes!.workflowExecution!.workflowId);
    expect(childStarts).toEqual([beamStepWorkflowId(planId, 'drug', 1), beamStepWorkflowId(planId, 'drug', 2), beamStepWorkflowId(planId, 'embolic', 1)]);

    const undisturbed = (await client.workflow.execute('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'plan-gpu-undisturbed',
      args: [{ case: await stageCase(config, caseOf(cohortDir, caseId)), settings: config.planning, requirements: await running[0]!.requirements() }],
    })) as PlanResult;
    expect(undisturbed.steps.every((s) => s.resumedReplicas === 0)).toBe(true);
    expect(decisions(disturbed)).toEqual(decisions(undisturbed));
  });
});
