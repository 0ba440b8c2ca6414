/**
 * What a plan asks for and what a worker serves (workers/serving.ts, src/core/serving.ts): the two
 * sides compute the same requirement from the same configuration (else a plan would wait on a
 * queue nobody polls), queues differ exactly when requirements do, no key reaches a requirement,
 * and a worker refuses a task it cannot serve with a final ServingMismatch.
 */
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { createWorldModel } from '../../src/backends/world-model';
import { resolveConfig } from '../../src/config/config';
import { canonicalJson, servingMismatch } from '../../src/core/serving';
import { llmEndpointConfig } from '../../src/policy/config';
import { createPolicy } from '../../src/policy/index';
import { describeFailure } from '../../src/cli/command';
import { refusingOthers } from '../../workers/activities';
import { TASK_QUEUES } from '../../workflows/task-queues';
import {
  planRequirements,
  policyRequirementOf,
  policyRequirementOfPolicy,
  servingQueues,
  unservedQueues,
  worldModelRequirementFromConfig,
  worldModelRequirementOf,
} from '../../workers/serving';
import { caseOf, connectClient, stageCase, startTestServer, startWorkers, tempDir, testConfig, writeTestCohort } from '../support/temporal';

const llm = (overrides: Parameters<typeof llmEndpointConfig>[0] = {}) => ({
  llm: llmEndpointConfig({ baseURL: 'http://127.0.0.1:8080/v1', apiKey: 'sk-secret', model: 'local-model', ...overrides }),
});

describe('policy requirements', () => {
  it('name the endpoint without credentials, query or key', () => {
    const requirement = policyRequirementOf(llm({ baseURL: 'https://user:pw@llm.example.org/v1/?api-key=abc#x' }));
    expect(requirement.endpoint?.baseUrl).toBe('https://llm.example.org/v1');
    const text = canonicalJson(requirement);
    for (const secret of ['sk-secret', 'pw', 'abc', 'user']) expect(text).not.toContain(secret);
  });

  it('give one queue per policy: equal configurations share it, any result-changing difference splits it', () => {
    const world = {
      backend: 'oracle' as const,
      dynamics: { name: 'd', version: '1', sha256: 'a' },
      assistant: { name: 'a', version: '1', sha256: 'a' },
      heuristic: { name: 'h', version: '1', sha256: 'a' },
    };
    const queue = (p: Parameters<typeof policyRequirementOf>[0]) => servingQueues(policyRequirementOf(p), world).llm;
    expect(queue(llm())).toBe(queue(llm()));
    expect(queue(llm())).toBe(queue(llm({ apiKey: 'another-key', timeoutMs: 5 }))); // the key and timeouts do not change answers
    const others = [
      queue({}),
      queue({ actionBase: true }),
      queue(llm({ model: 'other' })),
      queue(llm({ baseURL: 'http://127.0.0.1:8081/v1' })),
      queue(llm({ outputMode: 'none' })),
      queue(llm({ maxTokens: 64 })),
    ];
    expect(new Set([queue(llm()), ...others]).size).toBe(others.length + 1);
    expect(queue({})).toMatch(/^mewm-llm-[0-9a-f]{16}$/);
  });

  it('of a policy object are exact for guideline and action-base, and never stand in for a configured endpoint', () => {
    expect(policyRequirementOfPolicy(createPolicy({}))).toEqual(policyRequirementOf({}));
    expect(policyRequirementOfPolicy(createPolicy({ actionBase: true }))).toEqual(policyRequirementOf({ actionBase: true }));
    expect(canonicalJson(policyRequirementOfPolicy(createPolicy(llm())))).not.toBe(canonicalJson(policyRequirementOf(llm())));
  });
});

