/**
 * GPU-queue activities (task queue `mewm-gpu-<hash of the world model>`, workers/serving.ts):
 * f_DM simulation of T replicas per candidate, H_seg segmentation of the simulated CTs, H_surv
 * risk scoring. Each takes one input object and
 * returns one output object; volumes travel as content-addressed ArtifactRefs.
 *
 * Resumable progress: every activity heartbeats the artifacts it has finished (a map keyed by
 * work item). A retried attempt (e.g. after its GPU worker was killed) reads the last heartbeat
 * and only computes what is missing. Because artifacts are content-addressed and the seeds come
 * from the workflow, a recomputed item is bit-identical to the lost one.
 *
 * Heartbeats are throttled (Temporal sends at most one per 0.8 × heartbeat timeout), so after a
 * kill -9 the last one can be many batches old. `simulateCandidates` therefore also checkpoints
 * its finished replicas to the artifact store after every batch (`CheckpointStore`, a document
 * named by a hash of this activity execution: workflow id, run id, activity id), and a retried
 * attempt takes the union of heartbeat and checkpoint: at most the batch in flight is simulated
 * again. While a batch runs, a timer keeps heartbeating, so a short heartbeat timeout (the
 * default `gpuHeartbeatS` is 15 s) notices a dead worker in seconds without failing slow batches.
 *
 * Heartbeats keep flowing during heavy work because work is cut into batches of
 * `batchReplicas` replicas with an event-loop turn between batches; the ONNX backend runs
 * inference in its own worker thread, the oracle's per-batch compute stays well under the
 * heartbeat timeout at planning ROI sizes.
 */
import { createHash } from 'node:crypto';
import { supportsCheckpoints, type ArtifactRef, type ArtifactStore } from '../src/artifacts/store';
import { forEachConcurrently } from '../src/core/concurrency';
import { MewmError } from '../src/core/errors';
import type { LabelledCt } from '../src/core/volume/volume';
import type { Protocol } from '../src/core/vocabulary';
import type { ModelIdentity, SimulationRequest, WorldModel } from '../src/models/world-model';
import type { RoiArtifacts } from '../workflows/types';
import { withTypedFailures } from './failures';
import { currentRuntime, yieldToEventLoop } from './runtime';
import type { ActivityLogger, ArtifactResolver } from './deps';
import { VolumeCache } from './volume-cache';

export interface SimulationCandidate {
  readonly key: string;
  readonly protocol: Protocol;
  readonly seeds: readonly number[];
}

export interface SimulateInput {
  readonly caseId: string;
  readonly roi: RoiArtifacts;
  readonly candidates: readonly SimulationCandidate[];
  /** At most this many replicas per `simulate` call; progress is heartbeated after each call. */
  readonly batchReplicas: number;
}

export interface SimulateOutput {
  /** `cts[c][r]`: the simulated post-treatment CT of candidate c, replica r. */
  readonly cts: readonly (readonly ArtifactRef[])[];
  readonly model: ModelIdentity;
  /** Replicas simulated by this attempt, and replicas taken over from an earlier attempt's heartbeat. */
  readonly computedReplicas: number;
  readonly resumedReplicas: number;
  readonly attempt: number;
  readonly elapsedMs: number;
}

export interface SegmentInput {
  readonly caseId: string;
  readonly cts: readonly ArtifactRef[];
  readonly batch: number;
  /** Focused segmentation (PlanSettings.segmentationFocusMarginMm): the ROI labels the CTs were simulated from, and the margin. */
  readonly focus?: { readonly preLabels: ArtifactRef; readonly marginMm: number };
}

export interface SegmentOutput {
  readonly labels: readonly ArtifactRef[];
  readonly model: ModelIdentity;
  readonly computed: number;
  readonly resumed: number;
  readonly elapsedMs: number;
}

export interface ScoreInput {
  readonly caseId: string;
  readonly roi: RoiArtifacts;
  readonly posts: readonly { readonly ct: ArtifactRef; readonly labels: ArtifactRef }[];
}

export interface ScoreOutput {
  readonly risks: readonly number[];
  readonly model: ModelIdentity;
  readonly computed: number;
  readonly resumed: number;
  readonly elapsedMs: number;
}

export interface SimulationDependencies {
  readonly world: WorldModel;
  /** Where new artifacts are written. */
  readonly store: ArtifactStore;
  /** Resolves any ArtifactRef's URI to the store holding it. */
  readonly artifacts: ArtifactResolver;
  readonly log: ActivityLogger;
  /** Decoded volumes shared between this worker's activities (default: a private 256 MiB cache). */
  readonly volumes?: VolumeCache;
}

/** Heartbeat details of the three activities: finished items by key. */
interface Progress<T> {
  readonly done: Record<string, T>;
}

