/**
 * Builds what activities need from the configuration: artifact stores, the world model (only for
 * GPU workers), the policy (only for LLM workers), the tumour observation and DICOM reader (CPU).
 * Every dependency can be overridden, which is how tests inject a fake LLM endpoint's policy or a
 * slowed-down world model; production code paths stay the same.
 */
import { ArtifactStores, parseArtifactLocation } from '../src/artifacts';
import type { ArtifactStore } from '../src/artifacts/store';
import type { MewmConfig } from '../src/config/config';
import type { LabelledCt, Volume } from '../src/core/volume/volume';
import type { IngestLimits } from '../src/io/bounded-read';
import type { WorldModel } from '../src/models/world-model';
import type { ActionPolicy, TumourObservation } from '../src/policy/policy';
import type { PolicyConfig } from '../src/policy/config';
import type { QueueRole } from '../workflows/task-queues';
import type { Logger } from '../src/logging/logger';
import { policyRequirementOf, policyRequirementOfPolicy, worldModelRequirementOf, type ServedRequirements } from './serving';

export interface WorkerDependencies {
  readonly log: Logger;
  /** Where new artifacts go (the configured location). */
  readonly store: ArtifactStore;
  /** Resolves any artifact URI (local or S3) to its store. */
  readonly artifacts: ArtifactStores;
  readonly world?: WorldModel;
  readonly policy?: ActionPolicy;
  readonly observe?: (roi: LabelledCt) => TumourObservation;
  readonly readDicomSeries?: (folder: string, options?: { name?: string; limits?: IngestLimits }) => Promise<Volume>;
  /** What one input CT may cost (config `ingest`, src/io/bounded-read.ts). */
  readonly ingestLimits?: IngestLimits;
  /** What this process's GPU and LLM workers serve (workers/serving.ts): names their task queues, checked on every task. */
  readonly serves: ServedRequirements;
  /** Releases what was opened here (world model sessions, S3 pools). */
  close(): Promise<void>;
}

export type DependencyOverrides = Partial<Omit<WorkerDependencies, 'close' | 'log' | 'serves'>> & {
  /** The policy to build (as from the environment), when it is not given as `policy`. */
  readonly policyConfig?: PolicyConfig;
};

export async function createWorkerDependencies(
  config: MewmConfig,
  roles: readonly QueueRole[],
  log: Logger,
  overrides: DependencyOverrides = {},
): Promise<WorkerDependencies> {
  const location = parseArtifactLocation(config.artifacts.location, config.artifacts.s3);
  const artifacts = overrides.artifacts ?? new ArtifactStores(config.artifacts.s3, {}, config.artifacts);
  // Taken from the cache so that close() also releases its S3 connections.
  const store = overrides.store ?? artifacts.forConfig(location);
  let world = overrides.world;
  let ownsWorld = false;
  if (world === undefined && roles.includes('gpu')) {
    const { createWorldModel } = await import('../src/backends/world-model');
    world = await createWorldModel(config.worldModel);
    ownsWorld = true;
  }
  let policy = overrides.policy;
  let policyRequirement = policy ? policyRequirementOfPolicy(policy) : undefined;
  if (policy === undefined && (roles.includes('llm') || overrides.policyConfig)) {
    const { createPolicy } = await import('../src/policy/index');
    const policyConfig = overrides.policyConfig ?? config.policy;
    policy = createPolicy(policyConfig);
    policyRequirement = policyRequirementOf(policyConfig);
  }
  const worldRequirement = world ? await worldModelRequirementOf(world, config.worldModel) : undefined;
  let observe = overrides.observe;
  let readDicomSeries = overrides.readDicomSeries;
  if (roles.includes('cpu')) {
    observe ??= (await import('../src/policy/observation')).observeTumour;
    readDicomSeries ??= (await import('../src/io/dicom')).readDicomSeries;
  }
  return {
    log,
    store,
    artifacts,
    ...(world ? { world } : {}),
    ...(policy ? { policy } : {}),
    ...(observe ? { observe } : {}),
    ...(readDicomSeries ? { readDicomSeries } : {}),
    ingestLimits: overrides.ingestLimits ?? config.ingest,
    serves: { ...(policyRequirement ? { policy: policyRequirement } : {}), ...(worldRequirement ? { worldModel: worldRequirement } : {}) },
    async close() {
      if (ownsWorld) await world?.close();
      if (!overrides.artifacts) artifacts.close();
    },
  };
}
