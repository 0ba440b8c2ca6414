/**
 * Case sources: where a patient's images are, kept out of Temporal.
 *
 * File and folder names can carry patient names (`/data/DOE^JOHN-12345/ct.nii.gz`), and the event
 * history is the durable audit record, so paths never travel through Temporal. Whoever starts a
 * plan or a cohort (the CLI, tests, benches) first writes a small JSON *case source* into the
 * artifact store and passes only the pseudonymous case id and that artifact's ref
 * (`CaseRef`; content-addressed, so the URI holds only a hash). The ingest activity reads it back.
 *
 *   CaseSource   `{ schema: 'mewm.case-source/1', caseId, ct, mask?, sourceKind }`
 *                ct / mask: absolute paths or file:// URIs; sourceKind: 'nifti' (a .nii/.nii.gz
 *                file) or 'dicom' (a folder holding one CT series); mask: NIfTI label map.
 *   CohortSource `{ schema: 'mewm.cohort-source/1', cohortId, cases: CaseRef[] }` in manifest order.
 *
 * Cohort manifests (src/io/cohort-manifest.ts: `{"caseId": "...", "ct": "...", "mask": "..."}` per
 * line, paths relative to the manifest's folder, or the `mewm synth` names `preCt` / `preLabels`)
 * become cases here, on the starting side; a line without a CT path is read from the synthetic
 * layout `cases/<caseId>/pre-ct.nii.gz` and, when present, `cases/<caseId>/pre-labels.nii.gz`.
 */
