/**
 * Recorded histories (test/replay/histories, recorded by record-histories.ts) replay against the
 * current workflow code without nondeterminism errors. A failure here means a code change would
 * break workflows already running in production: version it with patched() instead.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import type { BeamStepInput, PlanWorkflowInput } from '../../workflows/types';
import { workflowBundle } from '../support/temporal';

const dir = join(import.meta.dirname, 'histories');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('replay of recorded histories', () => {
  it('has the committed histories', () => {
    // plan-replay-BAD-0001, replay-cohort, replay-plan*: recorded before requirements (inputs without
    // them, activities on the shared queues); *replay-req-*: with requirements.
    expect(files).toEqual([
      'plan-replay-BAD-0001.json',
      'plan-replay-req-BAD-0001.json',
      'replay-cohort.json',
      'replay-plan--drug-1.json',
      'replay-plan.json',
      'replay-req-cohort.json',
      'replay-req-plan--drug-1.json',
      'replay-req-plan.json',
    ]);
  });

  it('routes the GPU and LLM activities of a plan with requirements to the queues they name, and the older ones to the shared queues', () => {
    const scheduled = (file: string) => {
      const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
      const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
      const input = defaultPayloadConverter.fromPayload<PlanWorkflowInput & BeamStepInput>(started.input!.payloads![0]!);
      const queues = history
        .events!.filter((e) => e.activityTaskScheduledEventAttributes)
        .map((e) => ({ type: e.activityTaskScheduledEventAttributes!.activityType!.name!, queue: e.activityTaskScheduledEventAttributes!.taskQueue!.name! }));
      return { input, queues };
    };
    const plan = scheduled('replay-req-plan.json');
    expect(plan.input.requirements?.schema).toBe('mewm.requirements/1');
    expect(plan.queues).toContainEqual({ type: 'proposeActions', queue: plan.input.requirements!.queues.llm });
    expect(plan.input.requirements!.queues.llm).toMatch(/^mewm-llm-[0-9a-f]{16}$/);
    const step = scheduled('replay-req-plan--drug-1.json');
    for (const type of ['simulateCandidates', 'segmentReplicas', 'scoreReplicas'])
      expect(step.queues).toContainEqual({ type, queue: step.input.requirements!.queues.gpu });
    expect(step.input.requirements).toEqual(plan.input.requirements);
    const legacy = scheduled('replay-plan.json');
    expect(legacy.input.requirements).toBeUndefined();
    expect(legacy.queues).toContainEqual({ type: 'proposeActions', queue: 'mewm-llm' });
    expect(scheduled('replay-plan--drug-1.json').queues).toContainEqual({ type: 'simulateCandidates', queue: 'mewm-gpu' });
  });

  it('replays every history without nondeterminism', { timeout: 120_000 }, async () => {
    const histories = files.map((file) => ({
      workflowId: file.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8'))),
    }));
    const results: { workflowId: string; error?: unknown }[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) results.push(result);
    expect(results.map((r) => r.workflowId).sort()).toEqual(files.map((f) => f.replace(/\.json$/, '')).sort());
    for (const r of results) expect(r.error, `${r.workflowId}: ${String(r.error)}`).toBeUndefined();
  });
});
