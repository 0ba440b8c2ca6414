/**
 * The held-out patients of a `mewm synth` cohort as the fidelity evaluation needs them: the
 * pre-treatment CT and labels on the planning ROI (built exactly as planning builds it) and the
 * hidden phenotype from truth.jsonl (the world's truth for the same patient).
 *
 * Planning's ROI (activities/case.ts, `prepareCase` with a mask): the CT widened to Float32 HU,
 * the mask as Uint8; the grid is `roiGrid(tumourCentreMm(labels), roiSize, roiSpacingMm)`; the CT
 * is resampled onto it trilinearly (outside: −1024 HU), the labels by nearest neighbour (outside:
 * 0). The grid functions are those of src/core/volume/roi.ts, which planning uses too.
 */
import { join } from 'node:path';
import { MewmError } from '../../core/errors';
import { resampleToGrid } from '../../core/volume/resample';
import { roiGrid, tumourCentreMm } from '../../core/volume/roi';
import { makeVolume, type LabelledCt, type Volume } from '../../core/volume/volume';
import { readSyntheticManifest } from '../../io/cohort-manifest';
import { readNifti } from '../../io/nifti';
import { readOracleTruth } from '../../world/oracle';
import type { Phenotype } from '../../world/phenotype';

export type FidelitySplit = 'train' | 'val' | 'test' | 'all';

export interface FidelityCase {
  readonly caseId: string;
  readonly split: string;
  readonly preCt: string;
  readonly preLabels: string;
  readonly phenotype: Phenotype;
}

export interface RoiSettings {
  readonly roiSize: readonly [number, number, number];
  readonly roiSpacingMm: number;
}

/** The cohort's cases of `split` in manifest order, the first `limit` of them, with their phenotypes. */
export async function readFidelityCohort(cohortDir: string, split: FidelitySplit, limit?: number): Promise<FidelityCase[]> {
  // The manifest's one schema (src/io/cohort-manifest.ts), read before the truth: a missing cohort says so first.
  const manifest = await readSyntheticManifest(cohortDir, ['split', 'preCt', 'preLabels']);
  const truth = await readOracleTruth(cohortDir);
  const rows = manifest.filter((row) => split === 'all' || row.split === split);
  if (rows.length === 0) throw new MewmError('InvalidInput', `the cohort has no ${split} cases`);
  return rows.slice(0, limit ?? rows.length).map((row) => {
    const phenotype = truth.phenotypes.get(row.caseId);
    if (!phenotype) throw new MewmError('InvalidInput', `case ${row.caseId} is in manifest.jsonl but not in truth.jsonl`, { caseId: row.caseId });
    return { ...row, phenotype };
  });
}

/** The planning ROI of one case (see the module comment). */
export async function readPlanningRoi(cohortDir: string, c: FidelityCase, settings: RoiSettings): Promise<LabelledCt> {
  const ct = await readNifti(join(cohortDir, c.preCt), { name: `case ${c.caseId} CT` });
  const mask = await readNifti(join(cohortDir, c.preLabels), { name: `case ${c.caseId} mask` });
  const ctFloat: Volume<Float32Array> = makeVolume(ct.data instanceof Float32Array ? ct.data : Float32Array.from(ct.data), ct.shape, ct.affine);
  const labels: Volume<Uint8Array> = makeVolume(mask.data instanceof Uint8Array ? mask.data : Uint8Array.from(mask.data), mask.shape, mask.affine);
  const grid = roiGrid(tumourCentreMm(c.caseId, labels), settings.roiSize, settings.roiSpacingMm);
  return {
    ct: resampleToGrid(ctFloat, grid.shape, grid.affine, 'linear', { outside: -1024 }),
    labels: resampleToGrid(labels, grid.shape, grid.affine, 'nearest', { outside: 0 }),
  };
}
