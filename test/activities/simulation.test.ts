/**
 * GPU activities in an activity context (MockActivityEnvironment) with the real oracle world
 * model and a real local artifact store: batching, heartbeated progress, resumption from an
 * earlier attempt's heartbeat, and typed failures.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCaseActivities } from '../../activities/case';
import { writeCaseSource } from '../../activities/case-source';
import { createSimulationActivities } from '../../activities/simulation';
import { ArtifactStores, LocalArtifactStore } from '../../src/artifacts';
import type { ArtifactRef } from '../../src/artifacts/store';
import { deriveSeed } from '../../src/core/random';
import type { SimulationRequest, WorldModel } from '../../src/models/world-model';
import { createWorldModel } from '../../src/backends/world-model';
import { observeTumour } from '../../src/policy/observation';
import type { RoiArtifacts } from '../../workflows/types';
import { caseOf, tempDir, writeTestCohort } from '../support/temporal';

/** MockActivityEnvironment.run with the activity's own input and output types. */
function run<I, O>(env: MockActivityEnvironment, fn: (input: I) => Promise<O>, input: I): Promise<O> {
  return env.run(fn, input) as Promise<O>;
}

const silent = { info() {}, warn() {}, error() {}, debug() {} };
let world: WorldModel;
let roi: RoiArtifacts;
let store: LocalArtifactStore;
let caseId: string;
const artifacts = new ArtifactStores();
const calls: number[][] = [];

beforeAll(async () => {
  const dir = tempDir('activities');
  const cohort = await writeTestCohort(dir, 1, 5);
  caseId = cohort.patients[0]!.caseId;
  const oracle = await createWorldModel({ backend: 'oracle', oracleCohortDir: cohort.dir, modelDir: null });
  // Records the seeds of every simulate call, to see what an attempt actually computed.
  world = {
    ...oracle,
    dynamics: {
      identity: oracle.dynamics.identity,
      simulate: async (requests: readonly SimulationRequest[]) => {
        calls.push(requests.flatMap((r) => r.seeds));
        return oracle.dynamics.simulate(requests);
      },
    },
  };
  store = new LocalArtifactStore(join(dir, 'artifacts'));
  const { prepareCase } = createCaseActivities({ store, artifacts, log: silent, observe: observeTumour });
  const prepared = await prepareCase({ case: await writeCaseSource(store, caseOf(cohort.dir, caseId)), roiSize: [24, 24, 16], roiSpacingMm: 4 });
  if (prepared.kind !== 'prepared') throw new Error('expected a prepared case');
  roi = prepared.prepared.roi;
});

const candidates = () => [
  { key: 'drug/1/b0/cisplatin', protocol: { drugs: ['cisplatin' as const], embolics: [] }, seeds: [1, 2, 3].map((r) => deriveSeed(9, r)) },
  { key: 'drug/1/b0/epirubicin', protocol: { drugs: ['epirubicin' as const], embolics: [] }, seeds: [4, 5, 6].map((r) => deriveSeed(9, r)) },
];

