/**
 * Errors that reach the user (issue 11): `reportFailure` prints the typed code and the original
 * message of the innermost failure in one line, with the right case id said once. First on a
 * hand-built chain of Temporal's own failure classes (the child-workflow path), then on real
 * plan workflows failing for a garbage LLM answer, a NaN CT and a mask on the wrong grid.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState, TerminatedFailure } from '@temporalio/common';
import { describeFailure, reportFailure } from '../../src/cli/command';
import type { MewmConfig } from '../../src/config/config';
import { MewmError } from '../../src/core/errors';
import { makeVolume } from '../../src/core/volume/volume';
import { encodeNifti, readNifti } from '../../src/io/nifti';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { fakeLlmPolicy, json, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai';
import { caseOf, stageCase, startTemporalStack, tempDir, testConfig, writeTestCohort, type TemporalStack } from '../support/temporal';

/** What reportFailure writes to stderr (its exit code: test/cli/command.test.ts). */
function printed(error: unknown): string {
  const original = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    reportFailure(error);
  } finally {
    process.stderr.write = original;
  }
  return text;
}

function chain(inner: Error): Error {
  const activity = new ActivityFailure('Activity task failed', 'simulateCandidates', '3', RetryState.NON_RETRYABLE_FAILURE, 'worker-1', inner);
  const child = new ChildWorkflowFailure('default', { workflowId: 'plan-X-step-1', runId: 'r' }, 'beamStep', RetryState.NON_RETRYABLE_FAILURE, activity);
  const plan = ApplicationFailure.create({
    type: inner instanceof ApplicationFailure ? (inner.type ?? 'Internal') : 'Internal',
    message: `case SYN-1-0001: ${inner.message}`,
    nonRetryable: true,
    cause: child,
  });
  return new WorkflowFailedError('Workflow execution failed', plan, RetryState.NON_RETRYABLE_FAILURE);
}

describe('describeFailure on Temporal failure chains', () => {
  it('workflow → child → activity → application failure: the typed code and original message, case said once', () => {
    const inner = ApplicationFailure.create({
      type: 'ModelContract',
      message: 'case SYN-1-0001: the dynamics model returned 3 channels, 1 expected',
      nonRetryable: true,
    });
    expect(printed(chain(inner))).toBe('mewm: ModelContract: case SYN-1-0001: the dynamics model returned 3 channels, 1 expected\n');
  });

  it('an inner message without the case gets the case id of the plan (never "unknown-case")', () => {
    const inner = ApplicationFailure.create({ type: 'LlmUnavailable', message: 'the LLM endpoint answered HTTP 503 three times', nonRetryable: false });
    expect(describeFailure(chain(inner))).toEqual({
      code: 'LlmUnavailable',
      message: 'case SYN-1-0001: the LLM endpoint answered HTTP 503 three times',
      caseId: 'SYN-1-0001',
    });
  });

  it('a message naming the case with a role ("case X CT: …") is not prefixed again', () => {
    const inner = ApplicationFailure.create({ type: 'InvalidVolume', message: 'case SYN-1-0001 CT: is all-constant', nonRetryable: true });
    expect(describeFailure(chain(inner)).message).toBe('case SYN-1-0001 CT: is all-constant');
  });

  it('a terminated workflow says Terminated; a plain MewmError keeps its code; anything else is Internal', () => {
    expect(
      describeFailure(
        new WorkflowFailedError('Workflow execution failed', new TerminatedFailure('Terminated by the operator'), RetryState.NON_RETRYABLE_FAILURE),
      ).code,
    ).toBe('Terminated');
    expect(printed(new MewmError('InvalidConfig', 'MEWM_BEAMS must be a positive integer'))).toBe(
      'mewm: InvalidConfig: MEWM_BEAMS must be a positive integer\n',
    );
    expect(printed(new Error('boom\nsecond line'))).toBe('mewm: Internal: boom second line\n');
  });
});

describe('real plan failures printed by the CLI', () => {
  let fake: FakeOpenAi;
  let stack: TemporalStack;
  let config: MewmConfig;
  let cohortDir: string;
  let caseId: string;
  let dir: string;

  beforeAll(async () => {
    dir = tempDir('errors-reach-user');
    const cohort = await writeTestCohort(dir, 1, 31);
    cohortDir = cohort.dir;
    caseId = cohort.patients[0]!.caseId;
    fake = await startFakeOpenAi();
    config = testConfig(dir, cohortDir, { planning: { drugHorizon: 1, embolicHorizon: 1, previews: false } });
    stack = await startTemporalStack(dir, config, { policy: fakeLlmPolicy(fake) });
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
    await fake?.close();
  });

  async function planFailure(workflowId: string, input: { ct: string; mask?: string }): Promise<string> {
    const error = await stack.client.workflow
      .execute('planTreatment', {
        taskQueue: TASK_QUEUES.cpu,
        workflowId,
        args: [{ case: await stageCase(config, { caseId, ...input }), settings: config.planning, requirements: stack.requirements }],
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    return printed(error);
  }

  it('a garbage LLM answer: PolicyOutputInvalid with the policy’s own message', async () => {
    fake.script();
    fake.fallback = json({ hello: 'world' });
    const line = await planFailure('errors-llm', caseOf(cohortDir, caseId));
    expect(line).toMatch(
      new RegExp(`^mewm: PolicyOutputInvalid: .*case ${caseId}: the model answered outside the schema or vocabulary \\d+ times; last problem: .+\\n$`),
    );
    expect(line).not.toContain(`case ${caseId}: case ${caseId}`);
    expect(line.split('\n')).toHaveLength(2);
  });

  it('a CT with a NaN voxel: InvalidVolume naming the case CT', async () => {
    const ct = await readNifti(caseOf(cohortDir, caseId).ct);
    const data = Float32Array.from(ct.data);
    data[100] = Number.NaN;
    const path = join(dir, 'nan-ct.nii.gz');
    writeFileSync(path, encodeNifti(makeVolume(data, ct.shape, ct.affine), { gzip: true }));
    const line = await planFailure('errors-nan', { ct: path, mask: caseOf(cohortDir, caseId).mask! });
    expect(line).toBe(
      `mewm: InvalidVolume: case ${caseId} CT: holds 1 NaN or infinite voxels; a CT in HU has finite values everywhere (replace them with -1024, air)\n`,
    );
  });

  it('a mask on another grid: InvalidInput, the case said once', async () => {
    const mask = await readNifti(caseOf(cohortDir, caseId).mask!);
    const path = join(dir, 'shifted-mask.nii.gz');
    const shifted = [...mask.affine];
    shifted[3] = shifted[3]! + 7;
    writeFileSync(path, encodeNifti(makeVolume(mask.data, mask.shape, shifted), { gzip: true }));
    const line = await planFailure('errors-grid', { ct: caseOf(cohortDir, caseId).ct, mask: path });
    expect(line).toMatch(new RegExp(`^mewm: InvalidInput: case ${caseId}: the mask is not on the CT's grid`));
    expect(line).not.toContain(`case ${caseId}: case ${caseId}`);
    expect(line).not.toContain('unknown-case');
  });
});
