/**
 * The cohort manifest, one schema for its writer (`mewm synth`, src/world/cohort.ts) and every
 * reader (case sources for `mewm cohort`, baseline, extract, compare, evaluate, fidelity).
 *
 * JSON Lines, one case per line, paths relative to the manifest's folder:
 *   any cohort       `caseId` (alias `id`), optional `split`, the pre-treatment CT as `ct` or
 *                    `preCt` and its optional mask as `mask` or `preLabels` (`manifestEntrySchema`)
 *   `mewm synth`     every field of `SyntheticManifestRow`: split, pre/post CTs and labels, report,
 *                    the physician's protocol, OS (months) and event (`syntheticManifestRowSchema`;
 *                    a reader picks the fields it needs with `.pick`)
 *
 * Errors name the file by its role (`the cohort's manifest.jsonl`, `the --llm file`), never by
 * its path, and quote no field values: both may hold a patient's name (docs/architecture.md, Privacy).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { MewmError } from '../core/errors';
import { makeVolume, type LabelledCt, type Volume } from '../core/volume/volume';
import { readRegularFile } from './bounded-read';
import { readNifti } from './nifti';

/** A pseudonymous case id: goes into workflow ids, search attributes and logs. */
export const caseIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const caseId = z.string().regex(caseIdPattern, "caseId must be a pseudonymous id of letters, digits, '.', '_' or '-'");
const path = z.string().min(1);

export const splitSchema = z.enum(['train', 'val', 'test']);
export type Split = z.infer<typeof splitSchema>;

/** A protocol as the manifest and truth.jsonl write it (agent ids of the vocabulary, not checked here). */
export const protocolRecordSchema = z.object({
  key: z.string(),
  label: z.string(),
  drugs: z.array(z.string()).readonly(),
  embolics: z.array(z.string()).readonly(),
});

/** What `mewm synth` writes on each line of manifest.jsonl (what a model may see). */
export const syntheticManifestRowSchema = z.object({
  caseId,
  split: splitSchema,
  preCt: path,
  preLabels: path,
  postCt: path,
  postLabels: path,
  report: path,
  /** The physician's protocol as performed (the paper's gold action). */
  protocol: protocolRecordSchema,
  osMonths: z.number().nonnegative(),
  /** 1 = death observed, 0 = censored. */
  event: z.union([z.literal(0), z.literal(1)]),
});
export type SyntheticManifestRow = z.infer<typeof syntheticManifestRowSchema>;

/** One line of any cohort's manifest: a case id and where its pre-treatment CT (and mask) are. */
export const manifestEntrySchema = z.preprocess(
  (value) =>
    typeof value === 'object' && value !== null && !('caseId' in value) && 'id' in value ? { ...value, caseId: (value as { id: unknown }).id } : value,
  z.object({
    caseId,
    split: z.string().optional(),
    ct: path.optional(),
    mask: path.optional(),
    preCt: path.optional(),
    preLabels: path.optional(),
  }),
);
export type ManifestEntry = z.infer<typeof manifestEntrySchema>;

export const MANIFEST_FILE = 'manifest.jsonl';
const maxManifestBytes = 64 * 1024 ** 2;

async function readText(file: string, role: string, maxBytes: number): Promise<string> {
  try {
    // Regular files only: a FIFO or a device named manifest.jsonl must not hang the reader.
    return new TextDecoder().decode(await readRegularFile(file, role, maxBytes));
  } catch (error) {
    const problem = (error as { details?: { problem?: unknown } }).details?.problem;
    const text = typeof problem === 'string' ? problem : 'cannot be read';
    throw new MewmError(
      'InvalidInput',
      text.startsWith('cannot be read')
        ? `cannot read ${role}${text.slice('cannot be read'.length)}`
        : `${role} ${text.replace(/; mewm reads image files only$/, '')}`,
      { file: role },
    );
  }
}

/**
 * The lines of a JSON Lines file, each checked against `schema` (blank lines skipped). `role`
 * names the file in errors; with `uniqueCaseIds`, a case id given twice is refused.
 */
export async function readJsonLines<S extends z.ZodType>(
  file: string,
  schema: S,
  role: string,
  options: { readonly maxBytes?: number; readonly uniqueCaseIds?: boolean } = {},
): Promise<z.infer<S>[]> {
  const text = await readText(file, role, options.maxBytes ?? maxManifestBytes * 4);
  const rows: z.infer<S>[] = [];
  const seen = new Set<string>();
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line.length === 0) continue;
    const number = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new MewmError('InvalidInput', `${role}, line ${number}: not JSON`, { file: role, line: number });
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw new MewmError(
        'InvalidInput',
        `${role}, line ${number}: ${parsed.error.issues.map((x) => `${x.path.join('.') || 'line'}: ${x.message}`).join('; ')}`,
        { file: role, line: number },
      );
    }
    const id = (parsed.data as { caseId?: unknown }).caseId;
    if (options.uniqueCaseIds === true && typeof id === 'string') {
      if (seen.has(id)) throw new MewmError('InvalidInput', `${role}, line ${number}: case ${id} appears twice`, { file: role, line: number, caseId: id });
      seen.add(id);
    }
    rows.push(parsed.data);
  }
  return rows;
}

/** Any cohort's manifest file (`mewm cohort`): case ids and image paths as written (relative to its folder). */
export function readManifestEntries(file: string, role = 'the cohort manifest'): Promise<ManifestEntry[]> {
  return readJsonLines(file, manifestEntrySchema, role, { maxBytes: maxManifestBytes, uniqueCaseIds: true });
}

/** The manifest.jsonl of a `mewm synth` cohort folder, with the fields `pick` names (all by default). */
export async function readSyntheticManifest(cohortDir: string): Promise<SyntheticManifestRow[]>;
export async function readSyntheticManifest<K extends keyof SyntheticManifestRow>(
  cohortDir: string,
  pick: readonly K[],
): Promise<Pick<SyntheticManifestRow, K | 'caseId'>[]>;
export async function readSyntheticManifest(cohortDir: string, pick?: readonly (keyof SyntheticManifestRow)[]): Promise<Partial<SyntheticManifestRow>[]> {
  const schema =
    pick === undefined
      ? syntheticManifestRowSchema
      : syntheticManifestRowSchema.pick(Object.fromEntries([...pick, 'caseId'].map((k) => [k, true])) as Record<keyof SyntheticManifestRow, true>);
  return readJsonLines(join(cohortDir, MANIFEST_FILE), schema, "the cohort's manifest.jsonl", { maxBytes: maxManifestBytes, uniqueCaseIds: true });
}

/** A synthetic case's pre-treatment CT (as float HU) and label map (uint8), from its manifest row. */
export async function readPreTreatment(cohortDir: string, row: Pick<SyntheticManifestRow, 'preCt' | 'preLabels'>): Promise<LabelledCt> {
  const ct = await readNifti(join(cohortDir, row.preCt));
  const labels = await readNifti(join(cohortDir, row.preLabels));
  const ctFloat = ct.data instanceof Float32Array ? (ct as Volume<Float32Array>) : makeVolume(Float32Array.from(ct.data), ct.shape, ct.affine);
  const labelBytes = labels.data instanceof Uint8Array ? (labels as Volume<Uint8Array>) : makeVolume(Uint8Array.from(labels.data), labels.shape, labels.affine);
  return { ct: ctFloat, labels: labelBytes };
}
