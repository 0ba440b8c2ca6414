/**
 * No silent substitution between commands of one checkout: two `mewm plan` runs share the data dir,
 * the embedded server and the workflow queue, one with the guideline policy and one with an LLM
 * endpoint (a scripted OpenAI-compatible server on loopback). Each plan gets exactly its own
 * policy, and a third run that would follow a running plan under another policy is refused.
 *
 * The overlap is forced: the LLM run is held in its proposal (the endpoint answers after a delay)
 * while the guideline run starts, adopts the server and plans. With shared LLM queues (before
 * requirements) the guideline plan's proposal went to whichever worker polled first, often the
 * LLM run's, and came back as an LLM plan with exit 0.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanResult } from '../../workflows/types';
import { cliTestEnv } from '../support/cli';
import { killRunningMewm, runMewmAsync } from '../support/cli-async';
import { json, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai';
import { tempDir, writeTestCohort } from '../support/temporal';

let fake: FakeOpenAi;
let dir: string;
let caseDir: string;
let env: Record<string, string>;

const proposal = {
  observation: 'single hypervascular lesion',
  drugs: ['Epirubicin', 'Cisplatin', 'Mitomycin C'],
  embolics: ['Lipiodol', 'Gelatin sponge'],
  rationale: 'scripted',
};

beforeAll(async () => {
  dir = tempDir('concurrent-plans');
  const cohort = await writeTestCohort(dir, 1, 23);
  caseDir = join(cohort.dir, 'cases', cohort.patients[0]!.caseId);
  fake = await startFakeOpenAi();
  env = await cliTestEnv(dir, { MEWM_WORLD_MODEL: 'oracle', MEWM_ORACLE_COHORT: cohort.dir });
});

afterAll(async () => {
  killRunningMewm();
  await fake?.close();
});

function planOf(out: string): PlanResult {
  return JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as PlanResult;
}

describe('two plans at once in one checkout', () => {
  it('each gets exactly its own policy; following a running plan under another policy is refused', { timeout: 300_000 }, async () => {
    fake.fallback = { kind: 'delay', delayMs: 35_000, then: json(proposal) };
    const llmEnv = { ...env, OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'test-key', MEWM_POLICY: 'llm', MEWM_POLICY_OUTPUT: 'json_object' };
    const guidelineEnv = { ...env, MEWM_POLICY: 'guideline' };
    const llmOut = join(dir, 'out-llm');
    const guidelineOut = join(dir, 'out-guideline');

    const llmRun = runMewmAsync(dir, llmEnv, ['plan', caseDir, '--workflow-id', 'plan-llm', '--out', llmOut], 240_000);
    // The LLM run is in its proposal: its server, workers and plan are up.
    for (let i = 0; i < 1200 && fake.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(fake.requests.length).toBeGreaterThan(0);

    // Same workflow id, other policy: refused while the LLM plan runs, not followed.
    const mismatch = await runMewmAsync(dir, guidelineEnv, ['plan', caseDir, '--workflow-id', 'plan-llm', '--out', join(dir, 'out-mismatch')], 120_000);
    expect(mismatch.code, mismatch.stderr).not.toBe(0); // exit codes: src/cli (issue 13)
    expect(mismatch.stderr).toMatch(
      /^mewm: ServingMismatch: workflow plan-llm is already running with the policy llm \(http:\/\/127\.0\.0\.1:\d+\/v1, model gpt-4o/m,
    );
    expect(mismatch.stderr).toContain('not the policy guideline this command asks for');
    expect(mismatch.stderr).not.toContain('test-key');

    const guideline = await runMewmAsync(dir, guidelineEnv, ['plan', caseDir, '--workflow-id', 'plan-guideline', '--out', guidelineOut], 240_000);
    const llm = await llmRun;
    expect(guideline.code, guideline.stderr).toBe(0);
    expect(llm.code, llm.stderr).toBe(0);

    const g = planOf(guidelineOut);
    expect(g.proposal.policy.name).toBe('guideline');
    expect(g.proposal.exchanges).toBeUndefined();
    expect(g.requirements?.policy).toEqual({ kind: 'guideline' });
    expect(guideline.stdout).toContain('guideline policy');

    const l = planOf(llmOut);
    expect(l.proposal.policy.name).toBe('llm');
    expect(l.proposal.exchanges?.length).toBeGreaterThan(0);
    expect(l.requirements?.policy.kind).toBe('llm');
    expect(l.requirements?.policy.endpoint?.baseUrl).toBe(fake.baseURL);
    expect(l.requirements?.policy.endpoint?.model).toBe('gpt-4o');
    expect(JSON.stringify(l.requirements)).not.toContain('test-key');
    // Only the LLM plan asked the endpoint (once per proposal attempt), none of the guideline plan's.
    expect(fake.requests.every((r) => r.model === 'gpt-4o')).toBe(true);
    expect(l.requirements?.queues.llm).not.toBe(g.requirements?.queues.llm);
    expect(l.requirements?.queues.gpu).toBe(g.requirements?.queues.gpu);
  });
});
