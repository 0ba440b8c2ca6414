/**
 * Temporal test harness: a real dev server (`.venv/bin/temporal server start-dev` on a SQLite
 * file, custom search attributes registered), the workflow bundle built once per test file, and
 * in-process workers wired exactly as production wires them. Small presets keep the suite fast on
 * two cores: a 32x32x24 ROI at 3 mm, B=2, D=3, E=2, T=2, Hd=2, He=1.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { writeCaseSource, writeCohortSource, readCohortManifest, type CaseInput } from '../../activities/case-source';
import { ArtifactStores, parseArtifactLocation } from '../../src/artifacts';
import type { ArtifactRef, ArtifactStore } from '../../src/artifacts/store';
import { resolveConfig, type ConfigOverrides, type MewmConfig } from '../../src/config/config';
import type { PlanRequirements } from '../../src/core/serving';
import type { CaseRef } from '../../workflows/types';
import { writeCohort } from '../../src/world/cohort';
import type { SyntheticPatient } from '../../src/world/cohort';
import { bundleWorkflows } from '../../workers/create-workers';
import type { DependencyOverrides } from '../../workers/dependencies';
import { freePort, startDevServer, type DevServer } from '../../workers/dev-server';
import { createLogger } from '../../src/logging/logger';
import { startInProcessWorkers, type InProcessWorkers } from '../../workers/run';
import type { QueueRole } from '../../workflows/task-queues';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `mewm-${prefix}-`));
}

export const TEST_PLAN_OVERRIDES: ConfigOverrides['planning'] = {
  beams: 2,
  drugCandidates: 3,
  embolicCandidates: 2,
  replicas: 2,
  drugHorizon: 2,
  embolicHorizon: 1,
  roiSize: [32, 32, 24],
  roiSpacingMm: 3,
  simulateBatchReplicas: 4,
  seed: 1234,
  timeouts: { gpuStartToCloseS: 300, gpuHeartbeatS: 20, cpuStartToCloseS: 120, llmStartToCloseS: 120, maximumAttempts: 5, initialRetryIntervalS: 0.2 },
};

/** A validated config for tests: data, artifacts and the oracle cohort under `dir`. */
export function testConfig(dir: string, cohortDir: string, overrides: ConfigOverrides = {}): MewmConfig {
  return resolveConfig({
    cwd: dir,
    env: {},
    overrides: {
      ...overrides,
      dataDir: join(dir, 'data'),
      artifacts: { location: join(dir, 'artifacts'), ...(overrides.artifacts ?? {}) },
      worldModel: { backend: 'oracle', oracleCohortDir: cohortDir, ...(overrides.worldModel ?? {}) },
      planning: { ...TEST_PLAN_OVERRIDES, ...(overrides.planning ?? {}) },
      log: { level: 'warn', pretty: false },
    },
  });
}

export async function writeTestCohort(dir: string, patients: number, seed = 7): Promise<{ dir: string; patients: SyntheticPatient[] }> {
  const cohortDir = join(dir, 'cohort');
  const written = await writeCohort({ outDir: cohortDir, seed, patients, gridPreset: 'small' });
  return { dir: cohortDir, patients: written };
}

export function caseOf(cohortDir: string, caseId: string, withMask = true) {
  return {
    caseId,
    ct: join(cohortDir, 'cases', caseId, 'pre-ct.nii.gz'),
    ...(withMask ? { mask: join(cohortDir, 'cases', caseId, 'pre-labels.nii.gz') } : {}),
  };
}

async function withConfiguredStore<T>(config: MewmConfig, fn: (store: ArtifactStore) => Promise<T>): Promise<T> {
  const stores = new ArtifactStores(config.artifacts.s3);
  try {
    return await fn(stores.forConfig(parseArtifactLocation(config.artifacts.location, config.artifacts.s3)));
  } finally {
    stores.close();
  }
}

/** What a starter does before planTreatment: the case source artifact in the configured store; the CaseRef for the workflow input. */
export function stageCase(config: MewmConfig, input: CaseInput, store?: ArtifactStore): Promise<CaseRef> {
  return store ? writeCaseSource(store, input) : withConfiguredStore(config, (configured) => writeCaseSource(configured, input));
}

/** What a starter does before runCohort: a cohort source artifact from a manifest file (or cases), for `CohortInput.cases`. */
export async function stageCohort(config: MewmConfig, cohortId: string, manifestOrCases: string | readonly CaseInput[], split?: string): Promise<ArtifactRef> {
  const cases = typeof manifestOrCases === 'string' ? await readCohortManifest(manifestOrCases, split) : manifestOrCases;
  return withConfiguredStore(config, (store) => writeCohortSource(store, cohortId, cases));
}

export async function startTestServer(dbFile: string, port?: number): Promise<DevServer> {
  // The binary as mewm's configuration would find it from this process's environment.
  const cli = { cliPath: process.env.TEMPORAL_CLI_PATH ?? null, cliSearchPath: process.env.PATH ?? null };
  return startDevServer({ dbFile, port: port ?? (await freePort()), logFile: `${dbFile}.log`, ...cli });
}

export async function connectClient(address: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace: 'default' });
}

let bundlePromise: Promise<{ code: string }> | undefined;
/** The workflow bundle, built once per test file (process). */
export function workflowBundle(): Promise<{ code: string }> {
  bundlePromise ??= bundleWorkflows();
  return bundlePromise;
}

export type RunningWorkers = InProcessWorkers;

/** A dev server with its SQLite file in `dir`, a client and in-process workers for `config`. */
export interface TemporalStack {
  readonly server: DevServer;
  readonly client: Client;
  readonly workers: RunningWorkers;
  /** What a plan for these workers asks for (PlanInput.requirements): without it, nothing serves its GPU and LLM activities. */
  readonly requirements: PlanRequirements;
  /** Stops the workers, closes the client, stops the server. */
  stop(): Promise<void>;
}

export async function startTemporalStack(dir: string, config: MewmConfig, overrides?: DependencyOverrides): Promise<TemporalStack> {
  const server = await startTestServer(join(dir, 'temporal.sqlite'));
  let client: Client | undefined;
  try {
    client = await connectClient(server.address);
    const workers = await startWorkers({ address: server.address, config, ...(overrides ? { overrides } : {}) });
    const connected = client;
    return {
      server,
      client: connected,
      workers,
      requirements: await workers.requirements(),
      stop: async () => {
        await workers.stop();
        await connected.connection.close();
        await server.stop();
      },
    };
  } catch (error) {
    await client?.connection.close();
    await server.stop();
    throw error;
  }
}

/** Workers for `roles` in this process, until `stop()` (production's startInProcessWorkers with the test bundle). */
export async function startWorkers(options: {
  address: string;
  config: MewmConfig;
  roles?: readonly QueueRole[];
  overrides?: DependencyOverrides;
  identity?: string;
}): Promise<RunningWorkers> {
  const roles = options.roles ?? ['gpu', 'llm', 'cpu'];
  const bundle = roles.includes('cpu') ? await workflowBundle() : undefined;
  return startInProcessWorkers({
    config: options.config,
    address: options.address,
    roles,
    log: createLogger(options.config.log, 'test-worker'),
    ...(options.overrides ? { overrides: options.overrides } : {}),
    ...(bundle ? { workflowBundle: bundle } : {}),
    identity: options.identity ?? 'test',
  });
}