import { access, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { ArtifactRef, ArtifactStore } from '../src/artifacts/store';
import { getJson, putJson } from '../src/artifacts/volumes';
import { MewmError } from '../src/core/errors';
import { caseIdPattern, readManifestEntries } from '../src/io/cohort-manifest';
import { inputLabel } from '../src/io/input-label';
import type { CaseRef } from '../workflows/types';
import type { ArtifactResolver } from './deps';

/** What a user has: a pre-treatment CT (NIfTI file or DICOM series folder) and optionally a mask. Never sent to Temporal. */
export interface CaseInput {
  /** Pseudonymous case id; goes into workflow ids, search attributes and logs. Never a patient identifier. */
  readonly caseId: string;
  /** Path or file:// URI of a .nii/.nii.gz file, or of a folder holding one DICOM CT series. */
  readonly ct: string;
  /** Optional liver/tumour label map (0 background, 1 liver, 2 tumour) on the CT's grid, NIfTI. */
  readonly mask?: string;
}

export { caseIdPattern };

const artifactRefSchema = z.object({
  uri: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  mediaType: z.string().min(1),
});
const caseIdSchema = z.string().regex(caseIdPattern);

export const caseSourceSchema = z.object({
  schema: z.literal('mewm.case-source/1'),
  caseId: caseIdSchema,
  ct: z.string().min(1),
  mask: z.string().min(1).optional(),
  sourceKind: z.enum(['nifti', 'dicom']),
});
export type CaseSource = z.infer<typeof caseSourceSchema>;

export const cohortSourceSchema = z.object({
  schema: z.literal('mewm.cohort-source/1'),
  cohortId: z.string().min(1),
  cases: z.array(z.object({ caseId: caseIdSchema, source: artifactRefSchema })),
});
export type CohortSource = z.infer<typeof cohortSourceSchema>;

export function localPath(pathOrUri: string): string {
  return pathOrUri.startsWith('file://') ? decodeURIComponent(new URL(pathOrUri).pathname) : pathOrUri;
}

/** Checks a case on the starting side and stores its source; the returned CaseRef is all a workflow gets. */
export async function writeCaseSource(store: ArtifactStore, input: CaseInput): Promise<CaseRef> {
  if (!caseIdPattern.test(input.caseId)) {
    // Not echoed: an id that fails the pattern may be a patient's name.
    throw new MewmError('InvalidInput', "the case id must be letters, digits, '.', '_' or '-' (a pseudonym, never a patient identifier)");
  }
  const ct = input.ct.startsWith('file://') ? input.ct : resolve(input.ct);
  const mask = input.mask === undefined ? undefined : input.mask.startsWith('file://') ? input.mask : resolve(input.mask);
  let sourceKind: CaseSource['sourceKind'] = 'nifti';
  let stats;
  try {
    stats = await stat(localPath(ct));
  } catch {
    // Nothing to read yet is the ingest activity's call to make (it fails the plan with InvalidInput).
  }
  if (stats !== undefined) {
    sourceKind = stats.isDirectory() ? 'dicom' : 'nifti';
    // Refused before any workflow starts: a FIFO would block ingest, a device never ends (the ingest activity refuses them too).
    if (!stats.isDirectory() && !stats.isFile()) {
      throw new MewmError(
        'InvalidVolume',
        `case ${input.caseId} CT: is not a regular file or a folder (a FIFO, device or socket); give a NIfTI file or a DICOM series folder`,
        { caseId: input.caseId },
      );
    }
  }
  const source: CaseSource = { schema: 'mewm.case-source/1', caseId: input.caseId, ct, ...(mask === undefined ? {} : { mask }), sourceKind };
  return { caseId: input.caseId, source: await putJson(store, source) };
}

/** Reads and checks the case source a CaseRef points at (ingest side). */
export async function readCaseSource(artifacts: ArtifactResolver, ref: CaseRef): Promise<CaseSource> {
  if (typeof ref.source?.uri !== 'string') {
    // A workflow started before case sources existed passes `{ caseId, ct, mask }`: refuse it rather than read paths from the history.
    throw new MewmError('InvalidInput', `case ${ref.caseId}: the workflow input has no case source ref (started by an older mewm?); start the plan again`, {
      caseId: ref.caseId,
    });
  }
  const source = await getJson(artifacts.storeFor(ref.source.uri), ref.source, caseSourceSchema);
  if (source.caseId !== ref.caseId) {
    throw new MewmError('InvalidInput', `case ${ref.caseId}: its case source belongs to case ${source.caseId}`, { caseId: ref.caseId });
  }
  return source;
}

export async function writeCohortSource(store: ArtifactStore, cohortId: string, cases: readonly CaseInput[]): Promise<ArtifactRef> {
  const refs: CaseRef[] = [];
  for (const c of cases) refs.push(await writeCaseSource(store, c));
  const source: CohortSource = { schema: 'mewm.cohort-source/1', cohortId, cases: refs.map((r) => ({ caseId: r.caseId, source: { ...r.source } })) };
  return putJson(store, source);
}

export async function readCohortSource(artifacts: ArtifactResolver, ref: ArtifactRef): Promise<CohortSource> {
  if (typeof ref?.uri !== 'string') {
    throw new MewmError('InvalidInput', 'the cohort input has no cohort source ref (started by an older mewm with a manifest path?); start the cohort again');
  }
  return getJson(artifacts.storeFor(ref.uri), ref, cohortSourceSchema);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Parses a cohort manifest into cases (all of them, in file order), keeping lines whose `split` equals `split` when given. */
export async function readCohortManifest(manifest: string, split?: string): Promise<CaseInput[]> {
  const path = manifest.startsWith('file://') ? localPath(manifest) : resolve(manifest);
  const root = dirname(path);
  const at = (p: string) => (isAbsolute(p) ? p : join(root, p));
  const cases: CaseInput[] = [];
  for (const entry of await readManifestEntries(path, `the cohort manifest ${inputLabel(path, 'given')}`)) {
    if (split !== undefined && entry.split !== split) continue;
    const ctField = entry.ct ?? entry.preCt;
    const maskField = entry.mask ?? entry.preLabels;
    const ct = ctField !== undefined ? at(ctField) : join(root, 'cases', entry.caseId, 'pre-ct.nii.gz');
    const defaultMask = join(root, 'cases', entry.caseId, 'pre-labels.nii.gz');
    const mask = maskField !== undefined ? at(maskField) : ctField !== undefined ? undefined : (await exists(defaultMask)) ? defaultMask : undefined;
    cases.push({ caseId: entry.caseId, ct, ...(mask === undefined ? {} : { mask }) });
  }
  return cases;
}
