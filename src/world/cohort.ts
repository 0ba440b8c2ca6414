/**
 * The synthetic cohort: patients generated one by one from a world seed, and the writer of the
 * cohort folder that training, planning and evaluation read.
 *
 * Layout of `DIR`:
 *   world.json                generator name, version, seed, grid, horizons, model constants
 *   manifest.jsonl / .csv     what a model MAY see: caseId, split, image paths, the
 *                             physician's protocol (the paper's "gold action"), report path,
 *                             OS (months) and event (1 = death)
 *   truth.jsonl               what models must NOT see: phenotype, the risk-optimal protocol
 *                             (`goldProtocol`), expected risks, the realised response
 *   cases/<caseId>/{pre-ct,pre-labels,post-ct,post-labels}.nii.gz, report.txt
 *   previews/<caseId>.png     with `preview`: pre/post slices with liver (red) and tumour (green)
 * CTs are int16 HU, labels uint8 (0 background, 1 liver, 2 tumour); paths in the manifests are
 * relative to DIR; manifest.jsonl's schema is src/io/cohort-manifest.ts (shared with its readers). Same seed and options → byte-identical files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MewmError } from '../core/errors';
import { Rng, deriveSeed } from '../core/random';
import { protocolKey, protocolLabel, type Protocol } from '../core/vocabulary';
import { Label, makeVolume, type LabelledCt, type Volume } from '../core/volume/volume';
import type { Split, SyntheticManifestRow } from '../io/cohort-manifest';
import { encodeNifti } from '../io/nifti';
import { encodePng, montage, renderAxialSlice } from '../io/png';
import { DEFAULT_HORIZONS, rankProtocols, type Horizons } from './gold';
import { GRID_PRESETS, renderPhantom, type GridPreset, type WorldGrid } from './phantom';
import { samplePhenotype, type Phenotype } from './phenotype';
import { physicianProtocol } from './physician';
import { generateReport, type GeneratedReport } from './reports';
import { simulateResponse, TOXICITY_HU_PER_UNIT, type ResponseState } from './response';
import { drawSurvival, riskFromState, WEIBULL_SCALE_MONTHS, WEIBULL_SHAPE, type SurvivalOutcome } from './survival';

export const WORLD_GENERATOR = 'mewm-synthetic-tace-world';
/** Bump whenever a change alters generated files for a given seed. */
export const WORLD_VERSION = '1.0.0';

/** Noisy CT compresses little better at level 6 but five times slower. */
const CT_GZIP_LEVEL = 1;

export type { Split } from '../io/cohort-manifest';

export interface CohortOptions {
  readonly seed: number;
  readonly patients: number;
  readonly gridPreset: GridPreset;
  readonly horizons?: Horizons;
}

export interface ProtocolRecord {
  readonly key: string;
  readonly label: string;
  readonly drugs: readonly string[];
  readonly embolics: readonly string[];
}

export function protocolRecord(protocol: Protocol): ProtocolRecord {
  return { key: protocolKey(protocol), label: protocolLabel(protocol), drugs: [...protocol.drugs], embolics: [...protocol.embolics] };
}

/** One generated patient, before anything is written. */
export interface SyntheticPatient {
  readonly caseId: string;
  readonly index: number;
  readonly split: Split;
  readonly phenotype: Phenotype;
  readonly physician: Protocol;
  readonly gold: { readonly protocol: Protocol; readonly risk: number };
  readonly physicianExpectedRisk: number;
  readonly worstRisk: number;
  readonly medianRisk: number;
  readonly treatmentSeed: number;
  readonly state: ResponseState;
  readonly realisedRisk: number;
  readonly survival: SurvivalOutcome;
  readonly report: GeneratedReport;
}

export function caseIdFor(seed: number, index: number): string {
  return `SYN-${seed}-${String(index).padStart(4, '0')}`;
}

/** 80 / 10 / 10 split, decided per patient from the world seed. */
export function splitFor(seed: number, index: number): Split {
  const u = deriveSeed(seed, 'split', index) / 4294967296;
  return u < 0.8 ? 'train' : u < 0.9 ? 'val' : 'test';
}

export function worldParameters(options: CohortOptions): Record<string, unknown> {
  const grid = GRID_PRESETS[options.gridPreset];
  return {
    generator: WORLD_GENERATOR,
    version: WORLD_VERSION,
    seed: options.seed,
    patients: options.patients,
    grid: { preset: options.gridPreset, shape: grid.shape, spacingMm: grid.spacing, orientation: 'RAS', ctDtype: 'int16 HU', labelDtype: 'uint8' },
    horizons: options.horizons ?? DEFAULT_HORIZONS,
    splits: { train: 0.8, val: 0.1, test: 0.1 },
    survival: { model: 'weibull-ph', shape: WEIBULL_SHAPE, scaleMonths: WEIBULL_SCALE_MONTHS },
    toxicityHuPerUnit: TOXICITY_HU_PER_UNIT,
    labels: { 0: 'background', 1: 'liver', 2: 'tumour' },
  };
}

