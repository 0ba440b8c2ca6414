/**
 * What the user pointed at, as a case: a pre-treatment CT (a .nii/.nii.gz file, a DICOM series
 * folder, or a `mewm synth` case folder with pre-ct.nii.gz and pre-labels.nii.gz) with a
 * pseudonymous case id. Paths stay on this side: the workflow gets the case id and a case
 * source artifact (activities/case-source.ts writeCaseSource).
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { CaseInput } from '../../activities/case-source';
import { MewmError } from '../core/errors';
import { caseIdPattern } from '../io/cohort-manifest';
import { inputLabel, isSyntheticName } from '../io/input-label';

export interface ResolvedCase {
  readonly input: CaseInput;
  /** The synthetic cohort the case comes from, if any (for the oracle backend). */
  readonly cohortDir: string | null;
}

/** Turns what the user pointed at into a CaseInput with a pseudonymous case id. */
export function resolveCase(path: string, options: { mask?: string; noMask?: boolean; caseId?: string }): ResolvedCase {
  const absolute = resolve(path);
  // Messages name the input by its role: a user's path may hold a patient's name (src/io/input-label.ts).
  if (!existsSync(absolute)) throw new MewmError('InvalidInput', `the case path ${inputLabel(absolute, 'given')} does not exist`);
  let ct = absolute;
  let mask = options.mask ? resolve(options.mask) : undefined;
  let caseDir: string;
  const isDir = statSync(absolute).isDirectory();
  // File and folder names can carry patient names: an opaque id unless mewm synth named the folder.
  const derivedId = isSyntheticName(basename(absolute)) ? basename(absolute) : `case-${createHash('sha256').update(absolute).digest('hex').slice(0, 12)}`;
  if (isDir && existsSync(join(absolute, 'pre-ct.nii.gz'))) {
    ct = join(absolute, 'pre-ct.nii.gz');
    if (!mask && existsSync(join(absolute, 'pre-labels.nii.gz'))) mask = join(absolute, 'pre-labels.nii.gz');
    caseDir = absolute;
  } else {
    caseDir = isDir ? absolute : dirname(absolute);
  }
  if (options.noMask) mask = undefined;
  if (mask && !existsSync(mask)) throw new MewmError('InvalidInput', `the mask ${inputLabel(mask, 'given with --mask')} does not exist`);
  const caseId = options.caseId ?? derivedId;
  // Not echoed: an id that fails the pattern may be a patient's name.
  if (!caseIdPattern.test(caseId))
    throw new MewmError('InvalidInput', "the case id must be letters, digits, '.', '_' or '-' (a pseudonym, never a patient identifier)");
  let cohortDir: string | null = null;
  for (let dir = caseDir, i = 0; i < 3; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'truth.jsonl')) && existsSync(join(dir, 'world.json'))) {
      cohortDir = dir;
      break;
    }
  }
  return { input: { caseId, ct, ...(mask ? { mask } : {}) }, cohortDir };
}

/** The folder of a cohort manifest given as a file or as its folder; InvalidInput when there is none. */
export function manifestPath(given: string): string {
  let manifest = resolve(given);
  if (existsSync(manifest) && statSync(manifest).isDirectory()) manifest = join(manifest, 'manifest.jsonl');
  if (!existsSync(manifest)) throw new MewmError('InvalidInput', `no cohort manifest at the path given (a cohort folder needs its manifest.jsonl)`);
  return manifest;
}
