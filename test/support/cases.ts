/**
 * Cases for the Temporal tests beyond `mewm synth` cohorts: a corrupt CT, and cohort manifests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface TestCase {
  readonly caseId: string;
  readonly ct: string;
  readonly mask?: string;
}

/** A case whose CT is a truncated gzip stream: ingest must fail with a non-retryable InvalidVolume. */
export function writeCorruptCase(dir: string, caseId: string): TestCase {
  const caseDir = join(dir, caseId);
  mkdirSync(caseDir, { recursive: true });
  const ctPath = join(caseDir, 'pre-ct.nii.gz');
  const bytes = gzipSync(Buffer.alloc(4096, 7));
  writeFileSync(ctPath, bytes.subarray(0, bytes.length / 2));
  return { caseId, ct: ctPath, mask: join(caseDir, 'pre-labels.nii.gz') };
}

/** A cohort manifest (JSON Lines, absolute paths) for the given cases. */
export function writeManifest(path: string, cases: readonly TestCase[]): string {
  writeFileSync(path, cases.map((c) => JSON.stringify({ caseId: c.caseId, ct: c.ct, mask: c.mask })).join('\n') + '\n');
  return path;
}
