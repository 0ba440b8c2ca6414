/**
 * Case sources (activities/case-source) and what ingest failures say: the case id and a file's base
 * name, never a folder that may be named after the patient.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { createCaseActivities } from '../../activities/case';
import { readCaseSource, readCohortManifest, readCohortSource, writeCaseSource, writeCohortSource } from '../../activities/case-source';
import { toApplicationFailure, withoutPaths } from '../../activities/failures';
import { ArtifactStores, LocalArtifactStore } from '../../src/artifacts';
import { putJson } from '../../src/artifacts/volumes';
import { MewmError } from '../../src/core/errors';
import { observeTumour } from '../../src/policy/observation';
import { tempDir, writeTestCohort } from '../support/temporal';

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const artifacts = new ArtifactStores();
let dir: string;
let store: LocalArtifactStore;
let cohortDir: string;
let caseId: string;
let patientDir: string;

/** Everything a failure would put into the history: messages, stacks and details of the whole chain. */
function failureText(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, i = 0; e instanceof Error && i < 10; e = e.cause, i++) {
    parts.push(e.message, e.stack ?? '');
    if (e instanceof ApplicationFailure) parts.push(JSON.stringify(e.details ?? []));
  }
  return parts.join('\n');
}

async function prepareFailure(ct: string, mask?: string): Promise<string> {
  const { prepareCase } = createCaseActivities({
    store,
    artifacts,
    log: silent,
    observe: observeTumour,
    readDicomSeries: async () => {
      throw new Error('unused');
    },
  });
  const ref = await writeCaseSource(store, { caseId, ct, ...(mask === undefined ? {} : { mask }) });
  const error = await prepareCase({ case: ref, roiSize: [16, 16, 8], roiSpacingMm: 4 }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return failureText(error);
}

beforeAll(async () => {
  dir = tempDir('case-source');
  const cohort = await writeTestCohort(dir, 1, 21);
  cohortDir = cohort.dir;
  caseId = cohort.patients[0]!.caseId;
  store = new LocalArtifactStore(join(dir, 'artifacts'));
  patientDir = join(dir, 'DOE^JOHN-90817263');
  mkdirSync(join(patientDir, 'series'), { recursive: true });
  copyFileSync(join(cohortDir, 'cases', caseId, 'pre-ct.nii.gz'), join(patientDir, 'ct.nii.gz'));
});

describe('case sources', () => {
  it('round-trips a case source; the ref holds a hash, not the path', async () => {
    const ref = await writeCaseSource(store, { caseId, ct: join(patientDir, 'ct.nii.gz'), mask: join(patientDir, 'mask.nii.gz') });
    expect(ref.caseId).toBe(caseId);
    expect(JSON.stringify(ref)).not.toContain('DOE');
    expect(await readCaseSource(artifacts, ref)).toEqual({
      schema: 'mewm.case-source/1',
      caseId,
      ct: join(patientDir, 'ct.nii.gz'),
      mask: join(patientDir, 'mask.nii.gz'),
      sourceKind: 'nifti',
    });
    const folder = await writeCaseSource(store, { caseId, ct: join(patientDir, 'series') });
    expect((await readCaseSource(artifacts, folder)).sourceKind).toBe('dicom');
  });

  it('refuses a non-pseudonymous case id, a source of another case and an input without a source ref', async () => {
    await expect(writeCaseSource(store, { caseId: 'DOE^JOHN', ct: join(patientDir, 'ct.nii.gz') })).rejects.toMatchObject({
      code: 'InvalidInput',
      message: expect.not.stringContaining('DOE'),
    });
    const ref = await writeCaseSource(store, { caseId, ct: join(patientDir, 'ct.nii.gz') });
    await expect(readCaseSource(artifacts, { caseId: 'OTHER-1', source: ref.source })).rejects.toMatchObject({ code: 'InvalidInput' });
    await expect(readCaseSource(artifacts, { caseId, ct: '/x/ct.nii.gz' } as never)).rejects.toMatchObject({ code: 'InvalidInput' });
    const notASource = await putJson(store, { schema: 'something-else' });
    await expect(readCaseSource(artifacts, { caseId, source: notASource })).rejects.toMatchObject({ code: 'InvalidInput' });
  });

  it('turns a manifest into a cohort source: relative paths, synthetic layout, split filter', async () => {
    const manifest = join(dir, 'manifest.jsonl');
    writeFileSync(
      manifest,
      [
        { caseId: 'P-1', ct: 'DOE^JOHN-90817263/ct.nii.gz', split: 'test' },
        { caseId, split: 'train' },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n'),
    );
    const all = await readCohortManifest(manifest);
    expect(all).toEqual([
      { caseId: 'P-1', ct: join(patientDir, 'ct.nii.gz') },
      { caseId, ct: join(dir, 'cases', caseId, 'pre-ct.nii.gz') },
    ]);
    expect((await readCohortManifest(manifest, 'test')).map((c) => c.caseId)).toEqual(['P-1']);
    const ref = await writeCohortSource(store, 'c1', all);
    const source = await readCohortSource(artifacts, ref);
    expect(source.cases.map((c) => c.caseId)).toEqual(['P-1', caseId]);
    expect(JSON.stringify(source)).not.toContain('DOE');
    expect((await readCaseSource(artifacts, source.cases[0]!)).ct).toBe(join(patientDir, 'ct.nii.gz'));
    await expect(readCohortManifest(join(patientDir, 'missing.jsonl'))).rejects.toSatisfy((e: MewmError) => !e.message.includes('DOE'));
  });
});

describe('ingest failures name the case and the role of the file, never its name', () => {
  it('a missing CT named after the patient', async () => {
    const text = await prepareFailure(join(patientDir, 'Doe_John-ct.nii.gz'));
    expect(text).toContain(`case ${caseId}: the CT does not exist or cannot be read (ENOENT)`);
    expect(text).not.toContain('Doe');
    expect(text).not.toContain('DOE');
    expect(text).not.toContain('90817263');
  });

  it('a missing mask (a file-system error in the cause chain)', async () => {
    const text = await prepareFailure(join(patientDir, 'ct.nii.gz'), join(patientDir, 'Doe_John-mask.nii.gz'));
    expect(text).toContain(`case ${caseId} mask: cannot be read (ENOENT)`);
    expect(text).not.toContain('Doe');
    expect(text).not.toContain('DOE');
  });

  it('a corrupt CT named after the patient', async () => {
    writeFileSync(join(patientDir, 'Doe_John.nii.gz'), Buffer.from('not a gzip stream'));
    const text = await prepareFailure(join(patientDir, 'Doe_John.nii.gz'));
    expect(text).toContain(`case ${caseId} CT: is 17 bytes, shorter than a NIfTI-1 header`);
    expect(text).not.toContain('Doe');
    expect(text).not.toContain('DOE');
  });

  it('withoutPaths keeps the code of Node file-system errors and drops the path, anywhere in the chain', () => {
    const fsError = Object.assign(new Error(`ENOENT: no such file or directory, open '${patientDir}/Doe_John.nii.gz'`), {
      code: 'ENOENT',
      path: `${patientDir}/Doe_John.nii.gz`,
      syscall: 'open',
    });
    const cleaned = withoutPaths(new Error('outer', { cause: fsError })) as Error;
    expect((cleaned.cause as Error).message).toBe("ENOENT: no such file or directory, open '<path>'");
    // A name mewm synth wrote is pseudonymous and kept.
    const synthetic = Object.assign(new Error(`ENOENT: no such file or directory, open '/data/cases/SYN-1-0001/pre-ct.nii.gz'`), {
      code: 'ENOENT',
      path: '/data/cases/SYN-1-0001/pre-ct.nii.gz',
    });
    expect((withoutPaths(synthetic) as Error).message).toBe("ENOENT: no such file or directory, open 'pre-ct.nii.gz'");
    expect((cleaned.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(failureText(toApplicationFailure(fsError))).not.toContain('DOE');
    expect(failureText(toApplicationFailure(new MewmError('InvalidVolume', 'x.nii.gz: cannot be read', {}, { cause: fsError })))).not.toContain('DOE');
    const plain = new Error('nothing to clean');
    expect(withoutPaths(plain)).toBe(plain);
  });
});
