/**
 * Bounded ingest at the activity boundary (issue 11): special files are refused at once as final
 * (non-retryable) failures, on the starting side and inside the ingest activity; configured
 * limits reach the readers; a sheared CT is resampled onto an axis-aligned planning grid; the
 * tumour observation is told the case id (no "case unknown-case").
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { createCaseActivities } from '../../activities/case';
import { writeCaseSource } from '../../activities/case-source';
import { ArtifactStores, LocalArtifactStore } from '../../src/artifacts';
import { getCtVolume, putJson } from '../../src/artifacts/volumes';
import { defaultConfig } from '../../src/config/config';
import { isMewmError } from '../../src/core/errors';
import { makeVolume } from '../../src/core/volume/volume';
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from '../../src/io/bounded-read';
import { shearDegrees } from '../../src/io/ct-plausibility';
import { encodeNifti, readNifti } from '../../src/io/nifti';
import { observeTumour } from '../../src/policy/observation';
import type { CaseRef } from '../../workflows/types';
import { tempDir, writeTestCohort } from '../support/temporal';

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const artifacts = new ArtifactStores();
const patient = 'DOE^JOHN-55501';
let dir: string;
let store: LocalArtifactStore;
let cohortDir: string;
let caseId: string;

beforeAll(async () => {
  dir = tempDir('case-ingest');
  const cohort = await writeTestCohort(dir, 1, 23);
  cohortDir = cohort.dir;
  caseId = cohort.patients[0]!.caseId;
  store = new LocalArtifactStore(join(dir, 'artifacts'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A case source written directly (as if the file changed after `mewm plan` checked it). */
async function rawSource(ct: string, mask?: string): Promise<CaseRef> {
  return { caseId, source: await putJson(store, { schema: 'mewm.case-source/1', caseId, ct, ...(mask ? { mask } : {}), sourceKind: 'nifti' }) };
}

function activities(limits?: IngestLimits, observed?: Array<string | undefined>) {
  return createCaseActivities({
    store,
    artifacts,
    log: silent,
    observe: (roi, options) => {
      observed?.push(options?.caseId);
      return observeTumour(roi, options);
    },
    ...(limits ? { limits } : {}),
  });
}

async function failure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

describe('special files', () => {
  for (const [label, make] of [
    ['a FIFO', (path: string) => execFileSync('mkfifo', [path])],
    ['a symlink to /dev/zero', (path: string) => symlinkSync('/dev/zero', path)],
  ] as const) {
    it(`${label} named .nii.gz: the ingest activity fails at once, final (non-retryable), without the path`, async () => {
      const path = join(dir, `${patient}-${label.length}.nii.gz`);
      make(path);
      const started = performance.now();
      const error = await failure(activities().prepareCase({ case: await rawSource(path), roiSize: [16, 16, 8], roiSpacingMm: 4 }));
      expect(performance.now() - started).toBeLessThan(2000);
      expect(error.type).toBe('InvalidVolume');
      expect(error.nonRetryable).toBe(true);
      expect(error.message).toMatch(/FIFO|device/);
      expect(error.message).toContain(`case ${caseId} CT`);
      expect(`${error.message}${JSON.stringify(error.details)}`).not.toContain('DOE');
    });

    it(`${label}: mewm's starting side refuses it before any workflow starts`, async () => {
      const path = join(dir, `${patient}-start-${label.length}.nii.gz`);
      make(path);
      const error = await writeCaseSource(store, { caseId, ct: path }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isMewmError(error, 'InvalidVolume'), String(error)).toBe(true);
      expect((error as Error).message).not.toContain('DOE');
    });
  }

  it('a FIFO as the mask is refused the same way', async () => {
    const fifo = join(dir, `${patient}-mask.nii.gz`);
    execFileSync('mkfifo', [fifo]);
    const error = await failure(
      activities().prepareCase({ case: await rawSource(join(cohortDir, 'cases', caseId, 'pre-ct.nii.gz'), fifo), roiSize: [16, 16, 8], roiSpacingMm: 4 }),
    );
    expect(error.type).toBe('InvalidVolume');
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toContain(`case ${caseId} mask: is a FIFO`);
  });
});

describe('limits and rules', () => {
  it('the config defaults are the readers defaults', () => {
    expect(defaultConfig('/x').ingest).toEqual(DEFAULT_INGEST_LIMITS);
  });

  it('configured limits reach the reader: a CT above maxVoxels is refused before reading its voxels', async () => {
    const error = await failure(
      activities({ ...DEFAULT_INGEST_LIMITS, maxVoxels: 1000 }).prepareCase({
        case: await rawSource(join(cohortDir, 'cases', caseId, 'pre-ct.nii.gz')),
        roiSize: [16, 16, 8],
        roiSpacingMm: 4,
      }),
    );
    expect(error.type).toBe('InvalidVolume');
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toMatch(/above the ingest limit of 1000/);
  });

  it('a sheared CT (10°, gantry-tilt-like) is resampled onto an axis-aligned planning grid', async () => {
    const ct = await readNifti(join(cohortDir, 'cases', caseId, 'pre-ct.nii.gz'));
    const affine = [...ct.affine];
    const tilt = Math.tan((10 * Math.PI) / 180);
    affine[6] = affine[10]! * tilt; // slices step along y as well as z
    const path = join(dir, 'sheared.nii.gz');
    writeFileSync(path, encodeNifti(makeVolume(ct.data, ct.shape, affine), { gzip: true }));
    const out = await activities().prepareCase({ case: await rawSource(path), roiSize: [16, 16, 8], roiSpacingMm: 4 });
    expect(out.kind).toBe('needs-segmentation');
    if (out.kind !== 'needs-segmentation') return;
    const planning = await getCtVolume(store, out.planningCt);
    expect(shearDegrees(planning.affine)).toBe(0);
    expect([planning.affine[0], planning.affine[5], planning.affine[10]]).toEqual([4, 4, 4]);
    // The tilted grid reaches further along y than the original: the axis-aligned grid covers it.
    const extentY = (ct.shape[1] - 1) * ct.affine[5]! + (ct.shape[2] - 1) * Math.abs(affine[6]!);
    expect(planning.shape[1]).toBe(Math.floor(extentY / 4) + 1);
  });

  it('the tumour observation is told the case id', async () => {
    const observed: Array<string | undefined> = [];
    const ref = await rawSource(join(cohortDir, 'cases', caseId, 'pre-ct.nii.gz'), join(cohortDir, 'cases', caseId, 'pre-labels.nii.gz'));
    const out = await activities(undefined, observed).prepareCase({ case: ref, roiSize: [16, 16, 8], roiSpacingMm: 4 });
    expect(out.kind).toBe('prepared');
    expect(observed).toEqual([caseId]);
  });

  it('a case whose CT is copied under a patient-like name still plans (the rules accept a real synthetic CT)', async () => {
    const path = join(dir, `${patient}.nii.gz`);
    copyFileSync(join(cohortDir, 'cases', caseId, 'pre-ct.nii.gz'), path);
    const out = await activities().prepareCase({
      case: await writeCaseSource(store, { caseId, ct: path, mask: join(cohortDir, 'cases', caseId, 'pre-labels.nii.gz') }),
      roiSize: [16, 16, 8],
      roiSpacingMm: 4,
    });
    expect(out.kind).toBe('prepared');
  });
});