describe('simulateCandidates', () => {
  it('batches replicas, heartbeats finished ones, and is reproducible', async () => {
    const heartbeats: unknown[] = [];
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const { simulateCandidates } = createSimulationActivities({ world, store, artifacts, log: silent });
    calls.length = 0;
    const out = await run(env, simulateCandidates, { caseId, roi, candidates: candidates(), batchReplicas: 4 });
    expect(calls.map((c) => c.length)).toEqual([4, 2]);
    expect(out.cts.map((c) => c.length)).toEqual([3, 3]);
    expect(out).toMatchObject({ computedReplicas: 6, resumedReplicas: 0, attempt: 1 });
    expect(heartbeats).toHaveLength(2);
    expect(Object.keys((heartbeats[1] as { done: object }).done)).toHaveLength(6);
    const again = await run(new MockActivityEnvironment(), simulateCandidates, { caseId, roi, candidates: candidates(), batchReplicas: 6 });
    expect(again.cts).toEqual(out.cts); // content-addressed: same seeds, same bytes, same refs
  });

  it('a retried attempt takes over the replicas of the previous heartbeat and computes only the rest', async () => {
    const { simulateCandidates } = createSimulationActivities({ world, store, artifacts, log: silent });
    const full = await run(new MockActivityEnvironment(), simulateCandidates, { caseId, roi, candidates: candidates(), batchReplicas: 1 });
    const done: Record<string, ArtifactRef> = {
      'drug/1/b0/cisplatin#0': full.cts[0]![0]!,
      'drug/1/b0/cisplatin#2': full.cts[0]![2]!,
      'drug/1/b0/epirubicin#1': full.cts[1]![1]!,
    };
    calls.length = 0;
    // Another activity execution (its own id): the first run's store checkpoint is not its own, only the heartbeat counts.
    const resumed = await run(new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { done }, activityId: 'heartbeat-only' }), simulateCandidates, {
      caseId,
      roi,
      candidates: candidates(),
      batchReplicas: 8,
    });
    expect(resumed).toMatchObject({ computedReplicas: 3, resumedReplicas: 3, attempt: 2 });
    expect(calls.flat().sort()).toEqual([candidates()[0]!.seeds[1]!, candidates()[1]!.seeds[0]!, candidates()[1]!.seeds[2]!].sort());
    expect(resumed.cts).toEqual(full.cts);
  });

  it('a retry of the same execution takes over what its first attempt checkpointed to the store, even with no heartbeat', async () => {
    const { simulateCandidates } = createSimulationActivities({ world, store, artifacts, log: silent });
    const info = { activityId: 'checkpointed', workflowExecution: { workflowId: 'plan-cp', runId: 'run-cp' } };
    const first = await run(new MockActivityEnvironment({ ...info, attempt: 1 }), simulateCandidates, {
      caseId,
      roi,
      candidates: candidates(),
      batchReplicas: 2,
    });
    calls.length = 0;
    const retried = await run(new MockActivityEnvironment({ ...info, attempt: 2 }), simulateCandidates, {
      caseId,
      roi,
      candidates: candidates(),
      batchReplicas: 2,
    });
    expect(retried).toMatchObject({ computedReplicas: 0, resumedReplicas: 6, attempt: 2 });
    expect(calls).toEqual([]);
    expect(retried.cts).toEqual(first.cts);
    // Another run of the same workflow id does not inherit it.
    const otherRun = await run(
      new MockActivityEnvironment({ ...info, workflowExecution: { workflowId: 'plan-cp', runId: 'run-2' }, attempt: 2 }),
      simulateCandidates,
      { caseId, roi, candidates: candidates(), batchReplicas: 2 },
    );
    expect(otherRun.resumedReplicas).toBe(0);
  });

  it('turns a bad configuration into a non-retryable ApplicationFailure typed by its MewmError code', async () => {
    const { simulateCandidates } = createSimulationActivities({ world, store, artifacts, log: silent });
    const error = await run(new MockActivityEnvironment(), simulateCandidates, { caseId, roi, candidates: candidates(), batchReplicas: 0 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'InvalidConfig', nonRetryable: true });
  });

  it('an unknown case is rejected by the oracle as InvalidInput, not retried', async () => {
    const { simulateCandidates } = createSimulationActivities({ world, store, artifacts, log: silent });
    const error = await run(new MockActivityEnvironment(), simulateCandidates, { caseId: 'NOT-A-CASE', roi, candidates: candidates(), batchReplicas: 2 }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  });
});

describe('segmentReplicas and scoreReplicas', () => {
  it('segment and score every replica, resuming scores from a heartbeat', async () => {
    const acts = createSimulationActivities({ world, store, artifacts, log: silent });
    const sim = await run(new MockActivityEnvironment(), acts.simulateCandidates, { caseId, roi, candidates: candidates(), batchReplicas: 6 });
    const cts = sim.cts.flat();
    const seg = await run(new MockActivityEnvironment(), acts.segmentReplicas, { caseId, cts, batch: 2 });
    expect(seg.labels).toHaveLength(6);
    const posts = cts.map((ct, i) => ({ ct, labels: seg.labels[i]! }));
    const scored = await run(new MockActivityEnvironment(), acts.scoreReplicas, { caseId, roi, posts });
    expect(scored.risks.every(Number.isFinite)).toBe(true);
    const key = `${posts[0]!.ct.sha256}:${posts[0]!.labels.sha256}`;
    const resumed = await run(new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { done: { [key]: 123.5 } } }), acts.scoreReplicas, {
      caseId,
      roi,
      posts,
    });
    expect(resumed.resumed).toBe(1);
    expect(resumed.risks[0]).toBe(123.5); // taken from the heartbeat, not recomputed
    expect(resumed.risks.slice(1)).toEqual(scored.risks.slice(1));
  });

  it('hands the ROI labels and the margin to the assistant when the plan asks for focused segmentation, and keeps the input order', async () => {
    const seen: { focus?: { marginMm: number; preShape: readonly number[] } }[] = [];
    const recording: WorldModel = {
      ...world,
      parallelism: 2,
      assistant: {
        identity: world.assistant.identity,
        segment: async (input) => {
          seen.push({ ...(input.focus ? { focus: { marginMm: input.focus.marginMm, preShape: input.focus.preLabels.shape } } : {}) });
          return world.assistant.segment(input);
        },
      },
    };
    const acts = createSimulationActivities({ world: recording, store, artifacts, log: silent });
    const sim = await run(new MockActivityEnvironment(), acts.simulateCandidates, { caseId, roi, candidates: candidates(), batchReplicas: 6 });
    const cts = sim.cts.flat();
    const plain = await run(new MockActivityEnvironment(), acts.segmentReplicas, { caseId, cts, batch: 2 });
    expect(seen.every((s) => s.focus === undefined)).toBe(true);
    seen.length = 0;
    const focused = await run(new MockActivityEnvironment(), acts.segmentReplicas, { caseId, cts, batch: 2, focus: { preLabels: roi.labels, marginMm: 9 } });
    expect(seen).toHaveLength(6);
    expect(seen.every((s) => s.focus?.marginMm === 9 && s.focus.preShape.join() === '24,24,16')).toBe(true);
    // the oracle's labels ignore the focus; three in flight must not reorder them
    expect(focused.labels).toEqual(plain.labels);
  });
});