function previousDone<T>(previous: unknown, isItem: (value: unknown) => value is T): Map<string, T> {
  const done = new Map<string, T>();
  if (typeof previous !== 'object' || previous === null) return done;
  const record = (previous as Partial<Progress<unknown>>).done;
  if (typeof record !== 'object' || record === null) return done;
  for (const [key, value] of Object.entries(record)) if (isItem(value)) done.set(key, value);
  return done;
}

const isRef = (value: unknown): value is ArtifactRef =>
  typeof value === 'object' && value !== null && typeof (value as ArtifactRef).uri === 'string' && typeof (value as ArtifactRef).sha256 === 'string';
const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

export async function loadRoi(volumes: VolumeCache, artifacts: ArtifactResolver, roi: RoiArtifacts): Promise<LabelledCt> {
  const [ct, labels] = await Promise.all([volumes.ct(artifacts, roi.ct), volumes.labels(artifacts, roi.labels)]);
  return { ct, labels };
}

/** How often a running batch heartbeats (throttled by Temporal to 0.8 × the heartbeat timeout). */
const batchHeartbeatMs = 1000;

/** Checkpoint name of one activity execution (its attempts share it): opaque, holds no case data. */
function checkpointName(kind: string, executionKey: string): string {
  return createHash('sha256').update(`mewm.checkpoint/1 ${kind} ${executionKey}`).digest('hex').slice(0, 32);
}

async function readCheckpoint(store: ArtifactStore, name: string, log: ActivityLogger): Promise<unknown> {
  if (!supportsCheckpoints(store)) return undefined;
  try {
    const bytes = await store.getCheckpoint(name);
    return bytes === undefined ? undefined : JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    // A checkpoint is an optimisation: unreadable means recompute, never fail the plan.
    log.warn({ err: error }, 'simulate: checkpoint unreadable, recomputing');
    return undefined;
  }
}

