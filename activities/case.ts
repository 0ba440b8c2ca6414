/**
 * Ingest activities: from what a user has (a pre-treatment CT as NIfTI or a DICOM series folder,
 * optionally a liver/tumour mask) to the planning ROI that every other activity works on.
 *
 *   prepareCase (cpu)   read + validate; with a mask: resample CT (trilinear) and mask (nearest)
 *                       straight onto the ROI grid; without: store the CT resampled to the planning
 *                       spacing and ask for segmentation.
 *   segmentCase (gpu)   the assistant model segments that planning-spacing CT.
 *   prepareCase (cpu)   again, with the planning CT and its labels, for the ROI.
 *
 * The ROI grid and its resampling: src/core/volume/roi.ts (shared with evaluation and the CLI).
 */
import { stat } from 'node:fs/promises';
import type { ArtifactRef, ArtifactStore } from '../src/artifacts/store';
import { getCtVolume, getLabelVolume, putPng, putVolume } from '../src/artifacts/volumes';
import { MewmError } from '../src/core/errors';
import { reorientToRas } from '../src/core/volume/orientation';
import { resampleToGrid, resampleToSpacing } from '../src/core/volume/resample';
import { assertPlausibleVolume } from '../src/core/volume/validate';
import { largestTumourSlice, planningRoi, ROI_OUTSIDE_HU } from '../src/core/volume/roi';
import { Label, diagonalAffine, sameGrid, spacingOf, type LabelledCt, type Volume } from '../src/core/volume/volume';
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from '../src/io/bounded-read';
import { assertPlausibleCt } from '../src/io/ct-plausibility';
import { readNifti } from '../src/io/nifti';
import { encodePng, renderAxialSlice } from '../src/io/png';
import type { ModelIdentity, WorldModel } from '../src/models/world-model';
import type { TumourObservation } from '../src/policy/policy';
import type { CaseRef, PreparedCase, RoiArtifacts } from '../workflows/types';
import { localPath, readCaseSource } from './case-source';
import { withTypedFailures } from './failures';
import type { ActivityLogger, ArtifactResolver } from './deps';

export interface PrepareCaseInput {
  /** The case id and its case source artifact (activities/case-source): paths stay out of Temporal. */
  readonly case: CaseRef;
  readonly roiSize: readonly [number, number, number];
  readonly roiSpacingMm: number;
  /** Set on the second call, after segmentation: the planning-spacing CT and the assistant's labels. */
  readonly segmented?: { readonly ct: ArtifactRef; readonly labels: ArtifactRef; readonly model: ModelIdentity; readonly sourceKind: 'nifti' | 'dicom' };
}

export type PrepareCaseOutput =
  | { readonly kind: 'prepared'; readonly prepared: PreparedCase }
  | { readonly kind: 'needs-segmentation'; readonly planningCt: ArtifactRef; readonly sourceKind: 'nifti' | 'dicom' };

export interface SegmentCaseInput {
  readonly caseId: string;
  readonly ct: ArtifactRef;
}

export interface CaseDependencies {
  readonly store: ArtifactStore;
  readonly artifacts: ArtifactResolver;
  readonly log: ActivityLogger;
  /** The policy's view of the tumour (src/policy observeTumour), computed on the ROI. */
  readonly observe: (roi: LabelledCt, options?: { caseId?: string }) => TumourObservation;
  /**
   * Reads a DICOM CT series folder (src/io/dicom readDicomSeries); absent: DICOM input is refused.
   * `options.name` is what its errors call the series (the folder's name may be a patient's).
   */
  readonly readDicomSeries?: (folder: string, options?: { name?: string; limits?: IngestLimits }) => Promise<Volume>;
  /** What one input may cost (voxels, bytes, files; src/io/bounded-read.ts); default `DEFAULT_INGEST_LIMITS`. */
  readonly limits?: IngestLimits;
}

export interface CaseGpuDependencies {
  readonly world: WorldModel;
  readonly store: ArtifactStore;
  readonly artifacts: ArtifactResolver;
  readonly log: ActivityLogger;
}

