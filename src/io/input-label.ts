/**
 * How errors may name an input file or folder. A user's path may hold a patient's name
 * (`Doe_John.nii.gz`, `DOE^JOHN/`), and errors travel to stderr, logs and Temporal histories
 * (an activity failure keeps its message, details and cause). So an input is named by its base
 * name only when mewm itself chose that name — a `mewm synth` case folder (`SYN-<seed>-<nnnn>`)
 * or one of the fixed file names a synthetic cohort holds — and otherwise by its role (the
 * caller's label, e.g. `case SYN-1-0001 CT`, or a word such as `NIfTI input`). Full paths never.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';

const SYNTHETIC_CASE_FOLDER = /^SYN-\d+-\d{4,}$/;
const SYNTHETIC_COHORT_FILES = new Set([
  'pre-ct.nii.gz',
  'pre-labels.nii.gz',
  'post-ct.nii.gz',
  'post-labels.nii.gz',
  'report.txt',
  'manifest.jsonl',
  'truth.jsonl',
  'world.json',
]);

/** True for names `mewm synth` writes: pseudonymous by construction. */
export function isSyntheticName(name: string): boolean {
  return SYNTHETIC_CASE_FOLDER.test(name) || SYNTHETIC_COHORT_FILES.has(name);
}

/** The base name of `path` when mewm wrote it (see the module comment), else `role`. */
export function inputLabel(path: string, role: string): string {
  const name = basename(path);
  return isSyntheticName(name) ? name : role;
}

/** A short opaque key for an identifier that must not appear in errors (e.g. a SeriesInstanceUID): the first 8 hex digits of its sha256. */
export function opaqueKey(identifier: string): string {
  return createHash('sha256').update(identifier).digest('hex').slice(0, 8);
}
