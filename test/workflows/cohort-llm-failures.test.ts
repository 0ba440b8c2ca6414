/**
 * Failure behaviour of the LLM policy through Temporal, in a cohort (issue 14 item 4): an endpoint
 * that answers garbage is re-asked a bounded number of times and the plan fails as
 * PolicyOutputInvalid at once (no activity retry); one that keeps timing out is retried by
 * Temporal a bounded number of times and the plan fails as LlmUnavailable; answers outside the
 * vocabulary fail like garbage. Never an empty candidate set, and the cohort plans its other
 * patients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { ArtifactStores } from '../../src/artifacts';
import type { MewmConfig } from '../../src/config/config';
import { isValidProtocol } from '../../src/core/vocabulary';
import { createPolicy, llmEndpointConfig } from '../../src/policy/index';
import { cohortPlanWorkflowId } from '../../workflows/ids';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { CohortCaseOutcome, CohortResult, PlanResult } from '../../workflows/types';
import { content, json, startFakeOpenAi, type FakeOpenAi, type ScriptedReply } from '../support/fake-openai';
import { caseOf, stageCohort, startTemporalStack, tempDir, testConfig, writeTestCohort, type TemporalStack } from '../support/temporal';
import { writeManifest } from '../support/cases';
import { join } from 'node:path';

let fake: FakeOpenAi;
let stack: TemporalStack;
let client: Client;
let config: MewmConfig;
let manifest: string;
let ids: string[];
const stores = new ArtifactStores();

const valid = { observation: 'one lesion', drugs: ['Epirubicin', 'Raltitrexed', 'Cisplatin'], embolics: ['Lipiodol', 'Gelatin Sponge'], rationale: 'cTACE' };

beforeAll(async () => {
  const dir = tempDir('cohort-llm');
  const cohort = await writeTestCohort(dir, 4, 13);
  ids = cohort.patients.map((p) => p.caseId);
  manifest = writeManifest(
    join(cohort.dir, 'llm-manifest.jsonl'),
    ids.map((id) => {
      const c = caseOf(cohort.dir, id);
      return { ...c, mask: c.mask! };
    }),
  );
  fake = await startFakeOpenAi();
  config = testConfig(dir, cohort.dir, { planning: { drugHorizon: 1, embolicHorizon: 1 } });
  // As workers run it, with a short client timeout so that the timing-out patient is quick.
  const policy = createPolicy({
    llm: llmEndpointConfig({ baseURL: fake.baseURL, apiKey: 'test-key', model: 'fake-llm', maxRetries: 0, timeoutMs: 3_000, repairAttempts: 2 }),
  });
  stack = await startTemporalStack(dir, config, { policy });
  client = stack.client;
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
  stores.close();
});

async function outcomes(result: CohortResult): Promise<Map<string, CohortCaseOutcome>> {
  const lines: CohortCaseOutcome[] = [];
  for (const ref of result.pages) {
    const text = new TextDecoder().decode(await stores.storeFor(ref.uri).get(ref));
    for (const line of text.split('\n')) if (line.trim()) lines.push(JSON.parse(line) as CohortCaseOutcome);
  }
  return new Map(lines.map((o) => [o.caseId, o]));
}

describe('a cohort with the LLM policy on a misbehaving endpoint', () => {
  it('garbage, timeouts and out-of-vocabulary answers fail their patient typed and bounded; the others are planned', { timeout: 300_000 }, async () => {
    const attempts = config.planning.timeouts.maximumAttempts;
    // Each patient's behaviour is keyed by its prompt (the observation text), in order of first
    // appearance: with concurrency 1 the patients are planned in manifest order. Keying by prompt
    // rather than by request order keeps a request that times out from shifting the others.
    const prompts: string[] = [];
    const behaviours: ((attempt: number) => ScriptedReply)[] = [
      (n) => [content('I recommend TACE.'), content('{"drugs": [Epirubicin'), content('')][n % 3]!, // garbage
      () => ({ kind: 'delay', delayMs: 20_000, then: json(valid) }), // every Temporal attempt times out
      (n) => (n % 3 === 2 ? json({ ...valid, embolics: ['Y-90'] }) : json({ ...valid, drugs: ['Sorafenib'] })), // outside the vocabulary
      () => json(valid),
    ];
    const asked = [0, 0, 0, 0];
    fake.fallback = {
      kind: 'dynamic',
      reply: (body) => {
        const user = JSON.stringify(body.messages.find((m) => m.role === 'user')?.content);
        if (!prompts.includes(user)) prompts.push(user);
        const patient = prompts.indexOf(user);
        return behaviours[patient]!(asked[patient]!++);
      },
    };
    fake.script();
    const result = (await client.workflow.execute('runCohort', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'cohort-llm',
      args: [
        {
          cohortId: 'llm',
          cases: await stageCohort(config, 'llm', manifest),
          settings: config.planning,
          concurrency: 1,
          pageSize: 10,
          requirements: stack.requirements,
        },
      ],
    })) as CohortResult;
    expect(result).toMatchObject({ total: 4, completed: 1, failed: 3 });
    const byCase = await outcomes(result);
    expect(byCase.get(ids[0]!)).toMatchObject({ status: 'failed', errorType: 'PolicyOutputInvalid' });
    expect(byCase.get(ids[1]!)).toMatchObject({ status: 'failed', errorType: 'LlmUnavailable' });
    expect(byCase.get(ids[2]!)).toMatchObject({ status: 'failed', errorType: 'PolicyOutputInvalid' });
    expect(byCase.get(ids[3]!)).toMatchObject({ status: 'completed' });
    expect(asked).toEqual([3, attempts, 3, 1]);

    // Bounded: the garbage patient's proposal ran once (not retried); the timing-out one exactly maximumAttempts times.
    const proposeAttempts = async (caseId: string) => {
      const history = await client.workflow.getHandle(cohortPlanWorkflowId('llm', caseId)).fetchHistory();
      const scheduled = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'proposeActions');
      const started = history.events!.filter(
        (e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.scheduledEventId?.toString() === scheduled!.eventId!.toString(),
      );
      const failure = history.events!.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes?.failure;
      return { attempt: started.at(-1)?.activityTaskStartedEventAttributes?.attempt, failure };
    };
    const garbage = await proposeAttempts(ids[0]!);
    expect(garbage.attempt).toBe(1);
    expect(garbage.failure?.applicationFailureInfo).toMatchObject({ type: 'PolicyOutputInvalid', nonRetryable: true });
    expect(garbage.failure?.message).toMatch(/answered outside the schema or vocabulary 3 times/);
    const slow = await proposeAttempts(ids[1]!);
    expect(slow.attempt).toBe(attempts);
    expect(slow.failure?.applicationFailureInfo).toMatchObject({ type: 'LlmUnavailable' });

    // The planned patient: a valid protocol from a non-empty proposal, with its exchange recorded.
    const planned = (await client.workflow.getHandle(cohortPlanWorkflowId('llm', ids[3]!)).result()) as PlanResult;
    expect(planned.proposal.drugs.length).toBeGreaterThan(0);
    expect(planned.proposal.embolics.length).toBeGreaterThan(0);
    expect(isValidProtocol(planned.protocol)).toBe(true);
    expect(planned.proposal.exchanges?.[0]).toMatchObject({
      purpose: 'propose',
      model: 'fake-llm',
      promptVersion: 'propose.v1',
      attempts: 1,
      rawAnswer: JSON.stringify(valid),
    });
  });
});