async function readCt(
  deps: CaseDependencies,
  caseId: string,
  source: string,
): Promise<{ ct: Volume<Float32Array>; kind: 'nifti' | 'dicom'; sheared: boolean }> {
  const path = localPath(source);
  const limits = deps.limits ?? DEFAULT_INGEST_LIMITS;
  let isFolder: boolean;
  try {
    const stats = await stat(path);
    isFolder = stats.isDirectory();
    // Refused here at once (and again by the reader on the opened file): a FIFO would block a thread forever, /dev/zero never ends.
    if (!isFolder && !stats.isFile())
      throw new MewmError(
        'InvalidVolume',
        `case ${caseId} CT: is not a regular file or a folder (a FIFO, device or socket); give a NIfTI file or a DICOM series folder`,
        { caseId },
      );
  } catch (error) {
    if ((error as { name?: string }).name === 'MewmError') throw error;
    // No cause: a file-system error's message holds the full path, which may name the patient.
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new MewmError('InvalidInput', `case ${caseId}: the CT does not exist or cannot be read (${code})`, { caseId });
  }
  let volume: Volume;
  if (isFolder) {
    if (deps.readDicomSeries === undefined)
      throw new MewmError('InvalidInput', `case ${caseId}: DICOM series input is not available in this worker`, { caseId });
    volume = await deps.readDicomSeries(path, { name: `case ${caseId} CT series`, limits });
  } else {
    volume = await readNifti(path, { name: `case ${caseId} CT`, limits });
  }
  assertPlausibleVolume(volume, `case ${caseId} CT`, { requireFinite: true });
  // Hounsfield units, not constant, finite, a usable grid (src/io/ct-plausibility.ts states the rules).
  const { sheared } = assertPlausibleCt(volume, `case ${caseId} CT`);
  const data = volume.data instanceof Float32Array ? volume.data : Float32Array.from(volume.data);
  return { ct: { data, shape: volume.shape, affine: volume.affine }, kind: isFolder ? 'dicom' : 'nifti', sheared };
}

async function readMask(caseId: string, source: string, ct: Volume, limits: IngestLimits): Promise<Volume<Uint8Array>> {
  const mask = await readNifti(localPath(source), { name: `case ${caseId} mask`, limits });
  if (!sameGrid(mask, ct, 1e-3)) {
    throw new MewmError(
      'InvalidInput',
      `case ${caseId}: the mask is not on the CT's grid (shape ${mask.shape.join('x')} vs ${ct.shape.join('x')}, or a different affine); resample the mask onto the CT first`,
      { caseId },
    );
  }
  const labels = new Uint8Array(mask.data.length);
  for (let i = 0; i < mask.data.length; i++) {
    const value = mask.data[i]!;
    if (value !== Label.background && value !== Label.liver && value !== Label.tumour) {
      throw new MewmError('InvalidInput', `case ${caseId}: the mask holds label ${value}; only 0 (background), 1 (liver) and 2 (tumour) are allowed`, {
        caseId,
        label: value,
      });
    }
    labels[i] = value;
  }
  return { data: labels, shape: mask.shape, affine: mask.affine };
}

/**
 * The planning-spacing CT the assistant segments: reoriented to RAS and resampled to `spacingMm`
 * (voxel axes kept). A sheared grid (gantry tilt, src/io/ct-plausibility.ts) is instead resampled
 * onto the axis-aligned RAS grid that covers it: models take voxel axes as orthogonal.
 */
export function planningCtOf(ct: Volume<Float32Array>, spacingMm: number, sheared: boolean): Volume<Float32Array> {
  if (!sheared) return resampleToSpacing(reorientToRas(ct), spacingMm, 'linear');
  const a = ct.affine;
  const low = [Infinity, Infinity, Infinity];
  const high = [-Infinity, -Infinity, -Infinity];
  for (const i of [0, ct.shape[0] - 1])
    for (const j of [0, ct.shape[1] - 1])
      for (const k of [0, ct.shape[2] - 1]) {
        for (let r = 0; r < 3; r++) {
          const w = a[4 * r]! * i + a[4 * r + 1]! * j + a[4 * r + 2]! * k + a[4 * r + 3]!;
          low[r] = Math.min(low[r]!, w);
          high[r] = Math.max(high[r]!, w);
        }
      }
  const shape = [0, 1, 2].map((r) => Math.max(1, Math.floor((high[r]! - low[r]!) / spacingMm) + 1)) as [number, number, number];
  const affine = [...diagonalAffine([spacingMm, spacingMm, spacingMm], [low[0]!, low[1]!, low[2]!])];
  return resampleToGrid(ct, shape, affine, 'linear', { outside: ROI_OUTSIDE_HU });
}

