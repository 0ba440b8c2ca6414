/**
 * The LLM task queue with the LLM policy over real HTTP: a scripted OpenAI-compatible endpoint on
 * loopback first fails (HTTP 500, retried), then proposes candidates that break a clinical rule.
 * The plan completes, searches only rule-valid combinations and records the removal.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import type { MewmConfig } from '../../src/config/config';
import { isValidProtocol } from '../../src/core/vocabulary';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { PlanResult } from '../../workflows/types';
import { fakeLlmPolicy, json, startFakeOpenAi, status, type FakeOpenAi } from '../support/fake-openai';
import { caseOf, stageCase, startTemporalStack, tempDir, testConfig, writeTestCohort, type TemporalStack } from '../support/temporal';

let fake: FakeOpenAi;
let stack: TemporalStack;
let client: Client;
let config: MewmConfig;
let cohortDir: string;
let caseId: string;

beforeAll(async () => {
  const dir = tempDir('plan-llm');
  const cohort = await writeTestCohort(dir, 1, 17);
  cohortDir = cohort.dir;
  caseId = cohort.patients[0]!.caseId;
  fake = await startFakeOpenAi();
  config = testConfig(dir, cohortDir, { planning: { drugHorizon: 2, embolicHorizon: 1 } });
  stack = await startTemporalStack(dir, config, { policy: fakeLlmPolicy(fake) });
  client = stack.client;
});

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
});

describe('planTreatment with the LLM policy', () => {
  it('retries a failing endpoint through Temporal, enforces the rules on its answer, and plans', async () => {
    fake.script(
      status(500),
      json({
        observation: 'single hypervascular lesion',
        drugs: ['Cisplatin', 'Oxaliplatin', 'Epirubicin'],
        embolics: ['Lipiodol', 'Gelatin sponge'],
        rationale: 'platinum plus anthracycline, emulsified',
      }),
    );
    const result = (await client.workflow.execute('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'plan-llm',
      args: [{ case: await stageCase(config, caseOf(cohortDir, caseId)), settings: config.planning, requirements: stack.requirements }],
    })) as PlanResult;
    expect(result.proposal.policy.name).toMatch(/^llm/);
    expect(fake.requests.length).toBeGreaterThanOrEqual(2); // the 500 was retried
    // The LLM saw the key slice rendered at ingest.
    const user = fake.requests.at(-1)!.messages.find((m) => m.role === 'user')!;
    expect(JSON.stringify(user.content)).toContain('data:image/png;base64,');
    // Two platinum agents: one was removed before the search, and the removal is recorded.
    expect(result.proposal.drugs.filter((d) => d === 'cisplatin' || d === 'oxaliplatin')).toHaveLength(1);
    expect(result.proposal.removals.some((r) => r.rule === 'single-platinum')).toBe(true);
    expect(isValidProtocol(result.protocol)).toBe(true);
    expect(result.protocol.embolics.every((e) => e === 'lipiodol' || e === 'gelatin-sponge')).toBe(true);
  });
});