/**
 * Everything about patient `index` (1-based) except the images' rendering: phenotype, ranked
 * protocols, physician's choice. Cheap (~10 ms); used by the statistics.
 */
export function generatePatientTruth(seed: number, index: number, horizons: Horizons = DEFAULT_HORIZONS) {
  const caseId = caseIdFor(seed, index);
  const patientSeed = deriveSeed(seed, 'patient', index);
  const phenotype = samplePhenotype(caseId, patientSeed);
  const ranked = rankProtocols(phenotype, horizons);
  const physician = physicianProtocol(phenotype, ranked, new Rng(deriveSeed(patientSeed, 'physician')));
  const physicianKey = protocolKey(physician);
  return { caseId, patientSeed, phenotype, ranked, physician, physicianExpectedRisk: ranked.find((r) => r.key === physicianKey)!.risk };
}

/** Generates patient `index` (1-based) including its pre- and post-treatment images. */
export function generatePatient(
  seed: number,
  index: number,
  grid: WorldGrid,
  horizons: Horizons = DEFAULT_HORIZONS,
): { patient: SyntheticPatient; pre: LabelledCt; post: LabelledCt } {
  const truth = generatePatientTruth(seed, index, horizons);
  const { phenotype, ranked, physician, patientSeed } = truth;
  const pre = renderPhantom(phenotype, grid);
  const treatmentSeed = deriveSeed(patientSeed, 'treatment');
  const { post, state } = simulateResponse(pre, phenotype, physician, treatmentSeed);
  const realisedRisk = riskFromState(phenotype, state);
  const patient: SyntheticPatient = {
    caseId: truth.caseId,
    index,
    split: splitFor(seed, index),
    phenotype,
    physician,
    gold: { protocol: ranked[0]!.protocol, risk: ranked[0]!.risk },
    physicianExpectedRisk: truth.physicianExpectedRisk,
    worstRisk: ranked[ranked.length - 1]!.risk,
    medianRisk: ranked[ranked.length >> 1]!.risk,
    treatmentSeed,
    state,
    realisedRisk,
    survival: drawSurvival(realisedRisk, patientSeed),
    report: generateReport({ phenotype, protocol: physician, state, seed: patientSeed }),
  };
  return { patient, pre, post };
}

function toInt16(ct: Volume<Float32Array>): Volume<Int16Array> {
  const out = new Int16Array(ct.data.length);
  for (let q = 0; q < out.length; q++) out[q] = Math.max(-32768, Math.min(32767, Math.round(ct.data[q]!)));
  return makeVolume(out, ct.shape, ct.affine);
}

/** Axial indices of the `count` slices with the most tumour, in ascending z. */
function tumourSlices(labels: Volume<Uint8Array>, count: number): number[] {
  const [nx, ny, nz] = labels.shape;
  const plane = nx * ny;
  const area = Array.from({ length: nz }, (_, z) => {
    let c = 0;
    for (let q = z * plane; q < (z + 1) * plane; q++) if (labels.data[q] === Label.tumour) c++;
    return { z, c };
  });
  const best = area.sort((a, b) => b.c - a.c || a.z - b.z)[0]!;
  const spread = Math.max(1, Math.round(nz / 16));
  return [...new Set([best.z - spread, best.z, best.z + spread].map((z) => Math.max(0, Math.min(nz - 1, z))))].slice(0, count).sort((a, b) => a - b);
}

/** PNG: one row per slice: pre, pre with masks, post, post with masks. */
export function previewPng(pre: LabelledCt, post: LabelledCt): Uint8Array {
  const tiles = tumourSlices(pre.labels, 3).flatMap((z) => [
    renderAxialSlice(pre.ct, z),
    renderAxialSlice(pre.ct, z, { labels: pre.labels }),
    renderAxialSlice(post.ct, z),
    renderAxialSlice(post.ct, z, { labels: post.labels }),
  ]);
  const image = montage(tiles, 4, { gapPx: 2 });
  return encodePng(image.rgba, image.width, image.height);
}

/** One line of manifest.jsonl: the schema its readers parse it with (src/io/cohort-manifest.ts). */
export type ManifestRow = SyntheticManifestRow;

export function manifestRow(patient: SyntheticPatient): ManifestRow {
  const dir = `cases/${patient.caseId}`;
  return {
    caseId: patient.caseId,
    split: patient.split,
    preCt: `${dir}/pre-ct.nii.gz`,
    preLabels: `${dir}/pre-labels.nii.gz`,
    postCt: `${dir}/post-ct.nii.gz`,
    postLabels: `${dir}/post-labels.nii.gz`,
    report: `${dir}/report.txt`,
    protocol: protocolRecord(patient.physician),
    osMonths: patient.survival.osMonths,
    event: patient.survival.event,
  };
}