export function createCaseActivities(deps: CaseDependencies) {
  const { store, artifacts, log } = deps;

  async function buildRoi(
    caseId: string,
    source: LabelledCt,
    input: PrepareCaseInput,
  ): Promise<{ roi: RoiArtifacts; observation: TumourObservation; keySlices: ArtifactRef[] }> {
    const { grid, centreMm, roi: roiVolumes } = planningRoi(caseId, source, input);
    const { ct, labels } = roiVolumes;
    const observation = deps.observe(roiVolumes, { caseId });
    const [ctRef, labelsRef] = await Promise.all([putVolume(store, ct), putVolume(store, labels, { labels: true })]);
    const slice = renderAxialSlice(ct, largestTumourSlice(labels), { labels });
    const keySlice = await putPng(store, encodePng(slice.rgba, slice.width, slice.height));
    const spacing = spacingOf(grid.affine);
    return {
      roi: { ct: ctRef, labels: labelsRef, size: grid.shape, spacingMm: spacing, centreMm },
      observation,
      keySlices: [keySlice],
    };
  }

  async function prepareCase(input: PrepareCaseInput): Promise<PrepareCaseOutput> {
    const caseId = input.case.caseId;
    if (input.segmented !== undefined) {
      const [ct, labels] = await Promise.all([
        getCtVolume(artifacts.storeFor(input.segmented.ct.uri), input.segmented.ct),
        getLabelVolume(artifacts.storeFor(input.segmented.labels.uri), input.segmented.labels),
      ]);
      if (!sameGrid(ct, labels, 1e-3)) throw new MewmError('ModelContract', `case ${caseId}: the assistant's labels are not on the CT's grid`, { caseId });
      const built = await buildRoi(caseId, { ct, labels }, input);
      return {
        kind: 'prepared',
        prepared: { caseId, ...built, maskSource: 'assistant', sourceKind: input.segmented.sourceKind, assistant: input.segmented.model },
      };
    }
    const source = await readCaseSource(artifacts, input.case);
    const { ct, kind, sheared } = await readCt(deps, caseId, source.ct);
    if (source.mask === undefined) {
      // The assistant segments on the planning spacing, in RAS, like every model input.
      const planning = planningCtOf(ct, input.roiSpacingMm, sheared);
      const planningCt = await putVolume(store, planning);
      log.info({ caseId, shape: planning.shape }, 'case has no mask: segmentation requested');
      return { kind: 'needs-segmentation', planningCt, sourceKind: kind };
    }
    const labels = await readMask(caseId, source.mask, ct, deps.limits ?? DEFAULT_INGEST_LIMITS);
    const built = await buildRoi(caseId, { ct, labels }, input);
    log.info({ caseId, roi: built.roi.size, spacingMm: input.roiSpacingMm }, 'case prepared');
    return { kind: 'prepared', prepared: { caseId, ...built, maskSource: 'provided', sourceKind: kind } };
  }

  return withTypedFailures({ prepareCase });
}

export function createCaseGpuActivities(deps: CaseGpuDependencies) {
  async function segmentCase(input: SegmentCaseInput): Promise<{ labels: ArtifactRef; model: ModelIdentity }> {
    const ct = await getCtVolume(deps.artifacts.storeFor(input.ct.uri), input.ct);
    const labels = await deps.world.assistant.segment({ caseId: input.caseId, ct });
    if (!sameGrid(labels, ct, 1e-3))
      throw new MewmError('ModelContract', `assistant model ${deps.world.assistant.identity.name} returned labels off the CT's grid`, { caseId: input.caseId });
    return { labels: await putVolume(deps.store, labels, { labels: true }), model: deps.world.assistant.identity };
  }
  return withTypedFailures({ segmentCase });
}

export type CaseActivities = ReturnType<typeof createCaseActivities>;
export type CaseGpuActivities = ReturnType<typeof createCaseGpuActivities>;