export function createSimulationActivities(deps: SimulationDependencies) {
  const { world, store, artifacts, log } = deps;
  const volumes = deps.volumes ?? new VolumeCache();
  // Segmentations / scores in flight: one per session thread of the world model, plus one whose
  // main-thread voxel work (resampling, argmax, storing) overlaps them.
  const inFlight = (world.parallelism ?? 1) + 1;

  async function simulateCandidates(input: SimulateInput): Promise<SimulateOutput> {
    const started = Date.now();
    const runtime = currentRuntime();
    if (!Number.isInteger(input.batchReplicas) || input.batchReplicas < 1) {
      throw new MewmError('InvalidConfig', `simulateBatchReplicas must be a positive integer, got ${input.batchReplicas}`);
    }
    const done = previousDone(runtime.previousProgress, isRef);
    const checkpoint =
      runtime.executionKey !== undefined && supportsCheckpoints(store) ? checkpointName('simulateCandidates', runtime.executionKey) : undefined;
    if (checkpoint !== undefined && runtime.attempt > 1) {
      // Replicas the crashed attempt finished after its last heartbeat got through; each ref is checked to still exist.
      for (const [key, ref] of previousDone(await readCheckpoint(store, checkpoint, log), isRef)) {
        if (!done.has(key) && (await artifacts.storeFor(ref.uri).exists(ref))) done.set(key, ref);
      }
    }
    const itemKey = (c: number, r: number) => `${input.candidates[c]!.key}#${r}`;
    const pending: { c: number; r: number }[] = [];
    input.candidates.forEach((candidate, c) => candidate.seeds.forEach((_, r) => !done.has(itemKey(c, r)) && pending.push({ c, r })));
    const resumed = done.size;
    const total = input.candidates.reduce((n, c) => n + c.seeds.length, 0);
    if (resumed > 0) log.info({ caseId: input.caseId, resumed, pending: pending.length, attempt: runtime.attempt }, 'simulate: resuming from heartbeat');
    const pre = pending.length > 0 ? await loadRoi(volumes, artifacts, input.roi) : undefined;

    for (let start = 0; start < pending.length; start += input.batchReplicas) {
      runtime.throwIfCancelled();
      const batch = pending.slice(start, start + input.batchReplicas);
      // One request per candidate in the batch, carrying only the seeds still missing.
      const groups = new Map<number, number[]>();
      for (const { c, r } of batch) groups.set(c, [...(groups.get(c) ?? []), r]);
      const order = [...groups.entries()];
      const requests: SimulationRequest[] = order.map(([c, replicas]) => ({
        caseId: input.caseId,
        pre: pre!,
        protocol: input.candidates[c]!.protocol,
        seeds: replicas.map((r) => input.candidates[c]!.seeds[r]!),
      }));
      // Heartbeats keep flowing while the batch runs (the ONNX backend computes in a worker thread).
      const ticker = setInterval(() => runtime.heartbeat({ done: Object.fromEntries(done) } satisfies Progress<ArtifactRef>), batchHeartbeatMs);
      let simulated: Awaited<ReturnType<typeof world.dynamics.simulate>>;
      try {
        simulated = await world.dynamics.simulate(requests);
      } finally {
        clearInterval(ticker);
      }
      if (simulated.length !== requests.length || simulated.some((v, i) => v.length !== requests[i]!.seeds.length)) {
        throw new MewmError('ModelContract', `dynamics model ${world.dynamics.identity.name} returned the wrong number of volumes`, {
          expected: requests.map((r) => r.seeds.length),
          got: simulated.map((v) => v.length),
        });
      }
      for (const [i, [c, replicas]] of order.entries()) {
        for (const [j, r] of replicas.entries()) done.set(itemKey(c, r), await volumes.put(store, simulated[i]![j]!));
      }
      const progress = { done: Object.fromEntries(done) } satisfies Progress<ArtifactRef>;
      if (checkpoint !== undefined && supportsCheckpoints(store)) await store.putCheckpoint(checkpoint, new TextEncoder().encode(JSON.stringify(progress)));
      runtime.heartbeat(progress);
      await yieldToEventLoop();
    }

    const cts = input.candidates.map((candidate, c) => candidate.seeds.map((_, r) => done.get(itemKey(c, r))!));
    return {
      cts,
      model: world.dynamics.identity,
      computedReplicas: total - resumed,
      resumedReplicas: resumed,
      attempt: runtime.attempt,
      elapsedMs: Date.now() - started,
    };
  }

  async function segmentReplicas(input: SegmentInput): Promise<SegmentOutput> {
    const started = Date.now();
    const runtime = currentRuntime();
    const done = previousDone(runtime.previousProgress, isRef);
    const resumed = input.cts.filter((ref) => done.has(ref.sha256)).length;
    const focus =
      input.focus && resumed < input.cts.length
        ? { preLabels: await volumes.labels(artifacts, input.focus.preLabels), marginMm: input.focus.marginMm }
        : undefined;
    let sinceHeartbeat = 0;
    const todo = [...new Map(input.cts.filter((ref) => !done.has(ref.sha256)).map((ref) => [ref.sha256, ref])).values()];
    await forEachConcurrently(todo, inFlight, async (ref) => {
      runtime.throwIfCancelled();
      const ct = await volumes.ct(artifacts, ref);
      const labels = await world.assistant.segment({ caseId: input.caseId, ct, ...(focus ? { focus } : {}) });
      done.set(ref.sha256, await volumes.put(store, labels, { labels: true }));
      if (++sinceHeartbeat >= Math.max(1, input.batch)) {
        runtime.heartbeat({ done: Object.fromEntries(done) } satisfies Progress<ArtifactRef>);
        sinceHeartbeat = 0;
        await yieldToEventLoop();
      }
    });
    const labels = input.cts.map((ref) => done.get(ref.sha256)!);
    return { labels, model: world.assistant.identity, computed: input.cts.length - resumed, resumed, elapsedMs: Date.now() - started };
  }

  async function scoreReplicas(input: ScoreInput): Promise<ScoreOutput> {
    const started = Date.now();
    const runtime = currentRuntime();
    const done = previousDone(runtime.previousProgress, isFiniteNumber);
    const key = (post: ScoreInput['posts'][number]) => `${post.ct.sha256}:${post.labels.sha256}`;
    const resumed = input.posts.filter((post) => done.has(key(post))).length;
    const pre = resumed < input.posts.length ? await loadRoi(volumes, artifacts, input.roi) : undefined;
    const todo = [...new Map(input.posts.filter((post) => !done.has(key(post))).map((post) => [key(post), post])).values()];
    await forEachConcurrently(todo, inFlight, async (post) => {
      runtime.throwIfCancelled();
      const [ct, labels] = await Promise.all([volumes.ct(artifacts, post.ct), volumes.labels(artifacts, post.labels)]);
      const risk = await world.heuristic.risk({ caseId: input.caseId, pre: pre!, post: { ct, labels } });
      if (!Number.isFinite(risk)) throw new MewmError('ModelContract', `heuristic model ${world.heuristic.identity.name} returned a non-finite risk`, { risk });
      done.set(key(post), risk);
      runtime.heartbeat({ done: Object.fromEntries(done) } satisfies Progress<number>);
      await yieldToEventLoop();
    });
    const risks = input.posts.map((post) => done.get(key(post))!);
    return { risks, model: world.heuristic.identity, computed: input.posts.length - resumed, resumed, elapsedMs: Date.now() - started };
  }

  return withTypedFailures({ simulateCandidates, segmentReplicas, scoreReplicas });
}

export type SimulationActivities = ReturnType<typeof createSimulationActivities>;