export function truthRecord(patient: SyntheticPatient) {
  return {
    caseId: patient.caseId,
    phenotype: patient.phenotype,
    goldProtocol: protocolRecord(patient.gold.protocol),
    goldExpectedRisk: patient.gold.risk,
    physicianExpectedRisk: patient.physicianExpectedRisk,
    medianExpectedRisk: patient.medianRisk,
    worstExpectedRisk: patient.worstRisk,
    treatmentSeed: patient.treatmentSeed,
    response: patient.state,
    realisedRisk: patient.realisedRisk,
    attenuationLevel: patient.report.attenuationLevel,
    reportMentions: patient.report.mentions,
    survival: patient.survival,
  };
}

const CSV_COLUMNS = ['caseId', 'split', 'chemotherapy', 'protocolKey', 'osMonths', 'event', 'preCt', 'preLabels', 'postCt', 'postLabels', 'report'] as const;

function csvCell(value: string | number): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function manifestCsvLine(row: ManifestRow): string {
  const values: Record<(typeof CSV_COLUMNS)[number], string | number> = {
    caseId: row.caseId,
    split: row.split,
    chemotherapy: row.protocol.label,
    protocolKey: row.protocol.key,
    osMonths: row.osMonths.toFixed(1),
    event: row.event,
    preCt: row.preCt,
    preLabels: row.preLabels,
    postCt: row.postCt,
    postLabels: row.postLabels,
    report: row.report,
  };
  return CSV_COLUMNS.map((c) => csvCell(values[c])).join(',');
}

export interface WriteCohortOptions extends CohortOptions {
  readonly outDir: string;
  readonly preview?: boolean;
  /** Called after each patient is written. */
  readonly onPatient?: (patient: SyntheticPatient) => void;
}

export function assertCohortOptions(options: CohortOptions): void {
  if (!Number.isInteger(options.patients) || options.patients < 1 || options.patients > 100_000) {
    throw new MewmError('InvalidInput', `--patients must be an integer in 1..100000, got ${options.patients}`);
  }
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
    throw new MewmError('InvalidInput', `--seed must be an integer in 0..4294967295, got ${options.seed}`);
  }
  if (!(options.gridPreset in GRID_PRESETS)) throw new MewmError('InvalidInput', `unknown grid preset "${options.gridPreset}" (use small or clinical)`);
}

/** Writes the whole cohort folder; returns the generated patients (without images). */
export async function writeCohort(options: WriteCohortOptions): Promise<SyntheticPatient[]> {
  assertCohortOptions(options);
  const { outDir, seed } = options;
  const grid = GRID_PRESETS[options.gridPreset];
  const horizons = options.horizons ?? DEFAULT_HORIZONS;
  await mkdir(join(outDir, 'cases'), { recursive: true });
  if (options.preview) await mkdir(join(outDir, 'previews'), { recursive: true });
  await writeFile(join(outDir, 'world.json'), `${JSON.stringify(worldParameters(options), null, 2)}\n`);
  const patients: SyntheticPatient[] = [];
  const manifest: string[] = [];
  const csv: string[] = [CSV_COLUMNS.join(',')];
  const truth: string[] = [];
  for (let index = 1; index <= options.patients; index++) {
    const { patient, pre, post } = generatePatient(seed, index, grid, horizons);
    const caseDir = join(outDir, 'cases', patient.caseId);
    await mkdir(caseDir, { recursive: true });
    await writeFile(join(caseDir, 'pre-ct.nii.gz'), encodeNifti(toInt16(pre.ct), { gzip: true, level: CT_GZIP_LEVEL }));
    await writeFile(join(caseDir, 'pre-labels.nii.gz'), encodeNifti(pre.labels, { gzip: true }));
    await writeFile(join(caseDir, 'post-ct.nii.gz'), encodeNifti(toInt16(post.ct), { gzip: true, level: CT_GZIP_LEVEL }));
    await writeFile(join(caseDir, 'post-labels.nii.gz'), encodeNifti(post.labels, { gzip: true }));
    await writeFile(join(caseDir, 'report.txt'), `${patient.report.text}\n`);
    if (options.preview) await writeFile(join(outDir, 'previews', `${patient.caseId}.png`), previewPng(pre, post));
    const row = manifestRow(patient);
    manifest.push(JSON.stringify(row));
    csv.push(manifestCsvLine(row));
    truth.push(JSON.stringify(truthRecord(patient)));
    patients.push(patient);
    options.onPatient?.(patient);
  }
  await writeFile(join(outDir, 'manifest.jsonl'), `${manifest.join('\n')}\n`);
  await writeFile(join(outDir, 'manifest.csv'), `${csv.join('\n')}\n`);
  await writeFile(join(outDir, 'truth.jsonl'), `${truth.join('\n')}\n`);
  return patients;
}