describe('world-model requirements', () => {
  it('are the same from the configuration (the starter) and from the loaded model (the worker): oracle', async () => {
    const dir = tempDir('serving-oracle');
    const cohort = await writeTestCohort(dir, 1, 3);
    const config = testConfig(dir, cohort.dir);
    const world = await createWorldModel(config.worldModel);
    try {
      expect(await worldModelRequirementFromConfig(config.worldModel)).toEqual(await worldModelRequirementOf(world, config.worldModel));
    } finally {
      await world.close();
    }
    const cached = await worldModelRequirementFromConfig({ ...config.worldModel, oracleLabelCache: true });
    expect(servingQueues({ kind: 'guideline' }, cached).gpu).not.toBe(
      servingQueues({ kind: 'guideline' }, await worldModelRequirementFromConfig(config.worldModel)).gpu,
    );
  });

  it('are the same from the configuration and from the loaded model: ONNX demo models, and the sampler splits the queue', { timeout: 120_000 }, async () => {
    const config = resolveConfig({ cwd: tempDir('serving-onnx'), env: {}, overrides: { log: { level: 'warn', pretty: false } } }).worldModel;
    expect(config.backend).toBe('onnx');
    const world = await createWorldModel(config);
    try {
      const fromConfig = await worldModelRequirementFromConfig(config);
      expect(fromConfig).toEqual(await worldModelRequirementOf(world, config));
      expect(fromConfig.dynamics.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(fromConfig.runtime?.sampler).toEqual({ method: 'dpm-solver++', steps: 10 });
      // The default sampler spelled out is the same requirement; other steps are not.
      const spelled = await worldModelRequirementFromConfig({ ...config, sampler: { method: 'dpm-solver++', steps: 10 } });
      expect(spelled).toEqual(fromConfig);
      const moreSteps = await worldModelRequirementFromConfig({ ...config, sampler: { method: 'dpm-solver++', steps: 25 } });
      expect(servingQueues({ kind: 'guideline' }, moreSteps).gpu).not.toBe(servingQueues({ kind: 'guideline' }, fromConfig).gpu);
    } finally {
      await world.close();
    }
  });
});

describe('a worker that cannot serve what a task asks for', () => {
  const served = policyRequirementOf({});
  const calls: unknown[] = [];
  const activities = refusingOthers('policy', served, {
    proposeActions: async (input: unknown) => {
      calls.push(input);
      return 'proposed';
    },
  });

  it('refuses it before doing anything: ServingMismatch, non-retryable, naming both sides and no key', async () => {
    calls.length = 0;
    const asked = policyRequirementOf(llm());
    const error = await activities.proposeActions!({ caseId: 'SYN-1', requires: asked }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    const failure = error as ApplicationFailure;
    expect(failure.type).toBe('ServingMismatch');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe(`case SYN-1: ${servingMismatch('policy', asked, served)}; start a worker with that configuration`);
    expect(failure.message).toContain('http://127.0.0.1:8080/v1, model local-model');
    expect(failure.message).not.toContain('sk-secret');
    expect(calls).toHaveLength(0);
  });

  it('serves exactly what it has, and inputs from before requirements', async () => {
    calls.length = 0;
    await expect(activities.proposeActions!({ caseId: 'SYN-1', requires: policyRequirementOf({}) })).resolves.toBe('proposed');
    await expect(activities.proposeActions!({ caseId: 'SYN-1' })).resolves.toBe('proposed');
    expect(calls).toHaveLength(2);
  });

  it('plan requirements carry both queues', () => {
    const world = {
      backend: 'oracle' as const,
      dynamics: { name: 'd', version: '1', sha256: 'a' },
      assistant: { name: 'a', version: '1', sha256: 'a' },
      heuristic: { name: 'h', version: '1', sha256: 'a' },
    };
    const r = planRequirements(served, world);
    expect(r.queues).toEqual(servingQueues(served, world));
    expect(r.queues.gpu).toMatch(/^mewm-gpu-[0-9a-f]{16}$/);
  });
});

describe('a plan whose workers run elsewhere', () => {
  it('is told which of its queues no worker polls', { timeout: 120_000 }, async () => {
    const dir = tempDir('serving-unserved');
    const cohort = await writeTestCohort(dir, 1, 5);
    const config = testConfig(dir, cohort.dir);
    const server = await startTestServer(join(dir, 'temporal.sqlite'));
    const client = await connectClient(server.address);
    try {
      const requirements = planRequirements(policyRequirementOf({}), await worldModelRequirementFromConfig(config.worldModel));
      const before = await unservedQueues(client, 'default', requirements);
      expect(before).toHaveLength(2);
      expect(before[0]).toContain(`no worker polls ${requirements.queues.gpu} (world model oracle`);
      expect(before[1]).toContain(`no worker polls ${requirements.queues.llm} (policy guideline)`);
      const workers = await startWorkers({ address: server.address, config, roles: ['llm'], overrides: { policyConfig: {} } });
      try {
        let after = before;
        for (let i = 0; i < 50 && after.length !== 1; i++) {
          await new Promise((r) => setTimeout(r, 200));
          after = await unservedQueues(client, 'default', requirements);
        }
        expect(after).toEqual([before[0]]);
      } finally {
        await workers.stop();
      }
    } finally {
      await client.connection.close();
      await server.stop();
    }
  });
});

describe('a task that reaches a worker that cannot serve it', () => {
  it('fails the plan at once with ServingMismatch, printed intact with its case', { timeout: 180_000 }, async () => {
    const dir = tempDir('serving-refusal');
    const cohort = await writeTestCohort(dir, 1, 9);
    const caseId = cohort.patients[0]!.caseId;
    const config = testConfig(dir, cohort.dir);
    const server = await startTestServer(join(dir, 'temporal.sqlite'));
    const client = await connectClient(server.address);
    const workers = await startWorkers({ address: server.address, config, roles: ['cpu', 'llm'], overrides: { policyConfig: {} } });
    try {
      const served = await workers.requirements();
      // Asks for an LLM endpoint but names the guideline workers' queue (as a hand-configured queue would).
      const asked = policyRequirementOf(llm());
      const requirements = { ...served, policy: asked };
      const error = await client.workflow
        .execute('planTreatment', {
          taskQueue: TASK_QUEUES.cpu,
          workflowId: 'plan-refused',
          args: [{ case: await stageCase(config, caseOf(cohort.dir, caseId)), settings: config.planning, requirements }],
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const { code, message } = describeFailure(error);
      expect(code).toBe('ServingMismatch');
      expect(message).toBe(`case ${caseId}: ${servingMismatch('policy', asked, served.policy)}; start a worker with that configuration`);
      expect(message).not.toContain('sk-secret');
      // Final on the first attempt: one proposeActions attempt in the history.
      const history = await client.workflow.getHandle('plan-refused').fetchHistory();
      const failed = history.events!.filter((e) => e.activityTaskFailedEventAttributes);
      expect(failed).toHaveLength(1);
    } finally {
      await workers.stop();
      await client.connection.close();
      await server.stop();
    }
  });
});
