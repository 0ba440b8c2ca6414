/**
 * The planner with its artifacts in S3: a real S3-compatible server (s3rver) on loopback, the same
 * workers as in production with an s3:// artifact location. Every volume, audit record and preview
 * of the plan lives in the bucket; payloads carry s3:// URIs and hashes only.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { ArtifactStores, createArtifactStore, parseArtifactLocation, type ArtifactStore } from '../../src/artifacts';
import { getJson } from '../../src/artifacts/volumes';
import type { MewmConfig } from '../../src/config/config';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { BeamStepAudit, PlanResult } from '../../workflows/types';
import { s3rverCredentials, startS3Server, type LocalS3Server } from '../support/s3-server';
import { caseOf, stageCase, startTemporalStack, tempDir, testConfig, writeTestCohort, type TemporalStack } from '../support/temporal';

let s3: LocalS3Server;
let stack: TemporalStack;
let client: Client;
let config: MewmConfig;
let cohortDir: string;
let caseId: string;
let stores: ArtifactStores;
let store: ArtifactStore;

beforeAll(async () => {
  const dir = tempDir('plan-s3');
  const cohort = await writeTestCohort(dir, 1, 13);
  cohortDir = cohort.dir;
  caseId = cohort.patients[0]!.caseId;
  s3 = await startS3Server('mewm-plans');
  const connection = { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true };
  config = testConfig(dir, cohortDir, {
    artifacts: { location: `s3://${s3.bucket}/runs/test`, s3: connection },
    planning: { drugHorizon: 1, embolicHorizon: 1 },
  });
  const tuning = { credentials: s3rverCredentials };
  stores = new ArtifactStores(connection, tuning);
  store = createArtifactStore(parseArtifactLocation(config.artifacts.location, connection), tuning);
  stack = await startTemporalStack(dir, config, { store, artifacts: stores });
  client = stack.client;
});

afterAll(async () => {
  await stack?.stop();
  stores?.close();
  await s3?.close();
});

describe('planTreatment with an S3 artifact store', () => {
  it('plans with every artifact in the bucket, referenced by s3:// URI and sha256', async () => {
    const result = (await client.workflow.execute('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'plan-s3',
      args: [{ case: await stageCase(config, caseOf(cohortDir, caseId), store), settings: config.planning, requirements: stack.requirements }],
    })) as PlanResult;
    const prefix = `s3://${s3.bucket}/runs/test/sha256/`;
    expect(result.prepared.roi.ct.uri.startsWith(prefix)).toBe(true);
    expect(result.previews.every((p) => p.uri.startsWith(prefix))).toBe(true);
    for (const step of result.steps) {
      expect(step.audit.uri.startsWith(prefix)).toBe(true);
      const audit = await getJson<BeamStepAudit>(stores.storeFor(step.audit.uri), step.audit);
      const replica = audit.candidates[0]!.replicas[0]!;
      expect(replica.ct.uri.startsWith(prefix)).toBe(true);
      expect(await stores.storeFor(replica.ct.uri).exists(replica.ct)).toBe(true);
      expect((await stores.storeFor(replica.labels.uri).get(replica.labels)).byteLength).toBe(replica.labels.bytes);
    }
  });
});
